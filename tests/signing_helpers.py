"""One Ed25519 test signing key per process, trusted through $SCOLIGAIT_TRUSTED_KEYS.

The fixture bundles (tiny_bundle, screening_bundle) are signed with it, so
they load the way a user's signed bundle does; tests that tamper with a
manifest re-sign it with :func:`resign` when they mean to test a check that
comes after the signature.
"""

from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def fixture_signing_key() -> Path:
    """The private key's path; its public key is added to $SCOLIGAIT_TRUSTED_KEYS of this process (and children)."""
    from scoligait_edge.export.signing import TRUSTED_KEYS_ENV, generate_keypair

    folder = Path(tempfile.mkdtemp(prefix="scoligait-test-keys-"))
    priv, pub = generate_keypair(folder / "test_signing_key.pem", folder / "test_signing_key.pub")
    current = os.environ.get(TRUSTED_KEYS_ENV, "")
    os.environ[TRUSTED_KEYS_ENV] = os.pathsep.join(p for p in (current, str(pub)) if p)
    return priv


def resign(bundle_dir: Path) -> None:
    """Re-sign a folder bundle's manifest.json as it now is (what a key holder signing an edited manifest does)."""
    from scoligait_edge.export.bundle import MANIFEST_NAME
    from scoligait_edge.export.signing import SIGNATURE_NAME, load_private_key, sign_manifest

    raw = (bundle_dir / MANIFEST_NAME).read_bytes()
    (bundle_dir / SIGNATURE_NAME).write_bytes(sign_manifest(raw, load_private_key(fixture_signing_key())))
