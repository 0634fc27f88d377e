"""`dialectid case`, `dialectid audit` and `dialectid report`: the case-file workflow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dialectid.cli.common import EXIT_FAILED_ITEMS, err, out, user_errors
from dialectid.cli.common import case_store as _store
from dialectid.cli.common import local_actor as _actor
from dialectid.jsonlines import print_json

app = typer.Typer(help="The electronic case file: cases, recordings, analyses, reports.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
report_app = typer.Typer(help="Signed reports.", no_args_is_help=True)


@app.command("new")
@user_errors
def new(
    name: Annotated[str, typer.Option(help="The subject's name (kept only in the identity map).")],
    dob: Annotated[str, typer.Option(help="Date of birth, YYYY-MM-DD.")],
    claimed_origin: Annotated[str | None, typer.Option(help="Origin the subject states.")] = None,
) -> None:
    """Open a case; prints its reference and the subject's pseudonym."""
    created = _store().new_case(name, dob, claimed_origin, _actor())
    out.print(f"case {created.reference}  subject {created.pseudonym}", markup=False)


@app.command("add-recording")
@user_errors
def add_recording(
    case: Annotated[str, typer.Argument(help="Case reference.")],
    file: Annotated[Path, typer.Argument(help="The recording (any supported format).")],
    recorded_by: Annotated[str, typer.Option(help="Who made the recording.")],
) -> None:
    """Store a recording unchanged (content-addressed) in a case."""
    facts = _store().add_recording(case, file, recorded_by, _actor())
    out.print(f"added {facts['duration_s']} s ({facts['codec']}) sha256 {facts['sha256']}", markup=False)


@app.command("analyse")
@user_errors
def analyse(
    case: Annotated[str, typer.Argument(help="Case reference.")],
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Model bundle [models/lid-accurate].")] = None,
) -> None:
    """Analyse every unanalysed recording; render, sign and attach the reports."""
    from dialectid.casefile.workflow import analyse_case
    from dialectid.models.bundle import load_model
    from dialectid.scoring import default_model_path

    store = _store()
    store.pending(case, "")  # an unknown case fails here, before the model is loaded
    outcome = analyse_case(store, case, load_model(model or default_model_path()), _actor())
    out.print(f"{len(outcome.analysed)} analysed, {len(outcome.reports)} reports attached", markup=False)
    for message in outcome.failed:
        err.print(f"error: {message}", markup=False)
    if outcome.failed:
        raise typer.Exit(EXIT_FAILED_ITEMS)


@app.command("show")
@user_errors
def show(
    case: Annotated[str, typer.Argument(help="Case reference.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The case, its recordings and their analyses (the view is audited)."""
    summary = _store().show(case, _actor())
    if as_json:
        print_json(summary)
        return
    out.print(f"case {summary['reference']} ({summary['status']}), subject {summary['pseudonym']}", markup=False)
    for recording in summary["recordings"]:
        out.print(f"  recording {recording['sha256'][:16]}  {recording['duration_s']} s  {recording['codec']}  "
                  f"by {recording['recorded_by']}", markup=False)  # fmt: skip
        for a in recording["analyses"]:
            top = (
                ", ".join(f"{p['label']} {100 * p['probability']:.0f} %" for p in a["probabilities"][:3]) or "no result"
            )
            out.print(f"    {a['registration_number']}  {a['status']}  {top}  report: {'yes' if a['report'] else 'no'}",
                      markup=False)  # fmt: skip


@app.command("list")
@user_errors
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """All cases."""
    cases = _store().list_cases()
    if as_json:
        print_json(cases)
        return
    table = Table()
    for heading in ("reference", "status", "subject", "recordings", "opened"):
        table.add_column(heading)
    for c in cases:
        table.add_row(c["reference"], c["status"], c["pseudonym"], str(c["recordings"]), c["created_at"][:16])
    out.print(table)


@app.command("export-report")
@user_errors
def export_report(
    case: Annotated[str, typer.Argument(help="Case reference.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the PDF.")],
    registration: Annotated[str | None, typer.Option(help="A registration number [the latest report].")] = None,
) -> None:
    """Write a case's signed report to a PDF file."""
    number, pdf = _store().report_pdf(case, registration, _actor())
    output.write_bytes(pdf)
    out.print(f"wrote {output} (report {number})", markup=False)


@app.command("erase-identity")
@user_errors
def erase_identity(case: Annotated[str, typer.Argument(help="Case reference.")]) -> None:
    """Erase the subject's identity; analyses and reports stay, anonymous."""
    pseudonym = _store().erase_identity(case, _actor())
    out.print(f"identity of {pseudonym} erased; the case is now anonymous", markup=False)


@audit_app.command("verify")
@user_errors
def audit_verify() -> None:
    """Walk the audit chain; name the first broken link and exit 1 if there is one."""
    count, problem = _store().verify_audit()
    if problem:
        err.print(f"audit chain broken: {problem}", markup=False)
        raise typer.Exit(EXIT_FAILED_ITEMS)
    out.print(f"audit chain intact: {count} events", markup=False)


@report_app.command("verify")
@user_errors
def report_verify(
    report: Annotated[Path, typer.Argument(help="A report PDF.")],
    public_key: Annotated[Path | None, typer.Option(help="PEM public key [the store's key].")] = None,
) -> None:
    """Check a report's signature and content hash; exit 1 if anything was changed."""
    from dialectid.paths import home
    from dialectid.report import VerificationError, trusted_key, verify_pdf

    try:
        data = report.read_bytes()
    except OSError as error:
        raise VerificationError(f"{report}: cannot be read ({error.strerror})") from None
    try:
        info = verify_pdf(data, trusted_key(home() / "keys", public_key), str(report))
    except VerificationError as error:
        err.print(f"NOT VALID: {error.message}", markup=False)
        raise typer.Exit(EXIT_FAILED_ITEMS) from None
    out.print(f"valid: report {info.registration_number}, signed {info.signed_at}, model {info.model}, "
              f"key {info.key_id}", markup=False)  # fmt: skip
