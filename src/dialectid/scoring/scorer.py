"""`Scorer`: one recording in, an `Analysis` out; the one inference path of the toolkit.

ingestion -> quality gate -> VAD -> windows over the speech -> per-window scores ->
duration-weighted mean of the windows' scores -> calibration -> decision.

`measure` runs everything up to the uncalibrated window scores; `decide` calibrates and applies
the decision rules. With a dialect model (`Scorer(bundle, dialect=...)`, scoring/dialects.py) the
dialect head scores the same windows in the same pass, and `decide` adds its split of the top
language where that language is the head's parent. `dialectid score`, case analyses, `dialectid
evaluate` and the trainer (which fits calibration and the open-set threshold on measured
recordings) all go through both, so a bundle's published figures describe exactly what a user gets.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypedDict

import numpy as np

from dialectid.audio import Segment, assess_quality, detect_speech, load_recording
from dialectid.audio.config import QualityConfig
from dialectid.audio.quality import Quality
from dialectid.audio.recording import Recording
from dialectid.models.bundle import Bundle
from dialectid.models.contract import DecisionRules, InputContract
from dialectid.scoring.analysis import (
    ANSWERED,
    Analysis,
    AudioFacts,
    DialectResult,
    LabelProbability,
    ModelRef,
    OpenSet,
    QualityBlock,
    QualityCheck,
    Status,
    Uncertainty,
    Window,
)
from dialectid.scoring.config import REGISTRATION_FIELD, ScoringConfig
from dialectid.scoring.dialects import DialectHead, compose
from dialectid.scoring.windows import SpeechWindow, speech_windows

_EMPTY = np.zeros(0, dtype=np.float32)


@dataclass(frozen=True)
class Measurement:
    """What the model made of one recording, before calibration and decision."""

    recording: Recording
    quality: Quality
    speech_s: float
    refusal: Status | None  # rejected_audio or insufficient_speech: nothing was scored
    windows: list[SpeechWindow]
    scores: np.ndarray  # (windows, labels), uncalibrated
    novelty: np.ndarray | None  # (windows,)
    dialect_scores: np.ndarray | None = None  # (windows, dialects), uncalibrated: where a dialect head scored
    dialect_novelty: np.ndarray | None = None

    @property
    def weights(self) -> np.ndarray:
        return np.array([w.speech_s for w in self.windows])

    def mean_scores(self) -> np.ndarray:
        """The recording's scores: the speech-weighted mean over its windows."""
        return _weighted_mean(self.scores, self.weights)

    def mean_novelty(self) -> float | None:
        return None if self.novelty is None else float(_weighted_mean(self.novelty[:, None], self.weights)[0])


class _Base(TypedDict):
    """The fields of every `Analysis`, whether or not anything was scored (`Scorer._base`)."""

    registration_number: str
    created_at: str
    audio: AudioFacts
    quality: QualityBlock
    speech_s: float
    model: ModelRef
    toolkit_version: str
    notes: list[str]


class _Decision(TypedDict):
    """The result fields of an `Analysis` of scored speech (`Scorer._decision`)."""

    status: Status
    probabilities: list[LabelProbability]
    family_probabilities: list[LabelProbability]
    node_probabilities: list[LabelProbability]
    top_label: str
    top_probability: float
    uncertainty: Uncertainty
    consistency: float
    timeline: list[Window]
    open_set: OpenSet | None


class _NoResult(TypedDict):
    """The result fields of an `Analysis` where nothing was scored (`_no_result`)."""

    probabilities: list[LabelProbability]
    family_probabilities: list[LabelProbability]
    node_probabilities: list[LabelProbability]
    top_label: None
    top_probability: None
    uncertainty: None
    consistency: None
    timeline: list[Window]
    open_set: None


