"""TensorRT engines built on the target device from the bundle's ONNX, cached per device and TensorRT version.

Engines are not portable between GPUs or TensorRT versions, so bundles ship
ONNX and the engine is built (once) where it runs:

* **TensorRT 10** (still the Jetson/JetPack line): fp32 from ``model.onnx``;
  fp16 by ``BuilderFlag.FP16`` on the fp32 graph (weak typing), with
  normalization and softmax layers pinned to fp32
  (``PREFER_PRECISION_CONSTRAINTS``); or, with ``strongly_typed=True``, a
  strongly typed network built from ``model.fp16.onnx``.
* **TensorRT 11+**: the precision flags are gone and every network is strongly
  typed, so fp16 comes from the graph: ``model.fp16.onnx`` (LayerNorm/softmax
  already fp32 in it, see :mod:`scoligait_edge.export.fp16`).

The version is read from ``tensorrt.__version__``. One optimization profile
covers the batch axis (and the number of text sentences); a timing cache file
beside the engines makes rebuilds fast. The plan file is the raw serialized
engine (``trtexec --loadEngine`` and ``trt.Runtime`` read it as is); its
metadata lives in a sidecar ``<engine>.json``, never prepended to the plan.

Integrity: engines are built from the ONNX bytes the bundle verified (never
re-read from the path), the sidecar records the plan's sha256 and size, and
:func:`load_engine` reads the plan once, checks it against that record and
hands those same bytes to ``deserialize_cuda_engine``; a plan that does not
match (or a sidecar without the record, from an older version) is rebuilt. The
record sits beside the engine, so it catches a corrupted or swapped plan, not
someone who can rewrite both files: keep ``cache_dir`` where only the runtime
user can write when that matters (for a zip bundle it is a per-user cache).

Importing this module does not need TensorRT; calling into it without
TensorRT raises :class:`OptionalDependencyError` with the install command.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from scoligait_edge import __version__
from scoligait_edge.errors import BackendError, OptionalDependencyError

log = logging.getLogger(__name__)
Precision = Literal["fp32", "fp16"]


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
    return trt


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


def _dims_for(shape: tuple[int, ...], name: str, batch: int, text_tokens: int) -> tuple[int, ...]:
    out = []
    for axis, d in enumerate(shape):
        if d >= 0:
            out.append(d)
        elif axis == 0:
            out.append(batch)
        elif name.startswith("text") and axis == 1:
            out.append(text_tokens)
        else:
            raise BackendError(f"input {name} has an unexpected dynamic axis {axis} (shape {shape})")
    return tuple(out)


def build_engine(
    onnx_path: str | Path,
    engine_path: str | Path,
    *,
    precision: Precision = "fp32",
    strongly_typed: bool | None = None,
    batch: ProfileRange = ProfileRange(),
    text_tokens: ProfileRange = ProfileRange(1, 4, 16),
    timing_cache: str | Path | None = None,
    workspace_bytes: int = 1 << 30,
    device: DeviceInfo | None = None,
    onnx_bytes: bytes | None = None,
) -> EngineMetadata:
    """Build a serialized engine from ``onnx_path`` and write it plus its sidecar JSON.

    ``onnx_path`` must be the fp16 graph when the network is strongly typed and
    ``precision="fp16"`` (always so on TensorRT 11+), the fp32 graph otherwise.
    ``strongly_typed`` None = the version's natural choice (False on 10, True on 11+).
    ``onnx_bytes``: parse these (e.g. a bundle's verified bytes); ``onnx_path`` then only names them.
    """
    return _build_engine(
        onnx_path,
        engine_path,
        precision=precision,
        strongly_typed=strongly_typed,
        batch=batch,
        text_tokens=text_tokens,
        timing_cache=timing_cache,
        workspace_bytes=workspace_bytes,
        device=device,
        onnx_bytes=onnx_bytes,
    )[0]


def _build_engine(
    onnx_path: str | Path,
    engine_path: str | Path,
    *,
    precision: Precision,
    strongly_typed: bool | None,
    batch: ProfileRange,
    text_tokens: ProfileRange,
    timing_cache: str | Path | None,
    workspace_bytes: int,
    device: DeviceInfo | None,
    onnx_bytes: bytes | None,
) -> tuple[EngineMetadata, bytes]:
    """:func:`build_engine`, also returning the plan bytes it wrote (so nobody re-reads them from disk)."""
    trt = require_tensorrt()

    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    if onnx_bytes is None:
        if not onnx_path.is_file():
            raise BackendError(f"cannot build a TensorRT engine: {onnx_path} not found")
        onnx_bytes = onnx_path.read_bytes()
    major = tensorrt_major(trt)
    if strongly_typed is None:
        strongly_typed = major >= 11
    if major >= 11 and not strongly_typed:
        raise BackendError(
            f"TensorRT {trt.__version__} only builds strongly typed networks; fp16 must come from "
            "the graph (model.fp16.onnx)"
        )
    device = device or cuda_device_info()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if strongly_typed and hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED"):
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)  # ignored (always on) in 11+
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes, str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendError(f"TensorRT could not parse {onnx_path}: {errors or 'unknown error'}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_bytes))

    typing = "strongly typed" if strongly_typed else "fp32"
    if not strongly_typed:
        if precision == "fp32":
            if hasattr(trt.BuilderFlag, "TF32"):
                config.clear_flag(trt.BuilderFlag.TF32)  # parity with torch/ORT fp32
        else:
            config.set_flag(trt.BuilderFlag.FP16)
            config.set_flag(trt.BuilderFlag.PREFER_PRECISION_CONSTRAINTS)
            typing = "weak (BuilderFlag.FP16)"
            keep = {trt.LayerType.NORMALIZATION, trt.LayerType.SOFTMAX}
            for i in range(network.num_layers):
                layer = network.get_layer(i)
                if layer.type in keep:
                    layer.precision = trt.float32
                    for j in range(layer.num_outputs):
                        layer.set_output_type(j, trt.float32)
    elif precision == "fp32" and hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)

    profile = builder.create_optimization_profile()
    inputs_meta = []
    for i in range(network.num_inputs):
        inp = network.get_input(i)
        shape = tuple(int(d) for d in inp.shape)
        lo, mid, hi = (
            _dims_for(shape, inp.name, batch_n, text_n)
            for batch_n, text_n in (
                (batch.min, text_tokens.min),
                (batch.opt, text_tokens.opt),
                (batch.max, text_tokens.max),
            )
        )
        profile.set_shape(inp.name, lo, mid, hi)
        inputs_meta.append({"name": inp.name, "shape": list(shape), "dtype": str(inp.dtype)})
    config.add_optimization_profile(profile)
    outputs_meta = [
        {
            "name": network.get_output(i).name,
            "shape": [int(d) for d in network.get_output(i).shape],
            "dtype": str(network.get_output(i).dtype),
        }
        for i in range(network.num_outputs)
    ]

    cache_bytes = b""
    if timing_cache is not None and Path(timing_cache).is_file():
        cache_bytes = Path(timing_cache).read_bytes()
    cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(cache, ignore_mismatch=False)

    log.info(
        "building TensorRT %s %s engine (%s) from %s on %s (sm %s)",
        trt.__version__,
        precision,
        typing,
        onnx_path.name,
        device.name,
        device.compute_capability,
    )
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendError(f"TensorRT {trt.__version__} failed to build an engine from {onnx_path} (see its log)")
    plan = bytes(memoryview(serialized))
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    if timing_cache is not None:
        data = config.get_timing_cache().serialize()
        tc_tmp = Path(str(timing_cache) + ".tmp")
        with open(tc_tmp, "wb") as f:
            f.write(memoryview(data))
        os.replace(tc_tmp, timing_cache)
    meta = EngineMetadata(
        tensorrt_version=str(trt.__version__),
        device_name=device.name,
        compute_capability=device.compute_capability,
        precision=precision,
        typing=typing,
        onnx_file=onnx_path.name,
        onnx_sha256=hashlib.sha256(onnx_bytes).hexdigest(),
        batch=asdict(batch),
        text_tokens=asdict(text_tokens),
        inputs=inputs_meta,
        outputs=outputs_meta,
        built_at=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    )
    return write_engine_cache(engine_path, plan, meta), plan


def ensure_engine(
    bundle: Any,
    precision: Precision = "fp32",
    *,
    device_index: int = 0,
    strongly_typed: bool | None = None,
    batch: ProfileRange = ProfileRange(),
    text_tokens: ProfileRange = ProfileRange(1, 4, 16),
    cache_dir: str | Path | None = None,
    rebuild: bool = False,
) -> tuple[Path, EngineMetadata]:
    """The cached engine for ``bundle`` on this device, TensorRT version and precision; built if absent or stale.

    Cached under ``bundle.engine_cache_dir()`` (``<bundle>/engines`` for a
    folder) with a shared ``timing.cache``. Returns ``(engine path, metadata)``;
    :func:`load_engine` also returns the verified plan bytes (what to deserialise).
    """
    path, meta, _ = load_engine(
        bundle,
        precision,
        device_index=device_index,
        strongly_typed=strongly_typed,
        batch=batch,
        text_tokens=text_tokens,
        cache_dir=cache_dir,
        rebuild=rebuild,
    )
    return path, meta


def load_engine(
    bundle: Any,
    precision: Precision = "fp32",
    *,
    device_index: int = 0,
    strongly_typed: bool | None = None,
    batch: ProfileRange = ProfileRange(),
    text_tokens: ProfileRange = ProfileRange(1, 4, 16),
    cache_dir: str | Path | None = None,
    rebuild: bool = False,
) -> tuple[Path, EngineMetadata, bytes]:
    """:func:`ensure_engine` plus the plan bytes, read once and checked against the sha256 in the sidecar.

    A cached plan is used only when its sidecar matches this ONNX (by the
    bundle's verified sha256), TensorRT version, device and profile *and* the
    plan's bytes match the recorded sha256; otherwise the engine is rebuilt
    from the bundle's verified ONNX bytes.
    """
    trt = require_tensorrt()
    from scoligait_edge.bundle import Bundle, load_bundle

    if not isinstance(bundle, Bundle):
        bundle = load_bundle(bundle)
    major = tensorrt_major(trt)
    typed = (major >= 11) if strongly_typed is None else strongly_typed
    fmt = "onnx-fp16" if (precision == "fp16" and typed) else "onnx"
    onnx_path = bundle.format_path(fmt)
    onnx_sha = bundle.manifest.files[bundle.manifest.formats[fmt]].sha256
    device = cuda_device_info(device_index)
    cache = Path(cache_dir) if cache_dir is not None else bundle.engine_cache_dir()
    engine = cache / engine_file_name(device, str(trt.__version__), precision, onnx_sha)
    if not rebuild:
        cached = read_engine_cache(engine)
        if cached is not None:
            meta, plan = cached
            fresh = (
                meta.onnx_sha256 == onnx_sha
                and meta.tensorrt_version == str(trt.__version__)
                and meta.device_name == device.name
                and meta.compute_capability == device.compute_capability
                and meta.batch == asdict(batch)
                and meta.text_tokens == asdict(text_tokens)
            )
            if fresh:
                log.info("using cached TensorRT engine %s (sha256 %s... verified)", engine, meta.engine_sha256[:12])
                return engine, meta, plan
    meta, plan = _build_engine(
        onnx_path,
        engine,
        precision=precision,
        strongly_typed=typed,
        batch=batch,
        text_tokens=text_tokens,
        timing_cache=cache / "timing.cache",
        workspace_bytes=1 << 30,
        device=device,
        onnx_bytes=bundle.format_bytes(fmt),
    )
    return engine, meta, plan
