"""The deployment's Ed25519 key pair: made once under the data folder, the private half never leaves it.

``data_dir/kejaksaan_export/signing.key`` (PKCS#8 PEM, mode 0600) and
``signing.pub`` (SubjectPublicKeyInfo PEM), which the deployment publishes
(``GET /api/kejaksaan_export/public-key``) and the prosecutor keeps to check
batches offline. File work only: call from a thread.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_DIR = "kejaksaan_export"


class BadKey(ValueError):
    """A key file that is not an Ed25519 key."""


def key_paths(data_dir: Path) -> tuple[Path, Path]:
    folder = data_dir / KEY_DIR
    return folder / "signing.key", folder / "signing.pub"


def load_or_create(data_dir: Path) -> Ed25519PrivateKey:
    """The private key, made on first use; two processes racing make one key."""
    private, public = key_paths(data_dir)
    if not private.exists():
        private.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        try:
            fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
                f.flush()
                os.fsync(f.fileno())
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise BadKey(f"{private}: not an Ed25519 private key")
    pub_pem = public_pem(key.public_key())
    if not public.exists() or public.read_bytes() != pub_pem:
        tmp = public.with_suffix(".tmp")
        tmp.write_bytes(pub_pem)
        os.replace(tmp, public)
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, hex: what the manifest names its signer by."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadKey(f"{path}: cannot read the public key: {exc.strerror}") from None
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise BadKey(f"{path}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BadKey(f"{path}: not an Ed25519 public key")
    return key


def valid(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
