"""Bundles that would answer wrongly in silence are refused (#26 item 15): bundle.json edited and
its checksums recomputed, settings the model family cannot use, an encoder pin that is not the
encoder's. The shipped bundles carry a fingerprint that matches."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dialectid.cli import app
from dialectid.models.bundle import BundleError, add_fingerprint, load_model
from dialectid.scoring import Scorer

runner = CliRunner()
SHIPPED = Path(__file__).parents[1] / "models"


def edited(bundle: Path, tmp_path: Path, change) -> Path:
    """A copy of `bundle` whose bundle.json `change` edits, with checksums.sha256 recomputed (as
    anyone who can write the files can do)."""
    target = tmp_path / "edited"
    shutil.copytree(bundle, target)
    description = json.loads((target / "bundle.json").read_text())
    change(description)
    (target / "bundle.json").write_text(json.dumps(description, indent=2) + "\n")
    digest = hashlib.sha256((target / "bundle.json").read_bytes()).hexdigest()
    lines = [f"{digest}  bundle.json" if line.endswith("  bundle.json") else line
             for line in (target / "checksums.sha256").read_text().splitlines()]  # fmt: skip
    (target / "checksums.sha256").write_text("\n".join(lines) + "\n")
    return target


def reverse_labels(description: dict) -> None:
    description["labels"] = description["labels"][::-1]


def test_a_bundle_with_its_labels_reversed_scores_nothing(stats_bundle, tmp_path):
    bundle = load_model(edited(stats_bundle, tmp_path, reverse_labels))  # it loads: every check before this passes
    with pytest.raises(BundleError, match="on probe .* was exported giving") as caught:
        Scorer(bundle)
    assert "\n" not in caught.value.message
    result = runner.invoke(app, ["model", "verify", str(bundle.path)])
    assert result.exit_code == 1 and "NOT VALID" in result.stderr


def test_an_intact_bundle_behaves_as_exported(stats_bundle):
    bundle = load_model(stats_bundle)
    assert bundle.description.behaviour is not None
    assert set(bundle.description.behaviour.posteriors) == {"noise", "tone", "chirp"}
    Scorer(bundle)
    assert bundle.behaves
    assert runner.invoke(app, ["model", "verify", str(stats_bundle)]).exit_code == 0


def test_a_bundle_without_a_fingerprint_loads_and_can_be_given_one(stats_bundle, tmp_path):
    old = edited(stats_bundle, tmp_path, lambda d: d.pop("behaviour"))
    before = json.loads((old / "bundle.json").read_text())
    Scorer(load_model(old))  # exported before fingerprints: nothing to check
    result = runner.invoke(app, ["model", "fingerprint", str(old)])
    assert result.exit_code == 0, result.output
    assert load_model(old).description.behaviour == load_model(stats_bundle).description.behaviour
    after = json.loads((old / "bundle.json").read_text())
    assert after.pop("behaviour") and after == before  # every other section as it was, not re-serialised
    again = runner.invoke(app, ["model", "fingerprint", str(old)])
    assert again.exit_code == 2 and "already has" in again.stderr


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d["input"].update(sample_rate=8000), "takes 16000 Hz, not 8000"),
        (lambda d: (d["encoder"].update(sha256="0" * 64), d["model"]["args"].update(encoder_sha256="0" * 64)),
         "not the Whisper base encoder"),
    ],
)  # fmt: skip
def test_settings_a_whisper_model_cannot_use_are_refused_on_load(tmp_path, change, match):
    with pytest.raises(BundleError, match=match) as caught:
        load_model(edited(SHIPPED / "lid-fast", tmp_path, change))
    assert "\n" not in caught.value.message


@pytest.mark.parametrize("name", ["lid-fast", "lid-accurate"])
def test_the_shipped_bundles_carry_a_fingerprint_they_match(name):
    bundle = load_model(SHIPPED / name)
    assert bundle.description.behaviour is not None
    bundle.check_behaviour()  # runs Whisper base on the probes
    assert bundle.behaves


def test_the_shipped_fast_bundle_reversed_is_refused(tmp_path):
    bundle = load_model(edited(SHIPPED / "lid-fast", tmp_path, reverse_labels))
    with pytest.raises(BundleError, match="was changed after export"):
        bundle.check_behaviour()


def test_a_fingerprint_already_there_is_not_recomputed(stats_bundle, tmp_path):
    with pytest.raises(BundleError, match="already has"):
        add_fingerprint(edited(stats_bundle, tmp_path, reverse_labels))
