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
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scoligait_edge.errors import BackendError
from scoligait_edge.runtimes.tensorrt_engine import (
    DeviceInfo,
    EngineMetadata,
    EngineOptions,
    Precision,
    ProfileRange,
    cuda_device_info,
    engine_target,
    load_cached_engine,
    require_tensorrt,
    tensorrt_major,
    write_engine_cache,
)

log = logging.getLogger(__name__)


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


def _strongly_typed_for(trt: Any, strongly_typed: bool | None) -> bool:
    """The version's natural typing when not asked (weak on 10, strong on 11+); 11+ refuses weak typing."""
    major = tensorrt_major(trt)
    if strongly_typed is None:
        strongly_typed = major >= 11
    if major >= 11 and not strongly_typed:
        raise BackendError(
            f"TensorRT {trt.__version__} only builds strongly typed networks; fp16 must come from "
            "the graph (model.fp16.onnx)"
        )
    return strongly_typed


def _parse_network(
    trt: Any, builder: Any, logger: Any, onnx_bytes: bytes, onnx_path: Path, strongly_typed: bool
) -> Any:
    """The network parsed from the verified ONNX bytes; parser errors are raised with the file's name."""
    flags = 0
    if strongly_typed and hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED"):
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)  # ignored (always on) in 11+
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes, str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendError(f"TensorRT could not parse {onnx_path}: {errors or 'unknown error'}")
    return network


def _set_precision(trt: Any, config: Any, network: Any, precision: Precision, strongly_typed: bool) -> str:
    """Set the builder flags for ``precision``; return the typing as recorded in the metadata.

    fp32 clears TF32 for parity with torch and ONNX Runtime. Weakly typed fp16 pins
    normalization and softmax layers to fp32, where fp16 loses accuracy.
    """
    if strongly_typed:
        if precision == "fp32" and hasattr(trt.BuilderFlag, "TF32"):
            config.clear_flag(trt.BuilderFlag.TF32)
        return "strongly typed"
    if precision == "fp32":
        if hasattr(trt.BuilderFlag, "TF32"):
            config.clear_flag(trt.BuilderFlag.TF32)  # parity with torch/ORT fp32
        return "fp32"
    config.set_flag(trt.BuilderFlag.FP16)
    config.set_flag(trt.BuilderFlag.PREFER_PRECISION_CONSTRAINTS)
    keep = {trt.LayerType.NORMALIZATION, trt.LayerType.SOFTMAX}
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        if layer.type in keep:
            layer.precision = trt.float32
            for j in range(layer.num_outputs):
                layer.set_output_type(j, trt.float32)
    return "weak (BuilderFlag.FP16)"


def _add_profile(
    builder: Any, config: Any, network: Any, batch: ProfileRange, text_tokens: ProfileRange
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One optimization profile over the batch axis (and text sentences); return the inputs' and outputs' metadata."""
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
    return inputs_meta, outputs_meta


def _use_timing_cache(config: Any, timing_cache: str | Path | None) -> None:
    """Start from the timing cache file when there is one, so rebuilds skip the kernel timing."""
    cache_bytes = b""
    if timing_cache is not None and Path(timing_cache).is_file():
        cache_bytes = Path(timing_cache).read_bytes()
    cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(cache, ignore_mismatch=False)


def _save_timing_cache(config: Any, timing_cache: str | Path) -> None:
    """Write the timing cache atomically (temporary file, then rename), so a crash never leaves half a file."""
    data = config.get_timing_cache().serialize()
    tc_tmp = Path(str(timing_cache) + ".tmp")
    with open(tc_tmp, "wb") as f:
        f.write(memoryview(data))
    os.replace(tc_tmp, timing_cache)


def _read_onnx(onnx_path: Path) -> bytes:
    if not onnx_path.is_file():
        raise BackendError(f"cannot build a TensorRT engine: {onnx_path} not found")
    return onnx_path.read_bytes()


def _build_plan(
    trt: Any,
    builder: Any,
    network: Any,
    config: Any,
    onnx_path: Path,
    precision: Precision,
    typing: str,
    device: DeviceInfo,
) -> bytes:
    """Build the serialized engine, logged first since it is the slow step of an export."""
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
    return bytes(memoryview(serialized))


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
        onnx_bytes = _read_onnx(onnx_path)
    strongly_typed = _strongly_typed_for(trt, strongly_typed)
    device = device or cuda_device_info()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = _parse_network(trt, builder, logger, onnx_bytes, onnx_path, strongly_typed)
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_bytes))
    typing = _set_precision(trt, config, network, precision, strongly_typed)
    inputs_meta, outputs_meta = _add_profile(builder, config, network, batch, text_tokens)
    _use_timing_cache(config, timing_cache)
    plan = _build_plan(trt, builder, network, config, onnx_path, precision, typing, device)
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    if timing_cache is not None:
        _save_timing_cache(config, timing_cache)
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
    bundle: Any, precision: Precision = "fp32", options: EngineOptions | None = None
) -> tuple[Path, EngineMetadata]:
    """The cached engine for ``bundle`` on this device, TensorRT version and precision; built if absent or stale.

    Cached under ``bundle.engine_cache_dir()`` (``<bundle>/engines`` for a folder) with a shared
    ``timing.cache``. Returns ``(engine path, metadata)``; :func:`load_engine` also returns the verified
    plan bytes (what to deserialise).
    """
    path, meta, _ = load_engine(bundle, precision, options)
    return path, meta


def load_engine(
    bundle: Any, precision: Precision = "fp32", options: EngineOptions | None = None
) -> tuple[Path, EngineMetadata, bytes]:
    """:func:`ensure_engine` plus the plan bytes: the verified cached plan, else a new one built from the
    bundle's verified ONNX bytes (never re-read from the path)."""
    options = options or EngineOptions()
    trt = require_tensorrt()
    from scoligait_edge.bundle.load import Bundle, load_bundle

    if not isinstance(bundle, Bundle):
        bundle = load_bundle(bundle)
    cached = load_cached_engine(bundle, precision, options, trt)
    if cached is not None:
        return cached
    target = engine_target(bundle, precision, options, trt)
    meta, plan = _build_engine(
        bundle.format_path(target.onnx_format),
        target.path,
        precision=precision,
        strongly_typed=target.strongly_typed,
        batch=options.batch,
        text_tokens=options.text_tokens,
        timing_cache=target.path.parent / "timing.cache",
        workspace_bytes=1 << 30,
        device=target.device,
        onnx_bytes=bundle.format_bytes(target.onnx_format),
    )
    return target.path, meta, plan


__all__ = ["DeviceInfo", "EngineOptions", "ProfileRange", "build_engine", "ensure_engine", "load_engine"]
