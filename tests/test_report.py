"""Reports: content, layout from 2 to 40 labels, rendering, and signatures that catch any change."""

import json
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from pypdf import PdfReader

from dialectid.names import label_name
from dialectid.report import (
    ModelFacts,
    ReportContext,
    VerificationError,
    render,
    sign_pdf,
    signing_key,
    trusted_key,
    verify_pdf,
)
from dialectid.scoring.analysis import Analysis, LabelProbability, Window

LONG = "Arabic-Levantine-Northern-Syrian-urban-variety-with-a-very-long-name-" * 2


def analysis(labels: list[str], status: str = "ok") -> Analysis:
    rng = np.random.default_rng(len(labels))
    p = rng.dirichlet(np.ones(len(labels)))
    ordered = sorted(zip(labels, p, strict=True), key=lambda x: -x[1])
    result = status in ("ok", "low_confidence", "out_of_set")
    return Analysis(
        registration_number="DID-20261126-0A1B2C3D",
        created_at="2026-11-26T12:00:00+00:00",
        audio={
            "sha256": "ab" * 32,
            "container": "wav",
            "codec": "pcm_mulaw",
            "sample_rate": 8000,
            "channels": 1,
            "duration_s": 121.5,
        },
        quality={
            "status": "warn",
            "flags": ["telephone_band", "snr_db"],
            "reasons": ["noisy recording (SNR 12 dB)"],
            "checks": [],
        },
        speech_s=83.2 if result else 1.2,
        status=status,
        probabilities=[LabelProbability(k, round(float(v), 6)) for k, v in ordered] if result else [],
        family_probabilities=[LabelProbability("arabic", 1.0)] if result else [],
        node_probabilities=[LabelProbability("arabic", 1.0)] if result else [],
        top_label=ordered[0][0] if result else None,
        top_probability=round(float(ordered[0][1]), 6) if result else None,
        uncertainty={"low": 0.2, "high": 0.6, "level": 0.95} if result else None,
        consistency=0.7 if result else None,
        timeline=[
            Window(
                start=2.0 * i,
                end=2.0 * i + 4,
                speech_s=4.0,
                top_label=ordered[i % 2][0],
                probabilities={ordered[i % 2][0]: 0.6},
            )
            for i in range(40)
        ]
        if result
        else [],
        open_set={"novelty": 3.1, "threshold": 2.5} if status == "out_of_set" else None,
        model={"id": "lid-test", "name": "whisper-backend", "bundle_sha256": "cd" * 32},
        toolkit_version="0.1.0",
    )


def context(reference: str = "C-2026-ABCDEF") -> ReportContext:
    facts = ModelFacts("lid-test", "whisper-backend", "0.1.0", "cd" * 32, 0.81, 0.09, 0.62, 400, True,
                       ["Few speakers per dialect.", "Telephone speech only."])  # fmt: skip
    return ReportContext(reference, "S-ABCDEFGHJK", "2026-11-26T10:00:00", facts)


def text_of(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    return " ".join(page.extract_text() for page in PdfReader(path).pages)


def test_pdf_contains_the_result_and_the_notice(tmp_path):
    a = analysis(["levantine", "gulf", "egyptian", "iraqi", "maghrebi"])
    text = " ".join(text_of(render(a, context()), tmp_path).split())
    for needed in ("Language identification report", a.registration_number, "C-2026-ABCDEF",
                   "S-ABCDEFGHJK", "not evidence", "page 1 of", "noisy recording", "Few speakers per dialect",
                   "lid-test", "cd" * 16, "81.0 %"):  # fmt: skip
        assert needed in text, needed
    for item in a.probabilities:
        assert f"{label_name(item.label)} {100 * item.probability:.1f} %" in text


@pytest.mark.parametrize("labels", [["en", "fr"], [f"dialect-{i:02d}" for i in range(40)], [LONG, "gulf", "iraqi"]])
def test_layout_holds_for_few_many_and_long_labels(tmp_path, labels):
    pdf = render(analysis(labels), context(reference="C-" + "X" * 60))
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    text = " ".join(text_of(pdf, tmp_path).split()).replace(" ", "")
    for label in labels:
        assert label_name(label).replace(" ", "") in text  # every label printed, wrapped where needed, never cut
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(path), str(tmp_path / "page")], check=True)
    from PIL import Image

    for page in sorted(tmp_path.glob("page*.png")):
        image = np.asarray(Image.open(page).convert("L"))
        margin = int(image.shape[1] * 12 / 210)  # the outer 12 mm of an A4 page stay blank: nothing overflows
        assert image[:, :margin].min() > 200 and image[:, -margin:].min() > 200, page.name


