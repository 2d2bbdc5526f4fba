"""TensorRT engines at run time: the per-device cache, its integrity check, and the options of an engine.

Engines are not portable between GPUs or TensorRT versions, so bundles ship ONNX and an engine is built
once where it runs, by :mod:`scoligait_edge.export.tensorrt` (``python -m scoligait_edge.export --bundle B
--formats engine``). This module only finds and checks that engine: the plan file is the raw serialized
engine; its metadata lives in a sidecar ``<engine>.json`` recording the plan's sha256 and size, which
:func:`load_cached_engine` checks before handing the bytes on, so a corrupted or swapped plan is refused
(keep ``cache_dir`` where only the runtime user can write when that matters).

Importing this module does not need TensorRT; calling into it without TensorRT raises
:class:`OptionalDependencyError` with the install command.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, cast

from scoligait_edge import __version__
from scoligait_edge.errors import BackendError, OptionalDependencyError

if TYPE_CHECKING:
    from scoligait_edge.bundle.load import Bundle

log = logging.getLogger(__name__)
Precision = Literal["fp32", "fp16"]
ENGINE_BUILD_HINT = "python -m scoligait_edge.export --bundle {source} --formats engine --engine-precision {precision}"


def install_hint() -> str:
    """What to install to get TensorRT's Python bindings on this machine."""
    cuda = None
    try:  # pick the wheel matching the CUDA torch was built with, when torch is there
        import torch

        cuda = torch.version.cuda
    except Exception:  # noqa: BLE001 - torch absent or broken: fall back to the generic hint
        pass
    jetson = Path("/etc/nv_tegra_release").exists()
    if jetson:
        return (
            "TensorRT is not installed. On Jetson it comes with JetPack: `sudo apt install nvidia-jetpack` "
            "(or `sudo apt install python3-libnvinfer`), not from pip"
        )
    if cuda:
        wheel = "tensorrt-cu13" if cuda.startswith("13") else "tensorrt-cu12"
        return (
            f"TensorRT is not installed. torch here uses CUDA {cuda}, so run `pip install {wheel}`; "
            "on Jetson TensorRT comes with JetPack (`sudo apt install nvidia-jetpack`)"
        )
    return (
        "TensorRT is not installed (it needs an NVIDIA GPU). On a CUDA 12 machine run "
        "`pip install tensorrt-cu12` (`pip install tensorrt-cu13` for CUDA 13); on Jetson it comes with "
        "JetPack (`sudo apt install nvidia-jetpack`)"
    )


