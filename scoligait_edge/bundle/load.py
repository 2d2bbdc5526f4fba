"""Opening and verifying a bundle: :func:`load_bundle` and the loaded :class:`Bundle` (no torch).

What is checked, in order: the manifest's Ed25519 signature on its raw bytes
(:mod:`scoligait_edge.bundle.signing`), the JSON's size and depth, the manifest
schema and its ranges (:mod:`scoligait_edge.bundle.manifest`), the knowledge-map
feature schema, every listed size against :class:`BundleLimits`, then every
file's size and sha256 (zip members streamed with a cap, links and paths that
leave the bundle refused). The verified bytes are kept for the backends.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import stat
import tempfile
import weakref
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from scoligait_edge import __version__
from scoligait_edge.bundle.input_reference import InputReference
from scoligait_edge.bundle.manifest import (
    _CHUNK,
    BUNDLE_FORMAT,
    BUNDLE_SCHEMA_VERSION,
    DEFAULT_LIMITS,
    ENGINE_CACHE_DIR,
    MANIFEST_NAME,
    RESERVED_NAMES,
    BundleLimits,
    BundleManifest,
    FeatureSchemaRef,
    FileEntry,
    check_member_name,
)
from scoligait_edge.bundle.signing import (
    MAX_SIGNATURE_BYTES,
    SIGNATURE_NAME,
    TRUSTED_KEYS_ENV,
    KeySource,
    SignatureCheck,
    check_signature,
    trusted_public_keys,
)
from scoligait_edge.core.printable import printable, printable_tree
from scoligait_edge.errors import BundleError, BundleLimitError, BundleSignatureError

log = logging.getLogger(__name__)


# ----------------------------------------------------------------- the loaded bundle
class Bundle:
    """A verified bundle. ``root`` is a folder holding the listed files (a private temporary copy for zips).

    ``signature`` says whether (and by which key) the manifest's signature was
    verified; ``read_bytes`` gives the bytes that were verified at load time.
    """

    def __init__(
        self,
        source: Path,
        root: Path,
        manifest: BundleManifest,
        extra_files: tuple[str, ...],
        is_zip: bool,
        tmp: Path | None = None,
        *,
        signature: SignatureCheck | None = None,
        blobs: dict[str, bytes] | None = None,
    ) -> None:
        self.source, self.root, self.manifest = source, root, manifest
        self.extra_files, self.is_zip = extra_files, is_zip
        self.signature = signature or SignatureCheck("unsigned", "not checked")
        self._blobs: dict[str, bytes] = dict(blobs or {})
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(tmp), True) if tmp is not None else None

    def __repr__(self) -> str:
        return (
            f"Bundle({str(self.source)!r}, formats={sorted(self.manifest.formats)}, signature={self.signature.status})"
        )

    # files
    def path(self, name: str) -> Path:
        """Where a listed file is on disk. Prefer :meth:`read_bytes`: a path can be rewritten after loading."""
        if name not in self.manifest.files:
            raise BundleError(f"{name!r} is not listed in {self.source}/{MANIFEST_NAME}")
        return self.root / name

    def read_bytes(self, name: str) -> bytes:
        """The verified content of a listed file: the bytes hashed by :func:`load_bundle` when it kept them,
        else the file read once now and checked against its sha256 (refused if it changed since loading)."""
        path = self.path(name)
        blob = self._blobs.get(name)
        if blob is not None:
            return blob
        entry = self.manifest.files[name]
        try:
            with open(path, "rb") as f:
                data = f.read(entry.size + 1)
        except OSError as exc:
            raise BundleError(f"{self.source}: cannot read {name} ({exc})") from exc
        err = _mismatch(str(self.source), name, entry, len(data), hashlib.sha256(data).hexdigest())
        if err:
            raise BundleError(f"{err} (it changed after the bundle was loaded)")
        return data

    def format_bytes(self, fmt: str) -> bytes:
        """The verified bytes of one format's file (see :meth:`read_bytes`)."""
        return self.read_bytes(self.format_path(fmt).relative_to(self.root).as_posix())

    def has_format(self, fmt: str) -> bool:
        return fmt in self.manifest.formats

    def format_path(self, fmt: str) -> Path:
        """The file of one format (``onnx``, ``onnx-fp16``, ``ort``, ``checkpoint`` ...)."""
        if fmt not in self.manifest.formats:
            have = ", ".join(sorted(self.manifest.formats)) or "none"
            raise BundleError(
                f"bundle {self.source} has no {fmt!r} model (it has: {have}); add it with "
                f"`python -m scoligait_edge.export --bundle {self.source} --formats {fmt}`"
            )
        return self.path(self.manifest.formats[fmt])

    @property
    def checkpoint_stem(self) -> Path:
        """Path stem for :func:`scoligait_edge.research.models.load_checkpoint` (``<root>/model``)."""
        return self.format_path("checkpoint").with_suffix("")

    def input_reference(self) -> InputReference | None:
        """The training windows' input statistics (out-of-distribution check), or None for a bundle without them."""
        name = self.manifest.input_reference
        if name is None:
            return None
        data = parse_json_limited(self.read_bytes(name), str(self.source), name)
        try:
            return InputReference.model_validate(data)
        except ValidationError as exc:
            raise BundleError(f"{self.source}: {name} is malformed or out of range: {exc}") from exc

    # decision
    @property
    def threshold(self) -> float:
        return self.manifest.threshold.value

    def labels_of(self, prob: np.ndarray) -> np.ndarray:
        """0/1 screening labels (index into ``manifest.labels``) of probabilities at the bundle's threshold."""
        return (np.asarray(prob) >= self.threshold).astype(np.int64)

    def engine_cache_dir(self) -> Path:
        """Where device-built TensorRT engines are cached: ``<bundle>/engines`` or, for a zip, a user cache."""
        if not self.is_zip:
            return self.root / ENGINE_CACHE_DIR
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "scoligait_edge" / ENGINE_CACHE_DIR
        key = hashlib.sha256(json.dumps({k: v.sha256 for k, v in sorted(self.manifest.files.items())}).encode())
        return base / key.hexdigest()[:16]

    def close(self) -> None:
        self._blobs.clear()
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> Bundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ----------------------------------------------------------------- loading
def json_depth(raw: bytes) -> int:
    """Deepest nesting of ``[``/``{`` in a JSON text, without recursion (string contents are skipped)."""
    skeleton = re.sub(rb'"(?:[^"\\]|\\.)*"', b'""', raw)
    codes = np.frombuffer(skeleton, dtype=np.uint8)
    step = np.zeros(codes.shape, dtype=np.int64)
    step[(codes == ord("[")) | (codes == ord("{"))] = 1
    step[(codes == ord("]")) | (codes == ord("}"))] = -1
    return int(np.cumsum(step).max(initial=0))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a manifest may hold")


