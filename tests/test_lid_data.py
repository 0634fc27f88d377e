"""The shipped models' data (datasets/lid/, scripts/build_lid_data.py): video-disjoint splits, the
held-out languages in no split, the bundled DIAS-language samples from the test split only."""

import json
from itertools import combinations
from pathlib import Path

import pytest

from dialectid.data import check_splits, read_manifest

ROOT = Path(__file__).resolve().parent.parent
LID = ROOT / "datasets" / "lid"
SPLITS = ("train", "dev", "calibration", "test")


def manifests():
    return {name: read_manifest(LID / f"{name}.jsonl") for name in (*SPLITS, "unknown")}


def test_no_video_is_in_two_splits():
    """From the manifests alone (a video is the speaker), so a clone without ../shared checks it too."""
    splits = {name: {u.speaker for u in manifest} for name, manifest in manifests().items()}
    assert all(splits.values())
    for a, b in combinations(splits, 2):
        assert not splits[a] & splits[b], (a, b, sorted(splits[a] & splits[b])[:3])


@pytest.mark.needs_shared("voxlingua107_dev")
def test_no_video_or_recording_is_in_two_splits():
    """The full leakage check hashes every clip, so it needs the corpus the manifests point into."""
    findings = check_splits(manifests())
    assert findings.errors == []


def test_held_out_languages_are_in_no_split_and_every_label_is_trained():
    parts = manifests()
    unknown = {u.label for u in parts["unknown"]}
    assert unknown == {"is", "lv", "no", "zh"}
    trained = {u.label for u in parts["train"]}
    assert len(trained) == 18 and not unknown & trained
    for name in ("dev", "calibration", "test"):
        assert {u.label for u in parts[name]} == trained, name


def test_corpus_paths_are_relative_so_the_manifests_work_in_any_checkout():
    for name in (*SPLITS, "unknown"):
        for line in (LID / f"{name}.jsonl").read_text().splitlines():
            path = json.loads(line)["path"]
            assert path.startswith("../../../shared/corpora/") or path.startswith("/usr/share/asterisk/"), path


def test_bundled_samples_come_from_test_videos():
    sources = (ROOT / "datasets" / "samples" / "SOURCE.md").read_text()
    parts = manifests()
    heard = {u.speaker for name in ("train", "dev", "calibration") for u in parts[name]}
    for language in ("ar", "fa", "ur", "tr"):
        assert (ROOT / "datasets" / "samples" / f"{language}-voxlingua.wav").is_file()
        [sample] = [u for u in parts["test"] if u.label == language and f"`{u.id.split('/')[-1]}`" in sources]
        assert sample.speaker not in heard


@pytest.mark.needs_shared("voxlingua107_dev")
def test_rebuilding_the_manifests_as_the_readme_says_leaves_the_tree_clean(tmp_path):
    """scripts/build_lid_data.py in a copy of the checkout whose ../shared is a link (as in many
    checkouts) writes manifests byte-identical to the committed ones: no absolute corpus paths."""
    import shutil
    import subprocess
    import sys

    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "build_lid_data.py", checkout / "scripts")
    for folder in ("asterisk", "lid"):
        shutil.copytree(ROOT / "datasets" / folder, checkout / "datasets" / folder)
    (tmp_path / "shared").symlink_to((ROOT.parent / "shared").resolve(), target_is_directory=True)
    done = subprocess.run([sys.executable, "scripts/build_lid_data.py"], cwd=checkout, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]
    for committed in sorted(LID.glob("*.jsonl")):
        rebuilt = (checkout / "datasets" / "lid" / committed.name).read_text()
        assert rebuilt == committed.read_text(), f"{committed.name}: {rebuilt.splitlines()[0][:160]}"
