"""Kaldi data directories and Lhotse manifests: import, export, and round trips through dialectid."""

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpora import clip
from dialectid.cli import app
from dialectid.data import ManifestError, Utterance, import_corpus, read_manifest, write_manifest
from dialectid.data.exporters import export_manifest

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def miniature(tmp_path: Path) -> Path:
    """A manifest with speakers, labels, a speakerless clip, a dialect and a file name with a space."""
    rows = [("s1-a", "en", "s1", "f", None), ("s1-b", "en", "s1", "f", None), ("s2-a", "fr", "s2", "m", "fr-CA"),
            ("x-c", "ar", None, None, None)]  # fmt: skip
    utts = []
    for n, (uid, label, speaker, gender, dialect) in enumerate(rows):
        name = f"audio/{label}/{uid} take.wav" if uid == "x-c" else f"audio/{label}/{uid}.wav"
        clip(tmp_path / name, seed=n)
        utts.append(Utterance(id=uid, path=name, label=label, speaker=speaker, gender=gender, dialect=dialect,
                              split="train" if n < 3 else "test"))  # fmt: skip
    manifest = tmp_path / "all.jsonl"
    write_manifest(manifest, utts, source_base=tmp_path)
    return manifest


def facts(manifest, keys=("label", "speaker")):
    m = read_manifest(manifest)
    return {u.id: (str(m.path_of(u).resolve()), *(getattr(u, k) for k in keys)) for u in m}


def test_kaldi_round_trip_keeps_ids_paths_labels_speakers(tmp_path):
    manifest = miniature(tmp_path)
    result = invoke("data", "export", manifest, "--format", "kaldi", "-o", tmp_path / "kaldi")
    assert result.exit_code == 0, result.output
    data = tmp_path / "kaldi"
    assert (data / "spk2utt").read_text().splitlines() == ["s1 s1-a s1-b", "s2 s2-a", "x-c x-c"]
    assert (data / "utt2spk").read_text().splitlines()[0] == "s1-a s1"
    result = invoke("data", "import", "kaldi", data, "-o", tmp_path / "back.jsonl")
    assert result.exit_code == 0, result.output
    keys = ("label", "speaker", "gender")
    assert facts(tmp_path / "back.jsonl", keys) == facts(manifest, keys)


def test_lhotse_round_trip_keeps_ids_paths_labels_speakers_and_fields(tmp_path):
    manifest = miniature(tmp_path)
    result = invoke("data", "export", manifest, "--format", "lhotse", "-o", tmp_path / "lh")
    assert result.exit_code == 0, result.output
    with gzip.open(tmp_path / "lh" / "recordings.jsonl.gz", "rt") as stream:
        recording = json.loads(stream.readline())
    assert recording["sources"][0]["type"] == "file" and recording["sampling_rate"] == 16000
    assert recording["num_samples"] == 6400 and recording["duration"] == pytest.approx(0.4)
    result = invoke("data", "import", "lhotse", tmp_path / "lh", "-o", tmp_path / "back.jsonl")
    assert result.exit_code == 0, result.output
    keys = ("label", "speaker", "gender", "dialect", "split", "language")
    assert facts(tmp_path / "back.jsonl", keys) == facts(manifest, keys)


def test_lhotse_written_by_hand_plain_jsonl(tmp_path):
    """A manifest as Lhotse writes it for an LID corpus: the language is the label, custom goes to extra."""
    clip(tmp_path / "wavs" / "r1.wav")
    (tmp_path / "corpus_recordings_train.jsonl").write_text(json.dumps(
        {"id": "r1", "sources": [{"type": "file", "channels": [0], "source": "wavs/r1.wav"}], "sampling_rate": 16000,
         "num_samples": 6400, "duration": 0.4, "channel_ids": [0]}) + "\n")  # fmt: skip
    (tmp_path / "corpus_supervisions_train.jsonl").write_text(json.dumps(
        {"id": "u1", "recording_id": "r1", "start": 0.0, "duration": 0.4, "channel": 0, "language": "German",
         "speaker": "spk9", "custom": {"accent": "Swabian"}}) + "\n")  # fmt: skip
    (utt,) = import_corpus("lhotse", tmp_path)
    assert (utt.id, utt.label, utt.language, utt.speaker, utt.extra) == ("u1", "German", "German", "spk9",
                                                                          {"accent": "Swabian"})  # fmt: skip
    assert Path(utt.path) == (tmp_path / "wavs" / "r1.wav").absolute()
    (utt,) = import_corpus("lhotse", tmp_path, {"label": "custom.accent"})
    assert utt.label == "Swabian"


def test_kaldi_pipe_in_wav_scp_is_refused_and_never_run(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    marker = tmp_path / "ran"
    (data / "wav.scp").write_text(f"u1 touch {marker} && sox x.wav -t wav - |\n")
    (data / "utt2spk").write_text("u1 s1\n")
    (data / "utt2lang").write_text("u1 en\n")
    with pytest.raises(ManifestError, match="command pipe, which dialectid never runs"):
        import_corpus("kaldi", data)
    result = invoke("data", "import", "kaldi", data, "-o", tmp_path / "m.jsonl")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "command pipe" in result.stderr
    assert not marker.exists() and not (tmp_path / "m.jsonl").exists()


def test_lhotse_command_source_is_refused(tmp_path):
    (tmp_path / "recordings.jsonl").write_text(
        json.dumps({"id": "r1", "sources": [{"type": "command", "channels": [0], "source": "sox x.wav -t wav -"}]})
        + "\n"
    )
    (tmp_path / "supervisions.jsonl").write_text(
        json.dumps({"id": "u1", "recording_id": "r1", "start": 0, "duration": 1, "language": "en"}) + "\n"
    )
    with pytest.raises(ManifestError, match="never runs commands"):
        import_corpus("lhotse", tmp_path)


def test_segments_must_span_the_whole_file(tmp_path):
    """dialectid uses whole files: a part-file segment is refused instead of silently using the whole file."""
    data = tmp_path / "data"
    clip(tmp_path / "r1.wav")
    (data).mkdir()
    (data / "wav.scp").write_text(f"r1 {tmp_path / 'r1.wav'}\n")
    (data / "utt2spk").write_text("u1 s1\n")
    (data / "text").write_text("u1 de\n")
    (data / "segments").write_text("u1 r1 0.00 0.40\n")
    (utt,) = import_corpus("kaldi", data, {"labels": "text"})
    assert (utt.id, utt.label, utt.speaker) == ("u1", "de", "s1")
    (data / "segments").write_text("u1 r1 0.10 0.30\n")
    with pytest.raises(ManifestError, match="covers 0.10-0.30 s of a 0.40 s file"):
        import_corpus("kaldi", data, {"labels": "text"})


def test_export_refuses_an_unknown_format_and_missing_labels(tmp_path):
    manifest = miniature(tmp_path)
    with pytest.raises(ManifestError, match="known formats: kaldi, lhotse"):
        export_manifest(read_manifest(manifest), "espnet", tmp_path / "x")
    invoke("data", "export", manifest, "--format", "kaldi", "-o", tmp_path / "k")
    (tmp_path / "k" / "utt2lang").write_text("s1-a en\n")
    with pytest.raises(ManifestError, match="no label for utterance 's1-b'"):
        import_corpus("kaldi", tmp_path / "k")
