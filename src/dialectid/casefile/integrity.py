"""What lets `dialectid audit verify` see changes made by someone who can write the database, even
one who drops its append-only triggers first.

* **The analyses are in the chain.** The audit event that records an analysis ("analysed") carries
  the sha256 of the analysis's canonical JSON (`dialectid.keys.digest`) and the facts of the model
  that made it. A stored analysis that no longer matches its event, whose columns disagree with
  its JSON, or that has no event at all, is reported, by `audit verify` and wherever it is shown.
* **The chain's head is signed, outside the database.** After every transaction that appended to
  the chain, its new head (the last event's id and hash) is signed with the store's Ed25519 key
  and written to `audit-head.json` in the data home (0600, replaced atomically, only ever forward).
  A chain that ends before the signed head was truncated; one whose event at the head's id has
  another hash was rewritten, however carefully every later hash was recomputed.
* **Anchors kept elsewhere.** A copy of the head file (`dialectid audit anchor --export`), or any
  signed report (its signature carries the chain's head when it was signed), proves later that
  the chain still passes through that event unchanged: `audit verify --anchor FILE`.

What none of this can stop: whoever holds the data home's private key can sign a head for a
rewritten chain. Only anchors kept where that person cannot reach them show it, and only for the
events up to the anchor.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dialectid.errors import DialectidError
from dialectid.keys import VerificationError, digest, sign_statement, verify_statement
from dialectid.paths import atomic_write
from dialectid.report.context import ModelFacts, ReportContext
from dialectid.report.signing import binding_problem, verify_pdf

HEAD_FILE = "audit-head.json"
_HEAD_LOCK = "audit-head.lock"
_KIND = "dialectid audit head"


@dataclass(frozen=True)
class Head:
    """A signed statement that the audit chain's event `event` had hash `hash`."""

    event: int
    hash: str
    signed_at: str
    key_id: str
    source: str  # how messages name it: "the signed head", "the anchor anchor.json"


@dataclass
class Walk:
    """What one pass over the chain found."""

    events: int = 0
    hashes: dict[int, str] = field(default_factory=dict)  # event id -> hash
    last: int = 0  # the last event's id; 0: none
    problem: str | None = None
    analysed: dict[str, dict[str, Any]] = field(default_factory=dict)  # registration number -> its event's details
    attached: dict[str, str | None] = field(default_factory=dict)  # registration number -> report sha256


@dataclass(frozen=True)
class AuditVerdict:
    """What `CaseStore.check_audit` found."""

    events: int
    problem: str | None  # the first problem found; None: intact
    head: Head | None = None  # the head signed into the data home that the chain was checked against
    anchors: list[Head] = field(default_factory=list)  # the anchors it was checked against
    analyses: int = 0  # analyses that match the digest recorded when they were stored
    undigested: int = 0  # analyses stored before digests were recorded: only their columns were checked


