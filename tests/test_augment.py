import numpy as np
import pytest

from audiofactory import speechlike
from dialectid.train.augment import add_noise, alaw, amr_nb, augment, gsm, mulaw, telephone
from dialectid.train.config import AugmentationConfig


def band_energy(x, rate, low, high):
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    return spectrum[(freqs >= low) & (freqs < high)].sum() / spectrum.sum()


def test_telephone_channel_removes_the_wideband():
    x = speechlike(2.0, 16000)
    assert band_energy(x, 16000, 4000, 8000) > 1e-3
    for codec in ("mulaw", "alaw", "gsm", "amr", "none"):
        y = telephone(x, 16000, codec)
        assert len(y) == pytest.approx(len(x), abs=2)
        assert band_energy(y, 16000, 4000, 8000) < 1e-5, codec
        assert band_energy(y, 16000, 0, 250) < 0.02, codec


@pytest.mark.parametrize("codec", [mulaw, alaw, gsm])
def test_codecs_keep_the_signal_but_add_distortion(codec):
    x = speechlike(1.0, 8000, level=0.5)
    y = codec(x)
    assert y.shape == x.shape and np.corrcoef(x, y)[0, 1] > 0.95
    assert not np.array_equal(x, y)


def test_amr_nb_is_a_real_speech_codec_round_trip():
    """AMR-NB (CELP) keeps the spectrum, not the waveform, and delays it by about 10 ms."""
    x = speechlike(1.0, 8000, level=0.5)
    y = amr_nb(x)
    assert y.shape == x.shape and y.dtype == np.float32
    spectrum = [np.log(np.abs(np.fft.rfft(s[800:])) + 1e-3) for s in (x, y)]
    assert np.corrcoef(*spectrum)[0, 1] > 0.8
    assert 0.5 < np.sqrt(np.mean(y**2) / np.mean(x**2)) < 2.0
    assert not np.allclose(x, y, atol=0.05)


def test_noise_at_the_requested_snr():
    x = speechlike(2.0, 16000)
    y = add_noise(x, 10.0, np.random.default_rng(0))
    snr = 10 * np.log10(np.mean(x**2) / np.mean((y - x) ** 2))
    assert snr == pytest.approx(10.0, abs=0.3)


def test_speed_changes_the_length_and_augment_is_seeded():
    x = speechlike(2.0, 16000)
    only_speed = AugmentationConfig(copies=1, speeds=[1.1], telephone_probability=0, noise_snr_db=None, gain_db=None)
    assert len(augment(x, 16000, only_speed, np.random.default_rng(0))) == pytest.approx(len(x) / 1.1, abs=2)
    config = AugmentationConfig(copies=1)
    a = augment(x, 16000, config, np.random.default_rng(5))
    b = augment(x, 16000, config, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a).max() <= 1.0
