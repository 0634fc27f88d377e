import numpy as np
import pytest
import soundfile as sf

from conftest import islands
from dialectid.audio import AudioConfig, QualityConfig, inspect_file
from dialectid.audio.config import Threshold
from dialectid.audio.quality import MEASURES, judge


def inspect_signal(tmp_path, signal, rate=16000, name="x.wav", **config):
    path = tmp_path / name
    sf.write(path, signal, rate, subtype="FLOAT")
    return inspect_file(path, AudioConfig(**config)).to_dict()


@pytest.fixture(scope="module")
def long_speech(speech_clips):
    """About 20 s of speech in a minute... of clean, quiet pauses (SNR about 45 dB)."""
    signal, _ = islands(speech_clips * 3, [0.6, 0.5, 0.8, 0.4, 0.6, 0.7, 0.5], noise_db=-65)
    return signal


def test_clean_speech_is_ok(tmp_path, long_speech):
    row = inspect_signal(tmp_path, long_speech)
    assert row["status"] == "ok", row["reasons"]
    assert row["flags"] == [] and row["reasons"] == []
    assert 35 < row["snr_db"] < 60
    assert row["bandwidth_hz"] > 6000


def test_short_speech_message(tmp_path, speech_clips):
    signal, _ = islands(speech_clips[:1], [1.0, 1.0])
    row = inspect_signal(tmp_path, signal)
    assert row["status"] == "warn" and "speech_s" in row["flags"]
    assert any(r.startswith(f"only {row['speech_s']:.1f} s of speech; at least 10 s is recommended")
               for r in row["reasons"])  # fmt: skip


def test_noise_lowers_snr_and_is_flagged_but_not_refused(tmp_path, long_speech):
    """Below 5 dB the SNR estimate used to refuse the recording, yet the shipped models were right
    on 15 of 17 such held-out real clips: low SNR now warns (audio/config.py)."""
    rng = np.random.default_rng(0)
    speech_power = np.mean(long_speech[np.abs(long_speech) > 0.01] ** 2)
    noisy = long_speech + rng.normal(0, np.sqrt(speech_power / 10 ** (3 / 10)), len(long_speech))
    row = inspect_signal(tmp_path, (noisy / np.abs(noisy).max() * 0.5).astype(np.float32))
    assert row["snr_db"] < 5
    assert "snr_db" in row["flags"] and row["status"] == "warn"


def test_clipping_is_flagged(tmp_path, long_speech):
    clipped = np.clip(long_speech * 20, -1, 1)
    row = inspect_signal(tmp_path, clipped)
    assert row["clipping_ratio"] > 0.01
    assert "clipping_ratio" in row["flags"]
    assert any("clipped" in r for r in row["reasons"])


def test_dc_offset_is_flagged(tmp_path, long_speech):
    row = inspect_signal(tmp_path, long_speech + 0.4)
    assert row["dc_offset"] == pytest.approx(0.4, abs=0.01)
    assert row["status"] == "reject" and "dc_offset" in row["flags"]


def test_telephone_band_is_detected(tmp_path, long_speech):
    import soxr

    narrow = soxr.resample(long_speech, 16000, 8000)
    row = inspect_signal(tmp_path, narrow, rate=8000)
    assert row["bandwidth_hz"] <= 4000
    assert "telephone_band" in row["flags"] and row["status"] == "ok"


def test_muffled_audio_is_rejected(tmp_path, long_speech):
    import soxr

    muffled = soxr.resample(soxr.resample(long_speech, 16000, 2000), 2000, 16000)
    row = inspect_signal(tmp_path, muffled)
    assert row["bandwidth_hz"] < 1500
    assert "bandwidth_hz" in row["flags"] and row["status"] == "reject"


def test_long_silence_is_flagged(tmp_path, speech_clips):
    signal, _ = islands(speech_clips * 3, [0.5, 0.5, 0.5, 40.0, 0.5, 0.5, 0.5])
    row = inspect_signal(tmp_path, signal)
    assert row["longest_silence_s"] == pytest.approx(40.0, abs=0.5)
    assert "longest_silence_s" in row["flags"]


def test_quiet_speech_is_flagged(tmp_path, long_speech):
    row = inspect_signal(tmp_path, long_speech * 10 ** (-30 / 20))
    assert row["level_dbfs"] < -40
    assert "level_dbfs" in row["flags"]


def test_no_speech_means_no_snr(tmp_path):
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(16000 * 5) / 16000)
    row = inspect_signal(tmp_path, tone.astype(np.float32))
    assert row["speech_s"] == 0 and row["snr_db"] is None
    assert row["status"] == "reject" and row["reasons"][0].startswith("only 0.0 s of speech")


@pytest.mark.parametrize("name", sorted(MEASURES))
def test_every_measure_has_both_directions(name):
    config = QualityConfig(**{name: Threshold(warn=10.0, reject=5.0) if MEASURES[name].low_is_bad
                              else Threshold(warn=5.0, reject=10.0)})  # fmt: skip
    bad_low = MEASURES[name].low_is_bad
    assert judge(name, 20.0 if bad_low else 1.0, config).status == "ok"
    assert judge(name, 7.0, config).status == "warn"
    check = judge(name, 1.0 if bad_low else 20.0, config)
    assert check.status == "reject" and check.message and "{" not in check.message


def test_thresholds_come_from_config():
    strict = QualityConfig(speech_s=Threshold(warn=60, reject=30))
    assert judge("speech_s", 45.0, strict).message == "only 45.0 s of speech; at least 60 s is recommended"
    assert judge("speech_s", 45.0, QualityConfig()).status == "ok"


@pytest.mark.parametrize("name, value, shown", [("speech_s", 9.974, "only 9.9 s"), ("speech_s", 9.9, "only 9.9 s"),
                                                ("snr_db", 4.6, "ratio 4 dB"), ("level_dbfs", -40.2, "(-41 dBFS)")])  # fmt: skip
def test_a_value_beyond_a_limit_never_reads_as_the_limit(name, value, shown):
    """Issue #25: 9.974 s read "only 10.0 s of speech; at least 10 s is recommended"."""
    check = judge(name, value, QualityConfig())
    assert check.status == "warn" and shown in check.message, check.message
    assert check.value == value  # only the wording rounds; the measure keeps its value


def test_every_flag_has_words_for_caseworkers():
    from dialectid.audio.quality import FLAG_TEXT, MEASURES, flag_text

    for flag in [*MEASURES, "telephone_band", "truncated", "decode_errors"]:
        assert flag in FLAG_TEXT and "_" not in flag_text(flag), flag
