"""Hostile and odd configs: each is refused up front with one `ConfigError` line naming the file
or key, and the CLI exits 2 without a traceback, before any model or recording is touched."""

import math
import os
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import soundfile as sf
from pydantic import ValidationError
from typer.testing import CliRunner

from audiofactory import speechlike
from dialectid.audio import AudioConfig
from dialectid.cli import app
from dialectid.config import MAX_CONFIG_BYTES, StrictModel, load_config, parse_config
from dialectid.errors import ConfigError
from dialectid.scoring import ScoringConfig
from dialectid.scoring.scorer import registration_number

runner = CliRunner()


@pytest.fixture
def wav(tmp_path) -> Path:
    path = tmp_path / "some.wav"
    sf.write(path, speechlike(1.0, 16000), 16000)
    return path


def score(tmp_path, wav, *options):
    """`dialectid score` with a model path that does not exist: a config that got through
    validation would fail later, on the model, with a different message."""
    args = ["score", "--model", str(tmp_path / "no-model"), *map(str, options), str(wav)]
    return runner.invoke(app, args)


def refused(result, *needles):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("error: ")
    for needle in needles:
        assert needle in line, line
    return line


def write(tmp_path, text, name="hostile.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- non-finite numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("ingest: {max_in_memory_mb: .inf}\n", "ingest.max_in_memory_mb"),
        ("ingest: {max_duration_s: .nan}\n", "ingest.max_duration_s"),
        ("ingest: {silence_dbfs: -.inf}\n", "ingest.silence_dbfs"),
        ("quality: {snr_db: {warn: .nan, reject: 5}}\n", "quality.snr_db.warn"),
        ("vad: {min_speech_s: .inf}\n", "vad.min_speech_s"),
    ],
)
def test_non_finite_yaml_numbers_are_refused(tmp_path, text, key):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match="finite") as caught:
        load_config(path, AudioConfig)
    assert str(path) in caught.value.message and key in caught.value.message


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "nan", "inf"])
def test_non_finite_overrides_are_refused(value):
    with pytest.raises(ConfigError, match=r"ingest\.silence_dbfs: .*finite"):
        parse_config({}, AudioConfig, [f"ingest.silence_dbfs={value}"])


def test_non_finite_numbers_exit_2_in_the_cli(tmp_path, wav):
    path = write(tmp_path, "audio:\n  ingest: {max_in_memory_mb: .inf}\n")
    refused(score(tmp_path, wav, "--config", path), str(path), "audio.ingest.max_in_memory_mb", "finite")
    refused(score(tmp_path, wav, "--set", "audio.ingest.silence_dbfs=.nan"), "audio.ingest.silence_dbfs", "finite")


def _config_models() -> list[type[StrictModel]]:
    """Every config model: imported through the modules that define them, then found as subclasses."""
    import dialectid.features.job  # noqa: F401
    import dialectid.scoring.config  # noqa: F401
    import dialectid.train.config  # noqa: F401
    from dialectid.models import MODELS, model_class

    for name in MODELS:
        model_class(name)
    found, todo = [], list(StrictModel.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda c: c.__qualname__)


def _mentions_float(annotation) -> bool:
    return annotation is float or any(_mentions_float(a) for a in typing.get_args(annotation))