class Scorer:
    """Analyses recordings with one bundle, and optionally a dialect bundle under it (a
    `CompositionError` where the two do not fit); reuse it for many files (the models load once)."""

    def __init__(self, bundle: Bundle, config: ScoringConfig | None = None, dialect: Bundle | None = None) -> None:
        self.bundle = bundle
        self.config = config or ScoringConfig()
        self.overrides = self.config.overrides()
        self.rules: DecisionRules = bundle.rules.model_copy(update=self.overrides)
        self.ingest = bundle.contract.ingest(self.config.audio.ingest)
        self.quality = with_min_speech(self.config.audio.quality, self.rules.min_speech_s)
        self.dialect: DialectHead | None = compose(bundle, dialect) if dialect is not None else None
        for model in (bundle, dialect):  # before any file: a bundle that answers wrongly scores none
            if model is not None:
                model.check_behaviour()

    def analyse(self, path: str | os.PathLike[str]) -> Analysis:
        """Raises an `AudioError` for files that cannot be used at all."""
        return self.decide(self.measure(path))

    def measure(self, path: str | os.PathLike[str]) -> Measurement:
        """Ingest, gate, find the speech and score its windows; raises an `AudioError` for files
        that cannot be used at all.

        The numeric libraries (BLAS, OpenMP) run on one thread here: their summation order, and so
        a quantised encoder's output, then never depends on the core count or the batch engine.
        Batch runs scale by processes, one per core."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            recording = load_recording(path, self.ingest)
            speech = detect_speech(recording, self.config.audio.vad)
            quality = assess_quality(recording, speech, self.quality)
            refusal: Status | None = None
            # too little speech comes first: on a few hundred milliseconds of speech the other
            # measures (SNR from the pauses, say) are guesses, and the speech is the real reason
            if speech.speech_s < self.rules.min_speech_s or speech.speech_s <= 0:
                refusal = "insufficient_speech"
            elif any(c.status == "reject" and c.name != "speech_s" for c in quality.checks):
                refusal = "rejected_audio"
            if refusal:
                return Measurement(recording, quality, speech.speech_s, refusal, [], np.zeros((0, 0)), None)
            return Measurement(recording, quality, speech.speech_s, None, *self._score(recording, speech.segments))

    def log_posteriors(self, measured: Measurement) -> np.ndarray | None:
        """Calibrated log-posteriors of the whole recording, or None where nothing was scored."""
        if measured.refusal:
            return None
        return self._calibrated(measured)

    def _calibrated(self, measured: Measurement) -> np.ndarray:
        """`log_posteriors` of a recording that was scored."""
        return self.bundle.calibrator.transform(measured.mean_scores()[None], np.array([measured.speech_s]))[0]

    def decide(self, measured: Measurement) -> Analysis:
        base = self._base(measured)
        if measured.refusal:
            return Analysis(**base, status=measured.refusal, **_no_result())
        decision = self._decision(measured)
        return Analysis(**base, **decision, dialects=self._dialects(measured, decision))

    # ---- steps ---------------------------------------------------------------------------------
    def _score(self, recording: Recording, segments: Sequence[Segment]
               ) -> tuple[list[SpeechWindow], np.ndarray, np.ndarray | None, np.ndarray | None,
                          np.ndarray | None]:  # fmt: skip
        """The windows over the speech and, per window, the scores and novelty of the language model
        and of the dialect head (None where there is none)."""
        windows: list[SpeechWindow] = []
        scores: list[np.ndarray] = []
        novelty: list[np.ndarray] = []
        dialect: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
        batch: list[SpeechWindow] = []
        contract = self.bundle.contract

        def flush() -> None:
            inputs = [contract.model_input(w.samples) for w in batch]
            s, n = self.bundle.scores_and_novelty(inputs)
            scores.append(s)
            if n is not None:
                novelty.append(n)
            if self.dialect is not None:  # right after the language model: the encoder's states are still at hand
                _score_dialect(self.dialect.bundle, contract, batch, inputs, dialect)
            windows.extend(replace(w, samples=_EMPTY) for w in batch)  # keep the timing, not the audio
            batch.clear()

        rules = self.rules
        windows_over_speech = speech_windows(recording.blocks(), recording.sample_rate, segments, rules.window_s,
                                             rules.hop_s, rules.max_windows)  # fmt: skip
        for window in windows_over_speech:
            batch.append(window)
            if len(batch) >= self.config.windows.batch:
                flush()
        if batch:
            flush()
        window_novelty, dialect_scores, dialect_novelty = (np.concatenate(part) if part else None
                                                           for part in (novelty, *dialect))  # fmt: skip
        return windows, np.concatenate(scores), window_novelty, dialect_scores, dialect_novelty

    def _decision(self, measured: Measurement) -> _Decision:
        labels, calibrator, rules = self.bundle.labels, self.bundle.calibrator, self.rules
        weights = measured.weights
        probabilities = np.exp(self._calibrated(measured))
        top = int(np.argmax(probabilities))
        per_window = np.exp(calibrator.transform(measured.scores, weights))
        window_top = per_window.argmax(axis=1)
        open_set = None
        novelty = measured.mean_novelty()
        if novelty is not None and self.bundle.open_set_threshold is not None:
            open_set = OpenSet(novelty=novelty, threshold=float(self.bundle.open_set_threshold))
        status: Status = "ok"
        novel = open_set is not None and open_set.novelty > rules.open_set_margin * open_set.threshold
        if labels[top] == "out_of_set" or (novel and measured.speech_s >= rules.open_set_min_speech_s):
            status = "out_of_set"
        elif novel or probabilities[top] < rules.low_confidence or "channels_differ" in measured.quality.flags:
            # novel on short speech: cannot tell an unknown language from a known one; mixed channels
            # that differ: two voices scored as one (the report says which)
            status = "low_confidence"
        totals = self.bundle.taxonomy.totals(dict(zip(labels, probabilities.tolist(), strict=True)))
        parents = self.bundle.taxonomy.parents
        return {
            "status": status,
            "probabilities": _sorted(dict(zip(labels, probabilities.tolist(), strict=True))),
            "family_probabilities": _sorted(
                {n: p for n, p in totals.items() if parents[n] is None and n not in labels}
            ),
            "node_probabilities": _sorted({n: p for n, p in totals.items() if n not in labels}),
            "top_label": labels[top],
            "top_probability": round(float(probabilities[top]), 6),
            "uncertainty": self._interval(
                measured.scores, weights, top, measured.speech_s, measured.recording.facts.sha256
            ),
            "consistency": round(float(weights[window_top == top].sum() / weights.sum()), 4),
            "timeline": [
                Window(
                    start=w.start,
                    end=w.end,
                    speech_s=round(w.speech_s, 3),
                    top_label=labels[int(window_top[i])],
                    probabilities={label: round(float(p), 6) for label, p in zip(labels, per_window[i], strict=True)},
                )
                for i, w in enumerate(measured.windows)
            ],
            "open_set": open_set,
        }

    def _dialects(self, measured: Measurement, decision: _Decision) -> DialectResult | None:
        """The dialect head's split of the top language, where the top language is its parent."""
        head = self.dialect
        if head is None or measured.dialect_scores is None or decision["top_label"] != head.parent:
            return None
        if decision["status"] not in ANSWERED:
            return None
        weights = measured.weights
        mean = _weighted_mean(measured.dialect_scores, weights)
        conditional = np.exp(head.bundle.calibrator.transform(mean[None], np.array([measured.speech_s]))[0])
        novelty = None
        if measured.dialect_novelty is not None:
            novelty = float(_weighted_mean(measured.dialect_novelty[:, None], weights)[0])
        return head.rules.apply(decision["top_probability"], conditional, decision["status"], measured.speech_s,
                                novelty)  # fmt: skip

    def _interval(self, scores: np.ndarray, weights: np.ndarray, top: int, speech_s: float, sha256: str) -> Uncertainty:
        """Percentile interval of the top label's probability when the windows are resampled."""
        cfg = self.config.decision
        rng = np.random.default_rng(int(sha256[:16], 16))  # the same file gives the same interval
        draws = rng.integers(0, len(weights), size=(cfg.bootstrap, len(weights)))
        means = np.stack([_weighted_mean(scores[d], weights[d]) for d in draws])
        tops = np.exp(self.bundle.calibrator.transform(means, np.full(len(means), speech_s)))[:, top]
        tail = (1 - cfg.interval) / 2 * 100
        low, high = np.percentile(tops, [tail, 100 - tail])
        return Uncertainty(low=round(float(low), 6), high=round(float(high), 6), level=cfg.interval)

    def _base(self, measured: Measurement) -> _Base:
        from dialectid.version import __version__

        facts, quality = measured.recording.facts, measured.quality
        card = self.bundle.rules
        changed = ", ".join(f"{k} {_rule(v)} (card: {_rule(getattr(card, k))})" for k, v in self.overrides.items())
        notes = [f"decision rules differ from the model card's: {changed}"] if self.overrides else []
        return {
            "registration_number": registration_number(self.config.registration, facts.sha256),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "audio": AudioFacts(
                sha256=facts.sha256,
                container=facts.container,
                codec=facts.codec,
                sample_rate=facts.sample_rate,
                channels=facts.channels,
                duration_s=round(facts.duration_s, 3),
            ),
            "quality": QualityBlock(
                status=quality.status,
                flags=list(quality.flags),
                reasons=list(quality.reasons),
                checks=[QualityCheck(name=c.name, value=c.value, unit=c.unit, status=c.status) for c in quality.checks],
            ),
            "speech_s": round(measured.speech_s, 3),
            "model": ModelRef(id=self.bundle.model_id, name=self.bundle.model.name, bundle_sha256=self.bundle.sha256),
            "toolkit_version": __version__,
            "notes": notes,
        }


