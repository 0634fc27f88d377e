import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import islands
from dialectid.audio import IngestConfig, VadConfig, detect_speech, load_recording
from dialectid.audio.vad import (
    DETECTORS,
    Segment,
    VadModelError,
    pad_and_merge,
    refine_edges,
    silero_model_path,
    speech_segments,
)
from dialectid.errors import DialectidError

TOLERANCE_S = 0.1


def island_edges(segments, spans):
    """(first start, last end) of the segments overlapping each span; fails on strays."""
    edges = []
    for start, end in spans:
        inside = [s for s in segments if s.end > start - 0.5 and s.start < end + 0.5]
        assert inside, f"nothing detected in the speech island {start:.2f}-{end:.2f} s"
        edges.append((inside[0].start, inside[-1].end))
    claimed = sum(1 for s in segments for a, b in spans if s.end > a - 0.5 and s.start < b + 0.5)
    assert claimed == len(segments), "speech detected in silence"
    return edges


@pytest.mark.parametrize("method", ["silero", "energy"])
@pytest.mark.parametrize("rate", [16000, 8000])
def test_speech_islands_are_found_within_100ms(tmp_path, speech_clips, method, rate):
    signal, spans = islands(speech_clips, [2.3, 4.1, 3.2])
    path = tmp_path / "islands.wav"
    sf.write(path, signal, 16000)
    rec = load_recording(path, IngestConfig(sample_rate=rate))
    speech = detect_speech(rec, VadConfig(method=method))  # defaults, padding included
    for (start, end), (found_start, found_end) in zip(spans, island_edges(speech.segments, spans), strict=True):
        assert found_start == pytest.approx(start, abs=TOLERANCE_S)
        assert found_end == pytest.approx(end, abs=TOLERANCE_S)
    total = sum(end - start for start, end in spans)
    assert 0.7 * total <= speech.speech_s <= total + 0.2
    assert speech.longest_silence_s == pytest.approx(4.1, abs=0.3)


def test_silero_finds_no_speech_in_noise_or_tones(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(16000 * 6) / 16000
    signal = 0.05 * rng.normal(size=len(t)) + 0.3 * np.sin(2 * np.pi * 1000 * t)
    path = tmp_path / "noise.wav"
    sf.write(path, signal.astype(np.float32), 16000)
    assert detect_speech(load_recording(path)).speech_s < 0.5


def test_silero_result_does_not_depend_on_block_size(tmp_path, speech_clips):
    signal, _ = islands(speech_clips * 3, [1.0, 0.5, 2.0, 0.7, 0.3, 1.1, 0.4])
    path = tmp_path / "long.wav"
    sf.write(path, signal, 16000)
    small = detect_speech(load_recording(path, IngestConfig(block_s=0.9)))
    large = detect_speech(load_recording(path, IngestConfig(block_s=300)))
    assert small == large


def test_silero_model_is_the_verified_file_shipped_in_dialectid():
    """Inside dialectid itself, not the silero-vad wheel (which requires torch, #27)."""
    from dialectid.audio import vad

    assert silero_model_path() == Path(vad.__file__).with_name("silero_vad.onnx")
    assert hashlib.sha256(silero_model_path().read_bytes()).hexdigest() == vad.SILERO_SHA256


def test_tampered_silero_model_is_refused(monkeypatch, tmp_path):
    from dialectid.audio import vad

    fake = tmp_path / "silero_vad.onnx"
    fake.write_bytes(b"not the model")
    monkeypatch.setattr(vad, "SILERO_MODEL", fake)
    vad._silero_session.cache_clear()
    try:
        with pytest.raises(
            VadModelError,
            match=f"^{re.escape(str(fake))}: checksum mismatch for the Silero VAD model; reinstall dialectid$",
        ):
            vad._silero_session()
    finally:
        vad._silero_session.cache_clear()


def test_missing_silero_model_is_one_line(monkeypatch, tmp_path):
    from dialectid.audio import vad

    monkeypatch.setattr(vad, "SILERO_MODEL", tmp_path / "silero_vad.onnx")
    with pytest.raises(
        VadModelError,
        match="^.*silero_vad.onnx: the Silero VAD model is missing from this install; reinstall dialectid$",
    ):
        silero_model_path()


def test_unknown_detector_lists_the_known_ones(tmp_path, format_files):
    rec = load_recording(format_files["wav_pcm16"][0])
    with pytest.raises(DialectidError, match="known methods: energy, silero"):
        detect_speech(rec, VadConfig.model_construct(method="webrtc"))
    assert set(DETECTORS) == {"silero", "energy"}


def test_hysteresis_rules():
    config = VadConfig(threshold=0.5, min_speech_s=0.3, min_silence_s=0.2)
    hop = 0.1

    def spans(p, **kw):
        return [(round(s.start, 3), round(s.end, 3)) for s in speech_segments(np.array(p, float), hop, config)]

    # a 0.1 s dip does not split; a 0.2 s pause does; a 0.2 s blip is dropped
    assert spans([0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0]) == [
        (0.1, 0.6),
        (0.8, 1.1),
    ]
    # values between the two thresholds keep a segment going
    assert spans([1, 0.4, 0.4, 0.4, 1, 0, 0, 0]) == [(0.0, 0.5)]


def test_padding_stays_inside_the_recording_and_merges_overlaps():
    segments = [Segment(0.05, 0.3), Segment(0.35, 0.39)]
    assert pad_and_merge(segments, 0.1, duration_s=0.4) == (Segment(0.0, 0.4),)


def test_edge_refinement_only_shrinks():
    active = np.array([0, 0, 0, 1, 1, 1, 1, 0, 0, 0], dtype=float)  # 10 ms frames
    assert refine_edges([Segment(0.0, 0.1)], active, 0.01) == [Segment(0.03, 0.07)]
    assert refine_edges([Segment(0.04, 0.05)], active, 0.01) == [Segment(0.04, 0.05)]
    assert refine_edges([Segment(0.08, 0.1)], active, 0.01) == [Segment(0.08, 0.1)]
