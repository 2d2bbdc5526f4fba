"""ONNX Runtime backend: CPU, CUDA or TensorRT execution providers; fp32 / fp16 / int8 ONNX graphs or ``.ort`` files.

Bundles: :meth:`OnnxRuntimeBackend.from_bundle` hands ONNX Runtime the bytes
the bundle verified at load time (``InferenceSession(bytes)``), never the path,
so a model file replaced on disk after ``load_bundle`` is never the one that runs.

fp16 graphs: ONNX Runtime 1.32 can segfault while *creating* a session for an
fp16 model with cross-attention pooling at ``ORT_ENABLE_ALL`` (the NCHWc layout
transformer). Every fp16 session made here therefore disables
``NchwcTransformer`` (all other ``ORT_ENABLE_ALL`` optimizations stay on).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from scoligait_edge.bundle.specs import TensorSpec
from scoligait_edge.errors import BackendError, OptionalDependencyError
from scoligait_edge.runtimes.base import BackendBase, Precision

log = logging.getLogger(__name__)
OptLevel = Literal["disable", "basic", "extended", "all"]
OrtDevice = Literal["cpu", "cuda", "tensorrt"]
FP16_DISABLED_OPTIMIZERS = ("NchwcTransformer",)
_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(bool)": "bool",
    "tensor(uint8)": "uint8",
    "tensor(int64)": "int64",
}
_PROVIDER = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}


def available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def _varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes | memoryview) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, int value or bytes) of one protobuf message, top level only."""
    pos, end = 0, len(buf)
    value: int | bytes | memoryview | None
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = None, pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        elif wire == 5:
            value, pos = None, pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > end:
            raise ValueError("truncated protobuf message")
        yield number, wire, value


# ONNX ModelProto: graph = 7, metadata_props = 14 (key 1, value 2); GraphProto.initializer = 5;
# TensorProto.data_type = 2, FLOAT16 = 10 (onnx.proto3, stable since IR version 3).
_MODEL_GRAPH, _MODEL_METADATA, _GRAPH_INITIALIZER, _TENSOR_DATA_TYPE, _FLOAT16 = 7, 14, 5, 2, 10


def _graph_precision(path: Path, data: bytes | None = None) -> Precision:
    """``"int8"`` (metadata ``precision=int8``, or ``.int8`` in an ``.ort`` name), ``"fp16"`` or ``"fp32"``."""
    if path.suffix == ".ort":
        return "int8" if ".int8" in path.name else "fp16" if ".fp16" in path.name else "fp32"
    try:
        raw = memoryview(data if data is not None else path.read_bytes())
        for number, wire, value in _fields(raw):
            if number == _MODEL_METADATA and wire == 2:
                entry = {n: v for n, w, v in _fields(value) if w == 2}
                if entry.get(1) == b"precision" and entry.get(2) == b"int8":
                    return "int8"
    except (OSError, ValueError, IndexError):
        if ".int8" in path.name:
            return "int8"
    return "fp16" if _is_fp16_graph(path, data) else "fp32"


def _is_fp16_graph(path: Path, data: bytes | None = None) -> bool:
    """True if the ONNX file (or ``data``, its bytes) stores fp16 weights (or says so in its metadata).

    Reads the protobuf wire format directly, so the runtime needs no ``onnx`` package.
    """
    if path.suffix == ".ort":
        return ".fp16" in path.name
    try:
        raw = memoryview(data if data is not None else path.read_bytes())
        fp16_weights = False
        for number, wire, value in _fields(raw):
            if number == _MODEL_METADATA and wire == 2:
                entry = {n: v for n, w, v in _fields(value) if w == 2}
                if entry.get(1) == b"precision" and entry.get(2) == b"fp16":
                    return True
            elif number == _MODEL_GRAPH and wire == 2 and not fp16_weights:
                fp16_weights = any(
                    n == _GRAPH_INITIALIZER
                    and w == 2
                    and any(tn == _TENSOR_DATA_TYPE and tw == 0 and tv == _FLOAT16 for tn, tw, tv in _fields(v))
                    for n, w, v in _fields(value)
                )
        return fp16_weights
    except (OSError, ValueError, IndexError):  # let ONNX Runtime report the corrupt file with our message
        return ".fp16" in path.name


def _specs_from_session(items: Sequence[Any]) -> list[TensorSpec]:
    specs = []
    for i, item in enumerate(items):
        dtype = _ORT_TYPES.get(item.type)
        if dtype is None:
            raise BackendError(f"unsupported ONNX input/output type {item.type} for {item.name}")
        shape = tuple(d if isinstance(d, int) else (d or f"dim{i}") for d in item.shape)
        specs.append(TensorSpec(name=item.name, shape=shape, dtype=dtype))
    return specs


