"""What the case page says of one stored analysis, in words: the status first, then the language
by name where the status gives one, and the feedback question about that same result, so that
nobody is asked to judge a "top label" the analysis itself does not stand behind.

>>> from dialectid.casefile.summaries import LatestResult
>>> w = result_wording(LatestResult("out_of_set", "es", 0.19))
>>> w.result, w.closest
('another language (out of set)', 'Spanish 19.0 %')
>>> result_wording(LatestResult("ok", "hy", 0.7)).question
'Is the language Armenian, as the analysis says?'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dialectid.casefile.summaries import NOT_VALID
from dialectid.names import label_name
from dialectid.scoring.analysis import MEANING

QUALITY = {"ok": "no problems found", "warn": "usable, with warnings", "reject": "unfit for analysis"}
QUESTIONS = {
    "low_confidence": "The analysis names no clear language for this recording. Do you agree that it cannot tell?",
    "out_of_set": "The analysis says the speech fits none of the languages the model knows. Do you agree?",
    "insufficient_speech": "The analysis says there is too little speech for a result. Do you agree?",
    "rejected_audio": "The analysis says the recording is unfit for analysis. Do you agree?",
}
RESULTS = {"low_confidence": "no clear language", "out_of_set": "another language (out of set)",
           "insufficient_speech": "too little speech", "rejected_audio": "recording unfit"}  # fmt: skip


class Result(Protocol):
    """What the wording reads of an analysis: an `AnalysisSummary` or a `LatestResult`."""

    @property
    def status(self) -> str: ...
    @property
    def top_label(self) -> str | None: ...
    @property
    def top_probability(self) -> float | None: ...


@dataclass(frozen=True)
class Wording:
    meaning: str  # of the status
    result: str | None  # what feedback agrees or disagrees with
    closest: str | None  # the known language nearest to a status that is not a result
    question: str | None  # the feedback form's


def result_wording(analysis: Result) -> Wording:
    """How the case page words one analysis (`Wording`)."""
    status, top, probability = analysis.status, analysis.top_label, analysis.top_probability
    name = label_name(top) if top else None
    closest = f"{name} {100 * probability:.1f} %" if name and probability is not None and status != "ok" else None
    if status == "ok":
        return Wording(MEANING["ok"], name, None, f"Is the language {name}, as the analysis says?")
    meaning = MEANING.get(status, "the analysis cannot be shown")
    return Wording(meaning, RESULTS.get(status, status), closest, QUESTIONS.get(status))


def list_result(result: Result | None) -> str:
    """What the case list says of a recording's latest analysis (`CaseStore.latest_results`).

    >>> from dialectid.casefile.summaries import LatestResult
    >>> list_result(LatestResult("ok", "es", 0.912)), list_result(None)
    ('Spanish 91.2 %', 'not analysed yet')
    """
    if result is None:
        return "not analysed yet"
    if result.status == NOT_VALID:
        return "NOT VALID: changed after it was stored"
    if result.status == "ok" and result.top_label:
        probability = result.top_probability
        return label_name(result.top_label) + ("" if probability is None else f" {100 * probability:.1f} %")
    return RESULTS.get(result.status, result.status)


def recording_label(number: int) -> str:
    """What people read for the `number`-th recording of a case (from 1, in the order added): its
    hash is for machines. The original file name is not kept: names of files often carry the name
    of the person recorded, which the case file keeps in its identity table alone."""
    return f"Recording {number}"
