"""`dialectid users`: the accounts of the web view (caseworkers, analysts, admins) and who works
on which case."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from dialectid.cli.common import case_store, local_actor, out, user_errors
from dialectid.extras import require_extra
from dialectid.jsonlines import print_json

app = typer.Typer(help="Users of the web view and their case assignments.", no_args_is_help=True)


def _accounts():
    from dialectid.casefile.accounts import Accounts

    return Accounts(case_store())


def _new_password_hash(name: str, role: str) -> str:
    """Prompted twice on a terminal; otherwise the first line of standard input (for scripts).
    Checked against the rules for `role` (`dialectid.web.passwords.check_new_password`)."""
    from dialectid.web.passwords import PasswordError, hash_password

    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise PasswordError("no password on standard input; pipe it in or run the command in a terminal")
    return hash_password(password, role, name)


@app.command("add")
@user_errors
def add(
    name: Annotated[str, typer.Argument(help="Login name (letters, digits, '.', '_', '@', '-').")],
    role: Annotated[str, typer.Option(help="caseworker, analyst or admin.")],
) -> None:
    """Add a user; the password is prompted for, or read from standard input (12 characters or
    more, 16 for an admin; no control characters; not a common password)."""
    from dialectid.casefile.accounts import check_role, check_user_name

    require_extra("web", "a web view password")  # before the case file is opened or a password asked for
    check_user_name(name)  # before the prompt: a typo in the name should not cost a password
    check_role(role)
    account = _accounts().add(name, role, _new_password_hash(name, role), local_actor())
    out.print(f"added {account.role} {account.name}", markup=False)


@app.command("set-password")
@user_errors
def set_password(name: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Set a user's password (prompted or from standard input); ends their sessions."""
    require_extra("web", "a web view password")
    accounts = _accounts()
    role = accounts.by_name(name).role
    accounts.set_password(name, _new_password_hash(name, role), local_actor())
    out.print(f"password of {name} set", markup=False)


@app.command("list")
@user_errors
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """All users, their roles and how many cases each has."""
    users = _accounts().list()
    if as_json:
        print_json(users)
        return
    table = Table()
    for heading in ("name", "role", "active", "cases"):
        table.add_column(heading)
    for u in users:
        table.add_row(u["name"], u["role"], "yes" if u["active"] else "no", str(u["cases"]))
    out.print(table)


@app.command("deactivate")
@user_errors
def deactivate(name: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Stop a user from logging in; their open sessions end at once."""
    _accounts().set_active(name, False, local_actor())
    out.print(f"{name} deactivated", markup=False)


@app.command("activate")
@user_errors
def activate(name: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Let a user log in again."""
    _accounts().set_active(name, True, local_actor())
    out.print(f"{name} activated", markup=False)


@app.command("assign")
@user_errors
def assign(
    case: Annotated[str, typer.Argument(help="Case reference.")],
    name: Annotated[str | None, typer.Argument(help="A caseworker's login name; leave out to unassign.")] = None,
) -> None:
    """Assign a case to a caseworker: they see only the cases assigned to them."""
    case_store().assign(case, name, local_actor())
    out.print(f"case {case} assigned to {name or 'nobody'}", markup=False)
