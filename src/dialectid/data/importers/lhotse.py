"""`lhotse`: Lhotse recording and supervision manifests (JSONL or JSONL.gz), read as plain JSON.

No lhotse dependency: the two manifests are JSON lines. Only `file` sources are read; a
`command` or `url` source is refused, never run or fetched.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dialectid.data.importers import register_importer
from dialectid.data.importers.common import gender_code
from dialectid.data.importers.kaldi import whole_recording
from dialectid.data.manifest import FIELDS, ManifestError, Utterance

# dialectid fields that travel in a supervision's `custom` (the rest have Lhotse fields of their own)
CUSTOM = ("label", "dialect", "gender", "split", "sha256", "language", "source")


def read_jsonl(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(where, record) for each line of a .jsonl or .jsonl.gz file."""
    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as stream:
            lines = stream.read().splitlines()
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such Lhotse manifest; check the path") from None
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise ManifestError(f"{path}: cannot be read as (gzipped) UTF-8 JSON lines ({err})") from None
    records = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            where = f"{path} line {number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ManifestError(f"{where}: not valid JSON ({err.msg})") from None
            if not isinstance(record, dict) or not isinstance(record.get("id"), str):
                raise ManifestError(f"{where}: expected an object with a string 'id'")
            records.append((where, record))
    return records


def find_manifest(root: Path, kind: str, given: str) -> Path:
    """The recordings or supervisions manifest: named by option, else the one `*{kind}*.jsonl[.gz]` in `root`."""
    if given:
        return Path(given) if Path(given).is_absolute() else root / given
    found = sorted(p for p in root.iterdir() if kind in p.name and p.name.endswith((".jsonl", ".jsonl.gz")))
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise ManifestError(f"{root}: expected one *{kind}*.jsonl[.gz] file, found {names}; "
                            f"name it with --option {kind}=FILE")  # fmt: skip
    return found[0]


def recording_path(where: str, record: dict[str, Any], base: Path) -> Path:
    """The audio file of a Lhotse recording; only a single `file` source is accepted."""
    sources = record.get("sources")
    if not isinstance(sources, list) or len(sources) != 1 or not isinstance(sources[0], dict):
        raise ManifestError(f"{where}: recording {record['id']!r} needs exactly one source")
    source = sources[0]
    if source.get("type") != "file" or not isinstance(source.get("source"), str):
        raise ManifestError(f"{where}: recording {record['id']!r} has a {source.get('type')!r} source; "
                            "dialectid reads only 'file' sources and never runs commands or fetches URLs")  # fmt: skip
    path = Path(source["source"])
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise ManifestError(f"{where}: listed file {source['source']} does not exist")
    return path


@register_importer("lhotse", {"recordings": "", "supervisions": "", "label": "language"})
def import_lhotse(root: Path, options: Mapping[str, str]) -> Iterator[Utterance]:
    """Lhotse recordings + supervisions (.jsonl/.jsonl.gz) in a folder; one supervision per recording.

    The label is the supervision's `language` (`--option label=custom.<key>` for another field);
    relative source paths are taken relative to the folder. A supervision must span its whole recording.
    """
    if not root.is_dir():
        raise ManifestError(f"{root}: the lhotse importer needs the folder holding the two manifests")
    recordings = {rec["id"]: (where, rec) for where, rec in read_jsonl(find_manifest(root, "recordings",
                                                                                       options["recordings"]))}  # fmt: skip
    for where, sup in read_jsonl(find_manifest(root, "supervisions", options["supervisions"])):
        recording = recordings.get(sup.get("recording_id"))
        if recording is None:
            raise ManifestError(f"{where}: recording_id {sup.get('recording_id')!r} is not in the recordings manifest")
        path = recording_path(*recording, root.absolute())
        try:
            start, duration = float(sup.get("start", 0)), float(sup["duration"])
        except (KeyError, TypeError, ValueError):
            raise ManifestError(f"{where}: supervision {sup['id']!r} needs numeric 'start' and 'duration'") from None
        whole_recording(path, start, start + duration, f"{where} (supervision {sup['id']!r})")
        yield _utterance(where, sup, path, options["label"])


def _utterance(where: str, sup: dict[str, Any], path: Path, label_field: str) -> Utterance:
    """One utterance; a supervision that dialectid exported (custom.label set) comes back field for field."""
    custom: dict[str, Any] = found if isinstance(found := sup.get("custom"), dict) else {}
    if label_field.startswith("custom."):
        label = custom.get(label_field.removeprefix("custom."))
    else:
        label = custom.get("label") or sup.get(label_field)
    if not isinstance(label, str) or not label:
        raise ManifestError(f"{where}: supervision {sup['id']!r} has no {label_field!r} to use as its label")
    known = {k: custom[k] for k in CUSTOM if isinstance(custom.get(k), str) and k not in ("label", "source")}
    if "label" not in custom and isinstance(sup.get("language"), str):
        known.setdefault("language", sup["language"])
    extra = {k: v for k, v in custom.items() if k not in CUSTOM and k not in FIELDS}
    speaker = sup.get("speaker")
    return Utterance(
        id=sup["id"],
        path=str(path),
        label=label,
        speaker=speaker if isinstance(speaker, str) and speaker else None,
        source=custom.get("source") if isinstance(custom.get("source"), str) else "lhotse",
        extra=extra,
        **{**known, "gender": gender_code(known.get("gender"))},
    )
