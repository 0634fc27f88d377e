import hashlib
import shutil

import numpy as np
import pytest
import soundfile as sf

from audiofactory import ALL_FORMATS, speechlike, tone
from dialectid.audio import IngestConfig, load_recording

LOSSLESS = {"wav_pcm16", "wav_pcm24", "wav_pcm32", "wav_float32", "wav_float64", "flac"}
CODECS = {
    "wav_pcm_u8": "pcm_u8", "wav_pcm16": "pcm_s16", "wav_pcm24": "pcm_s24", "wav_pcm32": "pcm_s32",
    "wav_float32": "pcm_f32", "wav_float64": "pcm_f64", "wav_mulaw": "pcm_mulaw",
    "wav_alaw": "pcm_alaw", "flac": "flac", "ogg_vorbis": "vorbis", "opus": "opus", "mp3": "mp3",
    "gsm_raw": "gsm", "m4a_aac": "aac", "amr": "amr_nb", "3gp_amr": "amr_nb", "webm_opus": "opus",
}  # fmt: skip


def level_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(x.astype(np.float64) ** 2))


@pytest.mark.parametrize("name", ALL_FORMATS)
def test_every_format_decodes_with_its_facts(format_files, name):
    path, signal, rate = format_files[name]
    rec = load_recording(path, IngestConfig(sample_rate=16000))
    assert rec.facts.codec == CODECS[name]
    assert rec.facts.channels == 1
    assert rec.facts.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert rec.facts.duration_s == pytest.approx(len(signal) / rate, abs=0.1)
    out = rec.samples()
    assert out.dtype == np.float32
    assert len(out) == pytest.approx(rec.facts.duration_s * 16000, abs=2)
    # the content survives: same loudness (lossy codecs within 2 dB)
    assert level_db(out) == pytest.approx(level_db(signal), abs=2.0)


@pytest.mark.parametrize("name", sorted(LOSSLESS))
def test_lossless_formats_give_back_the_samples(format_files, name):
    path, signal, rate = format_files[name]
    rec = load_recording(path, IngestConfig(sample_rate=16000))
    assert np.max(np.abs(rec.samples() - signal)) < 1e-4


def test_format_comes_from_content_not_name(format_files, tmp_path):
    for name, suffix in (("flac", ".wav"), ("mp3", ".txt"), ("amr", ".mp3"), ("wav_pcm16", "")):
        misnamed = tmp_path / f"misnamed{suffix}"
        shutil.copy(format_files[name][0], misnamed)
        assert load_recording(misnamed).facts.codec == CODECS[name]


def dominant_frequency(x: np.ndarray, rate: int) -> float:
    """Peak of a Hann-windowed, zero-padded spectrum, refined by parabolic interpolation."""
    n = 1 << (len(x) * 4 - 1).bit_length()
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n))
    k = int(np.argmax(spectrum))
    a, b, c = np.log(spectrum[k - 1 : k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / n


@pytest.mark.parametrize("target", [16000, 8000])
def test_resampling_keeps_a_1khz_tone_within_1hz(tmp_path, target):
    path = tmp_path / "tone.wav"
    sf.write(path, tone(1000.0, 5.0, 44100), 44100, subtype="PCM_24")
    rec = load_recording(path, IngestConfig(sample_rate=target))
    out = rec.samples()
    assert len(out) == pytest.approx(5.0 * target, abs=2)
    assert dominant_frequency(out[target // 2 : -target // 2], target) == pytest.approx(1000.0, abs=1.0)
    assert level_db(out[target:-target]) == pytest.approx(level_db(tone(1000.0, 1.0, 44100)), abs=0.1)


def test_resampler_removes_content_above_the_new_nyquist(tmp_path):
    path = tmp_path / "high.wav"
    sf.write(path, tone(6000.0, 2.0, 44100), 44100)
    out = load_recording(path, IngestConfig(sample_rate=8000)).samples()
    assert level_db(out[4000:-4000]) < -80  # 6 kHz cannot pass an 8 kHz rate: no aliasing


def stereo(tmp_path):
    """Left: faint interviewer noise; right: the applicant's loud speech."""
    left = np.random.default_rng(1).normal(0, 0.01, 32000).astype(np.float32)
    right = speechlike(2.0, 16000, level=0.5)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    return path, left, right


def test_channel_policy_loudest_takes_the_loud_channel(tmp_path):
    path, _, right = stereo(tmp_path)
    rec = load_recording(path, IngestConfig(channel_policy="loudest"))
    assert rec.facts.channels == 2 and rec.channel == 1
    np.testing.assert_allclose(rec.samples(), right, atol=1e-6)


def test_channel_policy_mean_averages(tmp_path):
    path, left, right = stereo(tmp_path)
    rec = load_recording(path, IngestConfig(channel_policy="mean"))
    assert rec.channel is None
    np.testing.assert_allclose(rec.samples(), (left + right) / 2, atol=1e-6)


def test_block_size_does_not_change_the_signal(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, speechlike(30.0, 44100), 44100)
    whole = load_recording(path, IngestConfig(block_s=600)).samples()
    blocked = load_recording(path, IngestConfig(block_s=0.37)).samples()
    assert len(whole) == len(blocked)
    np.testing.assert_allclose(whole, blocked, atol=1e-5)


def test_large_files_are_streamed_from_disk_with_the_same_result(tmp_path):
    path = tmp_path / "streamed.flac"
    sf.write(path, speechlike(10.0, 16000), 16000)
    in_memory = load_recording(path, IngestConfig(max_in_memory_mb=64))
    streamed = load_recording(path, IngestConfig(max_in_memory_mb=0))
    assert in_memory.facts == streamed.facts
    np.testing.assert_array_equal(in_memory.samples(), streamed.samples())


def test_a_streamed_file_that_changes_after_loading_is_refused(tmp_path):
    from dialectid.audio import FileAccessError

    path = tmp_path / "changing.wav"
    sf.write(path, speechlike(2.0, 16000), 16000)
    rec = load_recording(path, IngestConfig(max_in_memory_mb=0))
    sf.write(path, speechlike(3.0, 16000), 16000)
    with pytest.raises(FileAccessError, match="changed after it was loaded"):
        rec.samples()


def test_signal_statistics(tmp_path):
    path = tmp_path / "clipped.wav"
    x = np.clip(speechlike(4.0, 16000, level=1.0) * 3, -1, 1) + 0.0
    sf.write(path, x, 16000, subtype="FLOAT")
    stats = load_recording(path).stats
    assert stats.clipping_ratio == pytest.approx(np.mean(np.abs(x) >= 0.999), rel=1e-6)
    assert stats.peak == pytest.approx(1.0)
    assert stats.dc_offset == pytest.approx(abs(x.mean()), abs=1e-6)


def test_bandwidth_tells_telephone_from_wideband(tmp_path):
    wide, narrow = tmp_path / "wide.wav", tmp_path / "narrow.wav"
    sf.write(wide, speechlike(4.0, 16000), 16000)
    sf.write(narrow, speechlike(4.0, 8000), 8000)
    assert load_recording(wide).stats.bandwidth_hz > 7000
    # upsampling to 16 kHz adds no bandwidth: the source is still telephone-band
    assert load_recording(narrow, IngestConfig(sample_rate=16000)).stats.bandwidth_hz <= 4000
