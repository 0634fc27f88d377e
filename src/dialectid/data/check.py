"""Leakage checks between splits, and per-label statistics of a manifest."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from dialectid.audio.source import sha256_file
from dialectid.data.manifest import Manifest, ManifestError, Utterance

IMBALANCE_RATIO = 3.0  # warn when one label has this many times the audio of another


@dataclass
class Findings:
    """Errors make a check fail; warnings are printed but do not."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_splits(splits: Mapping[str, Manifest]) -> Findings:
    """A speaker or an identical recording in two splits is an error; a label with fewer than
    two speakers, or missing from the training split, is a warning."""
    findings = Findings()
    speakers: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    hashes: dict[str, dict[str, str]] = defaultdict(dict)
    label_speakers: dict[str, set[str]] = defaultdict(set)
    for name, manifest in splits.items():
        for utt in manifest:
            if utt.speaker:
                speakers[utt.speaker][name] += 1
                label_speakers[utt.label].add(utt.speaker)
            hashes[utt.sha256 or _hash(manifest, utt)].setdefault(name, utt.path)
    for speaker, counts in sorted(speakers.items()):
        if len(counts) > 1:
            where = " and ".join(f"{split} ({n} files)" for split, n in counts.items())
            findings.errors.append(f"speaker {speaker!r} occurs in {where}")
    for digest, paths in sorted(hashes.items()):
        if len(paths) > 1:
            where = " and ".join(f"{split}: {path}" for split, path in paths.items())
            findings.errors.append(f"identical audio (sha256 {digest[:12]}) in {where}")
    for label, names in sorted(label_speakers.items()):
        if len(names) < 2:
            findings.warnings.append(
                f"label {label!r} has only {len(names)} speaker: accuracy on it measures that voice"
            )
    train_labels = {u.label for u in next(iter(splits.values()))}
    for name, manifest in list(splits.items())[1:]:
        for label in sorted({u.label for u in manifest} - train_labels):
            findings.warnings.append(f"label {label!r} is in {name} but not in the first (training) split")
    return findings


def _hash(manifest: Manifest, utt: Utterance) -> str:
    path = manifest.path_of(utt)
    try:
        return sha256_file(path)
    except OSError:
        raise ManifestError(f"{path}: listed in the manifest as {utt.id!r} but cannot be read") from None


@dataclass(frozen=True)
class LabelStats:
    label: str
    clips: int
    speakers: int
    hours: float


def label_stats(manifest: Manifest) -> tuple[list[LabelStats], list[str]]:
    """Clips, speakers and hours per label, and warnings about imbalance and thin labels."""
    clips: dict[str, int] = defaultdict(int)
    seconds: dict[str, float] = defaultdict(float)
    people: dict[str, set[str]] = defaultdict(set)
    for utt in manifest:
        clips[utt.label] += 1
        seconds[utt.label] += utt.duration_s or 0.0
        if utt.speaker:
            people[utt.label].add(utt.speaker)
    stats = [LabelStats(label, clips[label], len(people[label]), seconds[label] / 3600) for label in sorted(clips)]
    warnings = []
    largest = max(stats, key=lambda s: s.hours)
    for item in stats:
        if item.hours * IMBALANCE_RATIO < largest.hours:
            ratio = largest.hours / item.hours if item.hours else float("inf")
            warnings.append(f"label {item.label!r} has {ratio:.1f}x less audio than {largest.label!r}")
        if item.speakers < 2:
            warnings.append(
                f"label {item.label!r} has {item.speakers} speaker(s); at least 2 are needed for honest tests"
            )
    return stats, warnings
