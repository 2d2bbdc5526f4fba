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
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from scoligait_edge import __version__
from scoligait_edge.errors import BundleError
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

    value: float = Field(ge=0.0, le=1.0)
    applies_to: Literal["prob"] = "prob"
    source: str = Field(min_length=1, description="how it was chosen, e.g. 'validation split, Youden J, 412 windows'")


class TextAssets(BaseModel):
    """Files a text model needs beside the graph; opaque to the bundle (the caller supplies them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sentence_table: str | None = None
    reference_statistics: str | None = None
    embedding_model: str = "all-MiniLM-L6-v2"


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sha256: str
    size: int = Field(ge=0)

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
    labels: tuple[str, str] = DEFAULT_LABELS
    text: TextAssets | None = None
    formats: dict[str, str] = Field(default_factory=dict, description="format name -> file in the bundle")
    files: dict[str, FileEntry] = Field(default_factory=dict)
    provenance: dict[str, Any] = Field(description="training data and caveats, e.g. {'data': 'simulated', ...}")
    created_with: dict[str, str] = Field(default_factory=lambda: {"scoligait_edge": __version__})

    @field_validator("files")
    @classmethod
    def _safe_names(cls, v: dict[str, FileEntry]) -> dict[str, FileEntry]:
        for name in v:
            check_member_name(name)
            if name == MANIFEST_NAME:
                raise ValueError("manifest.json cannot list itself")
        return v

    @field_validator("provenance")
    @classmethod
    def _has_data(cls, v: dict[str, Any]) -> dict[str, Any]:
        if not str(v.get("data", "")).strip():
            raise ValueError("provenance needs a 'data' entry saying what the model was trained on (e.g. 'simulated')")
        return v

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


# ----------------------------------------------------------------- hashing
def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _sha256_stream(fileobj: Any) -> tuple[str, int]:
    h, n = hashlib.sha256(), 0
    for chunk in iter(lambda: fileobj.read(_CHUNK), b""):
        h.update(chunk)
        n += len(chunk)
    return h.hexdigest(), n


# ----------------------------------------------------------------- the loaded bundle
class Bundle:
    """A verified bundle. ``root`` is a folder holding the listed files (a private temporary copy for zips)."""

    def __init__(self, source: Path, root: Path, manifest: BundleManifest, extra_files: tuple[str, ...],
                 is_zip: bool, tmp: Path | None = None) -> None:
        self.source, self.root, self.manifest = source, root, manifest
        self.extra_files, self.is_zip = extra_files, is_zip
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(tmp), True) if tmp is not None else None

    def __repr__(self) -> str:
        return f"Bundle({str(self.source)!r}, formats={sorted(self.manifest.formats)})"

    # files
    def path(self, name: str) -> Path:
        """Where a listed file is on disk."""
        if name not in self.manifest.files:
            raise BundleError(f"{name!r} is not listed in {self.source}/{MANIFEST_NAME}")
        return self.root / name

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
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> Bundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ----------------------------------------------------------------- loading
def _parse_manifest(raw: bytes, where: str) -> BundleManifest:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{where}: manifest.json is not valid JSON ({exc})") from exc
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
        raise BundleError(f"{where}: manifest.json is malformed: {exc}") from exc


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


def load_bundle(path: str | Path, *, verify: bool = True, check_schema: bool = True) -> Bundle:
    """Open and verify a bundle folder or zip.

    ``verify=False`` skips hashing (sizes and presence are still checked);
    ``check_schema=False`` accepts a model built for another knowledge-map schema
    (for inspection only). Raises :class:`BundleError` naming the bad file.
    """
    src = Path(path)
    if src.is_dir():
        return _load_dir(src, verify, check_schema)
    if src.is_file():
        if not zipfile.is_zipfile(src):
            raise BundleError(f"{src} is neither a bundle folder nor a zip file")
        return _load_zip(src, verify, check_schema)
    raise BundleError(f"bundle not found: {src}")


def _load_dir(src: Path, verify: bool, check_schema: bool) -> Bundle:
    mpath = src / MANIFEST_NAME
    if not mpath.is_file():
        raise BundleError(f"{src} has no {MANIFEST_NAME}; not a model bundle")
    manifest = _parse_manifest(mpath.read_bytes(), str(src))
    if check_schema:
        _check_feature_schema(manifest, str(src))
    root = src.resolve()
    for name, entry in manifest.files.items():
        p = src / name
        if p.is_symlink() or not p.resolve().is_relative_to(root):
            raise BundleError(f"{src}: {name} is a link or leads outside the bundle; refusing it")
        if not p.is_file():
            raise BundleError(f"{src}: {name} is listed in manifest.json but missing")
        err = _mismatch(str(src), name, entry, p.stat().st_size, sha256_file(p) if verify else None)
        if err:
            raise err
    listed = set(manifest.files) | {MANIFEST_NAME}
    extra = tuple(sorted(
        rel for rel in (p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())
        if rel not in listed and not rel.startswith(ENGINE_CACHE_DIR + "/")
    ))
    if extra:
        log.info("bundle %s holds files manifest.json does not list (ignored): %s", src, ", ".join(extra))
    return Bundle(src, src, manifest, extra, is_zip=False)


def _zip_members(zf: zipfile.ZipFile, src: Path) -> dict[str, zipfile.ZipInfo]:
    members: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        name = info.filename
        if info.is_dir():
            check_member_name(name.rstrip("/"))
            continue
        try:
            check_member_name(name)
        except BundleError as exc:
            raise BundleError(f"{src}: {exc}") from None
        if stat.S_ISLNK(info.external_attr >> 16):
            raise BundleError(f"{src}: zip entry {name!r} is a symbolic link; refusing the bundle")
        if name in members:
            raise BundleError(f"{src}: zip holds {name!r} twice; refusing the bundle")
        members[name] = info
    return members


def _load_zip(src: Path, verify: bool, check_schema: bool) -> Bundle:
    try:
        zf = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleError(f"{src} is not a readable zip: {exc}") from exc
    tmp: Path | None = None
    try:
        with zf:
            members = _zip_members(zf, src)
            if MANIFEST_NAME not in members:
                raise BundleError(f"{src} has no {MANIFEST_NAME} at its top level; not a model bundle")
            manifest = _parse_manifest(zf.read(MANIFEST_NAME), str(src))
            if check_schema:
                _check_feature_schema(manifest, str(src))
            tmp = Path(tempfile.mkdtemp(prefix="scoligait-bundle-"))
            for name, entry in manifest.files.items():
                info = members.get(name)
                if info is None:
                    raise BundleError(f"{src}: {name} is listed in manifest.json but missing from the zip")
                err = _mismatch(str(src), name, entry, info.file_size, None)  # before reading: no zip bombs
                if err:
                    raise err
                dest = tmp / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                try:
                    with zf.open(info) as fin, open(dest, "wb") as fout:
                        shutil.copyfileobj(fin, fout, _CHUNK)
                except (zipfile.BadZipFile, OSError, EOFError) as exc:  # CRC errors, truncated archives
                    raise BundleError(f"{src}: {name} cannot be read from the zip ({exc}); the zip is damaged") from exc
                err = _mismatch(str(src), name, entry, dest.stat().st_size, sha256_file(dest) if verify else None)
                if err:
                    raise err
            extra = tuple(sorted(set(members) - set(manifest.files) - {MANIFEST_NAME}))
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    if extra:
        log.info("bundle %s holds files manifest.json does not list (ignored): %s", src, ", ".join(extra))
    return Bundle(src, tmp, manifest, extra, is_zip=True, tmp=tmp)


# ----------------------------------------------------------------- writing
FileSource = str | Path | bytes


def _entry_of(src: FileSource) -> FileEntry:
    if isinstance(src, bytes):
        return FileEntry(sha256=hashlib.sha256(src).hexdigest(), size=len(src))
    p = Path(src)
    if not p.is_file():
        raise BundleError(f"cannot add {p} to a bundle: file not found")
    return FileEntry(sha256=sha256_file(p), size=p.stat().st_size)


def write_bundle(target: str | Path, files: Mapping[str, FileSource], manifest: BundleManifest) -> Path:
    """Write a bundle folder (or a ``.zip`` when ``target`` ends in .zip) holding ``files`` and ``manifest.json``.

    ``files`` maps the name inside the bundle to a source path or bytes. The
    sha256 and size of every file are computed here and replace
    ``manifest.files``. An existing folder keeps files not named here (they
    become unlisted extras); an existing zip is replaced. Returns ``target``.
    """
    target = Path(target)
    for name in files:
        check_member_name(name)
        if name == MANIFEST_NAME:
            raise BundleError("manifest.json is written by write_bundle; do not pass it in files")
    entries = {name: _entry_of(src) for name, src in sorted(files.items())}
    try:
        manifest = BundleManifest.model_validate({**manifest.model_dump(mode="json"), "files": entries})
    except ValidationError as exc:
        raise BundleError(f"cannot write bundle {target}: {exc}") from exc
    text = manifest.model_dump_json(indent=2) + "\n"
    if target.suffix.lower() == ".zip":
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=target.name, suffix=".tmp", dir=target.parent)
        os.close(fd)
        try:
            with zipfile.ZipFile(tmp_name, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(MANIFEST_NAME, text)
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
    tmp_manifest = target / (MANIFEST_NAME + ".tmp")
    tmp_manifest.write_text(text, encoding="utf-8")
    os.replace(tmp_manifest, target / MANIFEST_NAME)
    return target


def update_bundle(
    path: str | Path,
    add: Mapping[str, FileSource] | None = None,
    *,
    formats: Mapping[str, str] | None = None,
    remove: Iterable[str] = (),
    **changes: Any,
) -> Bundle:
    """Add (or replace) files in a verified bundle, record them in ``formats``, re-hash, and reload it.

    ``changes`` replace top-level manifest fields (e.g. ``threshold=Threshold(...)``).
    """
    path = Path(path)
    with load_bundle(path) as bundle:
        removed = set(remove)
        files: dict[str, FileSource] = {n: bundle.path(n) for n in bundle.manifest.files if n not in removed}
        if bundle.is_zip:  # the temporary copy vanishes on close: read what we keep into memory
            files = {n: Path(p).read_bytes() for n, p in files.items()}
        files.update(add or {})
        data = bundle.manifest.model_dump(mode="json")
        data["formats"] = {k: v for k, v in {**data["formats"], **dict(formats or {})}.items() if v not in removed}
        for key, value in changes.items():
            data[key] = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        data["files"] = {}
        try:
            manifest = BundleManifest.model_validate(data)
        except ValidationError as exc:
            raise BundleError(f"cannot update bundle {path}: {exc}") from exc
        write_bundle(path, files, manifest)
    for name in removed:
        if path.is_dir() and (path / name).is_file():
            (path / name).unlink()
    return load_bundle(path)
