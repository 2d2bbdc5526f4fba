"""Writing model bundles: :func:`write_bundle`, :func:`sign_bundle`, :func:`update_bundle`.

The bundle contract (manifest, limits, loading and verification) lives in the
torch-free :mod:`scoligait_edge.bundle`; its names are re-exported here so
``from scoligait_edge.export.bundle import load_bundle`` keeps working. Every
write hashes the files into ``manifest.json`` and, given a signing key, writes
``manifest.json.sig`` (:mod:`scoligait_edge.export.signing`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from scoligait_edge.bundle.load import (  # noqa: F401 - re-exported for compatibility
    Bundle,
    json_depth,
    load_bundle,
    parse_json_limited,
)
from scoligait_edge.bundle.manifest import (  # noqa: F401 - re-exported for compatibility
    BUNDLE_FORMAT,
    BUNDLE_SCHEMA_VERSION,
    DEFAULT_LABELS,
    DEFAULT_LIMITS,
    ENGINE_CACHE_DIR,
    FORMAT_FILES,
    MANIFEST_NAME,
    RESERVED_NAMES,
    SIMULATED_PROVENANCE,
    BundleLimits,
    BundleManifest,
    FeatureSchemaRef,
    FileEntry,
    Label,
    TextAssets,
    Threshold,
    check_member_name,
    sha256_file,
)
from scoligait_edge.bundle.signing import SIGNATURE_NAME, KeySource
from scoligait_edge.errors import BundleError, BundleSignatureError
from scoligait_edge.export.signing import Ed25519PrivateKey, sign_manifest, signing_key_of

log = logging.getLogger(__name__)

FileSource = str | Path | bytes


def _entry_of(src: FileSource) -> FileEntry:
    if isinstance(src, bytes):
        return FileEntry(sha256=hashlib.sha256(src).hexdigest(), size=len(src))
    p = Path(src)
    if not p.is_file():
        raise BundleError(f"cannot add {p} to a bundle: file not found")
    return FileEntry(sha256=sha256_file(p), size=p.stat().st_size)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _manifest_bytes(target: Path, files: Mapping[str, FileSource], manifest: BundleManifest) -> bytes:
    """``manifest.json`` with the sha256 and size of every file; reserved or unsafe member names are refused."""
    for name in files:
        check_member_name(name)
        if name in RESERVED_NAMES:
            raise BundleError(f"{name} is written by write_bundle; do not pass it in files")
    entries = {name: _entry_of(src) for name, src in sorted(files.items())}
    try:
        manifest = BundleManifest.model_validate({**manifest.model_dump(mode="json"), "files": entries})
    except ValidationError as exc:
        raise BundleError(f"cannot write bundle {target}: {exc}") from exc
    return (manifest.model_dump_json(indent=2) + "\n").encode("utf-8")


def _write_zip(target: Path, files: Mapping[str, FileSource], raw: bytes, sig: bytes | None) -> None:
    """Write the whole zip to a temporary file beside ``target``, then rename it, so a reader never sees half."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=target.name, suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp_name, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST_NAME, raw)
            if sig is not None:
                zf.writestr(SIGNATURE_NAME, sig)
            for name, src in sorted(files.items()):
                if isinstance(src, bytes):
                    zf.writestr(name, src)
                else:
                    zf.write(src, name)
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def _write_folder(target: Path, files: Mapping[str, FileSource], raw: bytes, sig: bytes | None) -> None:
    """Copy the files in, then replace the manifest (and signature) last, each atomically."""
    target.mkdir(parents=True, exist_ok=True)
    for name, src in files.items():
        dest = target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(src, bytes):
            dest.write_bytes(src)
        elif not (dest.exists() and os.path.samefile(src, dest)):
            shutil.copyfile(src, dest)
    if (target / SIGNATURE_NAME).exists():  # stale the moment the manifest changes
        (target / SIGNATURE_NAME).unlink()
    _write_atomic(target / MANIFEST_NAME, raw)
    if sig is not None:
        _write_atomic(target / SIGNATURE_NAME, sig)


def write_bundle(
    target: str | Path,
    files: Mapping[str, FileSource],
    manifest: BundleManifest,
    *,
    signing_key: Ed25519PrivateKey | str | Path | None = None,
) -> Path:
    """Write a bundle folder (or a ``.zip`` when ``target`` ends in .zip) holding ``files`` and ``manifest.json``.

    ``files`` maps the name inside the bundle to a source path or bytes. The
    sha256 and size of every file are computed here and replace
    ``manifest.files``. With ``signing_key`` (an Ed25519 private key or its PEM
    path) ``manifest.json.sig`` is written too; without one the bundle is
    unsigned (a stale signature is removed) and loads only with
    ``allow_unsigned=True`` until signed. An existing folder keeps files not
    named here (they become unlisted extras); an existing zip is replaced.
    Returns ``target``.
    """
    target = Path(target)
    key = signing_key_of(signing_key)
    raw = _manifest_bytes(target, files, manifest)
    sig = sign_manifest(raw, key) if key is not None else None
    if key is None:
        log.warning(
            "bundle %s written UNSIGNED (no signing key): it loads only with allow_unsigned=True until "
            "signed (python -m scoligait_edge.export --bundle %s --sign --signing-key KEY.pem)",
            target,
            target,
        )
    if target.suffix.lower() == ".zip":
        _write_zip(target, files, raw, sig)
    else:
        _write_folder(target, files, raw, sig)
    return target


