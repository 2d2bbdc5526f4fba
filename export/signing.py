"""Signing bundles (the writing half): private keys and ``manifest.json.sig``.

Format, trusted keys and verification: :mod:`scoligait_edge.bundle.signing`
(torch-free, what the runtime uses); its names are re-exported here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey  # noqa: F401

from scoligait_edge.bundle.signing import (  # noqa: F401 - re-exported for compatibility
    DOMAIN,
    MAX_SIGNATURE_BYTES,
    SIGNATURE_FORMAT,
    SIGNATURE_NAME,
    SIGNATURE_VERSION,
    TRUSTED_KEYS_ENV,
    KeySource,
    SignatureCheck,
    Status,
    check_signature,
    key_id,
    load_public_key,
    package_keys_dir,
    public_key_pem,
    trusted_public_keys,
)
from scoligait_edge.errors import BundleError, BundleSignatureError

log = logging.getLogger(__name__)


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in a PEM file (PKCS#8, unencrypted). Warns when others can read the file."""
    p = Path(path)
    try:
        data = p.read_bytes()
        mode = p.stat().st_mode
    except OSError as exc:
        raise BundleSignatureError(f"cannot read the signing key {p}: {exc}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("signing key %s is readable by other users (mode %o); chmod 600 it", p, mode & 0o777)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise BundleSignatureError(f"{p} is not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleSignatureError(f"{p} is a {type(key).__name__}, not an Ed25519 private key")
    return key


def generate_keypair(private_path: str | Path, public_path: str | Path | None = None) -> tuple[Path, Path]:
    """Write a new Ed25519 private key (mode 600, refuses to overwrite) and its public key (``.pub``)."""
    priv = Path(private_path)
    pub = Path(public_path) if public_path is not None else priv.with_suffix(".pub")
    if priv.exists():
        raise BundleSignatureError(f"{priv} exists; refusing to overwrite a signing key")
    key = Ed25519PrivateKey.generate()
    priv.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(priv, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub.parent.mkdir(parents=True, exist_ok=True)
    pub.write_bytes(public_key_pem(key.public_key()))
    return priv, pub


def sign_manifest(manifest_bytes: bytes, private_key: Ed25519PrivateKey) -> bytes:
    """The ``manifest.json.sig`` file content for these exact manifest bytes."""
    sig = private_key.sign(DOMAIN + manifest_bytes)
    doc = {
        "format": SIGNATURE_FORMAT,
        "version": SIGNATURE_VERSION,
        "algorithm": "ed25519",
        "key_id": key_id(private_key.public_key()),
        "signed_file": "manifest.json",
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "signature": base64.b64encode(sig).decode("ascii"),
    }
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def signing_key_of(key: Ed25519PrivateKey | str | Path | None) -> Ed25519PrivateKey | None:
    """Accept a key object or a PEM path (None passes through)."""
    if key is None or isinstance(key, Ed25519PrivateKey):
        return key
    if isinstance(key, (str, Path)):
        return load_private_key(key)
    raise BundleError(
        f"signing_key must be an Ed25519 private key or the path of its PEM file, got {type(key).__name__}"
    )
