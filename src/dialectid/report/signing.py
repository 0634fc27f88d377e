"""Ed25519 signatures for PDF reports, with the toolkit's key (`dialectid.keys`).

The signature travels inside the PDF as one comment line after the document's end:

    %DIALECTID-SIGNATURE {"meta": {...}, "sig": "<base64>"}

`meta` holds the sha256 of every byte before that line, the registration number, the model, the
signing time and the key id; the signature covers `meta`. PDF readers ignore the line; changing
any byte of the document or of the line makes verification fail.

`meta` also binds what the report was rendered from (`report_binding`): the digests of the
analysis, of the case details and of the model facts, so that a view rebuilt from the case file
(the web view's HTML and JSON) can be checked against the signed report (`binding_problem`); and
the audit chain's head when it was signed, so that every report handed out is also an anchor of
the chain (`dialectid audit verify --anchor report.pdf`). Reports signed before carry neither.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dialectid.keys import VerificationError, _canonical, digest, key_id, signing_key, trusted_key
from dialectid.report.context import FACTS_VERSION, ReportContext

__all__ = ["MARKER", "SignatureInfo", "VerificationError", "binding_problem", "key_id", "report_binding", "sign_pdf",
           "signing_key", "trusted_key", "verify_pdf"]  # fmt: skip

MARKER = b"\n%DIALECTID-SIGNATURE "


@dataclass(frozen=True)
class SignatureInfo:
    registration_number: str
    signed_at: str
    model: str
    content_sha256: str
    key_id: str
    # What the report was rendered from (`report_binding`), and the audit chain's head when it was
    # signed ({"event": id, "hash": ...}); None in reports signed before they were bound.
    analysis_sha256: str | None = None
    context_sha256: str | None = None
    model_sha256: str | None = None
    audit_head: dict[str, Any] | None = None
    facts_version: int | None = None  # of the model facts bound (context.FACTS_FIELDS); None: before versions


def report_binding(analysis: dict[str, Any], context: ReportContext,
                   facts_version: int | None = FACTS_VERSION) -> dict[str, Any]:  # fmt: skip
    """The digests a report's signature binds besides its bytes: of the analysis (its JSON form), of
    the case details and of the model facts it was rendered from, in the form of `facts_version`,
    which is bound too (None: as reports were signed before, without it)."""
    case = {"case_reference": context.case_reference, "subject_pseudonym": context.subject_pseudonym,
            "recorded_at": context.recorded_at}  # fmt: skip
    binding: dict[str, Any] = {
        "analysis_sha256": digest(analysis),
        "context_sha256": digest(case),
        "model_sha256": digest(context.model.digest_form(facts_version)),
    }
    if facts_version is not None:
        binding["facts_version"] = facts_version
    return binding


def binding_problem(info: SignatureInfo, analysis: dict[str, Any], context: ReportContext,
                    model_stored: bool = True) -> str | None:  # fmt: skip
    """Why a report rendered from `analysis` and `context` would not say what the signed report
    `info` says (None: it would, or the report predates bindings). `model_stored` False: the model
    facts in `context` are a stand-in (none were stored with the report), so they are not compared."""
    if info.analysis_sha256 is None:
        return None
    try:
        expected = report_binding(analysis, context, info.facts_version)
    except ValueError as err:  # signed by a newer toolkit
        return f"{err}; verify it with that toolkit or a newer one"
    if expected["analysis_sha256"] != info.analysis_sha256:
        return "the stored analysis is not the one the report was signed over; the case file was changed"
    if expected["context_sha256"] != info.context_sha256:
        return "the case details stored with the report are not the ones it was signed over; the case file was changed"
    if model_stored and expected["model_sha256"] != info.model_sha256:
        return "the model facts stored with the report are not the ones it was signed over; the case file was changed"
    return None


def sign_pdf(pdf: bytes, registration_number: str, model: str, key: Ed25519PrivateKey,
             binding: dict[str, Any] | None = None) -> bytes:  # fmt: skip
    """`pdf` with its signature line; `binding` (`report_binding`, and the chain's `audit_head`)
    is signed with it."""
    meta = {
        **(binding or {}),
        "content_sha256": hashlib.sha256(pdf).hexdigest(),
        "key_id": key_id(key.public_key()),
        "model": model,
        "registration_number": registration_number,
        "signed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    signature = base64.b64encode(key.sign(_canonical(meta))).decode()
    return pdf + MARKER + json.dumps({"meta": meta, "sig": signature}, sort_keys=True).encode() + b"\n"


def verify_pdf(data: bytes, public: Ed25519PublicKey, name: str = "report") -> SignatureInfo:
    at = data.rfind(MARKER)
    if at < 0:
        raise VerificationError(f"{name}: not signed by dialectid (no signature line)")
    document, line = data[:at], data[at + len(MARKER) :]
    try:
        if not line.endswith(b"\n") or b"\n" in line[:-1]:
            raise ValueError("extra bytes after the signature line")
        block = json.loads(line)
        meta, signature = block["meta"], base64.b64decode(block["sig"], validate=True)
        if set(block) != {"meta", "sig"}:
            raise ValueError("unexpected fields")
    except (ValueError, KeyError, TypeError):
        raise VerificationError(f"{name}: the signature line is damaged; the report was altered") from None
    if hashlib.sha256(document).hexdigest() != meta.get("content_sha256"):
        raise VerificationError(f"{name}: the content does not match its signed hash; the report was altered")
    if meta.get("key_id") != key_id(public):
        raise VerificationError(f"{name}: signed with key {meta.get('key_id')}, not the trusted key {key_id(public)}")
    try:
        public.verify(signature, _canonical(meta))
    except InvalidSignature:
        raise VerificationError(f"{name}: the signature is invalid; the report was altered") from None
    return SignatureInfo(meta["registration_number"], meta["signed_at"], meta["model"], meta["content_sha256"],
                         meta["key_id"], meta.get("analysis_sha256"), meta.get("context_sha256"),
                         meta.get("model_sha256"), meta.get("audit_head"), meta.get("facts_version"))  # fmt: skip