def _finite_float(text: str) -> float:
    value = float(text)
    if not np.isfinite(value):
        raise ValueError(f"{text} overflows to infinity")
    return value


def parse_json_limited(raw: bytes, where: str, what: str, limits: BundleLimits = DEFAULT_LIMITS) -> Any:
    """JSON with the size and depth limits applied first; NaN/Infinity and overflowing numbers refused."""
    if len(raw) > limits.manifest_bytes:
        raise BundleLimitError(
            f"{where}: {what} is {len(raw):,} bytes, over the {limits.manifest_bytes:,}-byte "
            "limit; refusing to parse it"
        )
    depth = json_depth(raw)
    if depth > limits.json_depth:
        raise BundleLimitError(
            f"{where}: {what} nests {depth} levels deep, over the limit of {limits.json_depth}; refusing to parse it"
        )
    try:
        return json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError as exc:  # not reachable after the depth check; kept so no traceback can leak
        raise BundleLimitError(f"{where}: {what} nests too deeply to parse") from exc
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise BundleError(f"{where}: {what} is not valid JSON ({exc})") from exc


def _parse_manifest(raw: bytes, where: str, limits: BundleLimits = DEFAULT_LIMITS) -> BundleManifest:
    data = parse_json_limited(raw, where, MANIFEST_NAME, limits)
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{where}: manifest.json is not a {BUNDLE_FORMAT} manifest")
    version = data.get("bundle_schema_version")
    if version != BUNDLE_SCHEMA_VERSION:
        raise BundleError(
            f"{where}: bundle schema version {version!r}, but this package (scoligait_edge "
            f"{__version__}) reads version {BUNDLE_SCHEMA_VERSION}; re-export the bundle with this "
            "version or install the package version that wrote it"
        )
    try:
        manifest = BundleManifest.model_validate(data)
    except ValidationError as exc:
        raise BundleError(
            f"{where}: manifest.json is malformed or out of range: {printable(exc, keep_newlines=True)}"
        ) from exc
    # the notice and the rest of the provenance are printed: no control characters reach a terminal
    manifest.provenance = printable_tree(manifest.provenance)
    return manifest


