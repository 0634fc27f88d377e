"""Ed25519 signatures for PDF reports, with the toolkit's key (`dialectid.keys`).

The signature travels inside the PDF as one comment line after the document's end:

    %DIALECTID-SIGNATURE {"meta": {...}, "sig": "<base64>"}

`meta` holds the sha256 of every byte before that line, the registration number, the model, the
signing time and the key id; the signature covers `meta`. PDF readers ignore the line; changing
any byte of the document or of the line makes verification fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dialectid.keys import VerificationError, _canonical, key_id, signing_key, trusted_key

__all__ = ["MARKER", "SignatureInfo", "VerificationError", "key_id", "sign_pdf", "signing_key", "trusted_key",
           "verify_pdf"]  # fmt: skip

MARKER = b"\n%DIALECTID-SIGNATURE "


@dataclass(frozen=True)
class SignatureInfo:
    registration_number: str
    signed_at: str
    model: str
    content_sha256: str
    key_id: str


def sign_pdf(pdf: bytes, registration_number: str, model: str, key: Ed25519PrivateKey) -> bytes:
    meta = {
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
                         meta["key_id"])  # fmt: skip
