"""`dialectid demo`: a self-contained case file to see what a caseworker sees.

It builds a demo data home (never the user's real DIALECTID_HOME): four accounts with random
passwords, four cases with fictitious subjects, the bundled sample recordings analysed with the
default model and their signed reports attached, and some feedback already given. The web view
then serves it on 127.0.0.1. Nothing is downloaded. With a dialect bundle (`dialectid demo
--dialect-model`, or one found at DIALECTID_HOME/models/dialect-arabic) the analyses also split
the top language over its dialects where it is that bundle's language (the Arabic sample).
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dialectid.errors import DialectidError
from dialectid.paths import checkout_root, home, make_private
from dialectid.version import __version__

MARKER = "DEMO.json"
DEMO_FEEDBACK = "Demo feedback: written by dialectid demo when it built this case file, to show how feedback looks."
ACCOUNTS = (("demo-admin", "admin"), ("demo-analyst", "analyst"), ("anna.caseworker", "caseworker"),
            ("ben.caseworker", "caseworker"))  # fmt: skip


@dataclass(frozen=True)
class DemoCase:
    """A fictitious subject (never a real person), who works on it, what was recorded."""

    name: str
    date_of_birth: str
    claimed_origin: str
    caseworker: str
    recordings: tuple[str, ...]
    status: str = "analysed"


CASES = (
    DemoCase("Maria Beispiel", "1990-01-01", "Bogotá (fictitious)", "anna.caseworker",
             ("es-CO-vm-options.gsm", "telephone-en.wav")),
    DemoCase("Karim Mustermann", "1985-06-15", "Aleppo (fictitious)", "anna.caseworker",
             ("ar-voxlingua.wav", "tr-voxlingua.wav")),
    DemoCase("Dariush Platzhalter", "1979-11-30", "Herat (fictitious)", "ben.caseworker",
             ("fa-voxlingua.wav", "ur-voxlingua.wav")),
    DemoCase("Claire Exemple", "2001-03-21", "Lyon (fictitious)", "ben.caseworker",
             ("fr-FR-vm-options.gsm", "it-IT-vm-options.wav", "fr-FR-too-short.gsm"), status="open"),
)  # fmt: skip


class DemoError(DialectidError):
    """The demo home cannot be built or reused where it was asked for."""


def samples_folder() -> Path:
    """datasets/samples of the source checkout this package runs from: the demo's recordings come
    with a checkout, not in the package. A `DemoError` names where they were looked for."""
    root = checkout_root()
    folder = root / "datasets" / "samples" if root else None
    if folder is None:
        raise DemoError(
            "the demo needs the sample recordings of a source checkout (datasets/samples), and "
            f"dialectid runs from {Path(__file__).parent}, not from one; run it from a clone"
        )
    if not folder.is_dir():
        raise DemoError(f"{folder}: the demo's sample recordings are missing; restore datasets/samples of the checkout")
    return folder


@dataclass(frozen=True)
class Demo:
    folder: Path
    logins: dict[str, str]  # name -> password; empty when an existing demo was reused
    cases: list[str]


def prepare(folder: Path, model: Path, rebuild: bool = False, say: Callable[[str], None] = lambda _: None,
            dialect_model: Path | None = None) -> Demo:  # fmt: skip
    """The demo home in `folder`: reused when it is one and `rebuild` is not set, else built anew
    (with the dialect bundle `dialect_model` under `model`, where given)."""
    folder = folder.resolve()
    if folder == home().resolve() or home().resolve().is_relative_to(folder):
        raise DemoError(f"{folder}: is (or holds) your real data home; choose another --home for the demo")
    marker = folder / MARKER
    if folder.exists() and any(folder.iterdir()) and not marker.is_file():
        raise DemoError(f"{folder}: exists and is not a demo home; choose another --home")
    if marker.is_file() and not rebuild:
        cases = json.loads(marker.read_text())["cases"]
        say(f"reusing the demo in {folder} (--rebuild makes a new one with new passwords)")
        if changed := make_private(folder):  # as `serve` does: its database and signing key are real secrets
            say(f"warning: {changed}")
        return Demo(folder, {}, cases)
    samples = samples_folder()  # before an old demo is removed
    if folder.exists():
        shutil.rmtree(folder)
    return _build(folder, samples, model, say, dialect_model)


def _build(
    folder: Path, samples: Path, model: Path, say: Callable[[str], None], dialect_model: Path | None = None
) -> Demo:
    from dialectid.casefile import CaseStore
    from dialectid.casefile.accounts import Accounts
    from dialectid.casefile.workflow import analyse_case
    from dialectid.models.bundle import load_model
    from dialectid.scoring.dialects import compose
    from dialectid.web.passwords import hash_password

    bundle = load_model(str(model))
    dialect = load_model(str(dialect_model)) if dialect_model else None
    if dialect is not None:
        compose(bundle, dialect)  # a dialect bundle that does not fit is refused before the demo home is made
        say(f"dialect model {dialect.model_id} ({dialect_model}) splits {'/'.join(dialect.taxonomy.leaves)}")
    folder.mkdir(parents=True, mode=0o700)
    store = CaseStore(root=folder)
    actor = "dialectid demo"
    logins = {name: secrets.token_urlsafe(15) for name, _ in ACCOUNTS}
    accounts = Accounts(store)
    for name, role in ACCOUNTS:
        accounts.add(name, role, hash_password(logins[name], role, name), actor)
    references = []
    for number, case in enumerate(CASES, start=1):
        say(f"case {number} of {len(CASES)}: adding and analysing {len(case.recordings)} recordings")
        reference = store.new_case(case.name, case.date_of_birth, case.claimed_origin, "demo-analyst").reference
        store.assign(reference, case.caseworker, "demo-admin")
        for sample in case.recordings:
            store.add_recording(reference, samples / sample, "demo recording", "demo-analyst")
        analyse_case(store, reference, bundle, "demo-analyst", dialect=dialect)
        references.append(reference)
    _give_feedback(store, references[0], actor)
    (folder / MARKER).write_text(json.dumps({"version": __version__, "cases": references,
                                             "built_at": datetime.now(UTC).isoformat(timespec="seconds")}) + "\n")  # fmt: skip
    return Demo(folder, logins, references)


def _give_feedback(store, reference: str, actor: str) -> None:
    """Feedback on the first case's first result, so that the page shows what feedback looks like.
    It is by the demo itself, and says so: nobody logged in to give it (#25), and a caseworker's
    name on it would put words in the mouth of an account that never read the report."""
    shown = store.show(reference, actor)
    first = next(a for r in shown.recordings for a in r.analyses if a.top_label)
    store.add_feedback(first.registration_number, actor, "caseworker", True, None, DEMO_FEEDBACK, reference)
