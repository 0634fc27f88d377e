"""The report's numbers in words for a caseworker: what the status means under the model's own
rules, what the probabilities and the interval say, and how often the model was right on test
speakers it never heard, overall and for as much speech as this recording has.

>>> wilson(189, 201)
(0.899, 0.966)
>>> speech_band("1-2s"), speech_band("<1s"), speech_band(">30s")
((1.0, 2.0), (0.0, 1.0), (30.0, inf))
"""

from __future__ import annotations

import math
import re
from typing import Any

from dialectid.names import label_name
from dialectid.report.context import ModelFacts
from dialectid.scoring.analysis import MEANING, Analysis

_BAND = re.compile(r"(?:<(?P<below>[\d.]+)|(?P<low>[\d.]+)-(?P<high>[\d.]+)|>(?P<above>[\d.]+))s")


def pct(value: float | None) -> str:
    return "not measured" if value is None else f"{100 * value:.1f} %"


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of a proportion k/n: honest on the few clips a band holds."""
    if n <= 0:
        return 0.0, 1.0
    p, z2 = k / n, z * z
    centre, half = (p + z2 / (2 * n)) / (1 + z2 / n), z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3)


def speech_band(name: str) -> tuple[float, float] | None:
    """The seconds of speech an evaluation band ("1-2s", "<1s", ">30s") covers, [low, high)."""
    match = _BAND.fullmatch(name)
    if not match:
        return None
    if match["below"]:
        return 0.0, float(match["below"])
    if match["above"]:
        return float(match["above"]), math.inf
    return float(match["low"]), float(match["high"])


def _seconds(value: float) -> str:
    return f"{value:g} s"


def status_lines(a: Analysis, model: ModelFacts) -> list[str]:
    """The status first, in words; for a status without a result, why, and what the figures below are not."""
    top = label_name(a.top_label) if a.top_label else None
    lines = [f"Status: {a.status} – {MEANING[a.status]}."]
    rules = model.rules or {}
    if a.status == "ok":
        rule = (f" The model gives a result when the most likely language has at least "
                f"{100 * rules['low_confidence']:g} % and there is at least {_seconds(rules['min_speech_s'])} of speech"
                if rules else "")  # fmt: skip
        lines.append(f"The most likely language is {top} with {pct(a.top_probability)}.{rule}"
                     + (": a result, not a certainty." if rule else ""))  # fmt: skip
    elif a.status == "low_confidence" and a.open_set and a.open_set.novelty > a.open_set.threshold:
        lines.append(f"Its novelty {a.open_set.novelty:.2f} is above the model's open-set threshold "
                     f"{a.open_set.threshold:.2f}, but {a.speech_s:.1f} s of speech is too little to tell a language "
                     f"the model does not know from one it knows. {top} is the closest known language; this is not "
                     "a result.")  # fmt: skip
    elif a.status == "low_confidence":
        threshold = f", below the model's threshold of {100 * rules['low_confidence']:g} %" if rules else ""
        lines.append(f"The closest of the known languages, {top}, has only {pct(a.top_probability)}{threshold}. "
                     "This is not a result: at most a weak hint.")  # fmt: skip
    elif a.status == "out_of_set":
        if a.open_set:
            lines.append(f"Its novelty {a.open_set.novelty:.2f} is above the model's open-set threshold "
                         f"{a.open_set.threshold:.2f}: the person may speak a language the model does not know.")  # fmt: skip
        lines.append("The probabilities below only compare the known languages with each other; they are not a "
                     "result.")  # fmt: skip
    elif a.status == "insufficient_speech":
        need = f"; the model needs at least {_seconds(rules['min_speech_s'])}" if rules else ""
        lines.append(f"No result can be given (only {a.speech_s:.1f} s of speech{need}).")
    else:
        lines.append(f"No result can be given ({'; '.join(a.quality.reasons) or 'the recording is unusable'}).")
    return lines


def reading_lines(a: Analysis) -> list[str]:
    """What the probabilities, the interval and the consistency mean for this recording."""
    if not a.probabilities or a.top_label is None:
        return []
    top = label_name(a.top_label)
    lines = ["Each probability is calibrated on held-out recordings: of many recordings given about 70 % for a "
             "language, about 70 in 100 were in that language. They add up to 100 % over the known languages."]  # fmt: skip
    if a.uncertainty:
        lines.append(f"Had other stretches of this recording been used, {top}'s probability would plausibly lie "
                     f"between {pct(a.uncertainty.low)} and {pct(a.uncertainty.high)} "
                     f"({int(100 * a.uncertainty.level)} % interval, resampling the speech windows).")  # fmt: skip
    if a.consistency is not None:
        lines.append(f"{pct(a.consistency)} of the speech lies in windows whose most likely language is {top} "
                     f"({len(a.timeline)} windows of speech).")  # fmt: skip
    return lines


def model_lines(model: ModelFacts) -> list[str]:
    """The model's test figures in words, with a 95 % interval on its accuracy."""
    lines = []
    who = {True: "speakers it never heard in training", False: "speakers some of whom it heard in training",
           None: "held-out recordings"}[model.unseen_speakers]  # fmt: skip
    answered = model.test_answered
    if answered is None and model.test_clips and model.test_coverage is not None:
        answered = round(model.test_coverage * model.test_clips)
    if model.test_clips and answered is not None and model.test_accuracy is not None:
        right = round(model.test_accuracy * answered)
        low, high = wilson(right, answered)
        lines.append(f"On {model.test_clips} test clips of {who}, it gave a result on {answered} "
                     f"({pct(answered / model.test_clips)}) and was right on {right} of them "
                     f"({pct(model.test_accuracy)}; 95 % interval {pct(low)} to {pct(high)}).")  # fmt: skip
    elif model.test_accuracy is not None:
        lines.append(f"Accuracy on {who}: {pct(model.test_accuracy)}.")
    if model.test_cavg is not None or model.test_cllr is not None:
        knew_nothing = f"; a model that knew nothing would score {math.log2(len(model.labels)):.2f} bits over its " \
                       f"{len(model.labels)} languages" if model.labels else ""  # fmt: skip
        lines.append(f"How far its probabilities can be trusted: Cavg {_num(model.test_cavg)} (the average cost of "
                     "missed and false detections: 0 is perfect, 0.5 no better than chance) and Cllr "
                     f"{_num(model.test_cllr)} bits (how much its probabilities mislead: 0 is perfect{knew_nothing}).")  # fmt: skip
    return lines


