"""`dialectid case`, `dialectid audit` and `dialectid report`: the case-file workflow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dialectid.cli.common import EXIT_FAILED_ITEMS, MODEL_HELP, err, out, user_errors
from dialectid.cli.common import case_store as _store
from dialectid.cli.common import local_actor as _actor
from dialectid.jsonlines import print_json

app = typer.Typer(help="The electronic case file: cases, recordings, analyses, reports.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
report_app = typer.Typer(help="Signed reports.", no_args_is_help=True)


IDENTITY_KEYS = ("name", "date_of_birth", "claimed_origin")
MAX_IDENTITY_CHARACTERS = 64 * 1024


@app.command("new")
@user_errors
def new(
    identity_from_stdin: Annotated[
        bool,
        typer.Option(
            help="Read the identity from standard input: a JSON object with name, date_of_birth "
            "(YYYY-MM-DD) and optionally claimed_origin, or those as two or three lines."
        ),
    ] = False,
) -> None:
    """Open a case; prints its reference and the subject's pseudonym.

    The subject's name, date of birth and claimed origin are asked for at a prompt, or read from
    standard input with --identity-from-stdin; never from options, which every local account can
    read in the process list. They are kept only in the identity map."""
    store = _store()  # a home that cannot be made private is refused before anyone types a name
    name, dob, claimed_origin = _identity_from_stdin() if identity_from_stdin else _identity_at_prompt()
    created = store.new_case(name, dob, claimed_origin, _actor())
    out.print(f"case {created.reference}  subject {created.pseudonym}", markup=False)


def _identity_at_prompt() -> tuple[str, str, str | None]:
    import sys

    from dialectid.casefile import CaseError

    if not sys.stdin.isatty():
        raise CaseError("no terminal to ask for the identity at; pipe it in with --identity-from-stdin "
                        "(JSON or lines), never as options")  # fmt: skip
    name = typer.prompt("Name")
    dob = typer.prompt("Date of birth (YYYY-MM-DD)")
    origin = typer.prompt("Claimed origin (empty: none)", default="", show_default=False)
    return name, dob, origin.strip() or None


def _identity_from_stdin() -> tuple[str, str, str | None]:
    """Name, date of birth and claimed origin from standard input, as a JSON object or as lines.
    Errors say what is wrong, never a value that was read."""
    import json
    import sys

    from dialectid.casefile import CaseError

    text = sys.stdin.read(MAX_IDENTITY_CHARACTERS + 1)
    if len(text) > MAX_IDENTITY_CHARACTERS:
        raise CaseError(f"the identity on standard input is longer than {MAX_IDENTITY_CHARACTERS} characters")
    if not text.strip():
        raise CaseError("no identity on standard input; give a JSON object or the name and date of birth as lines")
    if text.lstrip().startswith(("{", "[", '"')):
        try:
            given = json.loads(text)
        except json.JSONDecodeError as error:
            raise CaseError(f"the identity on standard input is not valid JSON (line {error.lineno}, column "
                            f"{error.colno}: {error.msg})") from None  # fmt: skip
        if not isinstance(given, dict):
            raise CaseError(f"the identity on standard input must be a JSON object with {', '.join(IDENTITY_KEYS)}")
        unknown = sorted(set(given) - set(IDENTITY_KEYS))
        if unknown:
            raise CaseError(f"unknown key {unknown[0]!r} in the identity; the keys are {', '.join(IDENTITY_KEYS)}")
        values = [given.get(key) for key in IDENTITY_KEYS]
        if any(value is not None and not isinstance(value, str) for value in values):
            raise CaseError(f"the identity's {', '.join(IDENTITY_KEYS)} must be strings")
    else:
        values = [line.strip() for line in text.splitlines()]
        while values and not values[-1]:
            values.pop()
        if len(values) > 3:
            raise CaseError("the identity as lines has at most three lines: name, date of birth, claimed origin")
        values += [None] * (3 - len(values))
    name, dob, origin = values
    if not dob:
        raise CaseError("the identity has no date of birth (date_of_birth, YYYY-MM-DD; the second line)")
    return name or "", dob, origin or None


@app.command("add-recording")
@user_errors
def add_recording(
    case: Annotated[str, typer.Argument(help="Case reference.")],
    file: Annotated[Path, typer.Argument(help="The recording (any supported format).")],
    recorded_by: Annotated[
        str,
        typer.Option(
            help="Who made the recording: a staff name or role, never the subject's name or other "
            "identity data (free text, shown with the case; erased with the identity)."
        ),
    ],
) -> None:
    """Store a recording unchanged (content-addressed) in a case."""
    facts = _store().add_recording(case, file, recorded_by, _actor())
    out.print(f"added {facts['duration_s']} s ({facts['codec']}) sha256 {facts['sha256']}", markup=False)


@app.command("analyse")
@user_errors
def analyse(
    case: Annotated[str, typer.Argument(help="Case reference.")],
    model: Annotated[Path | None, typer.Option("--model", "-m", help=MODEL_HELP)] = None,
    dialect_model: Annotated[
        Path | None,
        typer.Option(
            "--dialect-model",
            help="Dialect bundle whose top node is a language of --model: splits that language's "
            "probability over its dialects in the analyses and reports.",
        ),
    ] = None,
) -> None:
    """Analyse every unanalysed recording; render, sign and attach the reports."""
    from dialectid.casefile.workflow import analyse_case
    from dialectid.models.bundle import load_model
    from dialectid.scoring import default_model_path

    store = _store()
    store.pending(case, "")  # an unknown case fails here, before the model is loaded
    dialect = load_model(dialect_model) if dialect_model else None
    outcome = analyse_case(store, case, load_model(model or default_model_path()), _actor(), dialect=dialect)
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
    from dialectid.casefile.summaries import to_json
    from dialectid.report.dialect import dialect_headline

    summary = _store().show(case, _actor())
    if as_json:
        print_json(to_json(summary))
        return
    out.print(f"case {summary.reference} ({summary.status}), subject {summary.pseudonym}", markup=False)
    for number, recording in enumerate(summary.recordings, start=1):  # numbered as the web view names them
        out.print(f"  Recording {number} (sha256 {recording.sha256[:16]})  {recording.duration_s} s  "
                  f"{recording.codec}  by {recording.recorded_by}", markup=False)  # fmt: skip
        for a in recording.analyses:
            if not a.integrity.valid:  # changed since it was stored: its figures are not shown
                out.print(f"    {a.registration_number}  {a.integrity.message}", markup=False)
                continue
            top = ", ".join(f"{p.label} {100 * p.probability:.0f} %" for p in a.probabilities[:3]) or "no result"
            out.print(f"    {a.registration_number}  {a.status}  {top}  report: {'yes' if a.report else 'no'}",
                      markup=False)  # fmt: skip
            if a.dialects:
                out.print(f"      dialect: {dialect_headline(a.dialects)} ({a.dialects.status})", markup=False)


@app.command("list")
@user_errors
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """All cases."""
    from dialectid.casefile.summaries import to_json

    cases = _store().list_cases()
    if as_json:
        print_json(to_json(cases))
        return
    table = Table()
    for heading in ("reference", "status", "subject", "recordings", "opened"):
        table.add_column(heading)
    for c in cases:
        table.add_row(c.reference, c.status, c.pseudonym, str(c.recordings), c.created_at[:16])
    out.print(table)


@app.command("export-report")
@user_errors
def export_report(
    case: Annotated[str, typer.Argument(help="Case reference.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the PDF.")],
    registration: Annotated[
        str | None, typer.Option(help="A registration number (default: the latest report).")
    ] = None,
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
def audit_verify(
    anchor: Annotated[
        list[Path] | None,
        typer.Option(
            help="An exported head (`audit anchor --export`) or a signed report kept elsewhere: the chain "
            "must still pass through it unchanged. Repeatable."
        ),
    ] = None,
    public_key: Annotated[Path | None, typer.Option(help="PEM public key (default: the store's key).")] = None,
) -> None:
    """Walk the audit chain and check it against the signed head in the data home and any anchors;
    check every stored analysis and report against the event that recorded it. Names the first
    problem and exits 1 if there is one."""
    verdict = _store().check_audit(anchor or [], public_key)
    if verdict.problem:
        err.print(f"audit chain NOT intact: {verdict.problem}", markup=False)
        raise typer.Exit(EXIT_FAILED_ITEMS)
    out.print(f"audit chain intact: {verdict.events} events", markup=False)
    head = verdict.head
    out.print(f"  ends where its signed head says (event {head.event}, signed {head.signed_at}, key {head.key_id})"
              if head else "  no signed head yet (it is written with the next event): truncation is not detectable",
              markup=False)  # fmt: skip
    for anchored in verdict.anchors:
        out.print(f"  passes unchanged through {anchored.source}: event {anchored.event}, signed {anchored.signed_at}",
                  markup=False)  # fmt: skip
    old = (
        f"; {verdict.undigested} stored before digests were recorded (columns checked only)"
        if verdict.undigested
        else ""
    )
    out.print(f"  {verdict.analyses} analyses match the digests recorded when they were stored{old}", markup=False)


@audit_app.command("anchor")
@user_errors
def audit_anchor(
    export: Annotated[Path, typer.Option(help="Where to write a copy of the chain's signed head.")],
) -> None:
    """Export the chain's signed head, once the chain verifies. Keep the copy where this machine
    cannot change it (another machine, a ticket, a printout): `audit verify --anchor FILE` then
    proves that no event up to it was changed or removed, even by someone holding this data home."""
    import json

    from dialectid.paths import atomic_write

    store = _store()
    verdict = store.check_audit()
    if verdict.problem:
        err.print(f"audit chain NOT intact: {verdict.problem}; nothing exported", markup=False)
        raise typer.Exit(EXIT_FAILED_ITEMS)
    head = store.export_head()
    atomic_write(export, lambda stream: stream.write(head))
    meta = json.loads(head)["meta"]
    out.print(f"exported the signed head (event {meta['event']}, hash {meta['hash'][:16]}…) to {export}; keep it "
              "where this machine cannot change it", markup=False)  # fmt: skip


@report_app.command("verify")
@user_errors
def report_verify(
    report: Annotated[Path, typer.Argument(help="A report PDF.")],
    public_key: Annotated[Path | None, typer.Option(help="PEM public key (default: the store's key).")] = None,
) -> None:
    """Check a report's signature and content hash; exit 1 if anything was changed."""
    from dialectid.paths import home
    from dialectid.report import VerificationError, trusted_key, verify_pdf

    try:
        data = report.read_bytes()
    except OSError as error:
        raise VerificationError(f"{report}: cannot be read ({error.strerror})") from None
    key = trusted_key(home() / "keys", public_key)  # none to check with: "cannot check", exit 2, not NOT VALID
    try:
        info = verify_pdf(data, key, str(report))
    except VerificationError as error:
        err.print(f"NOT VALID: {error.message}", markup=False)
        raise typer.Exit(EXIT_FAILED_ITEMS) from None
    out.print(f"valid: report {info.registration_number}, signed {info.signed_at}, model {info.model}, "
              f"key {info.key_id}", markup=False)  # fmt: skip
