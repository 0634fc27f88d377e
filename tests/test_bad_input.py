"""Every kind of bad file gives its typed error with a one-line message, never a traceback."""

import os
import struct

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audiofactory import speechlike, write
from dialectid.audio import (
    AudioError,
    CorruptAudioError,
    EmptyFileError,
    FileAccessError,
    IngestConfig,
    InvalidHeaderError,
    InvalidSamplesError,
    SilentAudioError,
    TooLongError,
    UnknownFormatError,
    UnsupportedCodecError,
    load_recording,
)
from privileges import as_nobody


def wav_bytes(tag=1, channels=1, rate=16000, bits=16, payload=b"\x00\x10" * 8000) -> bytes:
    block = max(1, channels * bits // 8)
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def expect(error_type, path, match, config=None):
    with pytest.raises(error_type, match=match) as caught:
        load_recording(path, config)
    message = caught.value.message
    assert str(path) in message and "\n" not in message
    assert isinstance(caught.value, AudioError)
    return message


def test_missing_file(tmp_path):
    expect(FileAccessError, tmp_path / "nope.wav", "no such file")


def test_directory(tmp_path):
    expect(FileAccessError, tmp_path, "is a directory")


def test_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    expect(FileAccessError, fifo, "not a regular file")


def test_zero_bytes(tmp_path):
    path = tmp_path / "empty.wav"
    path.touch()
    expect(EmptyFileError, path, "zero bytes")


def test_no_read_permission(tmp_path):
    path = tmp_path / "secret.wav"
    sf.write(path, speechlike(1.0, 16000), 16000)
    path.chmod(0)
    tmp_path.chmod(0o755)
    if os.geteuid() != 0:
        expect(FileAccessError, path, "no permission")
        return
    # root reads anything: try again in a child that has dropped to an unprivileged user

    def load() -> str:
        try:
            load_recording(path)
        except FileAccessError as error:
            return error.message
        return "loaded"

    verdict = as_nobody(load)
    assert "no permission" in verdict and str(path) in verdict


def test_truncated_wav_header(tmp_path):
    path = tmp_path / "cut.wav"
    path.write_bytes(wav_bytes()[:22])
    expect(CorruptAudioError, path, "truncated")


def test_truncated_flac(tmp_path, format_files):
    path = tmp_path / "cut.flac"
    path.write_bytes(format_files["flac"][0].read_bytes()[:30])
    expect(CorruptAudioError, path, "cannot be decoded")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.wav"
    path.write_bytes(np.random.default_rng(0).bytes(20000))
    expect(UnknownFormatError, path, "not a recognised audio format")


def test_unsupported_wav_codec(tmp_path):
    path = tmp_path / "odd.wav"
    path.write_bytes(wav_bytes(tag=0x1234))
    expect(UnsupportedCodecError, path, "not supported")


@pytest.mark.parametrize(
    ("header", "match"),
    [({"rate": 0}, "0 Hz"), ({"rate": 10_000_000}, "10000000 Hz"), ({"channels": 0}, "0 channels")],
)
def test_absurd_headers(tmp_path, header, match):
    path = tmp_path / "absurd.wav"
    path.write_bytes(wav_bytes(**header))
    expect(InvalidHeaderError, path, match)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_samples(tmp_path, bad):
    x = speechlike(1.0, 16000)
    x[5000] = bad
    path = tmp_path / "nan.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    expect(InvalidSamplesError, path, "NaN or infinite")


def test_all_silence(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(16000 * 5, dtype=np.float32), 16000)
    expect(SilentAudioError, path, "silent")


def test_too_long_by_header(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, speechlike(6.0, 8000), 8000)
    expect(TooLongError, path, "longer than the maximum", IngestConfig(max_duration_s=5))


def test_too_long_while_decoding(tmp_path):
    # AMR declares no length up front: the limit is enforced while decoding
    path = write(tmp_path / "long.amr", speechlike(6.0, 8000), 8000, "amr")
    expect(TooLongError, path, "longer than the maximum", IngestConfig(max_duration_s=5))


def test_header_only_wav(tmp_path):
    path = tmp_path / "header-only.wav"
    path.write_bytes(wav_bytes(payload=b""))
    expect(CorruptAudioError, path, "no audio samples")


PREFIXES = [
    b"RIFF\x00\x01\x00\x00WAVEfmt ", b"fLaC", b"OggS\x00\x02", b"ID3\x03\x00", b"\x00\x00\x00\x18ftyp3gp4",
    b"#!AMR\n", b"\x1a\x45\xdf\xa3", b"\xff\xfb\x90\x00", b".snd", b"FORM\x00\x00\x00\x20AIFF",
]  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(PREFIXES), st.binary(min_size=0, max_size=3000))
def test_damaged_files_raise_only_audio_errors(tmp_path, prefix, tail):
    path = tmp_path / "fuzz.bin"
    path.write_bytes(prefix + tail)
    try:
        load_recording(path).samples()
    except AudioError as error:
        assert "\n" not in error.message


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0, max_value=2000), st.binary(min_size=1, max_size=64))
def test_truncated_and_overwritten_real_files_raise_only_audio_errors(format_files, tmp_path, cut, junk):
    for name in ("wav_pcm16", "flac", "mp3", "m4a_aac", "amr", "ogg_vorbis", "webm_opus"):
        data = bytearray(format_files[name][0].read_bytes())
        data[cut : cut + len(junk)] = junk
        path = tmp_path / f"damaged-{name}"
        path.write_bytes(bytes(data[: max(1, len(data) - cut)]))
        try:
            load_recording(path).samples()
        except AudioError as error:
            assert "\n" not in error.message