def speech_lines(model: ModelFacts, speech_s: float) -> list[str]:
    """How often the model was right on test clips with about as much speech as this recording,
    then every band: short speech is where it fails most."""
    if not model.by_speech:
        return []
    lines, bands = [], []
    for name, row in model.by_speech.items():
        band, n, answered, accuracy = (
            speech_band(name),
            row.get("n") or 0,
            row.get("n_answered") or 0,
            row.get("accuracy"),
        )
        shown = name.removesuffix("s").replace(">", "over ").replace("<", "under ") + " s"
        if not answered or accuracy is None:
            bands.append(f"{shown}: {n} clips, none answered")
        else:
            right = round(accuracy * answered)
            low, high = wilson(right, answered)
            bands.append(f"{shown}: right on {right} of {answered} answered ({pct(accuracy)}; 95 % interval "
                         f"{pct(low)} to {pct(high)}; {n} clips)")  # fmt: skip
            if band and band[0] <= speech_s < band[1]:
                lines.append(f"This recording has {speech_s:.1f} s of speech. With {shown} of speech, the model was "
                             f"right on {right} of the {answered} test clips it answered ({pct(accuracy)}; 95 % "
                             f"interval {pct(low)} to {pct(high)}).")  # fmt: skip
    lines.append("By amount of speech (test clips of unseen speakers): " + "; ".join(bands) + ".")
    return lines


def can_do_line(model: ModelFacts) -> str | None:
    """What the model can tell, by name."""
    if not model.labels:
        return None
    names = [label_name(label) for label in model.labels if label != "out_of_set"]
    return (f"The model tells apart these {len(names)} languages and no others: {', '.join(names)}. "
            "Speech in any other language gets one of these names or the status out_of_set.")  # fmt: skip


def _num(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.3f}"


def facts_summary(model: ModelFacts) -> dict[str, Any]:
    """The model rows of the report's table: identity only; the figures are in sentences."""
    return {"Model": f"{model.name} ({model.model})", "Toolkit version": model.version,
            "Bundle SHA-256": model.bundle_sha256}  # fmt: skip
