"""Issue #15's audio findings, each reproduced: overflowing float samples, a WAV whose format
chunk lies beyond the first 4 KiB, a damaged MP3 and a truncated WAV."""

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from typer.testing import CliRunner

import dialectid.audio.recording as recording_module
from audiofactory import ALL_FORMATS, speechlike, tone, write
from dialectid.audio import (
    AudioConfig,
    AudioError,
    IngestConfig,
    InvalidSamplesError,
    inspect_file,
    load_recording,
    probe_file,
)
from dialectid.audio.decode import _wav_layout
from dialectid.audio.source import Source
from dialectid.audio.stats import StatsAccumulator, effective_bandwidth
from dialectid.cli import app

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "datasets" / "samples" / "telephone-en.wav"
ENERGY = AudioConfig.model_validate({"vad": {"method": "energy"}})
runner = CliRunner()


def one_line_naming(error: AudioError, path: Path) -> bool:
    return str(path) in error.message and "\n" not in error.message


# ---- 7: float samples near float32's limit ---------------------------------------------------


def huge_stereo(path: Path, rate: int) -> Path:
    """5 s of a 440 Hz sine times 3e38 on both channels: each sample is finite, their sum is not."""
    x = np.sin(2 * np.pi * 440 * np.arange(5 * rate) / rate) * 3e38
    sf.write(path, np.stack([x, x], axis=1).astype(np.float32), rate, subtype="FLOAT")
    return path


@pytest.mark.parametrize("rate", [16000, 44100])
def test_overflowing_float_samples_are_a_typed_error(tmp_path, rate):
    path = huge_stereo(tmp_path / "huge.wav", rate)
    with pytest.raises(InvalidSamplesError, match="times full scale") as caught:
        load_recording(path)
    assert one_line_naming(caught.value, path)


def test_inspect_goes_on_after_an_overflowing_file(tmp_path):
    path = huge_stereo(tmp_path / "huge.wav", 16000)
    result = runner.invoke(app, ["inspect", "--json", str(path), str(SAMPLE), "--set", "vad.method=energy"])
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert rows[0]["status"] == "error" and rows[0]["error_type"] == "InvalidSamplesError"
    assert rows[1]["path"] == str(SAMPLE) and rows[1]["status"] == "ok"


@pytest.mark.parametrize("model", ["lid-fast", "lid-accurate"])
def test_score_goes_on_after_an_overflowing_file(tmp_path, model):
    path = huge_stereo(tmp_path / "huge.wav", 16000)
    rows = tmp_path / "rows.jsonl"
    result = runner.invoke(app, ["score", str(path), str(SAMPLE), "-m", str(ROOT / "models" / model), "-o", str(rows)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    by_path = {row["path"]: row for row in map(json.loads, rows.read_text().splitlines())}
    assert by_path[str(path)]["status"] == "error" and "times full scale" in by_path[str(path)]["error"]
    assert by_path[str(SAMPLE)]["status"] == "ok"


def test_case_add_recording_refuses_an_overflowing_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DIALECTID_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DIALECTID_DATABASE_URL", raising=False)
    path = huge_stereo(tmp_path / "huge.wav", 16000)
    created = runner.invoke(app, ["case", "new", "--identity-from-stdin"], input="Amira Haddad\n1991-03-14\n")
    reference = created.stdout.split()[1]
    result = runner.invoke(app, ["case", "add-recording", reference, str(path), "--recorded-by", "officer"])
    assert result.exit_code == 2 and "times full scale" in result.stderr and result.stderr.count("\n") == 1


def test_signal_statistics_of_near_limit_samples_stay_finite():
    """The stats stage mixes in float64: near-limit stereo gives a finite bandwidth at the tone."""
    rate = 16000
    x = (tone(440, 2.0, rate, level=1.0) * np.float32(3e38)).astype(np.float32)
    accumulator = StatsAccumulator(rate, 2)
    accumulator.update(np.stack([x, x], axis=1))
    stats = accumulator.result()
    assert np.isfinite([stats.peak, stats.dc_offset, *stats.channel_rms]).all()
    assert 300 < stats.bandwidth_hz < 800


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float64, 257, elements=st.floats(allow_nan=True, allow_infinity=True, width=64)),
    st.sampled_from([8000, 16000, 44100]),
)
def test_effective_bandwidth_never_fails(power, rate):
    bandwidth = effective_bandwidth(power, rate)
    assert 0.0 <= bandwidth <= rate / 2


