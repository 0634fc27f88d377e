"""Whisper base stored with int8 weights (models/whisper_int8.py): the same numbers as CTranslate2's
own quantisation at load time, from a lighter file."""

from __future__ import annotations

import io
import shutil
import struct

import numpy as np
import pytest

from dialectid.models.whisper_int8 import ModelFileError, quantize_model, quantize_rows


def test_rows_are_quantised_over_the_last_dimension_and_zero_rows_survive():
    weight = np.array([[1.0, -2.0, 0.5], [0.0, 0.0, 0.0]], dtype=np.float16)
    values, scale = quantize_rows(weight)
    assert values.tolist() == [[64, -127, 32], [0, 0, 0]]
    assert scale.tolist() == [63.5, 1.0] and scale.dtype == np.float32


def test_the_int8_encoder_gives_what_ctranslate2_computes_from_the_float16_original(tmp_path):
    """Bit for bit: the shipped models were trained on load-time quantisation of the float16 file."""
    from dialectid.models import whisper
    from dialectid.paths import file_sha256

    int8 = whisper.default_encoder_dir()
    original = tmp_path / "whisper-float16"
    shutil.copytree(int8, original)
    with (original / "model.bin").open("wb") as stream:
        whisper._join(
            stream, whisper.package_files("model.bin.part*"), whisper.WHISPER_BASE_FLOAT16_SHA256, "model.bin"
        )
    assert file_sha256(original / "model.bin") == whisper.WHISPER_BASE_FLOAT16_SHA256
    assert (int8 / "model.bin").stat().st_size < 0.6 * (original / "model.bin").stat().st_size
    rng = np.random.default_rng(0)
    signal = (0.1 * np.sin(np.arange(48000) * 0.05) + 0.01 * rng.normal(size=48000)).astype(np.float32)
    a, b = whisper.WhisperEncoder(int8), whisper.WhisperEncoder(original)
    assert np.array_equal(a.states(signal), b.states(signal))
    assert a.language_probabilities(signal) == b.language_probabilities(signal)


def test_a_model_file_it_cannot_rewrite_is_one_error():
    with pytest.raises(ModelFileError, match="format version 5"):
        quantize_model(io.BytesIO(struct.pack("I", 5)), io.BytesIO())
    with pytest.raises(ModelFileError, match="ends early"):
        quantize_model(io.BytesIO(struct.pack("I", 6) + b"\x05\x00Whi"), io.BytesIO())
