"""Reports: content, layout from 2 to 40 labels, rendering, and signatures that catch any change."""

import subprocess

import numpy as np
import pytest
from pypdf import PdfReader

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
        },  # fmt: skip
        quality={
            "status": "warn",
            "flags": ["telephone_band", "snr_db"],
            "reasons": ["noisy recording (SNR 12 dB)"],
            "checks": [],
        },  # fmt: skip
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
        else [],  # fmt: skip
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
    for needed in ("Language and dialect identification report", a.registration_number, "C-2026-ABCDEF",
                   "S-ABCDEFGHJK", "not evidence", "page 1 of", "noisy recording", "Few speakers per dialect",
                   "lid-test", "cd" * 16, "81.0 %"):  # fmt: skip
        assert needed in text, needed
    for item in a.probabilities:
        assert f"{item.label} {100 * item.probability:.1f} %" in text


@pytest.mark.parametrize("labels", [["en", "fr"], [f"dialect-{i:02d}" for i in range(40)], [LONG, "gulf", "iraqi"]])
def test_layout_holds_for_few_many_and_long_labels(tmp_path, labels):
    pdf = render(analysis(labels), context(reference="C-" + "X" * 60))
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    text = " ".join(text_of(pdf, tmp_path).split()).replace(" ", "")
    for label in labels:
        assert label.replace(" ", "") in text  # every label printed, wrapped where needed, never cut
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
    assert a.registration_number in html and "levantine" in html and "not evidence" in html
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
