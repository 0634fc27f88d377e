"""`kaldi`: a Kaldi data directory (wav.scp, utt2spk, utt2lang or another label file, optional segments).

Kaldi data directories are where many LID/ASR corpora already live. Only plain file paths are
read: a wav.scp entry that is a command pipe (`sox ... |`) is refused, never run, because a
corpus listing must not be able to execute code on the machine that imports it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from dialectid.audio import AudioError, probe_file
from dialectid.data.importers import register_importer
from dialectid.data.importers.common import gender_code
from dialectid.data.manifest import ManifestError, Utterance


def read_kaldi_table(path: Path, required: bool = True) -> dict[str, str]:
    """`key rest-of-line` pairs of a Kaldi table file; {} for an absent optional file."""
    if not path.is_file():
        if required:
            raise ManifestError(f"{path}: missing; a Kaldi data directory needs wav.scp, utt2spk and a label file")
        return {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ManifestError(f"{path}: cannot be read as UTF-8 text ({err}); check the file") from None
    table: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        key, _, value = line.strip().partition(" ")
        if not value.strip():
            raise ManifestError(f"{path} line {number}: expected '<id> <value>', got {line.strip()!r}")
        if key in table:
            raise ManifestError(f"{path} line {number}: duplicate id {key!r}")
        table[key] = value.strip()
    return table


def wav_path(value: str, where: str, base: Path) -> Path:
    """The audio file of one wav.scp entry; pipes and extended filenames are refused, not run."""
    if value.endswith("|") or value.startswith("|"):
        raise ManifestError(f"{where}: is a command pipe, which dialectid never runs; "
                            "write the audio to files and list their paths in wav.scp")  # fmt: skip
    path = Path(value)
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise ManifestError(f"{where}: listed file {value} does not exist")
    return path


@register_importer("kaldi", {"labels": "utt2lang", "base": ""})
def import_kaldi(root: Path, options: Mapping[str, str]) -> Iterator[Utterance]:
    """A Kaldi data dir: wav.scp, utt2spk, utt2lang (`--option labels=text` for another file).

    Relative wav.scp paths are taken relative to `--option base=` (default: the data directory).
    With a `segments` file, each segment must span its whole recording (dialectid scores whole files).
    """
    if not root.is_dir():
        raise ManifestError(f"{root}: the kaldi importer needs a data directory holding wav.scp")
    base = Path(options["base"]).absolute() if options["base"] else root.absolute()
    wavs = read_kaldi_table(root / "wav.scp")
    speakers = read_kaldi_table(root / "utt2spk")
    labels = read_kaldi_table(root / options["labels"])
    genders = read_kaldi_table(root / "spk2gender", required=False)
    segments = read_kaldi_table(root / "segments", required=False)
    utterances = segments or {key: f"{key} 0 -1" for key in wavs}
    for utt_id, entry in utterances.items():
        recording, start, end = _segment(root / "segments", utt_id, entry) if segments else (utt_id, 0.0, -1.0)
        if recording not in wavs:
            raise ManifestError(f"{root / 'wav.scp'}: no entry for recording {recording!r} (utterance {utt_id!r})")
        path = wav_path(wavs[recording], f"{root / 'wav.scp'} entry {recording!r}", base)
        if segments:
            whole_recording(path, start, end, f"{root / 'segments'} entry {utt_id!r}")
        if utt_id not in labels:
            raise ManifestError(f"{root / options['labels']}: no label for utterance {utt_id!r}; every one needs one")
        speaker = speakers.get(utt_id)
        yield Utterance(
            id=utt_id,
            path=str(path),
            label=labels[utt_id],
            speaker=speaker if speaker and speaker != utt_id else None,  # Kaldi's stand-in for "unknown"
            gender=gender_code(genders.get(speaker or "")),
            source="kaldi",
        )


def whole_recording(path: Path, start: float, end: float, where: str) -> None:
    """Refuse a segment that is only part of its file: dialectid trains and scores whole files, so
    importing it would silently use audio outside the segment. End -1 is Kaldi's 'to the end'."""
    if start <= 0.01 and end < 0:
        return
    try:
        duration = probe_file(path).duration_s
    except AudioError as error:
        raise ManifestError(f"{where}: {path} cannot be read ({error.problem})") from None
    if start > 0.01 or end < duration - 0.01:
        raise ManifestError(f"{where}: covers {start:.2f}-{end:.2f} s of a {duration:.2f} s file; dialectid uses "
                            "whole files, so cut the segments into files first (e.g. with sox)")  # fmt: skip


def _segment(path: Path, utt_id: str, entry: str) -> tuple[str, float, float]:
    parts = entry.split()
    try:
        recording, start, end = parts[0], float(parts[1]), float(parts[2])
    except (IndexError, ValueError):
        raise ManifestError(f"{path} entry {utt_id!r}: expected '<utt> <recording> <start> <end>'") from None
    return recording, start, end
