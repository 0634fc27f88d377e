"""Ed25519 signatures for PDF reports.

The signature travels inside the PDF as one comment line after the document's end:

    %DIALECTID-SIGNATURE {"meta": {...}, "sig": "<base64>"}

`meta` holds the sha256 of every byte before that line, the registration number, the model, the
signing time and the key id; the signature covers `meta`. PDF readers ignore the line; changing
any byte of the document or of the line makes verification fail.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dialectid.errors import DialectidError
from dialectid.paths import atomic_write

MARKER = b"\n%DIALECTID-SIGNATURE "
PRIVATE, PUBLIC = "report-signing.key", "report-signing.pub"


class VerificationError(DialectidError):
    """A report is unsigned, altered, or signed with an unknown key."""


@dataclass(frozen=True)
class SignatureInfo:
    registration_number: str
    signed_at: str
    model: str
    content_sha256: str
    key_id: str


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def signing_key(keys_dir: Path) -> Ed25519PrivateKey:
    """The store's signing key, created on first use (private key file mode 0600).

    Two processes may create it at once: each writes a complete key to a private temporary file
    and links it into place, which only one link can win; the other reads the winner's key."""
    private_path = keys_dir / PRIVATE
    if not private_path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
        descriptor, staged = tempfile.mkstemp(dir=keys_dir, prefix=".key-")  # created 0600
        try:
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(pem)
                stream.flush()
                os.fsync(stream.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(staged, private_path)
        finally:
            os.unlink(staged)
    key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    public_path = keys_dir / PUBLIC
    if not public_path.is_file() or public_path.read_bytes() != public:
        atomic_write(public_path, lambda stream: stream.write(public))
    return key  # type: ignore[return-value]


def trusted_key(keys_dir: Path | None = None, public_key_file: Path | None = None) -> Ed25519PublicKey:
    path = public_key_file or (keys_dir / PUBLIC if keys_dir else None)
    if path is None or not path.is_file():
        raise VerificationError(f"{path}: no public key to verify with; give --public-key or the store's home")
    try:
        return serialization.load_pem_public_key(path.read_bytes())  # type: ignore[return-value]
    except ValueError:
        raise VerificationError(f"{path}: not a PEM public key") from None


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


def _canonical(meta: dict) -> bytes:
    return json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