def require_tensorrt() -> ModuleType:
    """Import tensorrt or raise :class:`OptionalDependencyError` saying exactly what to install."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise OptionalDependencyError(install_hint()) from exc
    return cast(ModuleType, trt)


def tensorrt_major(trt: ModuleType) -> int:
    return int(str(trt.__version__).split(".")[0])


@dataclass(frozen=True)
class DeviceInfo:
    name: str
    compute_capability: str  # "8.6"
    index: int = 0

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


def cuda_device_info(index: int = 0) -> DeviceInfo:
    """Name and compute capability of CUDA device ``index`` (via torch, else cuda-python)."""
    try:
        import torch

        if torch.cuda.is_available():
            major, minor = torch.cuda.get_device_capability(index)
            return DeviceInfo(torch.cuda.get_device_name(index), f"{major}.{minor}", index)
    except ImportError:
        pass
    try:
        from cuda.bindings import runtime as cudart  # cuda-python

        err, props = cudart.cudaGetDeviceProperties(index)
        if int(err) == 0:
            name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
            return DeviceInfo(name.rstrip("\x00"), f"{props.major}.{props.minor}", index)
    except ImportError:
        pass
    raise BackendError("no CUDA device found (TensorRT needs an NVIDIA GPU and torch with CUDA or cuda-python)")


@dataclass(frozen=True)
class ProfileRange:
    """Optimization-profile range of one dynamic axis: (min, opt, max)."""

    min: int = 1
    opt: int = 8
    max: int = 64

    def __post_init__(self) -> None:
        if not 1 <= self.min <= self.opt <= self.max:
            raise ValueError(f"profile needs 1 <= min <= opt <= max, got {self}")


@dataclass
class EngineMetadata:
    """Sidecar ``<engine>.json``: what the plan was built from, where, and with what."""

    tensorrt_version: str
    device_name: str
    compute_capability: str
    precision: str
    typing: str  # "strongly typed" | "weak (BuilderFlag.FP16)" | "fp32"
    onnx_file: str
    onnx_sha256: str
    batch: dict[str, int]
    text_tokens: dict[str, int]
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    built_at: str = ""
    scoligait_edge: str = __version__
    engine_sha256: str = ""
    """sha256 of the serialized plan, checked before every deserialisation"""
    engine_size: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def read(cls, path: str | Path) -> EngineMetadata:
        with open(path, "rb") as f:
            raw = f.read(MAX_SIDECAR_BYTES + 1)
        if len(raw) > MAX_SIDECAR_BYTES:
            raise ValueError(f"{path} is over {MAX_SIDECAR_BYTES} bytes; not an engine sidecar")
        return cls(**json.loads(raw))


MAX_SIDECAR_BYTES = 1 << 20


def write_engine_cache(engine_path: str | Path, plan: bytes, meta: EngineMetadata) -> EngineMetadata:
    """Write the plan and its sidecar (with the plan's sha256 and size); returns the completed metadata."""
    engine_path = Path(engine_path)
    meta.engine_sha256, meta.engine_size = hashlib.sha256(plan).hexdigest(), len(plan)
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = engine_path.with_name(engine_path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(plan)
    os.replace(tmp, engine_path)
    side = sidecar_path(engine_path)
    side_tmp = side.with_name(side.name + ".tmp")
    side_tmp.write_text(meta.to_json())
    os.replace(side_tmp, side)
    return meta


def read_engine_cache(engine_path: str | Path) -> tuple[EngineMetadata, bytes] | None:
    """The cached plan's metadata and bytes if its sha256 matches the sidecar's record, else None (logged)."""
    engine_path = Path(engine_path)
    side = sidecar_path(engine_path)
    if not (engine_path.is_file() and side.is_file()):
        return None
    try:
        meta = EngineMetadata.read(side)
    except (OSError, ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError; unknown keys a TypeError
        log.warning("TensorRT engine sidecar %s is unreadable (%s); the engine will be rebuilt", side, exc)
        return None
    if not re.fullmatch(r"[0-9a-f]{64}", meta.engine_sha256 or ""):
        log.warning(
            "TensorRT engine %s has no sha256 record in %s (written by an older version); rebuilding it",
            engine_path,
            side.name,
        )
        return None
    with open(engine_path, "rb") as f:
        plan = f.read(meta.engine_size + 1)
    digest = hashlib.sha256(plan).hexdigest()
    if len(plan) != meta.engine_size or digest != meta.engine_sha256:
        log.warning(
            "TensorRT engine %s does not match the sha256 recorded in %s (%s... != %s...): it was modified "
            "or corrupted; rebuilding it",
            engine_path,
            side.name,
            digest[:12],
            meta.engine_sha256[:12],
        )
        return None
    return meta, plan


def sidecar_path(engine_path: str | Path) -> Path:
    p = Path(engine_path)
    return p.with_name(p.name + ".json")


def engine_file_name(device: DeviceInfo, trt_version: str, precision: str, onnx_sha256: str) -> str:
    cc = device.compute_capability.replace(".", "")
    return f"model.{precision}.{device.slug}.sm{cc}.trt{trt_version}.{onnx_sha256[:12]}.engine"


@dataclass(frozen=True)
class EngineOptions:
    """How an engine is built and looked up: one object for the builder, the cache and the backend.

    ``strongly_typed`` None = the TensorRT version's natural choice (False on 10, True on 11+);
    ``batch`` / ``text_tokens`` are the optimization profile of the dynamic axes; ``cache_dir`` None =
    ``bundle.engine_cache_dir()``; ``rebuild`` ignores a cached engine.
    """

    device_index: int = 0
    strongly_typed: bool | None = None
    batch: ProfileRange = ProfileRange()
    text_tokens: ProfileRange = ProfileRange(1, 4, 16)
    cache_dir: str | Path | None = None
    rebuild: bool = False


@dataclass(frozen=True)
class EngineTarget:
    """Where the engine for one bundle, precision and device lives, and what it must be built from."""

    path: Path
    onnx_format: str
    onnx_sha256: str
    strongly_typed: bool
    device: DeviceInfo
    tensorrt_version: str


def engine_target(bundle: Bundle, precision: Precision, options: EngineOptions, trt: ModuleType) -> EngineTarget:
    """The cache path and the ONNX format (fp32 or fp16 graph) of this bundle's engine on this device."""
    typed = (tensorrt_major(trt) >= 11) if options.strongly_typed is None else options.strongly_typed
    fmt = "onnx-fp16" if (precision == "fp16" and typed) else "onnx"
    onnx_sha = bundle.manifest.files[bundle.manifest.formats[fmt]].sha256
    device = cuda_device_info(options.device_index)
    cache = Path(options.cache_dir) if options.cache_dir is not None else bundle.engine_cache_dir()
    version = str(trt.__version__)
    path = cache / engine_file_name(device, version, precision, onnx_sha)
    return EngineTarget(path, fmt, onnx_sha, typed, device, version)


def load_cached_engine(
    bundle: Bundle, precision: Precision, options: EngineOptions, trt: ModuleType
) -> tuple[Path, EngineMetadata, bytes] | None:
    """The cached engine's path, metadata and verified plan bytes, or None when absent, stale or modified.

    Fresh means: built from this ONNX (by the bundle's verified sha256), TensorRT version, device and
    profile, and the plan's bytes match the sha256 recorded in its sidecar.
    """
    target = engine_target(bundle, precision, options, trt)
    if options.rebuild:
        return None
    cached = read_engine_cache(target.path)
    if cached is None:
        return None
    meta, plan = cached
    fresh = (
        meta.onnx_sha256 == target.onnx_sha256
        and meta.tensorrt_version == target.tensorrt_version
        and meta.device_name == target.device.name
        and meta.compute_capability == target.device.compute_capability
        and meta.batch == asdict(options.batch)
        and meta.text_tokens == asdict(options.text_tokens)
    )
    if not fresh:
        return None
    log.info("using cached TensorRT engine %s (sha256 %s... verified)", target.path, meta.engine_sha256[:12])
    return target.path, meta, plan


def missing_engine_error(bundle: Bundle, precision: Precision) -> BackendError:
    """No fresh engine for this device: say the one command that builds it."""
    return BackendError(
        f"no TensorRT engine for bundle {bundle.source} ({precision}) on this GPU and TensorRT version yet; "
        f"build it once with `{ENGINE_BUILD_HINT.format(source=bundle.source, precision=precision)}`"
    )
