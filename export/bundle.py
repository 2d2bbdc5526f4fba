"""Model bundles: a folder or zip with ``manifest.json`` that says what every file is and what it must hash to.

A bundle carries everything a device needs to screen a window: the model in
one or more formats (safetensors checkpoint, ``model.onnx``,
``model.fp16.onnx``, ``model.ort`` + its required-operators config), the text
assets a text model needs (sentence-embedding table, reference statistics;
opaque files supplied by the caller), and a :class:`BundleManifest` with the
input/output contract, the window length and fps, the decision threshold and
where it came from, the label names, the knowledge-map feature schema it was
trained on, the training-data provenance, and the sha256 and size of every file.

:func:`load_bundle` verifies all of it and raises :class:`BundleError` with the
offending file named when anything is off: a changed byte, a truncated or
missing file, a zip entry that would land outside the bundle (``../x``,
absolute paths, links), a manifest written for another bundle schema version,
or a model built for another knowledge-map schema. Files present but not
listed are allowed and reported in :attr:`Bundle.extra_files` (the ``engines/``
cache of device-specific TensorRT engines is never reported).

Authenticity: hashes alone only show a file matches *a* manifest, and anyone who
can write the folder can rewrite both. So the exporter signs ``manifest.json``
(Ed25519, :mod:`scoligait_edge.export.signing`; the signature is
``manifest.json.sig``) and :func:`load_bundle` refuses, with
:class:`~scoligait_edge.errors.BundleSignatureError`, a bundle that is unsigned,
signed by a key it does not trust, or whose signature does not match, unless
the caller passes ``allow_unsigned=True`` (logged as a warning, and the loaded
manifest's provenance is marked UNVERIFIED). The signature is checked on the
raw manifest bytes *before* the JSON is parsed.

Limits (:class:`BundleLimits`, :class:`~scoligait_edge.errors.BundleLimitError`):
manifest size and JSON nesting depth, every file's and zip member's size (the
declared sizes are checked before anything is extracted, and every member is
streamed with a cap), the total size and the number of zip members. Numbers in
the manifest are range-checked by its pydantic models.

Verified bytes: the bytes hashed at load time are kept (up to
``BundleLimits.keep_bytes`` in all) and are what :meth:`Bundle.read_bytes` and
the runtime backends use, so a file swapped on disk after ``load_bundle`` never
runs; a file not kept is re-read and re-hashed on use.

Nothing here imports torch; nothing in a bundle is unpickled.
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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from scoligait_edge import __version__
from scoligait_edge.errors import BundleError, BundleLimitError, BundleSignatureError
from scoligait_edge.export.signing import (
    MAX_SIGNATURE_BYTES,
    SIGNATURE_NAME,
    Ed25519PrivateKey,
    KeySource,
    TRUSTED_KEYS_ENV,
    SignatureCheck,
    check_signature,
    sign_manifest,
    signing_key_of,
    trusted_public_keys,
)
from scoligait_edge.export.specs import TensorSpec, WindowSpec, input_specs, output_specs
from scoligait_edge.kinematics.schema import MAP_FPS, SCHEMA_VERSION, schema_hash

log = logging.getLogger(__name__)

BUNDLE_FORMAT = "scoligait-bundle"
BUNDLE_SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
ENGINE_CACHE_DIR = "engines"
DEFAULT_LABELS = ("no_referral", "refer")
SIMULATED_PROVENANCE = {"data": "simulated", "notice": "trained on simulated gait; not clinically validated"}

# Format name -> the file name the exporters give it inside a bundle.
FORMAT_FILES: dict[str, str] = {
    "checkpoint": "model.safetensors",
    "checkpoint-config": "model.json",
    "onnx": "model.onnx",
    "onnx-fp16": "model.fp16.onnx",
    "ort": "model.ort",
    "ort-operators": "model.required_operators.config",
}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20
RESERVED_NAMES = (MANIFEST_NAME, SIGNATURE_NAME)


@dataclass(frozen=True)
class BundleLimits:
    """Safety limits applied while loading a bundle (all sizes in bytes).

    The defaults are far above what an edge screening model needs (the demo
    bundle is 13 MB in all, its largest file 3.7 MB) and far below what would
    exhaust a device. Raise them by passing ``limits=BundleLimits(...)``.
    """

    manifest_bytes: int = 1 << 20
    json_depth: int = 32
    file_bytes: int = 256 << 20
    total_bytes: int = 1 << 30
    zip_members: int = 1000
    keep_bytes: int = 512 << 20
    """verified file bytes kept in memory for the backends (beyond it: re-read and re-hashed on use)"""


DEFAULT_LIMITS = BundleLimits()


# ----------------------------------------------------------------- manifest
def check_member_name(name: str) -> str:
    """Return ``name`` if it is a safe relative POSIX path inside a bundle, else raise :class:`BundleError`."""
    bad = (
        not name
        or "\\" in name
        or "\x00" in name
        or name.startswith("/")
        or re.match(r"^[A-Za-z]:", name) is not None
        or any(part in ("", ".", "..") for part in name.split("/"))
    )
    if bad:
        raise BundleError(f"unsafe file name {name!r} in bundle: names must be relative paths without '..' "
                          "(path traversal), backslashes or drive letters; refusing the bundle")
    return name


class FeatureSchemaRef(BaseModel):
    """Which knowledge-map schema the model reads (version label and content hash)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")

    @classmethod
    def current(cls) -> FeatureSchemaRef:
        return cls(version=SCHEMA_VERSION, hash=schema_hash())


