"""Inference backends behind one Backend protocol (installed as scoligait_edge.runtimes).

``load_backend(bundle)`` verifies the bundle and opens the best backend this
machine has: TensorRT > ONNX Runtime CUDA > ONNX Runtime CPU > torch. It logs
(at INFO) which one it picked and why the faster ones were passed over; the
reasons are also on ``backend.selection``.

    from scoligait_edge.runtimes import load_backend
    with load_backend("demo_bundle") as backend:
        out = backend.infer({"km": km, "km_mask": mask})   # [B, 96, 238] float32, [B, 96] bool
        refer = out["prob"] >= backend.threshold
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any, Literal

from scoligait_edge.bundle.load import Bundle, load_bundle
from scoligait_edge.errors import BackendError, OptionalDependencyError
from scoligait_edge.runtimes.base import Backend, BackendBase, Precision, dummy_batch, validate_batch

log = logging.getLogger(__name__)
BackendName = Literal["auto", "torch", "onnxruntime", "tensorrt"]

__all__ = ["Backend", "BackendBase", "BackendName", "Precision", "dummy_batch", "load_backend", "validate_batch"]


def _torch_cuda() -> bool:
    """True if torch is installed and sees a CUDA GPU (imports torch: call it only when that is needed)."""
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def _ort_providers() -> list[str]:
    if importlib.util.find_spec("onnxruntime") is None:
        return []
    import onnxruntime as ort

    return list(ort.get_available_providers())


def _onnx_format(bundle: Bundle, precision: str) -> str:
    return {"fp16": "onnx-fp16", "int8": "onnx-int8"}.get(precision, "onnx")


INT8_EXPORT_HINT = "python -m scoligait_edge.export --bundle {source} --formats onnx-int8 --signing-key KEY.pem"


def _candidates(bundle: Bundle, precision: str, device: str | None) -> tuple[list[str], list[str]]:
    """Backends to try in order, and why the others are not."""
    want_cpu = device is not None and device.startswith("cpu")
    want_cuda = device is not None and device.startswith("cuda")
    has_trt = importlib.util.find_spec("tensorrt") is not None
    providers = _ort_providers()
    verdicts = [
        ("tensorrt", _tensorrt_unusable(bundle, precision, want_cpu, has_trt)),
        *_onnxruntime_verdicts(bundle, precision, providers, want_cpu, want_cuda),
        ("torch", _torch_unusable(bundle, precision, want_cuda)),
    ]
    order = [kind for kind, why_not in verdicts if why_not is None]
    skipped = [why_not for _, why_not in verdicts if why_not is not None]
    return order, skipped


def _tensorrt_unusable(bundle: Bundle, precision: str, want_cpu: bool, has_trt: bool) -> str | None:
    """Why TensorRT cannot run this bundle here, or None when it can."""
    if precision == "int8":
        return "tensorrt: int8 is the ONNX Runtime CPU format (engines are fp32/fp16)"
    if want_cpu:
        return "tensorrt: device='cpu'"
    if not has_trt:
        return "tensorrt: not installed"
    if not _torch_cuda():  # imports torch only where TensorRT is installed
        return "tensorrt: torch sees no CUDA GPU"
    if not bundle.has_format("onnx"):
        return "tensorrt: bundle has no ONNX model"
    return None


def _onnxruntime_verdicts(
    bundle: Bundle, precision: str, providers: list[str], want_cpu: bool, want_cuda: bool
) -> list[tuple[str, str | None]]:
    """ONNX Runtime's CUDA and CPU candidates, each with why it cannot run (None when it can)."""
    onnx_fmt = _onnx_format(bundle, precision)
    if not providers:
        return [("onnxruntime", "onnxruntime: not installed")]
    if not bundle.has_format(onnx_fmt):
        return [("onnxruntime", f"onnxruntime: bundle has no {onnx_fmt!r} model")]
    cuda: str | None = None
    if precision == "int8":
        cuda = "onnxruntime-cuda: the int8 model (dynamic quantization) is for CPUs"
    elif want_cpu:
        cuda = "onnxruntime-cuda: device='cpu'"
    elif "CUDAExecutionProvider" not in providers:
        cuda = "onnxruntime-cuda: onnxruntime has no CUDAExecutionProvider (pip install onnxruntime-gpu)"
    cpu = "onnxruntime-cpu: device='cuda'" if want_cuda else None
    return [("onnxruntime-cuda", cuda), ("onnxruntime-cpu", cpu)]


def _torch_unusable(bundle: Bundle, precision: str, want_cuda: bool) -> str | None:
    """Why the torch backend cannot run this bundle here, or None when it can."""
    if precision == "int8":
        return "torch: no int8 path (use onnxruntime)"
    if importlib.util.find_spec("torch") is None:
        return "torch: not installed"
    if not bundle.has_format("checkpoint"):
        return "torch: bundle has no safetensors checkpoint"
    if want_cuda and not _torch_cuda():
        return "torch: device='cuda' but torch sees no CUDA GPU"
    return None


