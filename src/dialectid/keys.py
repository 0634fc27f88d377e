"""The toolkit's Ed25519 key: created once per data home, used to sign reports and, detached,
model bundles (`sign_statement`), and the public half that verifies them."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dialectid.errors import DialectidError
from dialectid.paths import atomic_write

PRIVATE, PUBLIC = "report-signing.key", "report-signing.pub"


class VerificationError(DialectidError):
    """A report or bundle is unsigned, altered, or signed with an unknown key."""


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def key_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """The bytes of the secret at `path`, made by `make()` on first use (mode 0600).

    Two processes may create it at once: each writes a complete secret to a private temporary
    file and links it into place, which only one link can win; the other reads the winner's."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, staged = tempfile.mkstemp(dir=path.parent, prefix=".key-")  # created 0600
        try:
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(make())
                stream.flush()
                os.fsync(stream.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(staged, path)
        finally:
            os.unlink(staged)
    return path.read_bytes()


def signing_key(keys_dir: Path) -> Ed25519PrivateKey:
    """The store's signing key, created on first use (private key file mode 0600; see `key_file`)."""
    pem = key_file(
        keys_dir / PRIVATE,
        lambda: Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    key = serialization.load_pem_private_key(pem, password=None)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    public_path = keys_dir / PUBLIC
    if not public_path.is_file() or public_path.read_bytes() != public:
        atomic_write(public_path, lambda stream: stream.write(public))
    return key  # type: ignore[return-value]


def trusted_key(keys_dir: Path | None = None, public_key_file: Path | None = None) -> Ed25519PublicKey:
    path = public_key_file or (keys_dir / PUBLIC if keys_dir else None)
    if path is None or not path.is_file():
        raise VerificationError(f"cannot check: no key ({path} does not exist); give --public-key with the signing "
                                "case file's keys/report-signing.pub, or set DIALECTID_HOME to its data home")  # fmt: skip
    try:
        return serialization.load_pem_public_key(path.read_bytes())  # type: ignore[return-value]
    except ValueError:
        raise VerificationError(f"{path}: not a PEM public key") from None


def sign_statement(meta: dict, key: Ed25519PrivateKey) -> dict:
    """A detached signature: `meta` with the signer's key id added, and the Ed25519 signature over it
    (the same canonical form as a report's). Model bundles are signed this way."""
    meta = {**meta, "key_id": key_id(key.public_key())}
    return {"meta": meta, "sig": base64.b64encode(key.sign(_canonical(meta))).decode()}


def verify_statement(block: Any, public: Ed25519PublicKey, name: str) -> dict:
    """The meta of a `sign_statement` block if `public` signed it; a `VerificationError` naming
    `name` otherwise."""
    try:
        meta, signature = block["meta"], base64.b64decode(block["sig"], validate=True)
        if set(block) != {"meta", "sig"} or not isinstance(meta, dict):
            raise ValueError("unexpected fields")
    except (ValueError, KeyError, TypeError):
        raise VerificationError(f"{name}: the signature is damaged; sign it again") from None
    if meta.get("key_id") != key_id(public):
        raise VerificationError(f"{name}: signed with key {meta.get('key_id')}, not the trusted key {key_id(public)}")
    try:
        public.verify(signature, _canonical(meta))
    except InvalidSignature:
        raise VerificationError(f"{name}: the signature is invalid; the signed facts were altered") from None
    return meta


def _canonical(meta: dict) -> bytes:
    return json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()


def digest(value: Any) -> str:
    """The sha256 of `value`'s canonical JSON (sorted keys, no spaces): the same for a dict that went
    through a database's JSON column and came back.

    >>> digest({"b": [1.5, None], "a": "x"}) == digest({"a": "x", "b": [1.5, None]})
    True
    """
    return hashlib.sha256(_canonical(value)).hexdigest()