class Threshold(BaseModel):
    """The screening decision: label = ``prob >= value`` (1 = refer)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float = Field(ge=0.0, le=1.0, allow_inf_nan=False)
    applies_to: Literal["prob"] = "prob"
    source: str = Field(min_length=1, max_length=2000, description="how it was chosen, e.g. 'validation split, Youden J, 412 windows'")


class TextAssets(BaseModel):
    """Files a text model needs beside the graph; opaque to the bundle (the caller supplies them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sentence_table: str | None = None
    reference_statistics: str | None = None
    embedding_model: str = "all-MiniLM-L6-v2"


Label = Annotated[str, Field(min_length=1, max_length=64)]


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sha256: str
    size: int = Field(ge=0, le=1 << 40)

    @field_validator("sha256")
    @classmethod
    def _hex(cls, v: str) -> str:
        if not _SHA256.match(v):
            raise ValueError(f"not a lowercase sha256 hex digest: {v!r}")
        return v


class BundleManifest(BaseModel):
    """``manifest.json``: the contract between whoever exported the model and every device that runs it."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["scoligait-bundle"] = BUNDLE_FORMAT
    bundle_schema_version: int = BUNDLE_SCHEMA_VERSION
    feature_schema: FeatureSchemaRef = Field(default_factory=FeatureSchemaRef.current)
    model_kind: Literal["ScreeningModel"] = "ScreeningModel"
    model: dict[str, Any] = Field(description="the ScreeningModelConfig as JSON")
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    window: WindowSpec
    threshold: Threshold
    labels: tuple[Label, Label] = DEFAULT_LABELS
    text: TextAssets | None = None
    formats: dict[str, str] = Field(default_factory=dict, max_length=64, description="format name -> file in the bundle")
    files: dict[str, FileEntry] = Field(default_factory=dict, max_length=1000)
    provenance: dict[str, Any] = Field(max_length=64, description="training data and caveats, e.g. {'data': 'simulated', ...}")
    created_with: dict[str, str] = Field(default_factory=lambda: {"scoligait_edge": __version__})

    @field_validator("files")
    @classmethod
    def _safe_names(cls, v: dict[str, FileEntry]) -> dict[str, FileEntry]:
        for name in v:
            check_member_name(name)
            if name in RESERVED_NAMES:
                raise ValueError(f"{name} cannot be listed in the manifest")
        return v

    @field_validator("model")
    @classmethod
    def _model_numbers(cls, v: dict[str, Any]) -> dict[str, Any]:
        _check_numbers(v, "model")
        return v

    @field_validator("provenance")
    @classmethod
    def _provenance_text(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key, value in v.items():
            if len(str(key)) > 64 or len(json.dumps(value)) > 2000:
                raise ValueError(f"provenance entry {str(key)[:64]!r} is longer than 2000 characters")
        return v

    @field_validator("provenance")
    @classmethod
    def _has_data(cls, v: dict[str, Any]) -> dict[str, Any]:
        if not str(v.get("data", "")).strip():
            raise ValueError("provenance needs a 'data' entry saying what the model was trained on (e.g. 'simulated')")
        return v

    @model_validator(mode="after")
    def _window_agrees(self) -> BundleManifest:
        frames = self.model.get("window_frames")
        if frames is not None and frames != self.window.frames:
            raise ValueError(f"model.window_frames ({frames}) differs from window.frames ({self.window.frames})")
        return self

    @model_validator(mode="after")
    def _refs_are_files(self) -> BundleManifest:
        if self.files:  # a manifest still being assembled has no files yet
            refs = dict(self.formats)
            if self.text is not None:
                refs.update({"text.sentence_table": self.text.sentence_table,
                             "text.reference_statistics": self.text.reference_statistics})
            missing = {k: v for k, v in refs.items() if v is not None and v not in self.files}
            if missing:
                raise ValueError(f"manifest refers to files it does not list: {missing}")
        return self

    @classmethod
    def for_model(
        cls,
        config: Mapping[str, Any] | BaseModel,
        threshold: float | Threshold,
        provenance: Mapping[str, Any],
        *,
        threshold_source: str | None = None,
        fps: float = MAP_FPS,
        labels: tuple[str, str] = DEFAULT_LABELS,
        text: TextAssets | None = None,
    ) -> BundleManifest:
        """A manifest for a ScreeningModel config; inputs/outputs follow :mod:`scoligait_edge.export.specs`."""
        cfg = config.model_dump(mode="json") if isinstance(config, BaseModel) else dict(config)
        if not isinstance(threshold, Threshold):
            if threshold_source is None:
                raise BundleError("say where the threshold came from (threshold_source), e.g. "
                                  "'validation split, Youden J' or 'default 0.5, not chosen on validation data'")
            threshold = Threshold(value=float(threshold), source=threshold_source)
        return cls(model=cfg, inputs=input_specs(cfg), outputs=output_specs(cfg),
                   window=WindowSpec(frames=int(cfg.get("window_frames", 96)), fps=fps),
                   threshold=threshold, labels=labels, text=text, provenance=dict(provenance))

    def model_config_object(self) -> Any:
        """The validated ``ScreeningModelConfig`` (imports the torch model package)."""
        from scoligait_edge.models import ScreeningModelConfig

        return ScreeningModelConfig.model_validate(self.model)


def _check_numbers(value: Any, where: str, limit: float = 1e9) -> None:
    """Every number in a free-form manifest object (the model config) is finite and at most ``limit`` in size."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, (int, float)):
        if not np.isfinite(value) or abs(value) > limit:
            raise ValueError(f"{where} = {value!r} is out of range (finite, |x| <= {limit:g})")
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _check_numbers(v, f"{where}.{k}", limit)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_numbers(v, f"{where}[{i}]", limit)


# ----------------------------------------------------------------- hashing
def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------- the loaded bundle
class Bundle:
    """A verified bundle. ``root`` is a folder holding the listed files (a private temporary copy for zips).

    ``signature`` says whether (and by which key) the manifest's signature was
    verified; ``read_bytes`` gives the bytes that were verified at load time.
    """

    def __init__(self, source: Path, root: Path, manifest: BundleManifest, extra_files: tuple[str, ...],
                 is_zip: bool, tmp: Path | None = None, *, signature: SignatureCheck | None = None,
                 blobs: dict[str, bytes] | None = None) -> None:
        self.source, self.root, self.manifest = source, root, manifest
        self.extra_files, self.is_zip = extra_files, is_zip
        self.signature = signature or SignatureCheck("unsigned", "not checked")
        self._blobs: dict[str, bytes] = dict(blobs or {})
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(tmp), True) if tmp is not None else None

    def __repr__(self) -> str:
        return f"Bundle({str(self.source)!r}, formats={sorted(self.manifest.formats)}, signature={self.signature.status})"

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
            raise BundleError(f"bundle {self.source} has no {fmt!r} model (it has: {have}); add it with "
                              f"`python -m scoligait_edge.export --bundle {self.source} --formats {fmt}`")
        return self.path(self.manifest.formats[fmt])

    @property
    def checkpoint_stem(self) -> Path:
        """Path stem for :func:`scoligait_edge.models.load_checkpoint` (``<root>/model``)."""
        return self.format_path("checkpoint").with_suffix("")

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
        raise BundleLimitError(f"{where}: {what} is {len(raw):,} bytes, over the {limits.manifest_bytes:,}-byte "
                               "limit; refusing to parse it")
    depth = json_depth(raw)
    if depth > limits.json_depth:
        raise BundleLimitError(f"{where}: {what} nests {depth} levels deep, over the limit of {limits.json_depth}; "
                               "refusing to parse it")
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
        raise BundleError(f"{where}: bundle schema version {version!r}, but this package (scoligait_edge "
                          f"{__version__}) reads version {BUNDLE_SCHEMA_VERSION}; re-export the bundle with this "
                          "version or install the package version that wrote it")
    try:
        return BundleManifest.model_validate(data)
    except ValidationError as exc:
        raise BundleError(f"{where}: manifest.json is malformed or out of range: {exc}") from exc


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
        return BundleError(f"{where}: {name} is {what} ({size} bytes, manifest says {entry.size}); "
                           "the bundle is damaged or was modified, re-download or re-export it")
    if digest is not None and digest != entry.sha256:
        return BundleError(f"{where}: {name} does not match its sha256 in manifest.json "
                           f"({digest[:12]}... != {entry.sha256[:12]}...); the file was modified or corrupted")
    return None


