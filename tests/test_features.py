import multiprocessing
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from audiofactory import speechlike
from dialectid.features import FeatureConfig, SdcConfig
from dialectid.features.cache import FeatureCache
from dialectid.features.extract import (
    apply_cmvn,
    extract,
    extract_padded,
    frame_count,
    shifted_delta_cepstra,
)


@pytest.fixture(scope="module")
def signal():
    return speechlike(2.0, 16000, seed=4)


# Kaldi features computed by torchaudio 2.11.0's `compliance.kaldi` (fbank, mfcc; dither 0,
# energy_floor 1) on speechlike(2.0, rate, seed=4), stored because torchaudio no longer installs
# beside current torch. Measured spread of kaldi-native-fbank against it: fbank 1.4e-5, MFCC 5.3e-4
# (on values up to 131: float32 DCT summation order); the tolerances leave 4x headroom.
KALDI_REFERENCE = np.load(Path(__file__).parent / "data" / "kaldi_reference.npz")
KALDI_CASES = {
    "fbank16k": {"kind": "fbank", "n_mels": 40},
    "mfcc16k": {"kind": "mfcc", "n_mels": 40, "n_ceps": 20},
    "fbank8k": {"kind": "fbank", "sample_rate": 8000, "n_mels": 24, "low_freq": 100, "high_freq": 3800},
    "mfcc8k": {"kind": "mfcc", "sample_rate": 8000, "n_mels": 23, "n_ceps": 13, "low_freq": 100, "high_freq": 3800},
}


@pytest.mark.parametrize("case", sorted(KALDI_CASES))
def test_features_agree_with_torchaudio_kaldi_on_16_bit_scale(case):
    config = FeatureConfig(**KALDI_CASES[case], cmvn="none")
    features = extract(speechlike(2.0, config.sample_rate, seed=4), config)
    np.testing.assert_allclose(features, KALDI_REFERENCE[case], rtol=0, atol=1e-4 if config.kind == "fbank" else 2e-3)


def test_scoring_features_never_import_torch():
    code = ("import sys, numpy as np; from dialectid.features import FeatureConfig; "
            "from dialectid.features.extract import extract; extract(np.zeros(16000, np.float32) + 0.1, "
            "FeatureConfig(kind='mfcc_sdc')); assert 'torch' not in sys.modules, 'torch imported'")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(("kind", "dim"), [("fbank", 40), ("mfcc", 20), ("mfcc_sdc", 20 + 49)])
def test_shapes(signal, kind, dim):
    config = FeatureConfig(kind=kind)
    features = extract(signal, config)
    assert features.shape == (frame_count(len(signal), config), dim) == (198, config.dim)
    assert features.dtype == np.float32 and np.isfinite(features).all()


def test_eight_khz_config(signal):
    config = FeatureConfig(kind="mfcc", sample_rate=8000, n_mels=23, n_ceps=13)
    assert extract(signal[::2], config).shape == (198, 13)  # 2 s at 8 kHz


def test_sdc_matches_the_definition():
    rng = np.random.default_rng(0)
    c = rng.normal(size=(30, 9)).astype(np.float32)
    config = FeatureConfig(kind="mfcc_sdc", n_ceps=9, sdc=SdcConfig(n=4, d=1, p=3, k=5))
    sdc = shifted_delta_cepstra(c, config)
    assert sdc.shape == (30, 20)
    last = len(c) - 1
    for t in range(30):
        for i in range(5):
            centre = min(t + i * 3, last)
            expected = c[min(centre + 1, last), :4] - c[max(centre - 1, 0), :4]
            np.testing.assert_allclose(sdc[t, i * 4 : (i + 1) * 4], expected, rtol=1e-6)