def _checked_precision(path: Path, model_bytes: bytes | None, precision: Precision | None) -> Precision:
    """The graph's own precision; asking for another one is an error, since it would run the wrong file."""
    graph_precision = _graph_precision(path, model_bytes)
    if precision is not None and precision != graph_precision:
        raise BackendError(
            f"{path.name} is an {graph_precision} model but precision={precision!r} was asked; "
            "pick the matching file (model.onnx / model.fp16.onnx / model.int8.onnx)"
        )
    return graph_precision


def _providers_for(
    device: OrtDevice | None, device_id: int, path: Path, engine_cache_dir: str | Path | None
) -> tuple[OrtDevice, str, list[Any]]:
    """``(device, wanted provider, providers in priority order)``, CPU always last as the fallback.

    None picks CUDA when this ONNX Runtime has it; a provider it lacks raises with the install command.
    The TensorRT provider caches its engines (and timing) under ``engine_cache_dir``.
    """
    avail = available_providers()
    if device is None:
        device = "cuda" if "CUDAExecutionProvider" in avail else "cpu"
    if device not in _PROVIDER:
        raise BackendError(f"unknown ONNX Runtime device {device!r}; use 'cpu', 'cuda' or 'tensorrt'")
    wanted = _PROVIDER[device]
    if wanted not in avail:
        hint = (
            "`pip install onnxruntime-gpu` (instead of onnxruntime) on a CUDA machine"
            if device == "cuda"
            else "onnxruntime-gpu built with TensorRT and TensorRT itself (`pip install onnxruntime-gpu tensorrt-cu12`)"
        )
        raise OptionalDependencyError(f"ONNX Runtime here has no {wanted} (available: {avail}); install {hint}")
    providers: list[Any] = []
    if device == "tensorrt":
        cache = Path(engine_cache_dir) if engine_cache_dir else path.parent / "engines" / "ort-trt"
        cache.mkdir(parents=True, exist_ok=True)
        options = {
            "device_id": device_id,
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(cache),
            "trt_timing_cache_enable": True,
        }
        providers.append((wanted, options))
    if device in ("cuda", "tensorrt"):
        providers.append(("CUDAExecutionProvider", {"device_id": device_id}))
    providers.append("CPUExecutionProvider")
    return device, wanted, providers


def _session_options(
    ort: Any,
    graph_optimization_level: OptLevel,
    threads: int | None,
    disabled_optimizers: Sequence[str] | None,
    is_fp16: bool,
    ort_bytes: bool,
) -> tuple[Any, list[str]]:
    """Session options and the optimizers to disable (fp16 graphs at level "all" also skip the NCHWc transformer)."""
    so = ort.SessionOptions()
    so.log_severity_level = 3
    levels = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    if graph_optimization_level not in levels:
        raise BackendError(f"graph_optimization_level must be one of {sorted(levels)}")
    so.graph_optimization_level = levels[graph_optimization_level]
    if threads is not None:
        so.intra_op_num_threads = int(threads)
        so.inter_op_num_threads = 1
    disabled = list(disabled_optimizers or [])
    if is_fp16 and graph_optimization_level == "all":
        disabled += [o for o in FP16_DISABLED_OPTIMIZERS if o not in disabled]
    if ort_bytes:  # bytes carry no file name, so say they are in the ORT format
        so.add_session_config_entry("session.load_model_format", "ORT")
    return so, disabled


def _open_session(
    ort: Any, path: Path, model_bytes: bytes | None, so: Any, providers: list[Any], disabled: list[str]
) -> Any:
    """The inference session; ONNX Runtime's own error becomes a BackendError naming the file and the fix."""
    kwargs = {"disabled_optimizers": disabled} if disabled else {}
    try:
        model: str | bytes = model_bytes if model_bytes is not None else str(path)
        return ort.InferenceSession(model, so, providers=providers, **kwargs)
    except Exception as exc:  # noqa: BLE001 - ORT raises its own pybind exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BackendError(
            f"ONNX Runtime cannot load {path}: {first}. The file is damaged or not an "
            "ONNX/ORT model; re-export it (python -m scoligait_edge.export)"
        ) from exc


def _check_against_manifest(
    path: Path,
    inputs: Sequence[TensorSpec] | None,
    outputs: Sequence[TensorSpec] | None,
    got_in: Sequence[TensorSpec],
    got_out: Sequence[TensorSpec],
) -> None:
    """The file must take the manifest's inputs (names in order, dtypes) and give at least its outputs."""
    if inputs is not None:
        if [s.name for s in inputs] != [s.name for s in got_in]:
            raise BackendError(
                f"{path.name} takes inputs {[s.name for s in got_in]} but the bundle manifest "
                f"lists {[s.name for s in inputs]}"
            )
        for want, got in zip(inputs, got_in, strict=True):
            if want.dtype != got.dtype:
                raise BackendError(f"{path.name}: input {got.name} is {got.dtype}, manifest says {want.dtype}")
    if outputs is not None and not {s.name for s in outputs} <= {s.name for s in got_out}:
        raise BackendError(
            f"{path.name} has outputs {[s.name for s in got_out]}, manifest lists {[s.name for s in outputs]}"
        )