def _load_for_rewrite(path: Path, key: Ed25519PrivateKey | None, trusted_keys: Any) -> Bundle:
    """Load a bundle that the exporter is about to rewrite (and re-sign): integrity checked, authenticity logged."""
    if trusted_keys is None:
        trusted: list[Any] = []
    elif isinstance(trusted_keys, (str, Path, bytes)) or not isinstance(trusted_keys, Iterable):
        trusted = [trusted_keys]
    else:
        trusted = list(trusted_keys)
    if key is not None:
        trusted.append(key.public_key())
    bundle = load_bundle(path, trusted_keys=trusted, allow_unsigned=True, mark_unverified=False)
    if not bundle.signature.verified:
        log.warning(
            "rewriting bundle %s, which is not signed by a trusted key (%s)%s",
            path,
            bundle.signature.reason,
            "; re-signing it vouches for its current contents" if key is not None else "",
        )
    if bundle.signature.status == "invalid" and key is not None:
        bundle.close()
        raise BundleSignatureError(
            f"{path}: {bundle.signature.reason}; refusing to re-sign a bundle whose signature "
            "does not match (if you edited manifest.json on purpose, delete "
            f"{SIGNATURE_NAME} and sign again; otherwise re-export it from its checkpoint)"
        )
    return bundle


def sign_bundle(
    path: str | Path,
    signing_key: Ed25519PrivateKey | str | Path,
    trusted_keys: Iterable[KeySource] | KeySource | None = None,
) -> Bundle:
    """Sign (or re-sign) an existing bundle's manifest after verifying every file's hash; returns it reloaded.

    The manifest bytes are kept as they are (only ``manifest.json.sig`` is
    written). A bundle whose present signature does not match is refused.
    """
    path = Path(path)
    key = signing_key_of(signing_key)
    assert key is not None
    with _load_for_rewrite(path, key, trusted_keys) as bundle:
        if bundle.is_zip:
            with zipfile.ZipFile(path) as zf:
                raw = zf.read(MANIFEST_NAME)
            files: dict[str, FileSource] = {n: bundle.read_bytes(n) for n in bundle.manifest.files}
        else:
            raw = (path / MANIFEST_NAME).read_bytes()
    sig = sign_manifest(raw, key)
    if path.is_dir():
        _write_atomic(path / SIGNATURE_NAME, sig)
    else:  # rewrite the zip with the same manifest bytes and the signature
        fd, tmp_name = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            with zipfile.ZipFile(tmp_name, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(MANIFEST_NAME, raw)
                zf.writestr(SIGNATURE_NAME, sig)
                for name, data in sorted(files.items()):
                    zf.writestr(name, data)  # type: ignore[arg-type]
            os.replace(tmp_name, path)
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
    return load_bundle(path, trusted_keys=[key.public_key()])


def update_bundle(
    path: str | Path,
    add: Mapping[str, FileSource] | None = None,
    *,
    formats: Mapping[str, str] | None = None,
    remove: Iterable[str] = (),
    signing_key: Ed25519PrivateKey | str | Path | None = None,
    trusted_keys: Iterable[KeySource] | KeySource | None = None,
    **changes: Any,
) -> Bundle:
    """Add (or replace) files in a bundle whose files verify, record them in ``formats``, re-hash, re-sign with
    ``signing_key`` (unsigned without one), and reload it.

    ``changes`` replace top-level manifest fields (e.g. ``threshold=Threshold(...)``).
    """
    path = Path(path)
    key = signing_key_of(signing_key)
    with _load_for_rewrite(path, key, trusted_keys) as bundle:
        removed = set(remove)
        files: dict[str, FileSource] = {n: bundle.read_bytes(n) for n in bundle.manifest.files if n not in removed}
        files.update(add or {})
        data = bundle.manifest.model_dump(mode="json")
        data["formats"] = {k: v for k, v in {**data["formats"], **dict(formats or {})}.items() if v not in removed}
        for k, value in changes.items():
            data[k] = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        data["files"] = {}
        try:
            manifest = BundleManifest.model_validate(data)
        except ValidationError as exc:
            raise BundleError(f"cannot update bundle {path}: {exc}") from exc
        write_bundle(path, files, manifest, signing_key=key)
    for name in removed:
        if path.is_dir() and (path / name).is_file():
            (path / name).unlink()
    trusted = [key.public_key()] if key is not None else None
    return load_bundle(path, trusted_keys=trusted, allow_unsigned=key is None, mark_unverified=False)
