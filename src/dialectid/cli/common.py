"""What every command shares: consoles and the rule that user errors never show a traceback."""

from __future__ import annotations

import contextlib
import functools
import getpass
import sys
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from dialectid.errors import DialectidError

for _stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 prints as \udcNN, never aborts
    if hasattr(_stream, "reconfigure"):
        _stream.reconfigure(errors="backslashreplace")
out = Console(highlight=False, soft_wrap=True, emoji=False)
if not out.is_terminal:  # piped or captured output: wide enough that tables do not fold
    out.width = max(out.width, 160)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

# Help text is Rich markup: a default in square brackets ("[models/x]") is taken for a tag and vanishes,
# so defaults are written "(default: ...)". tests/test_cli.py checks every option's help.
MODEL_HELP = ("Model bundle (default: $DIALECTID_MODEL, else $DIALECTID_HOME/models/lid-accurate, else "
              "models/lid-accurate in a source checkout).")  # fmt: skip

EXIT_FAILED_ITEMS = 1  # some inputs could not be processed; the rest were
EXIT_USAGE = 2  # bad options or config: nothing was processed

P = ParamSpec("P")
R = TypeVar("R")


def user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Print a `DialectidError` as one line on stderr and exit 2, never with a traceback."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except DialectidError as error:
            err.print(f"error: {error.message}", markup=False)
            raise typer.Exit(EXIT_USAGE) from None
        except KeyboardInterrupt:
            err.print("interrupted", markup=False)
            raise typer.Exit(130) from None

    return run


@contextlib.contextmanager
def progress_bar(total: int, description: str) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr (only on a terminal, and only for more than one item);
    yields the function that advances it by one."""
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
        TimeRemainingColumn(), console=err, transient=True, disable=total < 2 or not err.is_terminal,
    )  # fmt: skip
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)


def case_store():
    """The case file in DIALECTID_HOME (or at DIALECTID_DATABASE_URL), once the home is private:
    what is open to other users is closed, and said in one line; a home that cannot be closed
    (another user owns it) is refused."""
    from dialectid.casefile import CaseStore
    from dialectid.paths import home, make_private

    changed = make_private(home())
    if changed:
        err.print(f"warning: {changed}", markup=False)
    return CaseStore()


def local_actor() -> str:
    """Who the audit log names for a command run on this machine: the operating-system user."""
    return getpass.getuser()
