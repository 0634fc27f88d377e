"""Corpus importers: one small module per corpus layout, registered by name.

An importer reads a corpus the user already has on disk and yields `Utterance`s; nothing is
downloaded. `import_corpus("timit", root)` runs one; an unknown name is an error that lists
the known ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from dialectid.audio import AudioError, probe_file
from dialectid.data.manifest import ManifestError, Utterance

ImportFn = Callable[[Path, Mapping[str, str]], Iterator[Utterance]]


@dataclass(frozen=True)
class Importer:
    name: str
    run: ImportFn
    options: Mapping[str, str]  # option name -> default ("" for none)
    summary: str


# The importer registry: name -> its module under dialectid.data.importers. Adding an importer is
# one module (whose function registers itself under the same name) and one line here.
MODULES = {"folder": "folder", "csv": "csv_table", "commonvoice": "commonvoice", "voxlingua107": "voxlingua107",
           "adi17": "adi17", "timit": "timit", "asterisk": "asterisk", "shared": "shared",
           "arabic_dialects": "arabic_dialects", "kaldi": "kaldi", "lhotse": "lhotse"}  # fmt: skip
IMPORTERS: dict[str, Importer] = {}


def register_importer(name: str, options: Mapping[str, str] | None = None) -> Callable[[ImportFn], ImportFn]:
    def add(function: ImportFn) -> ImportFn:
        summary = (function.__doc__ or "").strip().splitlines()[0]
        IMPORTERS[name] = Importer(name, function, dict(options or {}), summary)
        return function

    return add


def get_importer(name: str) -> Importer:
    if name not in MODULES:
        raise ManifestError(f"unknown importer {name!r}; known importers: {', '.join(sorted(MODULES))}")
    importlib.import_module(f"dialectid.data.importers.{MODULES[name]}")
    return IMPORTERS[name]


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def import_corpus(
    name: str,
    root: str | Path,
    options: Mapping[str, str] | None = None,
    labels: Sequence[str] | None = None,
    skipped: list[Skipped] | None = None,
) -> list[Utterance]:
    """Run importer `name` on `root`; check its options; read each file's header for its
    duration and channel. A file that cannot be decoded or holds no audio is left out and
    recorded in `skipped` (the import goes on); an empty result is an error, and so, where
    `labels` is given, is any utterance whose label is not one of them."""
    importer = get_importer(name)
    given = dict(options or {})
    unknown = sorted(set(given) - set(importer.options))
    if unknown:
        allowed = ", ".join(sorted(importer.options)) or "none"
        raise ManifestError(f"importer {name!r}: unknown option(s) {', '.join(unknown)}; allowed: {allowed}")
    root = Path(root)
    if not root.exists():
        raise ManifestError(f"{root}: no such corpus folder or file; check the path")
    settings = {**importer.options, **given}
    utterances = [u for u in map(_probed(skipped), importer.run(root, settings)) if u is not None]
    if not utterances:
        raise ManifestError(f"{root}: no recordings found for the {name!r} layout; check the folder and layout")
    ids = set()
    for utt in utterances:
        if labels is not None and utt.label not in labels:
            raise ManifestError(f"{utt.path}: unknown label {utt.label!r}; expected one of {', '.join(labels)}")
        if utt.id in ids:
            raise ManifestError(f"{root}: duplicate utterance id {utt.id!r}; ids must be unique in a corpus")
        ids.add(utt.id)
    return utterances


def _probed(skipped: list[Skipped] | None) -> Callable[[Utterance], Utterance | None]:
    def probe(utt: Utterance) -> Utterance | None:
        try:
            info = probe_file(utt.path)
        except AudioError as error:
            reason = error.problem
        else:
            if info.duration_s > 0:
                return replace(utt, duration_s=utt.duration_s or round(info.duration_s, 3), channel=info.channel)
            reason = "holds no audio samples"
        if skipped is not None:
            skipped.append(Skipped(utt.path, reason))
        return None

    return probe
