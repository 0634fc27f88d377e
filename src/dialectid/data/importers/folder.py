"""`folder`: <root>/<label>/**/<audio files>, one folder per label."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from dialectid.data.importers import register_importer
from dialectid.data.importers.common import audio_files
from dialectid.data.manifest import Utterance


@register_importer("folder", {"language": "", "speaker_depth": "1"})
def import_folder(root: Path, options: Mapping[str, str]) -> Iterator[Utterance]:
    """<root>/<label>/[<speaker>/]...: label from the first folder, speaker from the next one.

    Options: `speaker_depth` (1: the folder below the label names the speaker; 0: unknown
    speakers), `language` (set for every utterance).
    """
    depth = int(options["speaker_depth"])
    for path in audio_files(root):
        parts = path.relative_to(root.absolute()).parts
        if len(parts) < 2:
            continue  # files directly in the root have no label folder
        label = parts[0]
        speaker = f"{label}/{parts[depth]}" if depth and len(parts) > depth + 1 else None
        yield Utterance(
            id="/".join(parts)[: -len(path.suffix)],
            path=str(path),
            label=label,
            language=options["language"] or None,
            speaker=speaker,
            source="folder",
        )