def _check_sizes(manifest: BundleManifest, where: str, limits: BundleLimits) -> None:
    """Listed sizes against the limits, before any file is read or extracted."""
    total = 0
    for name, entry in manifest.files.items():
        if entry.size > limits.file_bytes:
            raise BundleLimitError(f"{where}: {name} is listed as {entry.size:,} bytes, over the "
                                   f"{limits.file_bytes:,}-byte per-file limit; refusing the bundle before reading it")
        total += entry.size
    if total > limits.total_bytes:
        raise BundleLimitError(f"{where}: the listed files add up to {total:,} bytes, over the "
                               f"{limits.total_bytes:,}-byte limit; refusing the bundle before reading it")


def _authenticate(raw: bytes, sig: bytes | None, where: str, trusted_keys: Any, allow_unsigned: bool,
                  warn: bool = True) -> SignatureCheck:
    check = check_signature(raw, sig, trusted_public_keys(trusted_keys))
    if check.verified:
        log.info("bundle %s: manifest signature verified, %s", where, check.reason)
    elif allow_unsigned:
        log.log(logging.WARNING if warn else logging.INFO,"bundle %s is NOT authenticated (%s): loading it anyway because allow_unsigned=True; its "
                    "provenance is marked UNVERIFIED", where, check.reason)
    else:
        raise BundleSignatureError(
            f"{where}: refusing the bundle: {check.reason}. Sign it with `python -m scoligait_edge.export --bundle "
            f"{where} --sign --signing-key KEY.pem`, trust its key (trusted_keys=, ${TRUSTED_KEYS_ENV}), or "
            "load it unverified with allow_unsigned=True (CLI: --allow-unsigned-bundle)")
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
    opts = dict(verify=verify, check_schema=check_schema, trusted_keys=trusted_keys, allow_unsigned=allow_unsigned,
                limits=lim, mark=mark_unverified)
    if src.is_dir():
        return _load_dir(src, **opts)
    if src.is_file():
        if not zipfile.is_zipfile(src):
            raise BundleError(f"{src} is neither a bundle folder nor a zip file")
        return _load_zip(src, **opts)
    raise BundleError(f"bundle not found: {src}")


