"""`asterisk`: the voice prompts Debian installs under /usr/share/asterisk/sounds.

Native speakers reading telephone prompts at 8 kHz: en-US and es-MX (Allison, the same
speaker), fr-CA (June), it-IT (Carlo; Menardi), ru-RU, and the GSM prompt packages es-CO
(`asterisk-prompt-es-co`, folder es/) and fr-FR (`asterisk-prompt-fr-armelle`, folder fr/).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from dialectid.data.importers import register_importer
from dialectid.data.importers.common import audio_files
from dialectid.data.manifest import ManifestError, Utterance

DEFAULT_ROOT = Path("/usr/share/asterisk/sounds")
# core-sounds folders: <language>_<COUNTRY>_<f|m>_<Speaker>
_VOICE = re.compile(r"^([a-z]{2})_([A-Z]{2})_([fm])_([A-Za-z]+)$")
# plain folders filled by the GSM prompt packages: folder -> (locale, speaker, gender)
PROMPT_FOLDERS = {"es": ("es-CO", "es-co-prompts", None), "fr": ("fr-FR", "armelle", "f")}
SKIPPED = {"silence"}  # folders of silence files, not speech


LABELS = ("locale", "language")


@register_importer("asterisk", {"label": "locale"})
def import_asterisk(root: Path, options: Mapping[str, str]) -> Iterator[Utterance]:
    """Asterisk prompts: locale, language and speaker from the folder names; folders that are
    symlinks to others (en -> en_US_f_Allison, ...) are counted once. Option `label`: locale
    (es-CO, ...; one speaker each, so a locale model learns voices) or language (es, ...)."""
    if options["label"] not in LABELS:
        raise ManifestError(f"asterisk: label must be locale or language, not {options['label']!r}")
    for voice in sorted(root.iterdir()):
        if voice.is_symlink() or not voice.is_dir():
            continue
        identity = _identity(voice)
        if identity is None:
            continue
        locale, speaker, gender = identity
        for path in audio_files(voice):
            inner = path.relative_to(os.path.abspath(voice))
            if SKIPPED & set(inner.parts[:-1]):
                continue
            yield Utterance(
                id=f"{locale}/{speaker}/{inner.with_suffix('').as_posix()}",
                path=str(path),
                label=locale if options["label"] == "locale" else locale.split("-")[0],
                language=locale.split("-")[0],
                dialect=locale,
                speaker=speaker,
                gender=gender,
                source=f"asterisk:{voice.name}",
                extra={"codec": "gsm" if path.suffix == ".gsm" else "pcm"},
            )


def _identity(folder: Path) -> tuple[str, str, str | None] | None:
    if (match := _VOICE.match(folder.name)) is not None:
        language, country, gender, speaker = match.groups()
        return f"{language}-{country}", speaker.lower(), gender
    if folder.name in PROMPT_FOLDERS and any(folder.glob("*.gsm")):
        return PROMPT_FOLDERS[folder.name]
    return None
