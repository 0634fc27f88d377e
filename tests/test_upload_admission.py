"""One admission path for a recording (#27 item 3): `dialectid.audio.probe_file` reads what the
header says and counts a length it omits, only as far as asked; the web view keeps only its limits
(`web.uploads.check_recording`)."""

import pytest

import dialectid.web.uploads as uploads
from audiofactory import speechlike, write
from dialectid.audio import UnknownFormatError, load_recording, probe_file
from dialectid.web.errors import Unprocessable
from dialectid.web.settings import WebSettings


@pytest.fixture(scope="module")
def webm(tmp_path_factory):
    """Three seconds of Opus in WebM, whose header does not state its length."""
    return write(tmp_path_factory.mktemp("webm") / "call.webm", speechlike(3.0, 48000), 48000, "webm_opus")


def test_probe_counts_a_length_the_header_omits_only_as_far_as_asked(webm):
    full = probe_file(webm)
    assert (full.container, full.sample_rate, full.whole) == ("webm", 48000, True)
    assert full.duration_s == pytest.approx(3.0, abs=0.05)
    header = probe_file(webm, count_limit_s=0)  # the header alone: nothing decoded
    assert (header.sample_rate, header.channels, header.duration_s, header.whole) == (48000, 1, 0.0, False)
    stopped = probe_file(webm, count_limit_s=1.0)  # counted past the limit: "at least"
    assert not stopped.whole and stopped.duration_s > 1.0
    assert probe_file(webm, count_limit_s=10.0) == full


def test_a_stated_length_is_whole_without_counting(tmp_path):
    flac = write(tmp_path / "call.flac", speechlike(2.0, 8000), 8000, "flac")
    assert probe_file(flac, count_limit_s=0) == probe_file(flac)
    assert probe_file(flac).whole and probe_file(flac).duration_s == pytest.approx(2.0)


def test_an_unknown_format_is_refused_with_the_loaders_words(tmp_path):
    noise = tmp_path / "notes.wav"
    noise.write_bytes(b"not audio " * 500)
    with pytest.raises(UnknownFormatError) as probed:
        probe_file(noise)
    with pytest.raises(UnknownFormatError) as loaded:
        load_recording(noise)
    assert probed.value.message == loaded.value.message
    with pytest.raises(UnknownFormatError):  # the web view refuses it before the case store sees it
        uploads.check_recording(noise, WebSettings())


def test_the_web_limit_on_a_length_the_header_omits(webm):
    with pytest.raises(Unprocessable, match="lasts more than 0.02 min; the web view takes recordings of up to 0.02"):
        uploads.check_recording(webm, WebSettings(max_recording_minutes=0.02))
    uploads.check_recording(webm, WebSettings(max_recording_minutes=1))  # within the limit: taken


def test_the_web_limit_on_a_stated_length(tmp_path):
    flac = write(tmp_path / "call.flac", speechlike(6.0, 8000), 8000, "flac")
    with pytest.raises(Unprocessable, match="lasts 0.1 min; the web view takes recordings of up to 0.05 min"):
        uploads.check_recording(flac, WebSettings(max_recording_minutes=0.05))


def test_rate_and_channels_are_refused_before_anything_is_decoded(webm, monkeypatch):
    """Counting a length costs decoding, more at absurd rates and channel counts: the header's
    rate and channels are checked first, and a refused file is never counted."""
    limits = []

    def probe(path, count_limit_s=None):
        limits.append(count_limit_s)
        return probe_file(path, count_limit_s)

    monkeypatch.setattr(uploads, "probe_file", probe)
    with pytest.raises(Unprocessable, match="sample rate of 48000 Hz is above the 16000 Hz"):
        uploads.check_recording(webm, WebSettings(max_sample_rate_hz=16000))
    assert limits == [0]
    limits.clear()
    uploads.check_recording(webm, WebSettings())
    assert limits == [0, 120 * 60]