def _read_capped(path: Path, cap: int, where: str, what: str) -> bytes:
    size = path.stat().st_size
    if size > cap:
        raise BundleLimitError(f"{where}: {what} is {size:,} bytes, over the {cap:,}-byte limit; refusing to read it")
    with open(path, "rb") as f:
        data = f.read(cap + 1)
    if len(data) > cap:
        raise BundleLimitError(f"{where}: {what} grew past the {cap:,}-byte limit while being read")
    return data


def _load_dir(src: Path, *, verify: bool, check_schema: bool, trusted_keys: Any, allow_unsigned: bool,
              limits: BundleLimits, mark: bool) -> Bundle:
    mpath = src / MANIFEST_NAME
    if not mpath.is_file():
        raise BundleError(f"{src} has no {MANIFEST_NAME}; not a model bundle")
    raw = _read_capped(mpath, limits.manifest_bytes, str(src), MANIFEST_NAME)
    spath = src / SIGNATURE_NAME
    sig = _read_capped(spath, MAX_SIGNATURE_BYTES, str(src), SIGNATURE_NAME) if spath.is_file() else None
    check = _authenticate(raw, sig, str(src), trusted_keys, allow_unsigned, warn=mark)
    manifest = _parse_manifest(raw, str(src), limits)
    if check_schema:
        _check_feature_schema(manifest, str(src))
    _check_sizes(manifest, str(src), limits)
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
    extra = tuple(sorted(
        rel for rel in (p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())
        if rel not in listed and not rel.startswith(ENGINE_CACHE_DIR + "/")
    ))
    if extra:
        log.info("bundle %s holds files manifest.json does not list (ignored): %s", src, ", ".join(extra))
    if mark and not check.verified:
        _mark_unverified(manifest, check)
    return Bundle(src, src, manifest, extra, is_zip=False, signature=check, blobs=blobs)


