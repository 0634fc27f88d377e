"""Arabic dialects: the arabic_dialects_research importer, episode-disjoint folds, the manifests
script, the dialect-arabic config, and the ADI-17 route on a miniature of its released layout."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest

from corpora_arabic import ADI17, adi17_release_tree, arabic_research_tree
from dialectid.config import load_config
from dialectid.data import Manifest, ManifestError, check_splits, group_folds, import_corpus, read_manifest
from dialectid.taxonomy import Taxonomy
from dialectid.train.config import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "corpora" / "arabic_dialects_research"
DIALECTS = ["ar-EGY", "ar-GLF", "ar-LAV", "ar-MSA", "ar-NOR"]


def by_id(utts):
    return {u.id: u for u in utts}


def test_labels_subsets_and_episodes(tmp_path):
    utts = by_id(import_corpus("arabic_dialects", arabic_research_tree(tmp_path)))
    assert len(utts) == 25 and {u.label for u in utts.values()} == set(DIALECTS)
    egy = utts["adi5-badrex/audio/EGY/e2__0_10"]
    assert (egy.label, egy.language, egy.dialect, egy.speaker, egy.source) == (
        "ar-EGY", "ar", "ar-EGY", "prog_e2", "arabic_dialects:adi5-badrex")  # fmt: skip
    assert egy.extra == {"subset": "adi5-badrex", "grouping": "episode", "source_file": "orig/e2__0_10.wav"}
    assert utts["madis5-ziad/audio/LEV/ccc"].label == "ar-LAV" and utts["madis5-ziad/audio/MAG/ddd"].label == "ar-NOR"
    maher = utts["adi-qcri-maher/audio/GLF/GLF000001"]
    assert maher.speaker is None and maher.extra["grouping"] == "none"  # a per-clip placeholder is no speaker
    subsets = Counter(u.extra["subset"] for u in utts.values())
    assert subsets == {"adi5-badrex": 16, "adi-qcri-maher": 5, "madis5-ziad": 4}
    assert {u.extra["subset"] for u in utts.values() if u.speaker} == {"adi5-badrex"}


def test_one_subset_by_option_or_by_folder(tmp_path):
    root = arabic_research_tree(tmp_path)
    only = import_corpus("arabic_dialects", root, {"subsets": "madis5-ziad"})
    assert {u.extra["subset"] for u in only} == {"madis5-ziad"} and len(only) == 4
    assert len(import_corpus("arabic_dialects", root / "adi-qcri-maher")) == 5
    with pytest.raises(ManifestError, match="unknown subset.*adi-17.*known: adi5-badrex, adi-qcri-maher, madis5-ziad"):
        import_corpus("arabic_dialects", root, {"subsets": "adi-17"})


def test_bad_rows_are_one_line_errors(tmp_path):
    root = arabic_research_tree(tmp_path)
    listing = root / "madis5-ziad" / "manifest.csv"
    text = listing.read_text()
    listing.write_text(text.replace(",MAG,", ",IRQ,"))
    with pytest.raises(ManifestError, match=r"madis5-ziad/manifest.csv line 5: unknown dialect 'IRQ'"):
        import_corpus("arabic_dialects", root)
    listing.write_text(text.replace("audio/EGY/aaa.flac", "audio/EGY/gone.flac"))
    with pytest.raises(ManifestError, match=r"line 2: listed file audio/EGY/gone.flac does not exist"):
        import_corpus("arabic_dialects", root)
    with pytest.raises(ManifestError, match="no manifest.csv; give the arabic_dialects_research folder"):
        import_corpus("arabic_dialects", root / "adi5-badrex" / "audio")


def test_folds_are_episode_disjoint_and_keep_a_two_label_episode_whole(tmp_path):
    utts = [u for u in import_corpus("arabic_dialects", arabic_research_tree(tmp_path)) if u.speaker]
    folds = group_folds(utts, k=3, seed=1)
    tested = [u.id for fold in folds.values() for u in fold["test"]]
    assert sorted(tested) == sorted(u.id for u in utts)  # every clip tested exactly once
    for fold in folds.values():
        train, test = {u.speaker for u in fold["train"]}, {u.speaker for u in fold["test"]}
        assert not train & test
        assert not check_splits({k: Manifest(tuple(v), tmp_path) for k, v in fold.items()}).errors
        assert len(fold["train"]) + len(fold["test"]) == len(utts)
    home = [name for name, fold in folds.items() if any(u.speaker == "prog_e2" for u in fold["test"])]
    assert len(home) == 1
    assert {u.label for u in folds[home[0]]["test"] if u.speaker == "prog_e2"} == {"ar-EGY", "ar-LAV"}
    assert all({u.label for u in fold["test"]} >= {"ar-EGY", "ar-NOR"} for fold in folds.values())  # dealt per label
    with pytest.raises(ManifestError, match="99 folds need between 2 and 14"):
        group_folds(utts, k=99)


def test_manifest_script_writes_relative_leak_free_manifests(tmp_path):
    spec = importlib.util.spec_from_file_location("build", ROOT / "scripts" / "build_arabic_dialects_data.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    corpus, out = arabic_research_tree(tmp_path / "corpus"), tmp_path / "out"
    build.main(["--corpus", str(corpus), "--out", str(out), "--folds", "3"])
    parts = {name: read_manifest(out / f"{name}.jsonl", labels=DIALECTS, check_files=True)
             for name in ("all", "train", "calibration", "test", "madis")}  # fmt: skip
    assert all(not Path(u.path).is_absolute() for u in parts["all"])
    subsets = {name: Counter(u.extra["subset"] for u in parts[name]) for name in parts}
    assert subsets["train"]["adi-qcri-maher"] == 5 and set(subsets["madis"]) == {"madis5-ziad"}
    assert set(subsets["calibration"]) == set(subsets["test"]) == {"adi5-badrex"}
    assert not check_splits({k: parts[k] for k in ("train", "calibration", "test")}).errors
    for n in (1, 2, 3):
        fold = {k: read_manifest(out / "folds" / f"fold-{n}" / f"{k}.jsonl") for k in ("train", "test")}
        assert not check_splits(fold).errors and {u.extra["subset"] for u in fold["test"]} == {"adi5-badrex"}
    assert sum(len(read_manifest(out / "folds" / f"fold-{n}" / "test.jsonl")) for n in (1, 2, 3)) == 16


def test_dialect_arabic_config():
    config = load_config(ROOT / "configs" / "dialect-arabic.yaml", TrainConfig)
    assert config.taxonomy.tree == {"ar": DIALECTS} and not config.taxonomy.out_of_set
    assert config.model.name == "whisper-backend" and config.features is None
    assert Taxonomy.from_tree(config.taxonomy.tree).parents["ar-GLF"] == "ar"
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    for path in (config.output.bundle, *[p for p in config.data.model_dump().values() if p]):
        assert Path(path).parts[0] == "runs" and "runs/" in ignored, path  # never in the tracked tree
    notes = config.output.card_notes.read_text() if config.output.card_notes.is_absolute() else (
        ROOT / config.output.card_notes).read_text()  # fmt: skip
    for needed in ("research use only", "Iraqi", "Sudanese", "country-level", "8 Gulf clips", "broadcast",
                   "reports/arabic-dialects.md"):  # fmt: skip
        assert needed in notes, needed


@pytest.mark.needs_shared("arabic_dialects_research")
def test_the_real_folder_imports_whole():
    utts = import_corpus("arabic_dialects", REAL)
    assert Counter(u.extra["subset"] for u in utts) == {"adi5-badrex": 98, "adi-qcri-maher": 50, "madis5-ziad": 12}
    episodes = {u.speaker for u in utts if u.speaker}
    two_labels = [e for e in episodes if len({u.label for u in utts if u.speaker == e}) == 2]
    assert len(episodes) == 59 and len(two_labels) == 4
    badrex = Counter(u.label for u in utts if u.extra["subset"] == "adi5-badrex")
    assert badrex == {"ar-EGY": 16, "ar-GLF": 8, "ar-LAV": 23, "ar-MSA": 13, "ar-NOR": 38}


def test_adi17_released_layout(tmp_path):
    root = adi17_release_tree(tmp_path)
    utts = by_id(import_corpus("adi17", root))
    assert len(utts) == 4 * len(ADI17)
    train = utts["train/SYRb-2_000100-000500"]
    assert (train.label, train.split, train.speaker) == ("SYR", "train", "yt:SYRb-2")
    dev = utts["dev/dev_KSA-x_000000-000400"]  # the header line `id label` is no utterance
    assert (dev.label, dev.split, dev.speaker, dev.extra) == ("KSA", "dev", "yt:dev_KSA-x", {"region": "gulf"})
    only = import_corpus("adi17", root, {"split": "test"})
    assert {u.split for u in only} == {"test"} and len(only) == len(ADI17)
    with pytest.raises(ManifestError, match="unknown split 'eval'; use all, train, dev or test"):
        import_corpus("adi17", root, {"split": "eval"})
    (root / "adi17_official_dev_label.txt").write_text("id label\ndev_KSA-x_000000-000400 KSA\n")
    with pytest.raises(ManifestError, match=r"dev_ALG-x_000000-000400.wav: not listed in .*adi17_official_dev_label"):
        import_corpus("adi17", root)


@pytest.mark.slow
def test_adi17_recipe_trains_on_a_miniature_of_the_release(tmp_path):
    """configs/adi17-ecapa.yaml as shipped (taxonomy, model, calibration), one epoch of a small network
    on espeak-ng Arabic in ADI-17's layout: the files a run writes, and an `ar` top node."""
    from typer.testing import CliRunner

    from dialectid.cli import app
    from dialectid.models.bundle import load_model
    from dialectid.train.trainer import train

    root = adi17_release_tree(tmp_path / "adi17", speech=True)
    runner = CliRunner()
    for split in ("train", "dev", "test"):
        result = runner.invoke(app, ["data", "import", "adi17", str(root), "--option", f"split={split}",
                                     "-o", str(tmp_path / "data" / f"{split}.jsonl")])  # fmt: skip
        assert result.exit_code == 0, result.output
    overrides = [f"data.{s}={tmp_path / 'data' / f'{s}.jsonl'}" for s in ("train", "dev", "test")] + [
        f"output.runs_dir={tmp_path / 'runs'}", f"output.bundle={tmp_path / 'runs' / 'bundle'}", "training.epochs=1",
        "training.batch_seconds=20", "model.args.channels=16", "model.args.embedding=16", "augmentation.copies=0",
        "decision.min_speech_s=0.5", "training.threads=1"]  # fmt: skip
    config = load_config(ROOT / "configs" / "adi17-ecapa.yaml", TrainConfig, overrides)
    result = train(config)
    for name in ("config.yaml", "train.log", "metrics.jsonl", "evaluation/metrics.json", "evaluation/report.md",
                 "checkpoints/epoch-001.safetensors"):  # fmt: skip
        assert (result.run_dir / name).is_file(), name
    assert [json.loads(line)["epoch"] for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()] == [1]
    bundle = load_model(result.bundle)
    assert sorted(bundle.labels) == sorted(ADI17)
    parents = json.loads((result.bundle / "bundle.json").read_text())["taxonomy"]["parents"]
    assert parents["ar"] is None and parents["ar-LAV"] == "ar" and parents["SYR"] == "ar-LAV"
    assert result.metrics["n"] == len(ADI17) and result.metrics["speakers_unseen_in_training"] is True
