"""What a report says besides the Analysis: the case, the subject's pseudonym and the model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from dialectid.train.card import card_limitations

if TYPE_CHECKING:
    from dialectid.models.bundle import Bundle  # loading one needs the model stack; reading its facts does not

# Fields added to ModelFacts after reports began binding a digest of them: left out of that digest
# while None, so that the facts stored with an older report still match its signature.
LATER_FIELDS = ("labels", "by_speech", "rules", "test_answered", "dialect")
# Since version 2 a signature names the version of the facts it binds, and the digest holds exactly
# that version's fields: a field added later (in a new version here) leaves older reports valid.
# Adding a field to ModelFacts means adding a version (tests/test_report_facts_version.py checks).
FACTS_FIELDS = {
    2: ("name", "model", "version", "bundle_sha256", "test_accuracy", "test_cavg", "test_cllr", "test_clips",
        "unseen_speakers", "limitations", "test_coverage", "labels", "by_speech", "rules", "test_answered", "dialect"),
}  # fmt: skip
FACTS_VERSION = max(FACTS_FIELDS)


@dataclass(frozen=True)
class ModelFacts:
    """The model as the report describes it, from its bundle."""

    name: str
    model: str
    version: str
    bundle_sha256: str
    test_accuracy: float | None
    test_cavg: float | None
    test_cllr: float | None
    test_clips: int | None
    unseen_speakers: bool | None
    limitations: list[str] = field(default_factory=list)
    test_coverage: float | None = None  # share of test clips given a label
    labels: list[str] | None = None  # what the model can name
    by_speech: dict[str, dict[str, Any]] | None = None  # per amount of net speech: n, n_answered, accuracy
    rules: dict[str, float] | None = None  # min_speech_s and low_confidence: what "ok" means
    test_answered: int | None = None  # test clips given a label
    dialect: ModelFacts | None = None  # the dialect model under this one (scoring/dialects.py), where one was used

    def __post_init__(self) -> None:
        if isinstance(self.dialect, dict):  # read back from the case file, where the facts are stored as JSON
            object.__setattr__(self, "dialect", ModelFacts(**self.dialect))

    @classmethod
    def from_bundle(cls, bundle: Bundle, dialect: Bundle | None = None) -> ModelFacts:
        """The facts of `bundle`, and of the dialect bundle `dialect` under it where given."""
        if bundle.path is None:
            raise ValueError("a bundle that was never saved has no model card to describe it by; save it first")
        metrics = bundle.metrics or {}
        return cls(
            name=bundle.model_id,
            model=bundle.model.name,
            version=bundle.description.toolkit_version,
            bundle_sha256=bundle.sha256,
            test_accuracy=metrics.get("accuracy"),
            test_cavg=metrics.get("cavg"),
            test_cllr=metrics.get("cllr"),
            test_clips=metrics.get("n"),
            test_coverage=metrics.get("coverage"),
            unseen_speakers=metrics.get("speakers_unseen_in_training"),
            limitations=card_limitations((bundle.path / "MODEL_CARD.md").read_text()),
            labels=list(bundle.labels),
            by_speech=_by_speech(metrics.get("by_speech")),
            rules={"min_speech_s": bundle.rules.min_speech_s, "low_confidence": bundle.rules.low_confidence},
            test_answered=metrics.get("n_answered"),
            dialect=cls.from_bundle(dialect) if dialect is not None else None,
        )

    def digest_form(self, version: int | None = None) -> dict[str, Any]:
        """What a report's signature binds of these facts: the fields of facts `version` (a dialect
        model's facts in the same form); None, for reports signed before versions, every field
        (`LATER_FIELDS` only where set)."""
        if version is None:
            data = asdict(self)
            return {k: v for k, v in data.items() if not (k in LATER_FIELDS and v is None)}
        if version not in FACTS_FIELDS:
            raise ValueError(f"model facts version {version} is unknown to this toolkit ({FACTS_VERSION} is newest)")
        data = {k: getattr(self, k) for k in FACTS_FIELDS[version]}
        data["dialect"] = self.dialect.digest_form(version) if self.dialect is not None else None
        return data


@dataclass(frozen=True)
class ReportContext:
    case_reference: str
    subject_pseudonym: str
    recorded_at: str  # ISO time the recording was made (or added)
    model: ModelFacts


def _by_speech(groups: dict[str, Any] | None) -> dict[str, dict[str, Any]] | None:
    """The test figures per amount of speech that a report explains: clips, answered, accuracy."""
    if not groups:
        return None
    return {band: {"n": g.get("n"), "n_answered": g.get("n_answered"), "accuracy": g.get("accuracy")}
            for band, g in groups.items()}  # fmt: skip
