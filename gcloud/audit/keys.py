"""The audit signing key: Ed25519, kept in a 0600 PEM file beside the state, made on first use.

`cryptography` is imported inside each function: `govcloud --help` and `validate` never load it.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gcloud.errors import EnvironmentProblem
from gcloud.localfs import display_path

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_HINT = "set GOVCLOUD_AUDIT_KEY to the audit key file, or pass --public-key with `govcloud audit key` output"


class AuditKeyProblem(EnvironmentProblem):
    """The audit key is missing, unreadable, too open, or not an Ed25519 key."""


@dataclass(frozen=True)
class PublicKey:
    """The public half: what an auditor needs to check the signatures, and a fingerprint to compare by phone."""

    pem: str
    fingerprint: str


def fingerprint(raw: bytes) -> str:
    """`SHA256:` and the unpadded base64 of the raw key's sha256, as OpenSSH prints fingerprints."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


def load_private(path: Path) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    where = display_path(path)
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except FileNotFoundError:
        raise AuditKeyProblem(f"no audit key at {where}", hint=KEY_HINT) from None
    except OSError as err:
        raise AuditKeyProblem(f"audit key {where} cannot be read ({err.strerror})", hint=KEY_HINT) from None
    if mode & 0o077:
        raise AuditKeyProblem(f"audit key {where} is open to other users (mode {mode & 0o777:o})",
                              hint=f"chmod 600 {where}")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise AuditKeyProblem(f"audit key {where} is not an unencrypted PEM private key", hint=KEY_HINT) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyProblem(f"audit key {where} is not an Ed25519 key", hint=KEY_HINT)
    return key


def load_or_create_private(path: Path) -> Ed25519PrivateKey:
    """The key at `path`, generated there (mode 0600, never world-readable, not even briefly) when missing.

    Call it under the log's lock: two first commands must not each make a key.
    """
    if not path.exists():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)  # fails if someone else made one meanwhile: theirs wins
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return load_private(path)


def public_of(key: Ed25519PrivateKey) -> PublicKey:
    from cryptography.hazmat.primitives import serialization

    public = key.public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PublicKey(pem.decode(), fingerprint(raw))


def load_public(pem: bytes, source: str) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise AuditKeyProblem(f"{source} is not a PEM public key", hint=KEY_HINT) from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyProblem(f"{source} is not an Ed25519 public key", hint=KEY_HINT)
    return key


def public_fingerprint(key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return fingerprint(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def sign(key: Ed25519PrivateKey, payload: bytes) -> str:
    return base64.b64encode(key.sign(payload)).decode()


def verifier(key: Ed25519PublicKey) -> Callable[[bytes, str], bool]:
    """A pure check `(payload, base64 signature) -> bool` for the chain walker."""
    from cryptography.exceptions import InvalidSignature

    def check(payload: bytes, signature: str) -> bool:
        try:
            key.verify(base64.b64decode(signature, validate=True), payload)
        except (InvalidSignature, ValueError):
            return False
        return True

    return check