# ---- the signed head ------------------------------------------------------------------------------
def sign_head(event: int, event_hash: str, key: Ed25519PrivateKey) -> dict[str, Any]:
    meta = {"kind": _KIND, "event": event, "hash": event_hash,
            "signed_at": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip
    return sign_statement(meta, key)


def head_from(block: Any, public: Ed25519PublicKey, name: str, source: str) -> Head:
    """The head a `sign_head` block vouches for, once its signature is checked with `public`."""
    meta = verify_statement(block, public, name)
    if meta.get("kind") != _KIND or type(meta.get("event")) is not int or not isinstance(meta.get("hash"), str):
        raise VerificationError(f"{name}: not a signed head of a dialectid audit chain")
    return Head(meta["event"], meta["hash"], str(meta.get("signed_at")), meta["key_id"], source)


def read_head(path: Path, public: Ed25519PublicKey) -> Head | None:
    """The head signed into the data home's head file; None if there is none yet."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return head_from(_json(path, data), public, str(path), "the signed head")


def read_anchor(path: Path, public: Ed25519PublicKey) -> Head:
    """An anchor: an exported head file, or a signed report (which carries the chain's head at the
    time it was signed). A bad signature is a VerificationError; a file that cannot be read is a
    DialectidError (the user named the wrong file)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DialectidError(f"{path}: cannot be read ({error.strerror})") from None
    if not data.startswith(b"%PDF"):
        return head_from(_json(path, data), public, str(path), f"the anchor {path.name}")
    info = verify_pdf(data, public, str(path))
    head = info.audit_head or {}
    if type(head.get("event")) is not int or not isinstance(head.get("hash"), str):
        raise VerificationError(f"{path}: report {info.registration_number} was signed before reports carried the "
                                "audit chain's head; it cannot anchor the chain")  # fmt: skip
    return Head(head["event"], head["hash"], info.signed_at, info.key_id,
                f"the anchor {path.name} (report {info.registration_number})")  # fmt: skip


def _json(path: Path, data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        raise VerificationError(f"{path}: damaged (not JSON); it is no signed head") from None


def advance_head(path: Path, key: Ed25519PrivateKey, event: int, event_hash: str,
                 hash_at: Callable[[int], str | None]) -> None:  # fmt: skip
    """Sign `event` into the head file, unless the file already vouches for a later event, or for
    one the chain no longer holds unchanged (`hash_at(id)` is the chain's hash there): then the
    file is the evidence `audit verify` reports, and stays. A head file that is damaged or signed
    with another key stays for the same reason. Processes take turns through a lock file."""
    with _locked(path.with_name(_HEAD_LOCK)):
        try:
            current = read_head(path, key.public_key())
        except VerificationError:
            return
        if current is not None and (current.event >= event or hash_at(current.event) != current.hash):
            return
        block = sign_head(event, event_hash, key)
        atomic_write(path, lambda stream: stream.write(json.dumps(block, sort_keys=True).encode() + b"\n"))


@contextlib.contextmanager
def _locked(lock: Path) -> Iterator[None]:
    descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


# ---- walking the chain ------------------------------------------------------------------------------
def walk(events: Iterable[Any], event_hash: Callable[[dict[str, Any]], str], genesis: str) -> Walk:
    """Recompute every link from `genesis`; stop at the first broken one. Collects what the
    analyses and reports are checked against."""
    found, previous = Walk(), genesis
    for item in events:
        found.events += 1
        fields = {"at": item.at, "actor": item.actor, "action": item.action, "case_reference": item.case_reference,
                  "details": item.details, "previous_hash": item.previous_hash}  # fmt: skip
        if item.previous_hash != previous:
            found.problem = f"event {item.id} ({item.action}) does not follow the event before it"
            return found
        if event_hash(fields) != item.hash:
            found.problem = f"event {item.id} ({item.action}) was changed after it was written"
            return found
        found.hashes[item.id], found.last, previous = item.hash, item.id, item.hash
        details = item.details if isinstance(item.details, dict) else {}
        number = details.get("registration_number")
        if not isinstance(number, str):
            continue  # an event that names no analysis vouches for none
        if item.action == "analysed":
            found.analysed.setdefault(number, details)
        elif item.action == "report attached":
            found.attached.setdefault(number, details.get("report_sha256"))
    return found


def head_problem(found: Walk, head: Head) -> str | None:
    """Why the walked chain does not pass through `head` unchanged (None: it does)."""
    vouched = f"{head.source} (signed {head.signed_at}, key {head.key_id})"
    if head.event > found.last:
        return (f"the chain ends at event {found.last}, but {vouched} vouches for event {head.event}: events were "
                f"removed (truncated beyond {head.source})")  # fmt: skip
    if head.event not in found.hashes:
        return f"event {head.event}, which {vouched} vouches for, is missing: events were removed"
    if found.hashes[head.event] != head.hash:
        return (f"event {head.event} is not the one {vouched} vouches for: events up to it were rewritten or "
                "removed, and the chain recomputed or continued after them")  # fmt: skip
    return None


# ---- analyses and reports ---------------------------------------------------------------------------
def analysis_problem(row: Any, recording_sha256: str, record: dict[str, Any] | None) -> str | None:
    """Why the stored analysis `row` (of the recording with `recording_sha256`) is not the one its
    audit event `record` recorded; None if it is (or, for an analysis stored before digests were
    recorded, if at least its columns agree with its JSON)."""
    number = row.registration_number
    if record is None:
        return f"analysis {number} has no audit event: dialectid never stored it"
    data = row.data if isinstance(row.data, dict) else {}
    recorded = record.get("analysis_sha256")
    if recorded is not None and digest(row.data) != recorded:
        return f"analysis {number} was changed after it was stored: it does not match the digest in its audit event"
    model, audio = data.get("model"), data.get("audio")
    model, audio = (model if isinstance(model, dict) else {}), (audio if isinstance(audio, dict) else {})
    said = {"registration number": (number, data.get("registration_number")),
            "status": (row.status, data.get("status")), "top label": (row.top_label, data.get("top_label")),
            "model": (row.model_id, model.get("id")), "bundle": (row.bundle_sha256, model.get("bundle_sha256")),
            "recording": (recording_sha256, audio.get("sha256")),
            "recording of its audit event": (recording_sha256, record.get("sha256", recording_sha256))}  # fmt: skip
    for name, (column, recorded_value) in said.items():
        if column != recorded_value:
            return f"analysis {number}: its {name} ({column!r}) is not what was stored ({recorded_value!r}); the row was changed"
    return None


def analysis_gone(number: str) -> str:
    """What is wrong where an audit event recorded analysis `number` and its row is missing."""
    return f"analysis {number} is recorded in the audit log, but its row was deleted from the case file"


def report_gone(number: str) -> str:
    """What is wrong where an audit event recorded the report of analysis `number` and it is missing."""
    return (f"analysis {number}: its signed report, recorded in the audit log as attached, was deleted from the "
            "case file")  # fmt: skip


@dataclass(frozen=True)
class Integrity:
    """Whether a shown analysis is the one that was stored (its figures are withheld if not)."""

    valid: bool
    message: str


def integrity_status(record: dict[str, Any] | None, problem: str | None) -> Integrity:
    """How a shown analysis says whether it is what was stored."""
    if problem is not None:
        return Integrity(False, f"NOT VALID: {problem}")
    if record is not None and record.get("analysis_sha256") is None:
        return Integrity(True, "stored before analyses were digested: only its columns were checked")
    return Integrity(True, "matches the digest recorded when it was stored")


# ---- a report's signature over what the case file holds for it ---------------------------------------
@dataclass(frozen=True)
class ReportParts:
    """What it takes to show a stored report again: the signed PDF, and what its HTML rendering
    is built from (the analysis, the case context and the model facts stored with it)."""

    registration_number: str
    pdf: bytes
    analysis: dict[str, Any]
    pseudonym: str
    recorded_at: str
    model_facts: dict[str, Any] | None
    integrity: str | None = None  # why the stored analysis is not the one its audit event recorded


@dataclass(frozen=True)
class ReportSignature:
    """Whether a stored report's signature vouches for what the case file holds for it."""

    valid: bool
    message: str
    signed_at: str | None = None
    key_id: str | None = None


@dataclass(frozen=True)
class CheckedReport:
    """A stored report, the context it is shown with, and what its signature vouches for: shown
    (HTML, JSON) only where `signature.valid`."""

    parts: ReportParts
    context: ReportContext
    signature: ReportSignature


def check_report(reference: str, parts: ReportParts, public: Ed25519PublicKey) -> CheckedReport:
    """Whether the signature of a stored report of case `reference` vouches for what the case file
    holds for it: the stored analysis, the case details, the model facts. One check for the web
    view and `audit verify`, so that the two cannot disagree."""
    number, stored = parts.registration_number, parts.model_facts is not None
    try:
        facts = facts_without_bundle(parts.analysis) if parts.model_facts is None else ModelFacts(**parts.model_facts)
    except TypeError:
        facts, stored = facts_without_bundle(parts.analysis), True  # unknown fields: cannot match the signature
    context = ReportContext(reference, parts.pseudonym, parts.recorded_at, facts)
    try:
        info = verify_pdf(parts.pdf, public, f"report {number}")
    except VerificationError as error:
        return CheckedReport(parts, context, _not_valid(error.message))
    problem = parts.integrity or binding_problem(info, parts.analysis, context, model_stored=stored)
    if problem:
        return CheckedReport(parts, context, _not_valid(f"report {number}: {problem}"))
    unbound = "" if info.analysis_sha256 else (" (signed before reports bound what they show: the view below is "
                                               "rebuilt from the case file; the PDF is the signed report)")  # fmt: skip
    signature = ReportSignature(True, f"valid: signed {info.signed_at} with key {info.key_id}{unbound}",
                                info.signed_at, info.key_id)  # fmt: skip
    return CheckedReport(parts, context, signature)


def facts_without_bundle(analysis: dict[str, Any]) -> ModelFacts:
    """Reports attached before the model facts were stored with them: what the analysis itself says."""
    model = analysis["model"]
    return ModelFacts(name=model.get("id", ""), model=model.get("name", ""), version=analysis.get("toolkit_version", ""),
                      bundle_sha256=model.get("bundle_sha256", ""), test_accuracy=None, test_cavg=None,
                      test_cllr=None, test_clips=None, unseen_speakers=None,
                      limitations=["The model's test figures were not stored with this report; the PDF has them."])  # fmt: skip


def _not_valid(problem: str) -> ReportSignature:
    return ReportSignature(False, f"NOT VALID: {problem}")
