"""The `dialectid` command: one small module per command group."""

from __future__ import annotations

import typer

from dialectid.cli import case as case_cmd
from dialectid.cli import data as data_cmd
from dialectid.cli import demo as demo_cmd
from dialectid.cli import doctor as doctor_cmd
from dialectid.cli import features as features_cmd
from dialectid.cli import inspect as inspect_cmd
from dialectid.cli import model as model_cmd
from dialectid.cli import score as score_cmd
from dialectid.cli import serve as serve_cmd
from dialectid.cli import train as train_cmd
from dialectid.cli import users as users_cmd

app = typer.Typer(
    name="dialectid",
    help="Spoken language and dialect identification with calibrated, auditable results.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("inspect")(inspect_cmd.inspect)
app.add_typer(data_cmd.app, name="data")
app.add_typer(features_cmd.app, name="features")
app.command("train")(train_cmd.train)
app.command("evaluate")(train_cmd.evaluate)
app.command("score")(score_cmd.score)
app.add_typer(model_cmd.app, name="model")
app.add_typer(case_cmd.app, name="case")
app.add_typer(case_cmd.audit_app, name="audit")
app.add_typer(case_cmd.report_app, name="report")
app.command("serve")(serve_cmd.serve)
app.command("doctor")(doctor_cmd.doctor)
app.command("demo")(demo_cmd.demo)
app.add_typer(users_cmd.app, name="users")


@app.callback()
def _root() -> None:
    """Spoken language and dialect identification with calibrated, auditable results."""


def main() -> None:
    import os

    from dialectid.paths import PRIVATE_UMASK

    os.umask(PRIVATE_UMASK)  # the data home, reports and results: readable by this user alone
    app()
