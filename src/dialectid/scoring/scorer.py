"""`Scorer`: one recording in, an `Analysis` out.

ingestion -> quality gate -> VAD -> windows over the speech -> per-window scores ->
duration-weighted mean of the windows' log-posteriors -> calibration -> decision.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from dialectid.audio import IngestConfig, assess_quality, detect_speech, load_recording
from dialectid.models.bundle import Bundle
from dialectid.scoring.analysis import Analysis, LabelProbability, Status, Window
from dialectid.scoring.config import ScoringConfig
from dialectid.scoring.windows import SpeechWindow, speech_windows

AUDIO_RATE = 16000
_EMPTY = np.zeros(0, dtype=np.float32)


@dataclass
class _Scored:
    windows: list[SpeechWindow]
    scores: np.ndarray  # (windows, labels), uncalibrated log-posteriors
    novelty: np.ndarray | None


class Scorer:
    """Analyses recordings with one bundle; reuse it for many files (the model loads once)."""

    def __init__(self, bundle: Bundle, config: ScoringConfig | None = None) -> None:
        self.bundle = bundle
        self.config = config or ScoringConfig()
        rate = AUDIO_RATE if bundle.model.input == "audio" else bundle.features.sample_rate
        ingest = self.config.audio.ingest.model_copy(
            update={"sample_rate": rate, "channel_policy": bundle.features.channel_policy}
        )
        self.ingest = IngestConfig.model_validate(ingest.model_dump())

    def analyse(self, path: str | os.PathLike[str]) -> Analysis:
        """Raises an `AudioError` for files that cannot be used at all.

        The numeric libraries (BLAS, OpenMP) run on one thread here: their summation order, and so
        a quantised encoder's output, then never depends on the core count or the batch engine.
        Batch runs scale by processes, one per core."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return self._analyse(path)

    def _analyse(self, path: str | os.PathLike[str]) -> Analysis:
        recording = load_recording(path, self.ingest)
        speech = detect_speech(recording, self.config.audio.vad)
        quality = assess_quality(recording, speech, self.config.audio.quality)
        base = self._base(recording, quality, speech.speech_s)
        rejected = [c for c in quality.checks if c.status == "reject" and c.name != "speech_s"]
        if rejected:
            return Analysis(**base, status="rejected_audio", **_no_result())
        if speech.speech_s < self.config.decision.min_speech_s:
            return Analysis(**base, status="insufficient_speech", **_no_result())
        scored = self._score(recording, speech.segments)
        return Analysis(**base, **self._decide(scored, speech.speech_s, recording.facts.sha256))

    # ---- steps ---------------------------------------------------------------------------------
    def _score(self, recording, segments) -> _Scored:
        cfg = self.config.windows
        windows, scores, novelty = [], [], []
        batch: list[SpeechWindow] = []

        def flush() -> None:
            s, n = self.bundle.scores_and_novelty([self._input(w.samples) for w in batch])
            scores.append(s)
            if n is not None:
                novelty.append(n)
            windows.extend(replace(w, samples=_EMPTY) for w in batch)  # keep the timing, not the audio
            batch.clear()

        for window in speech_windows(recording.blocks(), recording.sample_rate, segments, cfg.window_s, cfg.hop_s):
            batch.append(window)
            if len(batch) >= cfg.batch:
                flush()
        if batch:
            flush()
        return _Scored(windows, np.concatenate(scores), np.concatenate(novelty) if novelty else None)

    def _input(self, samples: np.ndarray) -> np.ndarray:
        if self.bundle.model.input == "audio":
            return samples
        from dialectid.features.extract import extract

        return extract(samples, self.bundle.features)

    def _decide(self, scored: _Scored, speech_s: float, sha256: str) -> dict[str, Any]:
        labels, calibrator, decision = self.bundle.labels, self.bundle.calibrator, self.config.decision
        weights = np.array([w.speech_s for w in scored.windows])
        overall = calibrator.transform(_weighted_mean(scored.scores, weights)[None], np.array([speech_s]))[0]
        probabilities = np.exp(overall)
        top = int(np.argmax(probabilities))
        per_window = np.exp(calibrator.transform(scored.scores, weights))
        window_top = per_window.argmax(axis=1)
        open_set = None
        if scored.novelty is not None and self.bundle.open_set_threshold is not None:
            open_set = {"novelty": float(_weighted_mean(scored.novelty[:, None], weights)[0]),
                        "threshold": float(self.bundle.open_set_threshold)}  # fmt: skip
        status: Status = "ok"
        if labels[top] == "out_of_set" or (
            open_set and open_set["novelty"] > decision.open_set_margin * open_set["threshold"]
        ):
            status = "out_of_set"
        elif probabilities[top] < decision.low_confidence:
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
            "uncertainty": self._interval(scored.scores, weights, top, speech_s, sha256),
            "consistency": round(float(weights[window_top == top].sum() / weights.sum()), 4),
            "timeline": [
                Window(
                    w.start,
                    w.end,
                    round(w.speech_s, 3),
                    labels[int(window_top[i])],
                    {label: round(float(p), 6) for label, p in zip(labels, per_window[i], strict=True)},
                )
                for i, w in enumerate(scored.windows)
            ],  # fmt: skip
            "open_set": open_set,
        }

    def _interval(self, scores: np.ndarray, weights: np.ndarray, top: int, speech_s: float, sha256: str) -> dict:
        """Percentile interval of the top label's probability when the windows are resampled."""
        cfg = self.config.decision
        rng = np.random.default_rng(int(sha256[:16], 16))  # the same file gives the same interval
        draws = rng.integers(0, len(weights), size=(cfg.bootstrap, len(weights)))
        means = np.stack([_weighted_mean(scores[d], weights[d]) for d in draws])
        tops = np.exp(self.bundle.calibrator.transform(means, np.full(len(means), speech_s)))[:, top]
        tail = (1 - cfg.interval) / 2 * 100
        low, high = np.percentile(tops, [tail, 100 - tail])
        return {"low": round(float(low), 6), "high": round(float(high), 6), "level": cfg.interval}

    def _base(self, recording, quality, speech_s: float) -> dict[str, Any]:
        from dialectid import __version__

        facts = recording.facts
        return {
            "registration_number": registration_number(self.config.registration, facts.sha256),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "audio": {
                "sha256": facts.sha256,
                "container": facts.container,
                "codec": facts.codec,
                "sample_rate": facts.sample_rate,
                "channels": facts.channels,
                "duration_s": round(facts.duration_s, 3),
            },  # fmt: skip
            "quality": {
                "status": quality.status,
                "flags": list(quality.flags),
                "reasons": list(quality.reasons),
                "checks": [
                    {"name": c.name, "value": c.value, "unit": c.unit, "status": c.status} for c in quality.checks
                ],
            },  # fmt: skip
            "speech_s": round(speech_s, 3),
            "model": {"id": self.bundle.model_id, "name": self.bundle.model.name, "bundle_sha256": self.bundle.sha256},
            "toolkit_version": __version__,
        }


def registration_number(template: str, sha256: str) -> str:
    """Fill the template: {date} YYYYMMDD, {time} HHMMSS (UTC), {random} 8 hex digits, {sha8}."""
    now = datetime.now(UTC)
    return template.format(date=now.strftime("%Y%m%d"), time=now.strftime("%H%M%S"),
                           random=secrets.token_hex(4).upper(), sha8=sha256[:8])  # fmt: skip


def _no_result() -> dict[str, Any]:
    return {"probabilities": [], "family_probabilities": [], "node_probabilities": [], "top_label": None,
            "top_probability": None, "uncertainty": None, "consistency": None, "timeline": [], "open_set": None}  # fmt: skip


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return (values * weights[:, None]).sum(axis=0) / weights.sum()


def _sorted(probabilities: dict[str, float]) -> list[LabelProbability]:
    ordered = sorted(probabilities.items(), key=lambda item: (-item[1], item[0]))
    return [LabelProbability(label, round(float(p), 6)) for label, p in ordered]