def test_utterance_cmvn():
    x = np.random.default_rng(1).normal(3.0, 2.0, size=(200, 5)).astype(np.float32)
    mean_only = apply_cmvn(x, FeatureConfig(cmvn="utterance"))
    np.testing.assert_allclose(mean_only.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(mean_only.std(axis=0), x.std(axis=0), rtol=1e-5)
    scaled = apply_cmvn(x, FeatureConfig(cmvn="utterance", cmvn_variance=True))
    np.testing.assert_allclose(scaled.std(axis=0), 1, atol=1e-4)
    np.testing.assert_array_equal(apply_cmvn(x, FeatureConfig(cmvn="none")), x)


def test_sliding_cmvn_matches_a_direct_loop():
    x = np.random.default_rng(2).normal(size=(57, 3))
    window = 20
    out = apply_cmvn(x.astype(np.float32), FeatureConfig(cmvn="sliding", cmvn_window=window))
    for t in range(len(x)):
        start = min(max(t - window // 2, 0), len(x) - window)
        np.testing.assert_allclose(out[t], x[t] - x[start : start + window].mean(axis=0), atol=1e-5)


def test_padded_batch_gives_the_same_features_as_alone(signal):
    config = FeatureConfig(kind="mfcc_sdc", cmvn="sliding", cmvn_window=50)
    pieces = [signal[:16000], signal[:7000], signal[5000:31000]]
    batch = np.zeros((3, max(map(len, pieces))), dtype=np.float32)
    batch[0, :16000], batch[1, :7000], batch[2, :26000] = pieces
    lengths = np.array([len(p) for p in pieces])
    features, counts = extract_padded(batch, lengths, config)
    for i, piece in enumerate(pieces):
        alone = extract(piece, config)
        assert counts[i] == len(alone)
        np.testing.assert_array_equal(features[i, : counts[i]], alone)
        assert not features[i, counts[i] :].any()


def test_shorter_than_one_frame_gives_no_frames():
    assert extract(np.zeros(100, dtype=np.float32), FeatureConfig(kind="mfcc_sdc")).shape == (0, 69)


def test_dither_is_seeded(signal):
    config = FeatureConfig(dither=1.0, cmvn="none")
    np.testing.assert_array_equal(extract(signal, config, seed=1), extract(signal, config, seed=1))
    assert not np.array_equal(extract(signal, config, seed=1), extract(signal, config, seed=2))


@pytest.mark.parametrize(
    ("settings", "match"),
    [({"kind": "mfcc", "n_ceps": 50, "n_mels": 40}, "n_ceps must not exceed n_mels"),
     ({"high_freq": 9000}, "high_freq"), ({"kind": "mfcc_sdc", "n_ceps": 5}, "sdc.n"),
     ({"frame_shift_ms": 30}, "frame_shift_ms"), ({"kind": "plp"}, "kind")],
)  # fmt: skip
def test_invalid_configs(settings, match):
    with pytest.raises(ValidationError, match=match):
        FeatureConfig(**settings)


def test_digest_identifies_the_settings():
    assert FeatureConfig().digest() == FeatureConfig().digest()
    assert FeatureConfig().digest() != FeatureConfig(n_mels=41).digest()
    assert FeatureConfig().digest() != FeatureConfig(channel_policy="loudest").digest()


def test_cache_round_trip_and_damaged_entries(tmp_path):
    config = FeatureConfig(n_mels=8)
    cache = FeatureCache(tmp_path, config)
    sha = "ab" * 32
    assert cache.get(sha) is None
    data = np.arange(24, dtype=np.float32).reshape(3, 8)
    path = cache.put(sha, data)
    np.testing.assert_array_equal(cache.get(sha), data)
    assert (cache.folder / "config.json").is_file()
    path.write_bytes(path.read_bytes()[:20])  # damaged on disk: treated as missing
    assert cache.get(sha) is None
    assert FeatureCache(tmp_path, FeatureConfig(n_mels=9)).get(sha) is None  # other settings, other entry


def _writer(root, worker, rounds):
    cache = FeatureCache(root, FeatureConfig(n_mels=8))
    for r in range(rounds):
        value = worker * 1000 + r
        rows = 20000 + value % 97
        data = np.full((rows, 8), value, dtype=np.float32)
        cache.put("cd" * 32, data)


def _reader(root, writers_done, queue):
    cache = FeatureCache(root, FeatureConfig(n_mels=8))
    seen, bad = 0, []
    deadline = time.monotonic() + 120
    while not writers_done.is_set() and time.monotonic() < deadline:  # read for as long as anyone writes
        data = cache.get("cd" * 32)
        if data is None:
            if seen:  # once an entry exists, a reader must never find it missing or half-written
                bad.append("unreadable")
            continue
        seen += 1
        value = data[0, 0]
        if not (data == value).all() or len(data) != 20000 + int(value) % 97:
            bad.append(zlib.crc32(data.tobytes()))
    queue.put((seen, bad))


def test_concurrent_writers_never_corrupt_an_entry(tmp_path):
    context = multiprocessing.get_context("spawn")
    queue, writers_done = context.Queue(), context.Event()
    writers = [context.Process(target=_writer, args=(tmp_path, w, 150)) for w in range(4)]
    reader = context.Process(target=_reader, args=(tmp_path, writers_done, queue))
    for process in (*writers, reader):
        process.start()
    for process in writers:
        process.join(timeout=120)
        assert process.exitcode == 0
    writers_done.set()
    reader.join(timeout=30)
    assert reader.exitcode == 0
    seen, bad = queue.get(timeout=10)
    assert seen > 0 and bad == []
    final = FeatureCache(tmp_path, FeatureConfig(n_mels=8)).get("cd" * 32)
    assert final is not None and (final == final[0, 0]).all()
    leftovers = [p for p in tmp_path.rglob("*") if p.name.startswith(".")]
    assert leftovers == []  # no temporary files left behind
