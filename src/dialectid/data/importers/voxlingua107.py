"""`voxlingua107`: <root>/<language code>/*.wav, speaker from the YouTube id in the name."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from dialectid.data.importers import register_importer
from dialectid.data.importers.common import audio_files
from dialectid.data.manifest import Utterance


@register_importer("voxlingua107")
def import_voxlingua107(root: Path, options: Mapping[str, str]) -> Iterator[Utterance]:
    """VoxLingua107: the folder is the language; `<youtube id>__U__S<n>---<start>-<end>.wav`
    names the video, used as the speaker (one video rarely has two speakers of a language)."""
    for path in audio_files(root):
        parts = path.relative_to(root.absolute()).parts
        if len(parts) < 2:
            continue
        language = parts[0]
        video = path.stem.split("__")[0]
        yield Utterance(
            id=f"{language}/{path.stem}",
            path=str(path),
            label=language,
            language=language,
            speaker=f"yt:{video}",
            source="voxlingua107",
        )
