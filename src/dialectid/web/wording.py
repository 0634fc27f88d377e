"""What the case page says of one stored analysis, in words: the status first, then the language
by name where the status gives one, and the feedback question about that same result, so that
nobody is asked to judge a "top label" the analysis itself does not stand behind.

>>> w = result_wording({"status": "out_of_set", "top_label": "es", "top_probability": 0.19})
>>> w["result"], w["closest"]
('another language (out of set)', 'Spanish 19.0 %')
>>> result_wording({"status": "ok", "top_label": "hy", "top_probability": 0.7})["question"]
'Is the language Armenian, as the analysis says?'
"""

from __future__ import annotations

from typing import Any

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


def result_wording(analysis: dict[str, Any]) -> dict[str, str | None]:
    """meaning (of the status), result (what feedback agrees or disagrees with), closest (the known
    language nearest to a status that is not a result), question (the feedback form's)."""
    status, top = analysis.get("status"), analysis.get("top_label")
    name = label_name(top) if top else None
    probability = analysis.get("top_probability")
    closest = f"{name} {100 * probability:.1f} %" if name and probability is not None and status != "ok" else None
    if status == "ok":
        return {"meaning": MEANING["ok"], "result": name, "closest": None,
                "question": f"Is the language {name}, as the analysis says?"}  # fmt: skip
    return {"meaning": MEANING.get(status, "the analysis cannot be shown"), "result": RESULTS.get(status, status),
            "closest": closest, "question": QUESTIONS.get(status)}  # fmt: skip


def list_result(result: dict[str, Any] | None) -> str:
    """What the case list says of a recording's latest analysis (`CaseStore.latest_results`).

    >>> list_result({"status": "ok", "top_label": "es", "top_probability": 0.912}), list_result(None)
    ('Spanish 91.2 %', 'not analysed yet')
    """
    if result is None:
        return "not analysed yet"
    if result["status"] == "not_valid":
        return "NOT VALID: changed after it was stored"
    if result["status"] == "ok" and result.get("top_label"):
        probability = result.get("top_probability")
        return label_name(result["top_label"]) + ("" if probability is None else f" {100 * probability:.1f} %")
    return RESULTS.get(result["status"], result["status"])
