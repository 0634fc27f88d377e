"""The audit trail in sentences for people: "carla gave feedback on analysis DID-…: agrees with the
result". What the chain stores for machines (digests, keyed digests of free text, row numbers)
goes under details, in named rows, shown on demand. Recordings are named as the case page names
them ("Recording 2"), found from the case's own "recording added" events.

>>> e = AuditEntry(1, "2026-12-01T10:00:00", "carla", "viewed", "C-2026-0A1B2C", {"identity": False})
>>> describe(e, {}).sentence
'carla viewed the case.'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dialectid.casefile.summaries import AuditEntry
from dialectid.web.wording import RESULTS, recording_label

AGREES = {True: "agrees with the result", False: "disagrees with the result", None: "no opinion on the result"}
FORMATS = {"html": "as a web page", "json": "through the API", "pdf": "as PDF"}
STATUS_WORDS = {"ok": "a result", **RESULTS}
# Names for the details a person may ask for; a key not here is shown under its own name.
DETAIL_NAMES = {
    "registration_number": "Analysis", "sha256": "Recording's SHA-256", "analysis_sha256": "Digest of the analysis",
    "report_sha256": "SHA-256 of the signed PDF", "recording": "Recording's row in the case file",
    "feedback": "Feedback's row in the case file", "pseudonym": "Subject (pseudonym)",
    "comment_hmac": "Keyed digest of the comment (the text is kept with the case only)",
    "linguist_outcome_hmac": "Keyed digest of the linguist's outcome (the text is kept with the case only)",
    "recorded_by_hmac": "Keyed digest of 'recorded by' (the text is kept with the case only)",
    "path": "Page asked for", "requested": "Case asked for", "reason": "Why refused", "role": "Role",
    "attempts": "Attempts", "since": "First attempt", "found": "SHA-256 found", "status": "Status",
    "previous": "Previous status", "assignee": "Assigned to", "format": "Shown", "agrees": "Agreement",
}  # fmt: skip


@dataclass(frozen=True)
class Described:
    sentence: str  # what happened, in words
    details: list[tuple[str, str]]  # (name, value), for the <details> block


def recording_names(events: list[AuditEntry]) -> dict[str, str]:
    """sha256 -> "Recording N", in the order the case's recordings were added (as the case page)."""
    added = [e.details.get("sha256", "") for e in events if e.action == "recording added"]
    return {sha: recording_label(number) for number, sha in enumerate(dict.fromkeys(added), start=1)}


def describe(event: AuditEntry, recordings: dict[str, str]) -> Described:
    """What `event` says, for people: a sentence, and the details shown on demand."""
    details = event.details or {}
    recording = recordings.get(details.get("sha256", ""), "a recording")
    phrase = _PHRASES.get(event.action)
    what = phrase(details, recording) if phrase else f"recorded '{event.action}'"
    return Described(f"{event.actor} {what}.", _detail_rows(details))


def _detail_rows(details: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for key, value in sorted(details.items()):
        if value is None or key in ("identity", "model_facts"):
            continue  # nothing to say, or said by the sentence; the model facts are the report's
        shown = AGREES[value] if key == "agrees" else FORMATS.get(value, value) if key == "format" else value
        rows.append((DETAIL_NAMES.get(key, key.replace("_", " ")), str(shown)))
    return rows


def _analysed(details: dict[str, Any], recording: str) -> str:
    model = (details.get("model_facts") or {}).get("model")
    by = f" with model {model}" if model else ""
    status = STATUS_WORDS.get(details.get("status", ""), details.get("status"))
    return f"analysed {recording} (analysis {details.get('registration_number')}){by}: {status}"


def _feedback(details: dict[str, Any], _recording: str) -> str:
    said = [x for x, key in (("a comment", "comment_hmac"), ("a linguist's outcome", "linguist_outcome_hmac"))
            if details.get(key)]  # fmt: skip
    extra = f", with {' and '.join(said)}" if said else ""
    return f"gave feedback on analysis {details.get('registration_number')}: {AGREES[details.get('agrees')]}{extra}"


def _denied(details: dict[str, Any], _recording: str) -> str:
    reason = {"not assigned to this user": "a case not assigned to them", "no such case": "a case that does not exist"}
    what = reason.get(details.get("reason", ""), "a page their role may not open")
    attempts = details.get("attempts")
    return f"was refused access to {what}" + (f" ({attempts} times)" if attempts and attempts > 1 else "")


def _assigned(details: dict[str, Any], _recording: str) -> str:
    assignee = details.get("assignee")
    return f"assigned the case to {assignee}" if assignee else "left the case assigned to nobody"


def _viewed(details: dict[str, Any], _recording: str) -> str:
    return "viewed the case with the subject's identity" if details.get("identity") else "viewed the case"


_PHRASES: dict[str, Callable[[dict[str, Any], str], str]] = {
    "case created": lambda d, r: f"opened the case for subject {d.get('pseudonym')}",
    "case assigned": _assigned,
    "status changed": lambda d, r: f"changed the case's status from {d.get('previous')} to {d.get('status')}",
    "recording added": lambda d, r: f"added {r}",
    "recording played": lambda d, r: f"played {r}",
    "recording integrity failed": lambda d, r: f"was refused {r}: the stored file no longer matches its SHA-256",
    "analysed": _analysed,
    "report attached": lambda d, r: f"attached the signed report of analysis {d.get('registration_number')}",
    "report viewed": lambda d, r: (
        f"read the report of analysis {d.get('registration_number')} {FORMATS.get(d.get('format', ''), 'as PDF')}"
    ),
    "report exported": lambda d, r: f"exported the signed PDF of analysis {d.get('registration_number')}",
    "report downloaded": lambda d, r: f"downloaded the signed PDF of analysis {d.get('registration_number')}",
    "feedback given": _feedback,
    "viewed": _viewed,
    "audit trail viewed": lambda d, r: "read this audit trail",
    "access denied": _denied,
    "identity erased": lambda d, r: "erased the subject's identity",
    "free text erased": lambda d, r: "blanked the case's free text (who recorded, feedback comments)",
}
