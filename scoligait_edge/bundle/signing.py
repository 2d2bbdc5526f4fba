"""Bundle signatures (the verifying half): Ed25519 over ``manifest.json``, which holds every file's sha256 and size.

Signing (private keys, ``sign_manifest``) is in :mod:`scoligait_edge.export.signing`.

Why Ed25519 from ``cryptography`` and not OpenSSF ``model-signing``: model-signing
1.1 hard-requires ``sigstore>=4`` (and with it requests, TUF, rfc8785,
pyOpenSSL ...), ``blake3``, ``click``, ``in-toto-attestation`` and
``sigstore-models`` even for its offline private-key mode, and it signs a
directory with its own in-toto manifest, a second file list beside ours. For an
edge runtime (Jetson, kiosk PCs, offline screening rooms) that is a lot of code
to ship and keep patched for one signature check. ``cryptography`` is one
wheel, works fully offline, and Ed25519 keys and signatures are small (32 and
64 bytes) and deterministic. Our manifest already lists every file's sha256,
so signing its exact bytes covers the whole bundle.

Files:

* ``manifest.json.sig`` beside ``manifest.json`` (a separate file, so the
  manifest schema that other readers such as the Android core parse is
  unchanged)::

      {"format": "scoligait-bundle-signature", "version": 1, "algorithm": "ed25519",
       "key_id": "<sha256 of the raw 32-byte public key, hex>", "signed_file": "manifest.json",
       "manifest_sha256": "<hex>", "signature": "<base64 of 64 bytes>"}

  The signature covers ``b"scoligait-bundle-manifest-v1\\n" + <manifest bytes>``
  (the prefix keeps a signature over anything else from ever verifying here).
* private keys: PKCS#8 PEM, unencrypted, kept outside the repository (mode 600);
* public keys: SubjectPublicKeyInfo PEM files named ``*.pub``.

Trusted keys, in this order: the package's own keys
(``scoligait_edge/assets/keys/*.pub``, the demo bundle's), the folders or
files in the ``SCOLIGAIT_TRUSTED_KEYS`` environment variable (``os.pathsep``
separated), and whatever the caller passes as ``trusted_keys``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from scoligait_edge.errors import BundleSignatureError

log = logging.getLogger(__name__)

SIGNATURE_NAME = "manifest.json.sig"
SIGNATURE_FORMAT = "scoligait-bundle-signature"
SIGNATURE_VERSION = 1
MAX_SIGNATURE_BYTES = 16 * 1024
TRUSTED_KEYS_ENV = "SCOLIGAIT_TRUSTED_KEYS"
DOMAIN = b"scoligait-bundle-manifest-v1\n"
_DOMAIN = DOMAIN

KeySource = str | Path | bytes | Ed25519PublicKey
Status = Literal["verified", "unsigned", "unknown-key", "invalid"]


def package_keys_dir() -> Path:
    """``scoligait_edge/assets/keys``: public keys shipped with the package (trusted by default)."""
    from scoligait_edge import assets

    return Path(assets.__file__).parent / "keys"


# ----------------------------------------------------------------- keys
def key_id(public_key: Ed25519PublicKey) -> str:
    """sha256 (hex) of the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(source: KeySource) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file, PEM bytes or a key object."""
    if isinstance(source, Ed25519PublicKey):
        return source
    where = "public key bytes" if isinstance(source, bytes) else str(source)
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        key = serialization.load_pem_public_key(data)
    except (OSError, ValueError, TypeError) as exc:
        raise BundleSignatureError(f"cannot read the public key {where}: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise BundleSignatureError(f"{where} is a {type(key).__name__}, not an Ed25519 public key")
    return key


def _key_files(entry: Path) -> list[Path]:
    if entry.is_dir():
        return sorted(p for p in entry.glob("*.pub") if p.is_file())
    return [entry]


def trusted_public_keys(
    extra: Iterable[KeySource] | KeySource | None = None,
) -> dict[str, tuple[str, Ed25519PublicKey]]:
    """key id -> (a name for messages, key): the package's keys, ``$SCOLIGAIT_TRUSTED_KEYS``, then ``extra``."""
    out: dict[str, tuple[str, Ed25519PublicKey]] = {}

    def add(source: KeySource, name: str) -> None:
        key = load_public_key(source)
        out.setdefault(key_id(key), (name, key))

    pkg = package_keys_dir()
    if pkg.is_dir():
        for p in _key_files(pkg):
            add(p, f"package key {p.name}")
    for part in os.environ.get(TRUSTED_KEYS_ENV, "").split(os.pathsep):
        if part.strip():
            entry = Path(part.strip()).expanduser()
            if not entry.exists():
                log.warning("%s names %s, which does not exist", TRUSTED_KEYS_ENV, entry)
                continue
            for p in _key_files(entry):
                add(p, f"{TRUSTED_KEYS_ENV} key {p}")
    if extra is not None:
        items = [extra] if isinstance(extra, (str, Path, bytes, Ed25519PublicKey)) else list(extra)
        for i, item in enumerate(items):
            if isinstance(item, (str, Path)) and Path(item).is_dir():
                for p in _key_files(Path(item)):
                    add(p, f"trusted key {p}")
            else:
                add(item, f"trusted key {item}" if isinstance(item, (str, Path)) else f"trusted_keys[{i}]")
    return out


