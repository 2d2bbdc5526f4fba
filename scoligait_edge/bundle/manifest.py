"""The bundle manifest (pydantic), its limits and file hashing (no torch).

A bundle is a folder or zip with ``manifest.json`` that says what every file is
and what it must hash to. It carries everything a device needs to screen a window: the model in
one or more formats (safetensors checkpoint, ``model.onnx``,
``model.fp16.onnx``, ``model.ort`` + its required-operators config), the text
assets a text model needs (sentence-embedding table, reference statistics;
opaque files supplied by the caller), and a :class:`BundleManifest` with the
input/output contract, the window length and fps, the decision threshold and
where it came from, the label names, the knowledge-map feature schema it was
trained on, the training-data provenance, and the sha256 and size of every file.

:func:`~scoligait_edge.bundle.load.load_bundle` verifies all of it and raises
:class:`BundleError` with the
offending file named when anything is off: a changed byte, a truncated or
missing file, a zip entry that would land outside the bundle (``../x``,
absolute paths, links), a manifest written for another bundle schema version,
or a model built for another knowledge-map schema. Files present but not
listed are allowed and reported in :attr:`~scoligait_edge.bundle.load.Bundle.extra_files` (the ``engines/``
cache of device-specific TensorRT engines is never reported).

Authenticity: hashes alone only show a file matches *a* manifest, and anyone who
can write the folder can rewrite both. So the exporter signs ``manifest.json``
(Ed25519, :mod:`scoligait_edge.bundle.signing`; the signature is
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
``BundleLimits.keep_bytes`` in all) and are what :meth:`~scoligait_edge.bundle.load.Bundle.read_bytes` and
the runtime backends use, so a file swapped on disk after ``load_bundle`` never
runs; a file not kept is re-read and re-hashed on use.

Nothing here imports torch; nothing in a bundle is unpickled. Writing and signing bundles:
:mod:`scoligait_edge.export.bundle`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictInt,
    field_validator,
    model_serializer,
    model_validator,
)

from scoligait_edge import __version__
from scoligait_edge.bundle.model_config import ScreeningModelConfig
from scoligait_edge.bundle.signing import SIGNATURE_NAME
from scoligait_edge.bundle.specs import TensorSpec, WindowSpec, input_specs, output_specs
from scoligait_edge.core.constants import MAP_FPS, WINDOW_FRAMES
from scoligait_edge.core.schema import SCHEMA_VERSION, schema_hash
from scoligait_edge.errors import BundleError

BUNDLE_FORMAT: Final = "scoligait-bundle"
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
    "onnx-int8": "model.int8.onnx",
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
        raise BundleError(
            f"unsafe file name {name!r} in bundle: names must be relative paths without '..' "
            "(path traversal), backslashes or drive letters; refusing the bundle"
        )
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
    source: str = Field(
        min_length=1, max_length=2000, description="how it was chosen, e.g. 'validation split, Youden J, 412 windows'"
    )


class TextAssets(BaseModel):
    """Files a text model needs beside the graph; opaque to the bundle (the caller supplies them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sentence_table: str | None = None
    reference_statistics: str | None = None
    embedding_model: str = "all-MiniLM-L6-v2"


Label = Annotated[str, Field(min_length=1, max_length=64)]
PoseInput = Annotated[StrictInt, Field(ge=64, le=8192)] | Literal["camera"]
"""The frame the pose landmarker is given: 'camera' (the camera frame as it is) or N (scaled down by a power
of two to at most N px on its longer side, as ``PoseEstimatorOptions.max_input_side``)."""


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
    input_reference: str | None = Field(
        default=None,
        max_length=256,
        description="file with the training windows' input statistics (out-of-distribution check); optional",
    )
    pose_input: PoseInput | None = Field(
        default=None,
        description="the frame MediaPipe was given when the model's training silhouettes and poses were made, "
        "which the runtime then uses too: 'camera' (as it is) or N (scaled down by a power of two to at most N px "
        "on its longer side); absent: the runtime's default (core.constants.POSE_INPUT_MAX_SIDE)",
    )
    formats: dict[str, str] = Field(
        default_factory=dict, max_length=64, description="format name -> file in the bundle"
    )
    files: dict[str, FileEntry] = Field(default_factory=dict, max_length=1000)
    provenance: dict[str, Any] = Field(
        max_length=64, description="training data and caveats, e.g. {'data': 'simulated', ...}"
    )
    created_with: dict[str, str] = Field(default_factory=lambda: {"scoligait_edge": __version__})

    @model_serializer(mode="wrap")
    def _omit_default_pose_input(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave ``pose_input`` out when unset, so bundles that do not need it stay readable by runtimes
        that predate the field (the manifest forbids unknown keys)."""
        data: dict[str, Any] = handler(self)
        if data.get("pose_input", "") is None:
            del data["pose_input"]
        return data

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
            refs: dict[str, str | None] = dict(self.formats)
            refs["input_reference"] = self.input_reference
            if self.text is not None:
                refs.update(
                    {
                        "text.sentence_table": self.text.sentence_table,
                        "text.reference_statistics": self.text.reference_statistics,
                    }
                )
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
        pose_input: PoseInput | None = None,
    ) -> BundleManifest:
        """A manifest for a ScreeningModel config; inputs/outputs follow :mod:`scoligait_edge.bundle.specs`."""
        cfg = config.model_dump(mode="json") if isinstance(config, BaseModel) else dict(config)
        if not isinstance(threshold, Threshold):
            if threshold_source is None:
                raise BundleError(
                    "say where the threshold came from (threshold_source), e.g. "
                    "'validation split, Youden J' or 'default 0.5, not chosen on validation data'"
                )
            threshold = Threshold(value=float(threshold), source=threshold_source)
        return cls(
            model=cfg,
            inputs=input_specs(cfg),
            outputs=output_specs(cfg),
            window=WindowSpec(frames=int(cfg.get("window_frames", WINDOW_FRAMES)), fps=fps),
            threshold=threshold,
            labels=labels,
            text=text,
            pose_input=pose_input,
            provenance=dict(provenance),
        )

    def model_config_object(self) -> ScreeningModelConfig:
        """The validated :class:`~scoligait_edge.bundle.model_config.ScreeningModelConfig` (plain data, no torch)."""
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