def _check_feature_schema(manifest: BundleManifest, where: str) -> None:
    have, want = manifest.feature_schema, FeatureSchemaRef.current()
    if have.hash != want.hash:
        raise BundleError(
            f"{where}: the model was built for knowledge-map schema {have.version} (hash {have.hash[:12]}), "
            f"but this package computes schema {want.version} (hash {want.hash[:12]}); its inputs would be "
            "misread. Re-export the model with this package version or install the version that built it"
        )


def _mismatch(where: str, name: str, entry: FileEntry, size: int, digest: str | None) -> BundleError | None:
    if size != entry.size:
        what = "truncated" if size < entry.size else "longer than listed"
        return BundleError(
            f"{where}: {name} is {what} ({size} bytes, manifest says {entry.size}); "
            "the bundle is damaged or was modified, re-download or re-export it"
        )
    if digest is not None and digest != entry.sha256:
        return BundleError(
            f"{where}: {name} does not match its sha256 in manifest.json "
            f"({digest[:12]}... != {entry.sha256[:12]}...); the file was modified or corrupted"
        )
    return None


def _check_sizes(manifest: BundleManifest, where: str, limits: BundleLimits) -> None:
    """Listed sizes against the limits, before any file is read or extracted."""
    total = 0
    for name, entry in manifest.files.items():
        if entry.size > limits.file_bytes:
            raise BundleLimitError(
                f"{where}: {name} is listed as {entry.size:,} bytes, over the "
                f"{limits.file_bytes:,}-byte per-file limit; refusing the bundle before reading it"
            )
        total += entry.size
    if total > limits.total_bytes:
        raise BundleLimitError(
            f"{where}: the listed files add up to {total:,} bytes, over the "
            f"{limits.total_bytes:,}-byte limit; refusing the bundle before reading it"
        )


def _authenticate(
    raw: bytes, sig: bytes | None, where: str, trusted_keys: Any, allow_unsigned: bool, warn: bool = True
) -> SignatureCheck:
    check = check_signature(raw, sig, trusted_public_keys(trusted_keys))
    if check.verified:
        log.info("bundle %s: manifest signature verified, %s", where, check.reason)
    elif allow_unsigned:
        log.log(
            logging.WARNING if warn else logging.INFO,
            "bundle %s is NOT authenticated (%s): loading it anyway because allow_unsigned=True; its "
            "provenance is marked UNVERIFIED",
            where,
            check.reason,
        )
    else:
        raise BundleSignatureError(
            f"{where}: refusing the bundle: {check.reason}. Sign it with `python -m scoligait_edge.export --bundle "
            f"{where} --sign --signing-key KEY.pem`, trust its key (trusted_keys=, ${TRUSTED_KEYS_ENV}), or "
            "load it unverified with allow_unsigned=True (CLI: --allow-unsigned-bundle)"
        )
    return check


def _mark_unverified(manifest: BundleManifest, check: SignatureCheck) -> None:
    prov = dict(manifest.provenance)
    notice = str(prov.get("notice") or prov.get("data") or "")
    prov["authenticity"] = f"UNVERIFIED ({check.status}): {check.reason}"
    prov["notice"] = f"UNVERIFIED bundle ({check.status}, loaded with allow_unsigned): {notice}"
    manifest.provenance = prov


def load_bundle(
    path: str | Path | Bundle,
    *,
    verify: bool = True,
    check_schema: bool = True,
    trusted_keys: Iterable[KeySource] | KeySource | None = None,
    allow_unsigned: bool = False,
    limits: BundleLimits | None = None,
    mark_unverified: bool = True,
) -> Bundle:
    """Open and verify a bundle folder or zip (a :class:`Bundle` passed in is returned as is).

    The manifest's signature must verify against a trusted key (the package's,
    ``$SCOLIGAIT_TRUSTED_KEYS``, ``trusted_keys``): otherwise
    :class:`~scoligait_edge.errors.BundleSignatureError`, unless
    ``allow_unsigned=True``, which logs a warning, records the reason in
    ``bundle.signature`` and (``mark_unverified``, the default) marks the loaded
    manifest's provenance notice UNVERIFIED. ``verify=False`` skips hashing the
    files (sizes and presence are still checked; nothing is kept in memory, so
    :meth:`Bundle.read_bytes` hashes on use); ``check_schema=False`` accepts a
    model built for another knowledge-map schema (for inspection only).
    ``limits`` replaces :data:`DEFAULT_LIMITS`. Raises :class:`BundleError` (or
    a subclass) naming the bad file.
    """
    if isinstance(path, Bundle):
        return path
    lim = limits or DEFAULT_LIMITS
    src = Path(path)
    opts = _LoadOptions(verify, check_schema, trusted_keys, allow_unsigned, lim, mark_unverified)
    if src.is_dir():
        return _load_dir(src, opts)
    if src.is_file():
        if not zipfile.is_zipfile(src):
            raise BundleError(f"{src} is neither a bundle folder nor a zip file")
        return _load_zip(src, opts)
    raise BundleError(f"bundle not found: {src}")


