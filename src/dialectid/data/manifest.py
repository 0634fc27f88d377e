"""Manifests: one utterance per JSONL line, the plain data every training run starts from.

>>> u = Utterance(id="a1", path="clips/a1.wav", label="es-CO", speaker="s1")
>>> Utterance.from_dict(json.loads(u.to_json())) == u
True
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import IO, Any, Literal, get_args

from dialectid.errors import DialectidError
from dialectid.paths import atomic_write, not_a_file

Channel = Literal["wideband", "telephone"]
CHANNELS: tuple[str, ...] = get_args(Channel)
REQUIRED = ("id", "path", "label")


class ManifestError(DialectidError):
    """A manifest or corpus listing is malformed; the message names the file and line."""


@dataclass(frozen=True)
class Utterance:
    """One recording and what is known about it. Unknown facts stay empty."""

    id: str
    path: str
    label: str
    sha256: str | None = None
    language: str | None = None
    dialect: str | None = None
    speaker: str | None = None
    gender: str | None = None  # "f", "m" or None
    duration_s: float | None = None
    channel: Channel | None = None
    split: str | None = None
    source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v is not None and v != {}}
        return json.dumps(data, ensure_ascii=False, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "manifest") -> Utterance:
        """Validate one record; `where` ("file line N") prefixes every error."""
        if not isinstance(data, dict):
            raise ManifestError(f"{where}: expected a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - FIELDS)
        if unknown:
            raise ManifestError(f"{where}: unknown field(s) {', '.join(unknown)}; put corpus extras under 'extra'")
        missing = [name for name in REQUIRED if not data.get(name)]
        if missing:
            raise ManifestError(f"{where}: missing field(s) {', '.join(missing)}")
        for name in ("id", "path", "label"):
            if not isinstance(data[name], str):
                raise ManifestError(f"{where}: field '{name}' must be a string")
        if data.get("channel") not in (None, *CHANNELS):
            raise ManifestError(f"{where}: channel must be 'wideband' or 'telephone', not {data['channel']!r}")
        duration = data.get("duration_s")
        if duration is not None and (not isinstance(duration, int | float) or duration < 0):
            raise ManifestError(f"{where}: duration_s must be a non-negative number")
        if not isinstance(data.get("extra", {}), dict):
            raise ManifestError(f"{where}: extra must be an object")
        return cls(**data)

    def resolved_path(self, base: Path) -> Path:
        """The audio file, with a relative path taken relative to the manifest's folder."""
        path = Path(self.path)
        return path if path.is_absolute() else base / path


FIELDS = {f.name for f in fields(Utterance)}


@dataclass(frozen=True)
class Manifest:
    """Utterances read from one file; `base` resolves their relative paths."""

    utterances: tuple[Utterance, ...]
    base: Path

    def __len__(self) -> int:
        return len(self.utterances)

    def __iter__(self) -> Iterator[Utterance]:
        return iter(self.utterances)

    def path_of(self, utterance: Utterance) -> Path:
        return utterance.resolved_path(self.base)


def read_manifest(
    path: str | os.PathLike[str],
    labels: Sequence[str] | None = None,
    check_files: bool = False,
    allow_empty: bool = False,
) -> Manifest:
    """Read and validate a JSONL manifest: fields, duplicate ids, optionally known labels and
    that every listed file exists. Every error names the file and the line."""
    path = Path(path)
    try:
        if kind := not_a_file(path.stat().st_mode):  # before opening: a pipe would block, a device never end
            raise ManifestError(f"{path}: is {kind}, not a manifest; give the path of a .jsonl file")
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such manifest; check the path") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ManifestError(f"{path}: cannot be read as UTF-8 text ({err}); check the file") from None
    utterances: list[Utterance] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ManifestError(f"{where}: not valid JSON ({err.msg})") from None
        utt = Utterance.from_dict(record, where)
        if utt.id in seen:
            raise ManifestError(f"{where}: duplicate id {utt.id!r} (first on line {seen[utt.id]})")
        seen[utt.id] = number
        if labels is not None and utt.label not in labels:
            raise ManifestError(f"{where}: unknown label {utt.label!r}; known labels: {', '.join(labels)}")
        if check_files and not utt.resolved_path(path.parent).is_file():
            raise ManifestError(f"{where}: listed file {utt.path} does not exist")
        utterances.append(utt)
    if not utterances and not allow_empty:
        raise ManifestError(f"{path}: the manifest is empty; import a corpus first")
    return Manifest(tuple(utterances), path.parent.resolve())


def write_manifest(
    path: str | os.PathLike[str],
    utterances: Iterable[Utterance],
    source_base: Path | None = None,
    relative_within: Path | None = None,
) -> int:
    """Write atomically (a reader never sees half a file); returns the number of lines.

    Relative audio paths are resolved against `source_base` (the folder of the manifest they
    came from); a file under the new manifest's folder is then stored relative to it, any other
    file with its absolute path, so the manifest stays valid wherever it is read from. Files under
    `relative_within` are stored relative to the manifest's folder even outside it (`../..`): for
    manifests kept in a repository next to a corpus that moves with the checkout.
    """
    path = Path(path)
    here = path.parent.absolute()
    count = 0

    def write(stream: IO[str]) -> None:
        nonlocal count
        for utt in utterances:
            stream.write(_relocated(utt, source_base, here, relative_within).to_json() + "\n")
            count += 1

    atomic_write(path, write, binary=False)
    return count


def _relocated(utt: Utterance, source_base: Path | None, here: Path, relative_within: Path | None = None) -> Utterance:
    audio = Path(utt.path)
    if not audio.is_absolute():
        audio = (source_base or Path.cwd()) / audio
    audio = Path(os.path.abspath(audio))
    if audio.is_relative_to(here) or (relative_within and audio.is_relative_to(os.path.abspath(relative_within))):
        stored = Path(os.path.relpath(audio, here)).as_posix()
    else:
        stored = str(audio)
    return replace(utt, path=stored)
