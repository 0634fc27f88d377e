from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialectid.audio import AudioConfig
from dialectid.config import load_config, parse_config
from dialectid.errors import ConfigError


def test_defaults_without_a_file():
    config = load_config(None, AudioConfig)
    assert config.ingest.sample_rate == 16000 and config.vad.method == "silero"


def test_shipped_config_is_valid_and_matches_the_defaults():
    from pathlib import Path

    shipped = Path(__file__).resolve().parent.parent / "configs" / "audio.yaml"
    assert load_config(shipped, AudioConfig) == AudioConfig()


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("ingest:\n  sample_rate: 8000\nquality:\n  snr_db: {warn: 20, reject: 8}\n")
    config = load_config(path, AudioConfig, ["vad.method=energy", "quality.snr_db.warn=25"])
    assert config.ingest.sample_rate == 8000
    assert config.vad.method == "energy"
    assert (config.quality.snr_db.warn, config.quality.snr_db.reject) == (25, 8)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("ingest:\n  sample_rat: 8000\n", r"ingest\.sample_rat: Extra inputs are not permitted"),
        ("ingest:\n  sample_rate: 11025\n", r"ingest\.sample_rate"),
        ("ingest: [1, 2\n", "not valid YAML at line"),
        ("- just\n- a list\n", "top level must be a mapping"),
        ("vad: !!python/object/apply:os.system ['echo hacked']\n", "not valid YAML"),
    ],
)
def test_bad_configs_give_one_line_errors(tmp_path, text, match):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as caught:
        load_config(path, AudioConfig)
    assert "\n" not in caught.value.message and str(path) in caught.value.message


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the config"):
        load_config(tmp_path / "nope.yaml", AudioConfig)


@pytest.mark.parametrize("override", ["novalue", "=3", "ingest.sample_rate.x=1"])
def test_malformed_overrides(override):
    with pytest.raises(ConfigError):
        parse_config({"ingest": {"sample_rate": 8000}}, AudioConfig, [override])


@given(st.text(max_size=40))
def test_any_override_text_gives_a_config_or_a_config_error(text):
    try:
        parse_config({}, AudioConfig, [text])
    except ConfigError as error:
        assert "\n" not in error.message


def test_every_shipped_training_config_is_valid():
    """Config sections and model arguments, without touching any data."""
    from dialectid.features import FeatureConfig
    from dialectid.models import model_class
    from dialectid.taxonomy import Taxonomy
    from dialectid.train.config import TrainConfig

    configs = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.yaml"))
    training = [
        p for p in configs if p.name not in ("audio.yaml", "scoring.yaml") and not p.name.startswith("features-")
    ]
    assert len(training) >= 7
    for path in training:
        config = load_config(path, TrainConfig)
        labels = Taxonomy.from_tree(config.taxonomy.tree, config.taxonomy.out_of_set).leaves
        args = dict(config.model.args)
        model_class(config.model.name)(list(labels), config.features or FeatureConfig(), args)


def test_shipped_scoring_config_is_valid():
    from dialectid.scoring import ScoringConfig

    shipped = Path(__file__).resolve().parent.parent / "configs" / "scoring.yaml"
    config = load_config(shipped, ScoringConfig)
    assert config.overrides() == {}  # windows and decision rules are the bundle's
    assert config.windows.batch == 16 and config.decision.bootstrap == 200