def test_nan_from_the_resampler_is_a_typed_error(tmp_path, monkeypatch):
    path = tmp_path / "tone.wav"
    sf.write(path, speechlike(2.0, 8000), 8000)
    recording = load_recording(path)

    class Broken:
        def __init__(self, *args):
            pass

        def resample_chunk(self, x, last=False):
            return np.full(2 * len(x), np.nan, dtype=np.float32)

    monkeypatch.setattr(recording_module.soxr, "ResampleStream", Broken)
    with pytest.raises(InvalidSamplesError, match="after resampling") as caught:
        recording.samples()
    assert one_line_naming(caught.value, path)


# ---- 13: the format chunk beyond the first 4 KiB ---------------------------------------------


def with_chunk_first(wav: bytes, chunk_id: bytes, size: int) -> bytes:
    """`wav` with a chunk of `size` zero bytes (and the pad byte an odd size needs) put before
    its `fmt ` chunk."""
    body = b"WAVE" + chunk_id + struct.pack("<I", size) + bytes(size + size % 2) + wav[12:]
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(("chunk_id", "size"), [(b"LIST", 8000), (b"JUNK", 2 << 20), (b"bext", 4097)])
@pytest.mark.parametrize("in_memory_mb", [64, 0])
def test_format_chunk_after_large_chunks(tmp_path, chunk_id, size, in_memory_mb):
    signal = speechlike(2.0, 16000)
    plain = write(tmp_path / "plain.wav", signal, 16000, "wav_pcm16").read_bytes()
    path = tmp_path / "late-fmt.wav"
    path.write_bytes(with_chunk_first(plain, chunk_id, size))
    assert sf.info(str(path)).frames == len(signal)  # libsndfile reads it: so must we
    recording = load_recording(path, IngestConfig(max_in_memory_mb=in_memory_mb))
    assert (recording.facts.codec, recording.facts.sample_rate, recording.issues) == ("pcm_s16", 16000, ())
    assert np.allclose(recording.samples(), signal, atol=1e-4)
    assert probe_file(path).duration_s == pytest.approx(2.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([b"LIST", b"JUNK", b"bext", b"fact", b"cue "]), st.integers(0, 6000)), max_size=6
    ),
    st.integers(0, 6),
    st.sampled_from([8000, 16000, 44100]),
)
def test_the_chunk_walk_finds_fmt_and_data_among_any_chunks(others, at, rate):
    fmt = struct.pack("<HHIIHH", 1, 1, rate, 2 * rate, 2, 16)
    samples = b"\x00\x10" * 50
    chunks = [cid + struct.pack("<I", n) + bytes(n + n % 2) for cid, n in others]
    chunks.insert(min(at, len(chunks)), b"fmt " + struct.pack("<I", len(fmt)) + fmt)
    body = b"WAVE" + b"".join(chunks) + b"data" + struct.pack("<I", len(samples)) + samples
    data = b"RIFF" + struct.pack("<I", len(body)) + body
    layout = _wav_layout(Source(Path("x.wav"), len(data), "", 0, data[:4096], data))
    assert (layout.tag, layout.channels, layout.rate) == (1, 1, rate)
    assert (layout.data_start, layout.data_bytes) == (len(data) - len(samples), len(samples))


def test_rf64_is_read_and_its_truncation_seen(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, speechlike(4.0, 16000), 16000, format="RF64")
    assert load_recording(path).issues == ()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert [i.flag for i in load_recording(cut).issues] == ["truncated"]


# ---- 14: a damaged MP3 -------------------------------------------------------------------------


def damaged(path: Path, out: Path, count: int = 2000) -> Path:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + count] = np.random.default_rng(0).bytes(count)
    out.write_bytes(bytes(data))
    return out


@pytest.fixture(scope="module")
def long_speech_mp3(tmp_path_factory):
    return write(tmp_path_factory.mktemp("mp3") / "speech.mp3", speechlike(20.0, 16000, seed=3), 16000, "mp3")


def test_damaged_mp3_decodes_around_the_damage_and_is_flagged(tmp_path, long_speech_mp3, capfd):
    path = damaged(long_speech_mp3, tmp_path / "damaged.mp3")
    with pytest.raises(sf.LibsndfileError):  # the primary decoder alone gives up
        sf.read(str(path))
    capfd.readouterr()
    inspection = inspect_file(path, ENERGY)
    assert capfd.readouterr().err == ""  # libmpg123's complaints do not reach the terminal
    facts, quality = inspection.recording.facts, inspection.quality
    assert (facts.container, facts.codec, facts.sample_rate) == ("mp3", "mp3", 16000)
    assert 19.0 < facts.duration_s <= 20.1
    assert "decode_errors" in quality.flags and quality.status in ("warn", "reject")
    (reason,) = [r for r in quality.reasons if "damaged" in r]
    assert reason.startswith("the file is damaged at ") and "skipped" in reason
    assert len(inspection.recording.samples()) == pytest.approx(facts.duration_s * 16000, abs=1)