def _open(kind: str, bundle: Bundle, precision: Precision, device: str | None, **options: Any) -> BackendBase:
    device_index = int(device.split(":")[1]) if device and ":" in device else 0
    if kind == "tensorrt":
        from scoligait_edge.runtimes.tensorrt_backend import TensorRTBackend
        from scoligait_edge.runtimes.tensorrt_engine import EngineOptions

        return TensorRTBackend(bundle, precision, EngineOptions(device_index=device_index, **options))
    if kind in ("onnxruntime", "onnxruntime-cuda", "onnxruntime-cpu"):
        from scoligait_edge.runtimes.onnxruntime_backend import OnnxRuntimeBackend

        ort_device = {"onnxruntime-cuda": "cuda", "onnxruntime-cpu": "cpu"}.get(kind)
        if kind == "onnxruntime":
            ort_device = options.pop("ort_device", None) or (
                "cpu" if device and device.startswith("cpu") else "cuda" if device else None
            )
            if precision == "int8" and ort_device is None:
                ort_device = "cpu"  # the int8 model is for CPUs: never picked onto CUDA by default
        return OnnxRuntimeBackend.from_bundle(bundle, precision, device=ort_device, device_id=device_index, **options)
    if kind == "torch":
        from scoligait_edge.runtimes.torch_backend import TorchBackend

        torch_device = device or ("cuda" if _torch_cuda() else "cpu")
        return TorchBackend.from_bundle(bundle, precision, device=torch_device, **options)
    raise BackendError(f"unknown backend {kind!r}; use 'auto', 'torch', 'onnxruntime' or 'tensorrt'")


def load_backend(
    bundle: Bundle | str | Path,
    backend: BackendName = "auto",
    precision: Precision = "fp32",
    device: str | None = None,
    *,
    trusted_keys: Any = None,
    allow_unsigned: bool = False,
    **options: Any,
) -> BackendBase:
    """Open ``bundle`` (a :class:`Bundle` or a bundle folder/zip path, verified) with one backend.

    A path is loaded with :func:`~scoligait_edge.bundle.load_bundle`
    (``trusted_keys`` and ``allow_unsigned`` go to it: an unsigned or
    unknown-key bundle is refused unless ``allow_unsigned=True``). Every backend
    is given the bytes the bundle verified, not a path.

    ``backend="auto"`` takes the first that works of TensorRT, ONNX Runtime
    CUDA, ONNX Runtime CPU, torch (restricted by ``device``: ``"cpu"``,
    ``"cuda"``, ``"cuda:1"``). ``options`` go to the backend's constructor
    (e.g. ``threads=2``, ``graph_optimization_level="extended"``,
    ``cuda_graphs=True``); with ``"auto"`` they are passed only to backends
    that accept them. The returned backend carries ``threshold``, ``labels``
    and ``selection`` (the reasons).

    ``precision``: ``"fp32"``, ``"fp16"`` or ``"int8"`` (the bundle's
    ``onnx-int8`` model on ONNX Runtime's CPU provider; a bundle without one is
    refused with the export command that adds it).
    """
    if precision not in ("fp32", "fp16", "int8"):
        raise BackendError(f"precision must be 'fp32', 'fp16' or 'int8', got {precision!r}")
    if not isinstance(bundle, Bundle):
        bundle = load_bundle(bundle, trusted_keys=trusted_keys, allow_unsigned=allow_unsigned)
    _refuse_early(bundle, backend, precision)
    chosen: BackendBase
    if backend != "auto":
        chosen = _open(backend, bundle, precision, device, **options)
        reasons = [f"{chosen.name}: asked for backend={backend!r}"]
    else:
        chosen, reasons = _auto_select(bundle, precision, device, options)
    return _hand_over(chosen, bundle, reasons)


def _refuse_early(bundle: Bundle, backend: BackendName, precision: Precision) -> None:
    """Refuse before opening anything what cannot run: int8 off ONNX Runtime or without the bundle's int8
    model (with the export command that adds it), and TensorRT when it is not installed."""
    if precision == "int8":
        if backend not in ("auto", "onnxruntime"):
            raise BackendError(f"precision='int8' runs on the onnxruntime backend (CPU), not {backend!r}")
        if not bundle.has_format("onnx-int8"):
            have = ", ".join(sorted(bundle.manifest.formats)) or "none"
            raise BackendError(
                f"bundle {bundle.source} has no int8 model ('onnx-int8'; it has: {have}); add it with "
                f"`{INT8_EXPORT_HINT.format(source=bundle.source)}`"
            )
    if backend == "tensorrt":
        from scoligait_edge.runtimes.tensorrt_engine import require_tensorrt

        require_tensorrt()  # OptionalDependencyError with the install command


def _auto_select(
    bundle: Bundle, precision: Precision, device: str | None, options: dict[str, Any]
) -> tuple[BackendBase, list[str]]:
    """The first candidate that starts, and the reasons for every one passed over; BackendError if none does."""
    order, skipped = _candidates(bundle, precision, device)
    reasons = list(skipped)
    for kind in order:
        try:
            chosen = _open(kind, bundle, precision, device, **_accepted(kind, options))
        except (BackendError, OptionalDependencyError, ImportError) as exc:
            reasons.append(f"{kind}: failed to start ({exc})")
            log.warning("backend %s could not start: %s", kind, exc)
        else:
            reasons.append(f"{kind}: picked (best available)")
            return chosen, reasons
    raise BackendError(f"no backend can run bundle {bundle.source} here: " + "; ".join(reasons))


def _hand_over(chosen: BackendBase, bundle: Bundle, reasons: list[str]) -> BackendBase:
    """Log the choice and give the backend what callers read from it: the reasons, threshold, labels, bundle."""
    log.info(
        "load_backend: using %s on %s (%s) for %s; %s",
        chosen.name,
        chosen.device,
        chosen.precision,
        bundle.source,
        "; ".join(reasons),
    )
    chosen.selection = reasons
    chosen.threshold = bundle.threshold
    chosen.labels = bundle.manifest.labels
    chosen.bundle = bundle
    return chosen


_OPTIONS = {
    "tensorrt": {"strongly_typed", "batch", "text_tokens", "cache_dir"},
    "onnxruntime-cuda": {"threads", "graph_optimization_level", "disabled_optimizers"},
    "onnxruntime-cpu": {"threads", "graph_optimization_level", "disabled_optimizers"},
    "torch": {"threads", "cuda_graphs"},
}


def _accepted(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k in _OPTIONS[kind]}
