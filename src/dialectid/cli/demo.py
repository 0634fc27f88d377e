"""`dialectid demo`: the caseworker mock-up in one command."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from dialectid.cli.common import MODEL_HELP, err, out, user_errors
from dialectid.extras import require_extra


@user_errors
def demo(
    home: Annotated[
        Path, typer.Option("--home", help="Folder of the demo's own case file (never your real one).")
    ] = Path("dialectid-demo"),
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Build the demo anew (new cases, new passwords).")] = False,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the web view once the demo is built.")
    ] = True,
    password_file: Annotated[
        Path | None, typer.Option("--password-file", help="Write the log-ins to this file (mode 0600), not the screen.")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    model: Annotated[Path | None, typer.Option("--model", "-m", help=MODEL_HELP)] = None,
    dialect_model: Annotated[
        Path | None,
        typer.Option(
            "--dialect-model",
            help="Dialect bundle under the model (default: DIALECTID_HOME/models/dialect-arabic "
            "where it exists; without one the demo shows languages only).",
        ),
    ] = None,
) -> None:
    """Build a demo case file with fictitious cases, analysed and signed, and serve the web view.

    Everything lives in --home; running it again reuses the demo (or --rebuild it). Ctrl-C stops it."""
    require_extra("web", "the demo (a case file for the web view)")
    from dialectid.demo import prepare
    from dialectid.scoring import default_model_path
    from dialectid.scoring.dialects import dialect_home_model

    model = model or default_model_path()
    dialect_model = dialect_model or dialect_home_model()
    built = prepare(home, model, rebuild, say=lambda line: err.print(line, markup=False), dialect_model=dialect_model)
    if built.logins:
        _hand_out(built.logins, password_file)
    out.print(f"demo case file: {built.folder} ({len(built.cases)} cases)", markup=False)
    if not serve:
        return
    from dialectid.casefile import CaseStore
    from dialectid.cli.serve import run_server

    out.print(f"web view: http://{host}:{port}/  (start with the walkthrough: http://{host}:{port}/walkthrough)",
              markup=False)  # fmt: skip
    run_server(CaseStore(root=built.folder), model, host, port, dialect_model=dialect_model)


def _hand_out(logins: dict[str, str], password_file: Path | None) -> None:
    lines = [f"{name}  {password}" for name, password in logins.items()]
    if password_file is None:
        out.print("log-ins (shown once; --rebuild makes new ones):", markup=False)
        for line in lines:
            out.print(f"  {line}", markup=False)
        return
    descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        stream.write("\n".join(lines) + "\n")
    out.print(f"log-ins written to {password_file}", markup=False)