def test_libmpg123_complaints_do_not_reach_the_terminal(format_files, capfd):
    """libmpg123 writes bit-reservoir complaints about this intact file straight to fd 2."""
    path = format_files["mp3"][0]
    capfd.readouterr()
    for _ in sf.blocks(str(path), blocksize=16000):
        pass
    if "part2_3_length" not in capfd.readouterr().err:
        pytest.skip("this libsndfile's libmpg123 does not complain about the file")
    recording = load_recording(path, IngestConfig(block_s=1.0))  # the same 16000-frame reads
    recording.samples()
    assert capfd.readouterr().err == ""


def test_intact_mp3_has_no_flags(long_speech_mp3):
    recording = load_recording(long_speech_mp3)
    assert recording.issues == () and recording.facts.duration_s == pytest.approx(20.0, abs=0.05)


def test_damaged_flac_falls_back_too(tmp_path):
    """FFmpeg drops FLAC's damaged frames without an error: the shortfall against STREAMINFO's
    length is what shows the damage."""
    flac = write(tmp_path / "speech.flac", speechlike(20.0, 16000, seed=4), 16000, "flac")
    recording = load_recording(damaged(flac, tmp_path / "damaged.flac"))
    (issue,) = recording.issues
    assert 18.0 < recording.facts.duration_s < 19.95
    assert issue.flag == "decode_errors" and issue.value == pytest.approx(20.0 - recording.facts.duration_s, abs=0.01)
    assert issue.message.startswith("the file is damaged: the header declares 20.0 s, only ")


# ---- 15: a truncated WAV ---------------------------------------------------------------------


def cut_in_half(path: Path, out: Path) -> Path:
    data = path.read_bytes()
    out.write_bytes(data[: len(data) // 2 + 30])
    return out


def test_truncated_wav_is_flagged_and_decoded(tmp_path):
    path = cut_in_half(SAMPLE, tmp_path / "cut.wav")
    inspection = inspect_file(path, ENERGY)
    assert inspection.recording.facts.duration_s == pytest.approx(21.3, abs=0.05)
    assert "truncated" in inspection.quality.flags and inspection.quality.status != "ok"
    assert "the header declares 42.6 s but the file holds 21.3 s: it is truncated" in inspection.quality.reasons
    row = inspection.to_dict()
    assert "truncated" in row["flags"] and row["status"] == "warn"


@pytest.mark.parametrize("name", ["wav_pcm16", "wav_float32", "wav_mulaw"])
def test_truncated_wavs_of_every_codec_are_flagged(tmp_path, name):
    signal = speechlike(8.0, 16000, seed=2)
    path = cut_in_half(write(tmp_path / f"full.{name}", signal, 16000, name), tmp_path / f"cut.{name}")
    recording = load_recording(path)
    (issue,) = recording.issues
    assert issue.flag == "truncated" and issue.message.startswith("the header declares 8.0 s but the file holds")
    assert issue.value == pytest.approx(8.0 - recording.facts.duration_s, abs=0.01)
    if name != "wav_mulaw":  # what is there is decoded unchanged
        held = recording.samples()
        assert np.allclose(held, signal[: len(held)], atol=1e-4)


def test_a_cut_flac_is_reported_with_what_is_left(tmp_path):
    """libFLAC gives up at the cut; FFmpeg decodes up to it, and the shortfall is reported."""
    flac = write(tmp_path / "full.flac", speechlike(8.0, 16000, seed=2), 16000, "flac")
    recording = load_recording(cut_in_half(flac, tmp_path / "cut.flac"))
    (issue,) = recording.issues
    assert issue.flag == "decode_errors" and "the header declares 8.0 s, only 3." in issue.message


def test_intact_files_of_every_format_have_no_issues(format_files):
    for name in ALL_FORMATS:
        assert load_recording(format_files[name][0]).issues == (), name


def test_a_placeholder_data_size_is_not_truncation(tmp_path):
    path = write(tmp_path / "streamed.wav", speechlike(3.0, 16000), 16000, "wav_pcm16")
    data = bytearray(path.read_bytes())
    at = data.index(b"data")
    data[at + 4 : at + 8] = b"\xff\xff\xff\xff"  # what a writer that never finished the header leaves
    path.write_bytes(bytes(data))
    recording = load_recording(path)
    assert recording.issues == () and recording.facts.duration_s == pytest.approx(3.0)
