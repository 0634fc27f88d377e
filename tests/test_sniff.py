import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audiofactory import ALL_FORMATS
from dialectid.audio.sniff import HEAD_BYTES, sniff

EXPECTED = {
    "wav_pcm_u8": "wav", "wav_pcm16": "wav", "wav_pcm24": "wav", "wav_pcm32": "wav",
    "wav_float32": "wav", "wav_float64": "wav", "wav_mulaw": "wav", "wav_alaw": "wav",
    "flac": "flac", "ogg_vorbis": "ogg", "opus": "ogg", "mp3": "mp3", "gsm_raw": "gsm",
    "m4a_aac": "mp4", "amr": "amr", "3gp_amr": "3gp", "webm_opus": "webm",
}  # fmt: skip


def test_every_format_is_known():
    assert set(EXPECTED) == set(ALL_FORMATS)


@pytest.mark.parametrize("name", ALL_FORMATS)
def test_sniff_recognises_each_format_from_content(format_files, name):
    path = format_files[name][0]
    head = path.read_bytes()[:HEAD_BYTES]
    assert sniff(head, path.stat().st_size).name == EXPECTED[name]


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes_are_not_audio(seed):
    import random

    data = random.Random(seed).randbytes(5000)
    assert sniff(data[:HEAD_BYTES], len(data)) is None


def test_text_file_is_not_audio():
    text = b"Case 2024-17: applicant interview notes\n" * 40
    assert sniff(text[:HEAD_BYTES], len(text)) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.integers(min_value=0, max_value=10**7))
def test_sniff_never_raises(data, size):
    result = sniff(data, size)
    assert result is None or result.backend in ("soundfile", "pyav")


def test_raw_gsm_needs_frame_structure():
    frames = bytes([0xD0] + [0] * 32) * 20
    assert sniff(frames, len(frames)).name == "gsm"
    broken = bytearray(frames)
    broken[33 * 5] = 0x10
    assert sniff(bytes(broken), len(broken)) is None
    assert sniff(frames[:-1], len(frames) - 1) is None
