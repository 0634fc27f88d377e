"""`arabic_dialects`: ../shared/corpora/arabic_dialects_research, three sub-folders of real Arabic
dialect speech, each with a manifest.csv (path,label,speaker,duration_s,source_file).

Labels become the leaves of `ar -> ar-EGY, ar-GLF, ar-LAV, ar-MSA, ar-NOR` (MADIS-5 spells
Levantine LEV and North African MAG). Only `adi5-badrex` has real groups: its `speaker` column is
the broadcast episode, so it becomes the utterance's speaker and splits keep an episode whole (an
episode carrying two labels included). The other subsets list a per-clip placeholder (`unknown_<id>`),
which is not a speaker: it is dropped, so each of those clips stands alone in a split and no count
of speakers is ever made from it. `extra.subset` names the sub-folder, `extra.grouping` says
whether the clip's group is an episode or unknown.

The folder is for research use only: import it to train and evaluate locally, never to commit.

>>> dialect_label("LEV"), dialect_label("mag"), dialect_label("MSA")
('ar-LAV', 'ar-NOR', 'ar-MSA')
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from dialectid.data.importers import register_importer
from dialectid.data.importers.common import listed_files
from dialectid.data.manifest import ManifestError, Utterance

COLUMNS = ("path", "label", "speaker", "duration_s")
LANGUAGE = "ar"
DIALECTS = ("ar-EGY", "ar-GLF", "ar-LAV", "ar-MSA", "ar-NOR")
SPELLINGS = {"EGY": "EGY", "GLF": "GLF", "LAV": "LAV", "LEV": "LAV", "MSA": "MSA", "NOR": "NOR", "MAG": "NOR"}
EPISODES = "adi5-badrex"  # the only subset whose `speaker` column is a real group (a broadcast episode)
SUBSETS = (EPISODES, "adi-qcri-maher", "madis5-ziad")


def dialect_label(code: str) -> str:
    """The taxonomy leaf for a corpus dialect code; KeyError for an unknown one."""
    return f"{LANGUAGE}-{SPELLINGS[code.strip().upper()]}"


@register_importer("arabic_dialects", {"subsets": ",".join(SUBSETS)})
def import_arabic_dialects(root: Path, options: Mapping[str, str]) -> Iterator[Utterance]:
    """arabic_dialects_research: <subset>/manifest.csv for adi5-badrex, adi-qcri-maher, madis5-ziad."""
    wanted = [name.strip() for name in options["subsets"].split(",") if name.strip()]
    unknown = [name for name in wanted if name not in SUBSETS]
    if unknown or not wanted:
        raise ManifestError(f"arabic_dialects: unknown subset(s) {', '.join(unknown) or '(none given)'}; "
                            f"known: {', '.join(SUBSETS)}")  # fmt: skip
    folders = {name: root / name for name in wanted}
    if (root / "manifest.csv").is_file() and root.name in SUBSETS:  # one subset's folder given directly
        folders = {root.name: root}
    for subset, folder in folders.items():
        if not (folder / "manifest.csv").is_file():
            raise ManifestError(f"{folder}: no manifest.csv; give the arabic_dialects_research folder "
                                f"(sub-folders {', '.join(SUBSETS)})")  # fmt: skip
        yield from _subset(subset, folder)


def _subset(subset: str, folder: Path) -> Iterator[Utterance]:
    for where, row, path, duration in listed_files(folder / "manifest.csv", COLUMNS):
        try:
            label = dialect_label(row["label"])
        except KeyError:
            raise ManifestError(f"{where}: unknown dialect {row['label']!r}; known: "
                                f"{', '.join(sorted(SPELLINGS))}") from None  # fmt: skip
        episode = subset == EPISODES and bool(row["speaker"].strip())
        extra = {"subset": subset, "grouping": "episode" if episode else "none"}
        if row.get("source_file"):
            extra["source_file"] = row["source_file"]
        yield Utterance(
            id=f"{subset}/{Path(row['path']).with_suffix('').as_posix()}",
            path=str(path),
            label=label,
            language=LANGUAGE,
            dialect=label,
            speaker=row["speaker"].strip() if episode else None,
            duration_s=duration,
            source=f"arabic_dialects:{subset}",
            extra=extra,
        )