class OnnxRuntimeBackend(BackendBase):
    """Runs an ``.onnx`` or ``.ort`` model with ONNX Runtime.

    ``device``: ``"cpu"``, ``"cuda"`` (CUDA EP, needs onnxruntime-gpu),
    ``"tensorrt"`` (TensorRT EP, engines cached beside the model) or None for
    CUDA when available else CPU. ``threads`` sets intra-op threads (None = ORT's
    default); ``graph_optimization_level`` one of disable/basic/extended/all.
    ``inputs``/``outputs`` (from a bundle manifest) are checked against the
    file; without them they are read from the session. ``model_bytes``: run
    these bytes (``model_path`` then only names them in messages and says
    whether they are ``.ort``).
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        precision: Precision | None = None,
        device: OrtDevice | None = None,
        device_id: int = 0,
        threads: int | None = None,
        graph_optimization_level: OptLevel = "all",
        disabled_optimizers: Sequence[str] | None = None,
        inputs: Sequence[TensorSpec] | None = None,
        outputs: Sequence[TensorSpec] | None = None,
        engine_cache_dir: str | Path | None = None,
        model_bytes: bytes | None = None,
    ) -> None:
        import onnxruntime as ort

        path = Path(model_path)
        if model_bytes is None and not path.is_file():
            raise BackendError(f"model file not found: {path}")
        self.precision = _checked_precision(path, model_bytes, precision)
        self.model_path = path
        device, wanted, providers = _providers_for(device, device_id, path, engine_cache_dir)
        so, disabled = _session_options(
            ort,
            graph_optimization_level,
            threads,
            disabled_optimizers,
            is_fp16=self.precision == "fp16",
            ort_bytes=model_bytes is not None and path.suffix == ".ort",
        )
        self._session = _open_session(ort, path, model_bytes, so, providers, disabled)
        active = self._session.get_providers()
        if wanted not in active:
            log.warning("ONNX Runtime did not enable %s for %s (active: %s)", wanted, path.name, active)
        self.providers = active
        self.device = "cpu" if active[0] == "CPUExecutionProvider" else f"cuda:{device_id}"
        short = {"CPUExecutionProvider": "cpu", "CUDAExecutionProvider": "cuda"}.get(active[0], "tensorrt")
        self.name = f"onnxruntime-{short}"
        got_in = _specs_from_session(self._session.get_inputs())
        got_out = _specs_from_session(self._session.get_outputs())
        _check_against_manifest(path, inputs, outputs, got_in, got_out)
        super().__init__(inputs if inputs is not None else got_in, outputs if outputs is not None else got_out)
        self._out_names = self.output_names
        log.debug(
            "created %s session for %s (providers %s, disabled optimizers %s)", self.name, path.name, active, disabled
        )

    @classmethod
    def from_bundle(
        cls, bundle: Any, precision: Precision = "fp32", *, model_format: str | None = None, **kwargs: Any
    ) -> OnnxRuntimeBackend:
        """Open the bundle's ``onnx`` (fp32), ``onnx-fp16`` (fp16), ``onnx-int8`` (int8) or, with
        ``model_format="ort"``, ``.ort`` model (any other listed format by name; precision then read from the file).

        The session is made from the bytes the bundle verified (:meth:`Bundle.format_bytes`), not from the path.
        """
        from scoligait_edge.bundle.load import Bundle, load_bundle

        if not isinstance(bundle, Bundle):
            bundle = load_bundle(bundle)
        fmt = model_format or {"fp16": "onnx-fp16", "int8": "onnx-int8"}.get(precision, "onnx")
        path = bundle.format_path(fmt)
        kwargs.setdefault("engine_cache_dir", bundle.engine_cache_dir() / "ort-trt")
        return cls(
            path,
            precision=None if model_format else precision,
            inputs=bundle.manifest.inputs,
            outputs=bundle.manifest.outputs,
            model_bytes=bundle.format_bytes(fmt),
            **kwargs,
        )

    def _run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            values = self._session.run(self._out_names, feed)
        except Exception as exc:  # noqa: BLE001
            raise BackendError(f"ONNX Runtime failed on {self.model_path.name}: {exc}") from exc
        return dict(zip(self._out_names, values, strict=True))

    def close(self) -> None:
        self._session = None
        super().close()
