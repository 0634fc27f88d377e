"""A report signed under today's ModelFacts still verifies after a field is added to them (#26
item 3): the signature names the version of the facts it binds, and the digest holds that
version's fields only. The fixture in tests/data was signed by this code (`python
tests/test_report_facts_version.py` writes it again, with a fresh key whose private half is
discarded)."""

import base64
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dialectid.report import ModelFacts, ReportContext, binding_problem, report_binding, sign_pdf, verify_pdf
from dialectid.report.context import FACTS_FIELDS, FACTS_VERSION

FIXTURE = Path(__file__).parent / "data" / "signed-report-facts-v2.json"


@dataclass(frozen=True)
class LaterFacts(ModelFacts):
    """ModelFacts as a later toolkit might have them: one field more, with a value."""

    interpreter_notes: str = "reviewed by a linguist"


def stored():
    data = json.loads(FIXTURE.read_text())
    public = serialization.load_pem_public_key(data["public_key"].encode())
    return data, verify_pdf(base64.b64decode(data["pdf"]), public)


def context(data, facts_class=ModelFacts):
    facts = facts_class(**data["model_facts"])
    return ReportContext(data["case_reference"], data["subject_pseudonym"], data["recorded_at"], facts)


def test_the_stored_report_verifies_with_todays_facts():
    data, info = stored()
    assert info.facts_version == 2
    assert binding_problem(info, data["analysis"], context(data)) is None


def test_it_still_verifies_after_a_field_is_added_to_the_facts():
    data, info = stored()
    later = context(data, LaterFacts)
    assert later.model.interpreter_notes == "reviewed by a linguist"  # the new field is there, with a value
    assert binding_problem(info, data["analysis"], later) is None


def test_a_changed_fact_is_still_caught():
    data, info = stored()
    data["model_facts"]["test_accuracy"] = 0.99
    assert "model facts" in binding_problem(info, data["analysis"], context(data))
    data, info = stored()
    data["model_facts"]["dialect"]["labels"] = ["ar-EGY"]
    assert "model facts" in binding_problem(info, data["analysis"], context(data))


def test_every_field_of_todays_facts_is_in_the_newest_version():
    """Adding a field to ModelFacts without a new version in FACTS_FIELDS would leave it unsigned."""
    assert set(FACTS_FIELDS[FACTS_VERSION]) == {f.name for f in fields(ModelFacts)}


def write_fixture() -> None:
    key = Ed25519PrivateKey.generate()
    dialect = ModelFacts("dialect-arabic", "whisper-backend", "0.1.0", "b" * 64, 0.61, 0.2, 0.9, 120, True,
                         ["Research data only."], 0.9, ["ar-EGY", "ar-GLF"])  # fmt: skip
    facts = ModelFacts("lid-accurate", "whisper-fusion", "0.1.0", "a" * 64, 0.86, 0.05, 0.4, 300, True,
                       ["Telephone speech only."], 0.97, ["ar", "en"], None,
                       {"min_speech_s": 1.0, "low_confidence": 0.5}, 290, dialect)  # fmt: skip
    ctx = ReportContext("CASE-1", "P-7F3A", "2026-12-06T20:00:00+00:00", facts)
    analysis = {"registration_number": "DIA-20261206-0001", "status": "ok", "top_label": "ar"}
    pdf = sign_pdf(b"%PDF-1.4 stand-in for a rendered report\n", analysis["registration_number"], facts.name, key,
                   report_binding(analysis, ctx))  # fmt: skip
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    FIXTURE.write_text(json.dumps({
        "pdf": base64.b64encode(pdf).decode(), "public_key": public.decode(), "analysis": analysis,
        "case_reference": ctx.case_reference, "subject_pseudonym": ctx.subject_pseudonym,
        "recorded_at": ctx.recorded_at, "model_facts": asdict(facts)}, indent=1) + "\n")  # fmt: skip


if __name__ == "__main__":
    write_fixture()
