import json
from pathlib import Path

from typer.testing import CliRunner

from corpora import asterisk_tree, folder_tree, random_bytes
from dialectid.cli import app
from dialectid.data import read_manifest
from dialectid.features import FeatureConfig

runner = CliRunner()
CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_import_stats_split_check(tmp_path):
    corpus = folder_tree(tmp_path / "corpus")
    manifest = tmp_path / "out" / "all.jsonl"
    result = invoke("data", "import", "folder", corpus, "-o", manifest, "--hash")
    assert result.exit_code == 0, result.output
    assert "6 utterances, 2 labels, 3 speakers" in result.stdout
    assert all(u.sha256 for u in read_manifest(manifest))

    result = invoke("data", "stats", manifest, "--json")
    stats = json.loads(result.stdout)
    assert {row["label"]: row["speakers"] for row in stats["labels"]} == {"en": 2, "fr": 1}
    assert any("'fr' has 1 speaker(s)" in w for w in stats["warnings"])
    assert "total" in invoke("data", "stats", manifest).stdout

    result = invoke("data", "split", manifest, "-o", tmp_path / "split", "--test", "0.3", "--dev", "0")
    assert result.exit_code == 0, result.output
    train, test = tmp_path / "split" / "train.jsonl", tmp_path / "split" / "test.jsonl"
    assert {u.label for u in read_manifest(test)} == {"en"}
    assert all(Path(read_manifest(train).path_of(u)).is_file() for u in read_manifest(train))
    result = invoke("data", "check", train, tmp_path / "split" / "dev.jsonl", test)
    assert result.exit_code == 0, result.output
    assert "no speaker or recording is shared" in result.stdout


def test_check_fails_on_a_leak(tmp_path):
    manifest = tmp_path / "all.jsonl"
    invoke("data", "import", "folder", folder_tree(tmp_path / "c"), "-o", manifest)
    result = invoke("data", "check", manifest, manifest)
    assert result.exit_code == 1
    assert "leak: speaker 'en/s1' occurs in" in result.stderr


def test_loso_folds(tmp_path):
    manifest = tmp_path / "all.jsonl"
    invoke("data", "import", "asterisk", asterisk_tree(tmp_path / "sounds"), "-o", manifest)
    result = invoke("data", "split", manifest, "-o", tmp_path / "folds", "--loso")
    assert result.exit_code == 0, result.output
    folds = sorted(p.name for p in (tmp_path / "folds" / "loso").iterdir())
    assert folds == ["allison", "armelle", "carlo", "es-co-prompts", "menardi"]
    test = read_manifest(tmp_path / "folds" / "loso" / "allison" / "test.jsonl")
    assert {u.label for u in test} == {"en-US", "es-MX"}  # the same voice in two languages


def test_bad_input_is_one_line(tmp_path):
    result = invoke("data", "import", "nosuch", tmp_path, "-o", tmp_path / "m.jsonl")
    assert result.exit_code == 2 and "known importers: adi17" in result.stderr
    result = invoke("data", "import", "folder", tmp_path, "-o", tmp_path / "m.jsonl", "--option", "oops")
    assert result.exit_code == 2 and "not of the form key=value" in result.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "path": "a.wav", "label": "x"}\n{"id": "a", "path": "b.wav", "label": "x"}\n')
    for args in (("data", "stats", bad), ("data", "split", bad, "-o", tmp_path / "s"), ("features", "extract", bad)):
        result = invoke(*args)
        assert result.exit_code == 2, args
        assert f"error: {bad} line 2: duplicate id 'a'" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "m.jsonl").exists()


def test_features_extract_reuses_the_cache_and_reports_bad_files(tmp_path):
    corpus = folder_tree(tmp_path / "corpus")
    manifest = tmp_path / "all.jsonl"
    invoke("data", "import", "folder", corpus, "-o", manifest)
    random_bytes(corpus / "en" / "s1" / "utt0.wav")  # damaged after the import
    cache = tmp_path / "cache"
    args = ("features", "extract", manifest, "--config", CONFIGS / "features-sdc-telephone.yaml",
            "--cache", cache, "--json")  # fmt: skip
    first = invoke(*args)
    assert first.exit_code == 1
    rows = [json.loads(line) for line in first.stdout.splitlines()]
    assert [r["status"] for r in rows].count("extracted") == 5
    assert next(r for r in rows if r["status"] == "error")["error"].endswith(
        "not a recognised audio format; send WAV, FLAC, Ogg, Opus, MP3, M4A, AMR, 3GP or WebM"
    )
    config = FeatureConfig.model_validate(json.loads((next(cache.iterdir()) / "config.json").read_text()))
    assert config.kind == "mfcc_sdc" and config.dim == 56
    second = invoke(*args)
    assert [json.loads(line)["status"] for line in second.stdout.splitlines()].count("cached") == 5


def test_shipped_feature_configs_are_valid():
    from dialectid.config import load_config
    from dialectid.features.job import FeatureJob

    for path in CONFIGS.glob("features-*.yaml"):
        load_config(path, FeatureJob)