@dataclass(frozen=True)
class _LoadOptions:
    """How :func:`load_bundle` checks a bundle, the same for a folder and a zip."""

    verify: bool
    check_schema: bool
    trusted_keys: Any
    allow_unsigned: bool
    limits: BundleLimits
    mark: bool


def _verified_manifest(
    raw: bytes, sig: bytes | None, where: str, opts: _LoadOptions
) -> tuple[BundleManifest, SignatureCheck]:
    """The manifest, parsed only after its signature was checked, with its schema and declared sizes checked."""
    check = _authenticate(raw, sig, where, opts.trusted_keys, opts.allow_unsigned, warn=opts.mark)
    manifest = _parse_manifest(raw, where, opts.limits)
    if opts.check_schema:
        _check_feature_schema(manifest, where)
    _check_sizes(manifest, where, opts.limits)
    return manifest, check


def _report_unlisted(
    src: Path, manifest: BundleManifest, check: SignatureCheck, extra: tuple[str, ...], mark: bool
) -> None:
    """Log files the manifest does not list (they are never read) and mark an unverified manifest."""
    if extra:
        log.info("bundle %s holds files manifest.json does not list (ignored): %s", src, ", ".join(extra))
    if mark and not check.verified:
        _mark_unverified(manifest, check)


def _read_capped(path: Path, cap: int, where: str, what: str) -> bytes:
    size = path.stat().st_size
    if size > cap:
        raise BundleLimitError(f"{where}: {what} is {size:,} bytes, over the {cap:,}-byte limit; refusing to read it")
    with open(path, "rb") as f:
        data = f.read(cap + 1)
    if len(data) > cap:
        raise BundleLimitError(f"{where}: {what} grew past the {cap:,}-byte limit while being read")
    return data


def _load_dir(src: Path, opts: _LoadOptions) -> Bundle:
    limits, verify = opts.limits, opts.verify
    mpath = src / MANIFEST_NAME
    if not mpath.is_file():
        raise BundleError(f"{src} has no {MANIFEST_NAME}; not a model bundle")
    raw = _read_capped(mpath, limits.manifest_bytes, str(src), MANIFEST_NAME)
    spath = src / SIGNATURE_NAME
    sig = _read_capped(spath, MAX_SIGNATURE_BYTES, str(src), SIGNATURE_NAME) if spath.is_file() else None
    manifest, check = _verified_manifest(raw, sig, str(src), opts)
    root = src.resolve()
    blobs: dict[str, bytes] = {}
    kept = 0
    for name, entry in manifest.files.items():
        p = src / name
        if p.is_symlink() or not p.resolve().is_relative_to(root):
            raise BundleError(f"{src}: {name} is a link or leads outside the bundle; refusing it")
        if not p.is_file():
            raise BundleError(f"{src}: {name} is listed in manifest.json but missing")
        if not verify:
            err = _mismatch(str(src), name, entry, p.stat().st_size, None)
        else:
            with open(p, "rb") as f:
                data = f.read(entry.size + 1)  # never more than listed (+1 to see "longer than listed")
            err = _mismatch(str(src), name, entry, len(data), hashlib.sha256(data).hexdigest())
            if err is None and kept + len(data) <= limits.keep_bytes:
                blobs[name] = data
                kept += len(data)
        if err:
            raise err
    listed = set(manifest.files) | set(RESERVED_NAMES)
    extra = tuple(
        sorted(
            rel
            for rel in (p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())
            if rel not in listed and not rel.startswith(ENGINE_CACHE_DIR + "/")
        )
    )
    _report_unlisted(src, manifest, check, extra, opts.mark)
    return Bundle(src, src, manifest, extra, is_zip=False, signature=check, blobs=blobs)


