"""Export a dialectid manifest as a Kaldi data directory or as Lhotse manifests.

The formats ML engineers already keep corpora in; the `kaldi` and `lhotse` importers read them
back. Audio paths are written absolute (Kaldi resolves paths from the recipe's working folder,
so a relative path would break when read from elsewhere). Durations and sample counts come from
each file's header.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterable
from pathlib import Path

from dialectid.audio import AudioError, probe_file
from dialectid.data.manifest import Manifest, ManifestError, Utterance
from dialectid.paths import atomic_write

FORMATS = ("kaldi", "lhotse")


def export_manifest(manifest: Manifest, kind: str, output: Path) -> int:
    """Write `manifest` under the folder `output` in format `kind`; returns the number of utterances."""
    if kind not in FORMATS:
        raise ManifestError(f"unknown export format {kind!r}; known formats: {', '.join(FORMATS)}")
    rows = [(utt, manifest.path_of(utt).absolute()) for utt in manifest]
    for utt, path in rows:
        if any(c.isspace() for c in utt.id + (utt.speaker or "")):
            raise ManifestError(f"utterance {utt.id!r}: ids and speakers must not contain spaces in {kind} files")
        if kind == "kaldi" and str(path).rstrip().endswith("|"):
            raise ManifestError(f"{path}: a path ending in '|' would be a command in wav.scp; rename the file")
    (export_kaldi if kind == "kaldi" else export_lhotse)(rows, output)
    return len(rows)


def export_kaldi(rows: list[tuple[Utterance, Path]], output: Path) -> None:
    """wav.scp, utt2spk, spk2utt, utt2lang, and spk2gender/utt2dur where known; sorted as Kaldi wants.
    An utterance without a speaker is its own speaker (Kaldi's convention), read back as unknown."""
    rows = sorted(rows, key=lambda row: row[0].id)
    speaker = {utt.id: utt.speaker or utt.id for utt, _ in rows}
    spk2utt: dict[str, list[str]] = {}
    for utt, _ in rows:
        spk2utt.setdefault(speaker[utt.id], []).append(utt.id)
    genders = {utt.speaker: utt.gender for utt, _ in rows if utt.speaker and utt.gender}
    tables = {
        "wav.scp": [f"{utt.id} {path}" for utt, path in rows],
        "utt2spk": [f"{utt.id} {speaker[utt.id]}" for utt, _ in rows],
        "spk2utt": [f"{spk} {' '.join(utts)}" for spk, utts in sorted(spk2utt.items())],
        "utt2lang": [f"{utt.id} {utt.label}" for utt, _ in rows],
        "spk2gender": [f"{spk} {gender}" for spk, gender in sorted(genders.items())],
        "utt2dur": [f"{utt.id} {utt.duration_s:.3f}" for utt, _ in rows if utt.duration_s is not None],
    }
    for name, lines in tables.items():
        if lines:
            _write(output / name, lines)


def export_lhotse(rows: list[tuple[Utterance, Path]], output: Path) -> None:
    """recordings.jsonl.gz and supervisions.jsonl.gz as Lhotse writes them: one recording per file,
    one supervision spanning it; dialectid's own fields travel in the supervision's `custom`."""
    recordings, supervisions = [], []
    for utt, path in rows:
        try:
            info = probe_file(path)
        except AudioError as error:
            raise ManifestError(f"{path}: listed as {utt.id!r} but cannot be read ({error.problem})") from None
        channels = list(range(info.channels))
        num_samples = round(info.duration_s * info.sample_rate)
        duration = num_samples / info.sample_rate
        recordings.append({"id": utt.id, "sources": [{"type": "file", "channels": channels, "source": str(path)}],
                           "sampling_rate": info.sample_rate, "num_samples": num_samples, "duration": duration,
                           "channel_ids": channels})  # fmt: skip
        custom = {"label": utt.label, **_known(utt), **utt.extra}
        supervision = {"id": utt.id, "recording_id": utt.id, "start": 0.0, "duration": duration,
                       "channel": channels[0] if len(channels) == 1 else channels,
                       "language": utt.language or utt.label, "speaker": utt.speaker, "custom": custom}  # fmt: skip
        supervisions.append({k: v for k, v in supervision.items() if v is not None})
    _write(output / "recordings.jsonl.gz", [json.dumps(r, ensure_ascii=False) for r in recordings], gzip_it=True)
    _write(output / "supervisions.jsonl.gz", [json.dumps(s, ensure_ascii=False) for s in supervisions], gzip_it=True)


def _known(utt: Utterance) -> dict[str, str]:
    pairs = {"language": utt.language, "dialect": utt.dialect, "gender": utt.gender, "split": utt.split,
             "sha256": utt.sha256, "source": utt.source}  # fmt: skip
    return {key: value for key, value in pairs.items() if value is not None}


def _write(path: Path, lines: Iterable[str], gzip_it: bool = False) -> None:
    text = "".join(line + "\n" for line in lines).encode("utf-8")
    write: Callable = (lambda stream: stream.write(gzip.compress(text, mtime=0))) if gzip_it else (
        lambda stream: stream.write(text))  # fmt: skip
    atomic_write(path, write, binary=True)
