"""The data layer: manifests, corpus importers, speaker-disjoint splits and leakage checks."""

from dialectid.data.check import Findings, LabelStats, check_splits, label_stats
from dialectid.data.importers import IMPORTERS, import_corpus
from dialectid.data.manifest import Manifest, ManifestError, Utterance, read_manifest, write_manifest
from dialectid.data.splits import group_folds, groups, loso_folds, split_utterances

__all__ = [
    "IMPORTERS", "Findings", "LabelStats", "Manifest", "ManifestError", "Utterance", "check_splits",
    "group_folds", "groups", "import_corpus", "label_stats", "loso_folds", "read_manifest", "split_utterances",
    "write_manifest",
]  # fmt: skip