def _zip_members(zf: zipfile.ZipFile, src: Path, limits: BundleLimits = DEFAULT_LIMITS) -> dict[str, zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > limits.zip_members:
        raise BundleLimitError(
            f"{src}: the zip holds {len(infos):,} entries, over the limit of {limits.zip_members:,}; refusing it"
        )
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        try:
            check_member_name(name.rstrip("/") if info.is_dir() else name)
        except BundleError as exc:
            raise BundleError(f"{src}: {exc}") from None
        if info.is_dir():
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            raise BundleError(f"{src}: zip entry {name!r} is a symbolic link; refusing the bundle")
        if name in members:
            raise BundleError(f"{src}: zip holds {name!r} twice; refusing the bundle")
        members[name] = info
    return members


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, where: str) -> bytes:
    if info.file_size > cap:
        raise BundleLimitError(
            f"{where}: zip member {info.filename} declares {info.file_size:,} bytes, over the "
            f"{cap:,}-byte limit; refusing it before extraction"
        )
    try:
        with zf.open(info) as f:
            data = f.read(cap + 1)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise BundleError(f"{where}: {info.filename} cannot be read from the zip ({exc}); the zip is damaged") from exc
    if len(data) > cap:
        raise BundleLimitError(f"{where}: zip member {info.filename} inflates past the {cap:,}-byte limit")
    return data


def _check_declared_sizes(manifest: BundleManifest, members: dict[str, zipfile.ZipInfo], src: Path) -> None:
    """Every listed file is in the zip with the size the manifest lists, checked before anything is written."""
    for name, entry in manifest.files.items():
        info = members.get(name)
        if info is None:
            raise BundleError(f"{src}: {name} is listed in manifest.json but missing from the zip")
        err = _mismatch(str(src), name, entry, info.file_size, None)
        if err:
            raise err


def _extract_listed(
    zf: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    manifest: BundleManifest,
    tmp: Path,
    src: Path,
    opts: _LoadOptions,
) -> dict[str, bytes]:
    """Extract every listed file into ``tmp``, checking its size and (when verifying) its sha256; returns the
    verified bytes kept in memory (up to ``keep_bytes`` in all): what runs is what was hashed."""
    blobs: dict[str, bytes] = {}
    kept = 0
    for name, entry in manifest.files.items():
        dest = tmp / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        keep = opts.verify and kept + entry.size <= opts.limits.keep_bytes
        n, digest, data = _extract_member(zf, members[name], name, entry.size, dest, src, keep)
        err = _mismatch(str(src), name, entry, n, digest if opts.verify else None)
        if err:
            raise err
        if keep:
            blobs[name] = data
            kept += n
    return blobs


def _extract_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, size: int, dest: Path, src: Path, keep: bool
) -> tuple[int, str, bytes]:
    """Stream one member to ``dest``, refused as soon as it inflates past its listed ``size`` (the header's
    size is not trusted); returns the bytes written, their sha256 and, when ``keep``, the bytes."""
    h, n = hashlib.sha256(), 0
    parts: list[bytes] = []
    try:
        with zf.open(info) as fin, open(dest, "wb") as fout:
            while chunk := fin.read(min(_CHUNK, size + 1 - n)):
                n += len(chunk)
                if n > size:  # streamed cap: never more than the signed size
                    raise BundleLimitError(
                        f"{src}: zip member {name} inflates past its listed {size:,} bytes; refusing it"
                    )
                h.update(chunk)
                fout.write(chunk)
                if keep:
                    parts.append(chunk)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:  # CRC errors, truncated archives
        raise BundleError(f"{src}: {name} cannot be read from the zip ({exc}); the zip is damaged") from exc
    return n, h.hexdigest(), b"".join(parts)


def _load_zip(src: Path, opts: _LoadOptions) -> Bundle:
    limits = opts.limits
    try:
        zf = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleError(f"{src} is not a readable zip: {exc}") from exc
    tmp: Path | None = None
    where = str(src)
    try:
        with zf:
            members = _zip_members(zf, src, limits)
            if MANIFEST_NAME not in members:
                raise BundleError(f"{src} has no {MANIFEST_NAME} at its top level; not a model bundle")
            raw = _read_member(zf, members[MANIFEST_NAME], limits.manifest_bytes, where)
            sig = (
                _read_member(zf, members[SIGNATURE_NAME], MAX_SIGNATURE_BYTES, where)
                if SIGNATURE_NAME in members
                else None
            )
            manifest, check = _verified_manifest(raw, sig, where, opts)
            _check_declared_sizes(manifest, members, src)
            tmp = Path(tempfile.mkdtemp(prefix="scoligait-bundle-"))
            blobs = _extract_listed(zf, members, manifest, tmp, src, opts)
            extra = tuple(sorted(set(members) - set(manifest.files) - set(RESERVED_NAMES)))
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    _report_unlisted(src, manifest, check, extra, opts.mark)
    return Bundle(src, tmp, manifest, extra, is_zip=True, tmp=tmp, signature=check, blobs=blobs)