def with_min_speech(config: QualityConfig, min_speech_s: float) -> QualityConfig:
    """`config` whose "needed for any result" is the model's own minimum of speech: the decision
    rules decide when there is too little, so the quality message must not name another figure."""
    return config.model_copy(update={"speech_s": config.speech_s.model_copy(update={"reject": min_speech_s})})


def registration_number(template: str, sha256: str) -> str:
    """Fill the template: {date} YYYYMMDD, {time} HHMMSS (UTC), {random} 8 hex digits, {sha8}.

    Only those exact fields are replaced, never through `str.format`, so no format spec or
    attribute access in a template is ever evaluated (`ScoringConfig` refuses such templates).

    >>> registration_number("DID-{sha8}", "0a1b2c3d" * 8)
    'DID-0a1b2c3d'
    """
    now = datetime.now(UTC)
    values = {"date": now.strftime("%Y%m%d"), "time": now.strftime("%H%M%S"),
              "random": secrets.token_hex(4).upper(), "sha8": sha256[:8]}  # fmt: skip
    return REGISTRATION_FIELD.sub(lambda m: values[m[1]], template)


def _score_dialect(bundle: Bundle, contract: InputContract, batch: list[SpeechWindow], inputs: list[np.ndarray],
                   into: tuple[list[np.ndarray], list[np.ndarray]]) -> None:  # fmt: skip
    """The dialect bundle's scores of the windows the language model has just scored: the same
    inputs where both read the same (`compose` makes them share encoder and sample rate)."""
    own = bundle.contract
    if own != contract:
        inputs = [own.model_input(w.samples) for w in batch]
    s, n = bundle.scores_and_novelty(inputs)
    into[0].append(s)
    if n is not None:
        into[1].append(n)


def _rule(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


def _no_result() -> _NoResult:
    return {"probabilities": [], "family_probabilities": [], "node_probabilities": [], "top_label": None,
            "top_probability": None, "uncertainty": None, "consistency": None, "timeline": [], "open_set": None}  # fmt: skip


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return (values * weights[:, None]).sum(axis=0) / weights.sum()


def _sorted(probabilities: dict[str, float]) -> list[LabelProbability]:
    ordered = sorted(probabilities.items(), key=lambda item: (-item[1], item[0]))
    return [LabelProbability(label, round(float(p), 6)) for label, p in ordered]
