"""A CTranslate2 Whisper model.bin with its weights stored as int8, written once from the float16
original.

Loaded with compute_type int8, CTranslate2 quantises every float variable whose name ends in
"weight", except the convolutions, row by row over the last dimension: scale = 127 / max|row|,
value = round-to-nearest(weight x scale) (src/models/model.cc, `ensure_dtype`). Stored already
quantised the same way, the load skips that step and never holds the float16 copy: measured on
Whisper base, the load's peak memory falls from 333 MB to 196 MB and its time halves, while the
encoder's outputs and language probabilities stay bit for bit the same
(tests/test_whisper_int8.py).

The file (CTranslate2's `model_spec.py`, `_serialize`): uint32 version, the spec name, uint32
revision, uint32 count, the variables (name, uint8 rank, uint32 dims, uint8 dtype, uint32 size,
bytes), then uint32 count and the aliases (name, target). Strings are uint16 length with a NUL.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

import numpy as np

_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")  # CTranslate2's DataType order
_VERSION = 6


class ModelFileError(ValueError):
    """The source is not a CTranslate2 model.bin this module can rewrite."""


def quantize_rows(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 weight, float32 scale per row of the last dimension), as CTranslate2 computes them."""
    rows = weight.astype(np.float32).reshape(-1, weight.shape[-1])
    peak = np.abs(rows).max(axis=1)
    scale = np.where(peak != 0, np.float32(127) / np.where(peak != 0, peak, 1), np.float32(1)).astype(np.float32)
    return np.rint(rows * scale[:, None]).astype(np.int8).reshape(weight.shape), scale


def quantize_model(source: BinaryIO, target: BinaryIO) -> None:
    """Rewrite the float16 model.bin `source` into `target` (seekable) with int8 weights."""
    version = _unpack(source, "I")
    if version != _VERSION:
        raise ModelFileError(f"model.bin format version {version}; only version {_VERSION} can be rewritten")
    target.write(struct.pack("I", version))
    _write_string(target, _read_string(source))
    target.write(struct.pack("I", _unpack(source, "I")))
    count_at = target.tell()
    target.write(struct.pack("I", 0))  # the count, written once known
    written = 0
    for _ in range(_unpack(source, "I")):
        name, value = _read_variable(source)
        if name.endswith("weight") and "conv" not in name and value.dtype == np.float16:
            weight, scale = quantize_rows(value)
            written += _write_variable(target, name, weight) + _write_variable(target, name + "_scale", scale)
        else:
            written += _write_variable(target, name, value.astype(np.float32) if value.dtype == np.float16 else value)
    aliases = [(_read_string(source), _read_string(source)) for _ in range(_unpack(source, "I"))]
    aliases += [(alias + "_scale", name + "_scale") for alias, name in aliases]  # a shared weight shares its scale
    target.write(struct.pack("I", len(aliases)))
    for alias, name in aliases:
        _write_string(target, alias)
        _write_string(target, name)
    end = target.tell()
    target.seek(count_at)
    target.write(struct.pack("I", written))
    target.seek(end)


def _unpack(stream: BinaryIO, fmt: str) -> int:
    size = struct.calcsize(fmt)
    data = stream.read(size)
    if len(data) != size:
        raise ModelFileError("model.bin ends early")
    return struct.unpack(fmt, data)[0]


def _read_string(stream: BinaryIO) -> str:
    length = _unpack(stream, "H")
    return stream.read(length)[:-1].decode("utf-8")


def _write_string(stream: BinaryIO, text: str) -> None:
    data = text.encode("utf-8")
    stream.write(struct.pack("H", len(data) + 1) + data + b"\0")


def _read_variable(stream: BinaryIO) -> tuple[str, np.ndarray]:
    name = _read_string(stream)
    shape = tuple(_unpack(stream, "I") for _ in range(_unpack(stream, "B")))
    dtype_id = _unpack(stream, "B")
    if dtype_id >= len(_DTYPES) or _DTYPES[dtype_id] == "bfloat16":
        raise ModelFileError(f"model.bin: {name} has data type {dtype_id}, which cannot be rewritten")
    size = _unpack(stream, "I")
    data = stream.read(size)
    if len(data) != size:
        raise ModelFileError("model.bin ends early")
    return name, np.frombuffer(data, dtype=_DTYPES[dtype_id]).reshape(shape)


def _write_variable(stream: BinaryIO, name: str, value: np.ndarray) -> int:
    _write_string(stream, name)
    stream.write(struct.pack("B", value.ndim) + struct.pack(f"{value.ndim}I", *value.shape))
    data = np.ascontiguousarray(value).tobytes()
    stream.write(struct.pack("B", _DTYPES.index(str(value.dtype))) + struct.pack("I", len(data)) + data)
    return 1