def _zip_members(zf: zipfile.ZipFile, src: Path, limits: BundleLimits = DEFAULT_LIMITS) -> dict[str, zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > limits.zip_members:
        raise BundleLimitError(f"{src}: the zip holds {len(infos):,} entries, over the limit of "
                               f"{limits.zip_members:,}; refusing it")
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
        raise BundleLimitError(f"{where}: zip member {info.filename} declares {info.file_size:,} bytes, over the "
                               f"{cap:,}-byte limit; refusing it before extraction")
    try:
        with zf.open(info) as f:
            data = f.read(cap + 1)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise BundleError(f"{where}: {info.filename} cannot be read from the zip ({exc}); the zip is damaged") from exc
    if len(data) > cap:
        raise BundleLimitError(f"{where}: zip member {info.filename} inflates past the {cap:,}-byte limit")
    return data


def _load_zip(src: Path, *, verify: bool, check_schema: bool, trusted_keys: Any, allow_unsigned: bool,
              limits: BundleLimits, mark: bool) -> Bundle:
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
            sig = (_read_member(zf, members[SIGNATURE_NAME], MAX_SIGNATURE_BYTES, where)
                   if SIGNATURE_NAME in members else None)
            check = _authenticate(raw, sig, where, trusted_keys, allow_unsigned, warn=mark)
            manifest = _parse_manifest(raw, where, limits)
            if check_schema:
                _check_feature_schema(manifest, where)
            _check_sizes(manifest, where, limits)
            for name, entry in manifest.files.items():  # every declared size, before anything is written
                info = members.get(name)
                if info is None:
                    raise BundleError(f"{src}: {name} is listed in manifest.json but missing from the zip")
                err = _mismatch(where, name, entry, info.file_size, None)
                if err:
                    raise err
            tmp = Path(tempfile.mkdtemp(prefix="scoligait-bundle-"))
            blobs: dict[str, bytes] = {}
            kept = 0
            for name, entry in manifest.files.items():
                dest = tmp / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                h, n = hashlib.sha256(), 0
                keep = verify and kept + entry.size <= limits.keep_bytes
                parts: list[bytes] = []
                try:
                    with zf.open(members[name]) as fin, open(dest, "wb") as fout:
                        while chunk := fin.read(min(_CHUNK, entry.size + 1 - n)):
                            n += len(chunk)
                            if n > entry.size:  # streamed cap: never more than the signed size
                                raise BundleLimitError(f"{src}: zip member {name} inflates past its listed "
                                                       f"{entry.size:,} bytes; refusing it")
                            h.update(chunk)
                            fout.write(chunk)
                            if keep:
                                parts.append(chunk)
                except (zipfile.BadZipFile, OSError, EOFError) as exc:  # CRC errors, truncated archives
                    raise BundleError(f"{src}: {name} cannot be read from the zip ({exc}); the zip is damaged") from exc
                err = _mismatch(where, name, entry, n, h.hexdigest() if verify else None)
                if err:
                    raise err
                if keep:
                    blobs[name] = b"".join(parts)
                    kept += n
            extra = tuple(sorted(set(members) - set(manifest.files) - set(RESERVED_NAMES)))
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    if extra:
        log.info("bundle %s holds files manifest.json does not list (ignored): %s", src, ", ".join(extra))
    if mark and not check.verified:
        _mark_unverified(manifest, check)
    return Bundle(src, tmp, manifest, extra, is_zip=True, tmp=tmp, signature=check, blobs=blobs)


# ----------------------------------------------------------------- writing
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


def write_bundle(target: str | Path, files: Mapping[str, FileSource], manifest: BundleManifest, *,
                 signing_key: Ed25519PrivateKey | str | Path | None = None) -> Path:
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
    for name in files:
        check_member_name(name)
        if name in RESERVED_NAMES:
            raise BundleError(f"{name} is written by write_bundle; do not pass it in files")
    entries = {name: _entry_of(src) for name, src in sorted(files.items())}
    try:
        manifest = BundleManifest.model_validate({**manifest.model_dump(mode="json"), "files": entries})
    except ValidationError as exc:
        raise BundleError(f"cannot write bundle {target}: {exc}") from exc
    raw = (manifest.model_dump_json(indent=2) + "\n").encode("utf-8")
    sig = sign_manifest(raw, key) if key is not None else None
    if key is None:
        log.warning("bundle %s written UNSIGNED (no signing key): it loads only with allow_unsigned=True until "
                    "signed (python -m scoligait_edge.export --bundle %s --sign --signing-key KEY.pem)", target, target)
    if target.suffix.lower() == ".zip":
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
        return target
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
        log.warning("rewriting bundle %s, which is not signed by a trusted key (%s)%s", path, bundle.signature.reason,
                    "; re-signing it vouches for its current contents" if key is not None else "")
    if bundle.signature.status == "invalid" and key is not None:
        bundle.close()
        raise BundleSignatureError(f"{path}: {bundle.signature.reason}; refusing to re-sign a bundle whose signature "
                                   "does not match (if you edited manifest.json on purpose, delete "
                                   f"{SIGNATURE_NAME} and sign again; otherwise re-export it from its checkpoint)")
    return bundle


def sign_bundle(path: str | Path, signing_key: Ed25519PrivateKey | str | Path,
                trusted_keys: Iterable[KeySource] | KeySource | None = None) -> Bundle:
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
    return load_bundle(path, trusted_keys=trusted, allow_unsigned=key is None,
                       mark_unverified=False)
