"""Whisper's log-mel computed here is faster-whisper's, bit for bit, so the encoder sees the same input."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from faster_whisper.feature_extractor import FeatureExtractor

from dialectid.models.whisper_mel import log_mel, mel_filters

SAMPLE = Path(__file__).resolve().parent.parent / "datasets" / "samples" / "fa-voxlingua.wav"


def test_the_mel_filters_are_faster_whispers():
    np.testing.assert_array_equal(mel_filters(), FeatureExtractor().mel_filters)


@pytest.mark.parametrize("samples", [400, 3000, 64037, 480000])
def test_noise_gives_the_same_bits(samples):
    signal = np.random.default_rng(samples).normal(0, 0.1, samples).astype(np.float32)
    expected = FeatureExtractor()(signal)
    assert log_mel(signal).dtype == expected.dtype
    np.testing.assert_array_equal(log_mel(signal), expected)


def test_real_speech_and_silence_give_the_same_bits():
    speech, rate = sf.read(SAMPLE, dtype="float32")
    assert rate == 16000
    for signal in (speech, np.zeros(16000, dtype=np.float32)):
        np.testing.assert_array_equal(log_mel(signal), FeatureExtractor()(signal))