def test_no_result_statuses_say_why(tmp_path):
    text = text_of(render(analysis(["a", "b"], status="insufficient_speech"), context()), tmp_path)
    assert "insufficient_speech" in text and "No result can be given" in " ".join(text.split())
    text = " ".join(text_of(render(analysis(["a", "b"], status="out_of_set"), context()), tmp_path).split())
    assert "fits none of the languages" in text and "novelty 3.10" in text


def test_html_and_json_carry_the_same_content():
    a = analysis(["levantine", "gulf"])
    html = render(a, context(), "html")
    assert a.registration_number in html and "Levantine" in html and "not evidence" in html
    hostile = analysis(["<script>alert(1)</script>", "gulf"])
    assert "<script>alert" not in render(hostile, context(), "html")  # autoescaped
    data = render(a, context(), "json")
    assert data["analysis"]["registration_number"] == a.registration_number
    assert set(data["report"]["probabilities"]) == {"levantine", "gulf"}


def test_signature_verifies_and_any_changed_byte_fails(tmp_path):
    key = signing_key(tmp_path / "keys")
    assert oct((tmp_path / "keys" / "report-signing.key").stat().st_mode & 0o777) == "0o600"
    assert signing_key(tmp_path / "keys").public_key() is not None  # reused, not recreated
    pdf = sign_pdf(render(analysis(["a", "b"]), context()), "DID-X", "lid-test", key)
    public = trusted_key(tmp_path / "keys")
    info = verify_pdf(pdf, public)
    assert (info.registration_number, info.model) == ("DID-X", "lid-test")
    rng = np.random.default_rng(0)
    for position in [0, 100, len(pdf) // 2, len(pdf) - 100, len(pdf) - 2, *rng.integers(0, len(pdf), 20)]:
        changed = bytearray(pdf)
        changed[position] ^= 0x01
        with pytest.raises(VerificationError):
            verify_pdf(bytes(changed), public)
    with pytest.raises(VerificationError, match="not signed"):
        verify_pdf(render(analysis(["a", "b"]), context()), public)
    with pytest.raises(VerificationError, match="not the trusted key"):
        verify_pdf(pdf, signing_key(tmp_path / "other").public_key())
    with pytest.raises(VerificationError):
        verify_pdf(pdf + b"x", public)


def test_signed_pdf_stays_a_readable_pdf(tmp_path):
    pdf = sign_pdf(render(analysis(["a", "b"]), context()), "DID-X", "lid-test", signing_key(tmp_path / "k"))
    assert "DID-20261126-0A1B2C3D" in text_of(pdf, tmp_path)
    path = tmp_path / "s.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(["pdftoppm", "-r", "30", "-png", str(path), str(tmp_path / "p")], capture_output=True)
    assert result.returncode == 0 and b"Error" not in result.stderr


def test_processes_creating_the_signing_key_at_once_share_one(tmp_path):
    """Two analyses in a new store used to race: one lost with FileExistsError (seen in CI)."""
    import subprocess
    import sys

    code = ("import sys; from pathlib import Path; from dialectid.report.signing import signing_key, key_id; "
            "print(key_id(signing_key(Path(sys.argv[1])).public_key()))")  # fmt: skip
    for attempt in range(5):
        keys = tmp_path / f"keys{attempt}"
        runs = [subprocess.Popen([sys.executable, "-c", code, str(keys)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for _ in range(4)]  # fmt: skip
        outputs = [run.communicate(timeout=60) for run in runs]
        assert all(run.returncode == 0 for run in runs), [err.decode()[-300:] for _, err in outputs]
        assert len({out for out, _ in outputs}) == 1
        assert sorted(p.name for p in keys.iterdir()) == ["report-signing.key", "report-signing.pub"]


# ---- issue #25, caseworker items: what the report says and how ------------------------------------------------
SHIPPED = Path(__file__).resolve().parents[1] / "models"


def words_of(pdf: bytes, tmp_path) -> str:
    """The PDF's text as pdftotext reads it (layout lost, whitespace collapsed)."""
    path = tmp_path / "words.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(out.split())


def shipped_facts(name: str = "lid-accurate") -> ModelFacts:
    """The facts a report of a shipped bundle carries, read from its files as `from_bundle` reads them."""
    import json

    from dialectid.models.contract import BundleDescription

    folder = SHIPPED / name
    description = BundleDescription.model_validate_json((folder / "bundle.json").read_text())
    fake = SimpleNamespace(model_id=name, model=SimpleNamespace(name=description.model.name),
                           description=description, sha256="ef" * 32, path=folder, labels=description.labels,
                           metrics=json.loads((folder / "metrics.json").read_text()), rules=description.decision)  # fmt: skip
    return ModelFacts.from_bundle(fake)


@pytest.mark.parametrize("bundle", ["lid-accurate", "lid-fast"])
def test_every_rendering_carries_what_the_shipped_model_cannot_do(tmp_path, bundle):
    """The card's 'What this model cannot do' (no dialects, Dari reported as Persian, Pashto, Kurdish
    and Tigrinya unknown) is in the PDF, the HTML and the JSON, whole sentences, not two generic lines."""
    facts = shipped_facts(bundle)
    ctx = ReportContext("C-2026-ABCDEF", "S-ABCDEFGHJK", "2026-11-26T10:00:00", facts)
    a = analysis(["es", "fa", "ur"])
    needed = ["What this model cannot do", "Dari is very close to Persian and will most likely be reported as Persian",
              "It tells no dialects apart", "Pashto", "Kurdish", "Tigrinya"]  # fmt: skip
    pdf = words_of(render(a, ctx), tmp_path)
    html = " ".join(re.sub(r"<[^>]+>", " ", render(a, ctx, "html")).split())
    for text in (pdf, html):
        for words in needed:
            assert words in text, words
    assert any("Dari is very close to Persian" in line for line in render(a, ctx, "json")["report"]["limitations"])


def test_the_title_says_language_unless_a_dialect_result_is_present(tmp_path):
    a = analysis(["es", "fa", "ur"])
    text = words_of(render(a, context()), tmp_path)
    assert text.startswith("Language identification report") and "dialect identification report" not in text
    assert render(a, context(), "json")["report"]["title"] == "Language identification report"
    from dialectid.scoring import analysis as schema

    dialects = schema.DialectResult(parent="es", parent_probability=0.6, status="dialect_uncertain", top_dialect=None,
                                    children=[schema.LabelProbability("es-CO", 0.3), schema.LabelProbability("es-ES", 0.3)],
                                    top_share=0.5, threshold=0.6, model=a.model)  # fmt: skip
    with_dialects = a.model_copy(update={"dialects": dialects})
    assert words_of(render(with_dialects, context()), tmp_path).startswith("Language and dialect identification report")


def test_people_read_language_names_codes_stay_in_machine_output(tmp_path):
    a = analysis(["es", "hy", "ur", "ar-EGY"])
    text = words_of(render(a, context()), tmp_path)
    for name in ("Spanish", "Armenian", "Urdu", "Arabic (Egyptian)"):
        assert name in text, name
    for code in ("es", "hy", "ur", "ar-EGY"):
        assert not re.search(rf"(?<![\w-]){code}(?![\w-])", text), code
    html = render(a, context(), "html")
    assert "Armenian" in html and ">hy<" not in html
    data = render(a, context(), "json")
    assert set(data["report"]["probabilities"]) == {"es", "hy", "ur", "ar-EGY"}
    assert data["report"]["label_names"]["ar-EGY"] == "Arabic (Egyptian)"


@pytest.mark.parametrize("status", ["out_of_set", "low_confidence", "insufficient_speech"])
def test_without_a_result_the_status_comes_first_and_no_top_label_is_offered(tmp_path, status):
    a = analysis(["es", "fa"], status=status)
    result = words_of(render(a, context()), tmp_path).split("Result", 1)[1]
    assert result.lstrip().startswith(f"Status: {status}"), result[:80]
    assert "top label" not in result.lower()
    if status != "insufficient_speech":
        assert "not a result" in result


def test_ok_says_what_it_means_and_how_often_the_model_was_right_on_this_much_speech(tmp_path):
    facts = shipped_facts()
    a = analysis(["es", "fa"]).model_copy(update={"speech_s": 1.8})
    text = words_of(render(a, ReportContext("C-1", "S-1", "2026-11-26T10:00:00", facts)), tmp_path)
    assert "at least 50 %" in text and "at least 1 s of speech" in text  # the rule that made it ok
    short = json.loads((SHIPPED / "lid-accurate" / "metrics.json").read_text())["by_speech"]["1-2s"]
    right = round(short["accuracy_with_refusals"] * short["n"])  # the shipped model's own test figures
    assert (
        f"This recording has 1.8 s of speech. With 1-2 s of speech, the model was right on {right} of the "
        f"{short['n_answered']} test clips"
    ) in text


def test_the_report_explains_its_numbers_in_words(tmp_path):
    text = words_of(render(analysis(["es", "fa", "ur"]), ReportContext("C-1", "S-1", "2026-11-26", shipped_facts())),
                    tmp_path)  # fmt: skip
    assert "of the 94.4 % of 213" not in text
    shipped = json.loads((SHIPPED / "lid-accurate" / "metrics.json").read_text())
    answered, right = shipped["n_answered"], round(shipped["accuracy_with_refusals"] * shipped["n"])
    assert f"On 213 test clips of speakers it never heard in training, it gave a result on {answered}" in text
    assert f"right on {right} of them ({100 * right / answered:.1f} %; 95 % interval" in text
    assert "0 is perfect" in text and "4.17 bits" in text  # Cavg and Cllr in words
    assert "Evidence over time" not in text and "Consistency over the recording" in text
    assert "Totals over the language tree" not in text
    assert "see the breakdown by net speech" not in text or "By amount of speech" in text


def test_the_pdf_has_no_near_empty_page_and_its_timeline_has_a_scale(tmp_path):
    """Blocks kept together used to push half a page onto the next; the timeline had no y scale."""
    from PIL import Image

    pdf = render(analysis(["es", "fa", "ur"]), ReportContext("C-1", "S-1", "2026-11-26", shipped_facts()))
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(path), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    for page in pages[:-1]:
        image = np.asarray(Image.open(page).convert("L"))
        body_end = int(image.shape[0] * (297 - 18) / 297)  # the bottom margin holds only the footer
        inked = np.flatnonzero(image[:body_end].min(axis=1) < 200)
        assert inked[-1] > 0.88 * body_end, f"{page.name}: the text ends at {inked[-1] / body_end:.0%} of the page"
    text = words_of(pdf, tmp_path)
    assert "probability of the window's most likely language (%)" in text
    assert re.search(r"language \(%\) 100 % 50 % 0 ?%", text)


def test_every_label_and_group_of_the_shipped_models_has_a_name():
    import json

    for bundle in ("lid-accurate", "lid-fast"):
        description = json.loads((SHIPPED / bundle / "bundle.json").read_text())
        for node in description["taxonomy"]["parents"]:
            assert label_name(node) != node, f"{bundle}: {node} has no name"