# ----------------------------------------------------------------- verify
@dataclass(frozen=True)
class SignatureCheck:
    """The outcome of checking a bundle's signature; ``status == "verified"`` is the only trusted one."""

    status: Status
    reason: str
    key_id: str | None = None
    key_name: str | None = None

    @property
    def verified(self) -> bool:
        return self.status == "verified"


def check_signature(
    manifest_bytes: bytes, signature_bytes: bytes | None, trusted: dict[str, tuple[str, Ed25519PublicKey]]
) -> SignatureCheck:
    """Check ``manifest.json.sig`` against the trusted keys. Never raises for a bad signature: returns why."""
    if signature_bytes is None:
        return SignatureCheck("unsigned", f"the bundle has no {SIGNATURE_NAME} (it is unsigned)")
    if len(signature_bytes) > MAX_SIGNATURE_BYTES:
        return SignatureCheck(
            "invalid",
            f"{SIGNATURE_NAME} is {len(signature_bytes)} bytes (limit {MAX_SIGNATURE_BYTES}); not a signature file",
        )
    try:
        doc = json.loads(signature_bytes)
        if not isinstance(doc, dict) or doc.get("format") != SIGNATURE_FORMAT:
            raise ValueError(f"not a {SIGNATURE_FORMAT} file")
        if doc.get("version") != SIGNATURE_VERSION or doc.get("algorithm") != "ed25519":
            raise ValueError(
                f"version {doc.get('version')!r} / algorithm {doc.get('algorithm')!r} is not "
                f"version {SIGNATURE_VERSION} / ed25519"
            )
        kid, sig = str(doc["key_id"]), base64.b64decode(str(doc["signature"]), validate=True)
    except (
        ValueError,
        KeyError,
        TypeError,
        RecursionError,
    ) as exc:  # JSONDecodeError and binascii.Error are ValueErrors
        return SignatureCheck("invalid", f"{SIGNATURE_NAME} is malformed ({exc})")
    if kid not in trusted:
        return SignatureCheck(
            "unknown-key",
            f"signed with key {kid[:16]}..., which is not a trusted key (trusted: "
            f"{', '.join(k[:16] + '...' for k in trusted) or 'none'}); add its "
            f"public key with trusted_keys= or ${TRUSTED_KEYS_ENV}",
            kid,
        )
    name, key = trusted[kid]
    try:
        key.verify(sig, _DOMAIN + manifest_bytes)
    except InvalidSignature:
        return SignatureCheck(
            "invalid",
            f"the signature by {name} ({kid[:16]}...) does not match manifest.json: "
            "the manifest was modified after signing",
            kid,
            name,
        )
    return SignatureCheck("verified", f"signed by {name} ({kid[:16]}...)", kid, name)