def _filled(annotation, bad: float):
    """`bad` in the shape the annotation wants: a tuple, a list or a plain number."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is tuple:
        return (bad,) * len(args)
    if origin is list:
        return [bad]
    return bad


def test_every_float_setting_of_every_config_model_must_be_finite():
    checked = 0
    for model in _config_models():
        for name, field in model.model_fields.items():
            if not _mentions_float(field.annotation):
                continue
            for bad in (math.nan, math.inf, -math.inf):
                with pytest.raises(ValidationError) as caught:
                    model.model_validate({name: _filled(field.annotation, bad)})
                assert any(e["loc"][0] == name for e in caught.value.errors()), f"{model.__name__}.{name}={bad}"
            checked += 1
    assert checked >= 40  # audio, scoring, decision rules, training, features and model arguments


# -- sizes that would exhaust memory ---------------------------------------------------------------


@pytest.mark.parametrize(
    "override",
    [
        "vad.part_s=100000",
        "ingest.max_in_memory_mb=1e9",
        "ingest.max_duration_s=1e12",
        "ingest.silence_dbfs=30",
        "vad.pad_s=1e6",
        "vad.min_silence_s=1e6",
    ],
)
def test_size_and_duration_settings_have_upper_bounds(override):
    key = override.partition("=")[0]
    with pytest.raises(ConfigError, match=re.escape(key)):
        parse_config({}, AudioConfig, [override])


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("training.batch_seconds=1e9", "training.batch_seconds"),
        ("training.crop_s=[1, 1e9]", "training.crop_s.1"),
        ("training.lr=1e9", "training.lr"),
        ("augmentation.speeds=[0]", "augmentation.speeds.0"),
        ("augmentation.gain_db=[-1e6, 0]", "augmentation.gain_db.0"),
        ("calibration.short_crops_s=[-1]", "calibration.short_crops_s.0"),
    ],
)
def test_training_sizes_have_bounds(override, key):
    from dialectid.train.config import TrainConfig

    minimal = {"name": "t", "data": {"train": "train.jsonl"}, "taxonomy": {"tree": ["a", "b"]},
               "model": {"name": "stats-logreg"}}  # fmt: skip
    parse_config(minimal, TrainConfig)  # the minimal config itself is fine
    with pytest.raises(ConfigError, match=re.escape(key)):
        parse_config(minimal, TrainConfig, [override])


# -- registration templates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "{nonexistent}",
        "X{random",
        "X}",
        "{random:99999999}",
        "{sha8.__class__}",
        "{sha8!r}",
        "{sha8[0]}",
        "{0}",
        "{}",
        "{{date}}",
        "../../x-{random}",
        "a/b-{random}",
        "a\\b-{random}",
        "..{random}",
        "-{random}",
        ".hidden-{random}",
        "DID {random}",
        "",
        "X" * 61,
        "{random}" * 8,
    ],
)
def test_bad_registration_templates_are_refused(template):
    with pytest.raises(ConfigError, match="registration"):
        parse_config({"registration": template}, ScoringConfig)


@pytest.mark.parametrize("template", ["DID-{date}-{random}", "BAMF_{sha8}.{time}-{random}", "{random}", "R1"])
def test_good_registration_templates_fill_in(template):
    config = parse_config({"registration": template}, ScoringConfig)
    number = registration_number(config.registration, "ab" * 32)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,59}", number) and "{" not in number
    if "{sha8}" in template:
        assert "abababab" in number


def test_registration_cannot_leave_the_reports_folder(tmp_path, wav):
    reports = tmp_path / "deep" / "reports"
    line = refused(score(tmp_path, wav, "--reports", reports, "--set", "registration=../../x-{random}"), "registration")
    assert "no-model" not in line  # refused before the model was looked for
    assert not list(tmp_path.glob("x-*")) and not list((tmp_path / "deep").glob("x-*"))


def test_bad_registration_in_a_file_exits_2(tmp_path, wav):
    path = write(tmp_path, 'registration: "{sha8.__class__}"\n')
    refused(score(tmp_path, wav, "--config", path), str(path), "registration")


# -- YAML structure -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ("ingest:\n  block_s: 5\n  block_s: 6\n", "block_s", 3),
        ("ingest: {}\nvad: {}\ningest: {block_s: 5}\n", "ingest", 3),
        ("quality:\n  snr_db: {warn: 20, warn: 25}\n", "warn", 2),
    ],
)
def test_duplicate_keys_are_refused(tmp_path, text, key, line):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=f"duplicate key '{key}' at line {line}") as caught:
        load_config(path, AudioConfig)
    assert str(path) in caught.value.message


def test_duplicate_keys_in_an_override_are_refused():
    with pytest.raises(ConfigError, match="duplicate key 'warn'"):
        parse_config({}, AudioConfig, ["quality.snr_db={warn: 20, warn: 25}"])


def test_merge_keys_still_work_and_tags_still_do_not(tmp_path):
    path = write(tmp_path, "quality:\n  snr_db: &t {warn: 20, reject: 8}\n  speech_s:\n    <<: *t\n    warn: 30\n")
    config = load_config(path, AudioConfig)
    assert (config.quality.speech_s.warn, config.quality.speech_s.reject) == (30, 8)
    path = write(tmp_path, "vad: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path, AudioConfig)


def test_duplicate_keys_exit_2_in_the_cli(tmp_path, wav):
    path = write(tmp_path, "windows:\n  batch: 8\n  batch: 9\n")
    refused(score(tmp_path, wav, "--config", path), str(path), "duplicate key 'batch'")


@pytest.mark.parametrize("depth", [200, 20_000])
def test_deep_nesting_is_refused(tmp_path, depth):
    path = write(tmp_path, "taxonomy:\n  tree: " + "[" * depth + "]" * depth + "\n")
    with pytest.raises(ConfigError, match="nested deeper than") as caught:
        load_config(path, AudioConfig)
    assert str(path) in caught.value.message and "\n" not in caught.value.message


def test_deep_nesting_in_an_override_is_refused():
    with pytest.raises(ConfigError, match="nested deeper than"):
        parse_config({}, AudioConfig, ["ingest.block_s=" + "[" * 20_000 + "]" * 20_000])


def test_aliases_that_expand_without_bound_are_refused(tmp_path):
    laughs = ["l0: &l0 [ha, ha, ha, ha, ha, ha, ha, ha, ha, ha]"]
    laughs += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]  # 10**9 values
    path = write(tmp_path, "\n".join(laughs) + "\n")
    with pytest.raises(ConfigError, match=r"more than 100000 values once aliases are expanded at line 5"):
        load_config(path, AudioConfig)


def test_an_alias_inside_its_own_collection_is_refused(tmp_path):
    path = write(tmp_path, "taxonomy:\n  tree: &t {a: [*t]}\n")
    with pytest.raises(ConfigError, match="an alias refers to the collection it is in at line 2"):
        load_config(path, AudioConfig)


# -- the file itself --------------------------------------------------------------------------------


def test_non_utf8_file_is_refused(tmp_path, wav):
    path = tmp_path / "latin1.yaml"
    path.write_bytes('registration: "DÜD-{random}"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path, ScoringConfig)
    refused(score(tmp_path, wav, "--config", path), str(path), "UTF-8")


def test_huge_file_is_refused(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    with pytest.raises(ConfigError, match="larger than"):
        load_config(path, AudioConfig)


@pytest.mark.parametrize("special", ["/dev/zero", "folder"])
def test_special_files_are_refused(tmp_path, wav, special):
    path = Path(special) if special.startswith("/") else tmp_path / special
    if special == "folder":
        path.mkdir()
    elif not path.exists():
        pytest.skip(f"{special} does not exist here")
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(path, AudioConfig)
    refused(score(tmp_path, wav, "--config", path), str(path), "not a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_is_refused_without_blocking(tmp_path, wav):
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    command = [sys.executable, "-m", "dialectid", "score", "--model", str(tmp_path / "no-model"),
               "--config", str(fifo), str(wav)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)  # a blocked open never returns
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "not a regular file" in done.stderr and str(fifo) in done.stderr
