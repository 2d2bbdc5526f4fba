"""PyTorch backend: the reference implementation (CPU or CUDA, fp32 or fp16 autocast, optional CUDA graphs).

fp16 uses ``torch.autocast``, which keeps LayerNorm and softmax in fp32 the same
way the fp16 ONNX graph does. With ``cuda_graphs=True`` each (batch size,
sentence count) shape is captured once into a CUDA graph and replayed, which
removes the per-kernel launch cost that dominates small batches.

:meth:`TorchBackend.from_bundle` rebuilds the model from the safetensors bytes
the bundle verified at load time (``safetensors.torch.load(bytes)``), not from
the file, so a checkpoint replaced on disk after ``load_bundle`` never runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import struct
from collections import OrderedDict
from typing import Any, Literal

import numpy as np

from scoligait_edge.bundle.specs import MODEL_OUTPUT_FIELDS, input_specs, output_specs
from scoligait_edge.errors import BackendError, OptionalDependencyError
from scoligait_edge.runtimes.base import BackendBase, Precision

log = logging.getLogger(__name__)
MAX_CUDA_GRAPHS = 8


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise OptionalDependencyError(
            "the torch backend needs PyTorch: `pip install 'scoligait-edge[train]'` "
            "(or `pip install torch safetensors`)"
        ) from exc
    return torch


def model_from_checkpoint_bytes(data: bytes, expected_config: Any, name: str = "model.safetensors") -> Any:
    """A model rebuilt from the bytes of a checkpoint written by ``save_checkpoint``, checked like
    :func:`scoligait_edge.research.models.load_checkpoint` does (format, model kind, knowledge-map schema, config equal to
    ``expected_config``, every tensor present) but never reading a file."""
    _torch()
    from safetensors.torch import load as load_safetensors

    from scoligait_edge.core.schema import schema_hash
    from scoligait_edge.research.models.io import FORMAT, MODEL_KINDS, CheckpointError

    try:
        (n,) = struct.unpack("<Q", data[:8])
        meta = json.loads(data[8 : 8 + n]).get("__metadata__") or {}
    except (struct.error, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{name} is not a readable safetensors file ({exc})") from exc
    kind = meta.get("model")
    if meta.get("format") != FORMAT or kind not in MODEL_KINDS:
        raise CheckpointError(f"{name} is not a {FORMAT} checkpoint (metadata: {sorted(meta)})")
    if meta.get("schema_hash") != schema_hash():
        raise CheckpointError(
            f"{name} was trained on another knowledge-map schema "
            f"({str(meta.get('schema_hash', '?'))[:12]} vs {schema_hash()[:12]})"
        )
    config_cls, model_cls = MODEL_KINDS[kind]
    try:
        config = config_cls.model_validate_json(meta["config"])
    except Exception as exc:  # noqa: BLE001 - pydantic ValidationError or a missing key
        raise CheckpointError(f"{name}: stored config is invalid for this version: {exc}") from exc
    if type(expected_config) is not type(config):
        raise CheckpointError(f"{name} holds a {kind}, expected {type(expected_config).__name__}")
    have, want = config.model_dump(mode="json"), expected_config.model_dump(mode="json")
    diff = [
        f"{k}: {have.get(k)!r} != {want.get(k)!r}" for k in sorted(set(have) | set(want)) if have.get(k) != want.get(k)
    ]
    if diff:
        raise CheckpointError(f"{name} config differs from the manifest's: " + "; ".join(diff))
    model = model_cls(config)
    try:
        state = load_safetensors(data)
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise CheckpointError(f"{name} is not a readable safetensors file ({exc})") from exc
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{name} does not fit {kind}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model.eval()


COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
"""``torch.compile`` (Inductor) modes; "reduce-overhead" adds CUDA graphs on a GPU."""


class TorchBackend(BackendBase):
    """Runs a :class:`~scoligait_edge.research.models.ScreeningModel` directly.

    Paths: eager (default), manual CUDA graphs (``cuda_graphs=True``) and
    ``torch.compile`` with Inductor (``compile="default" | "reduce-overhead" | ...``,
    compiled once per input shape on first use). ``precision`` "fp16" / "bf16" is
    autocast (weights stay fp32). On CUDA, inputs are staged in pinned host
    buffers reused between calls, so the host-to-device copy runs asynchronously.
    """

    def __init__(
        self,
        model: Any,
        *,
        device: str = "cpu",
        precision: Precision | Literal["bf16"] = "fp32",
        cuda_graphs: bool = False,
        threads: int | None = None,
        compile: str | None = None,  # noqa: A002 - torch.compile's name, as users know it
    ) -> None:
        torch = _torch()
        dev = torch.device(device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise BackendError("device 'cuda' asked but torch sees no CUDA device")
        if compile is not None and cuda_graphs:
            raise BackendError("choose one: cuda_graphs=True (manual capture) or compile='reduce-overhead'")
        if cuda_graphs and dev.type != "cuda":
            raise BackendError("CUDA graphs need device='cuda'")
        if precision not in ("fp32", "fp16", "bf16"):
            raise BackendError(f"precision must be 'fp32', 'fp16' or 'bf16', got {precision!r}")
        if compile is not None and compile not in COMPILE_MODES:
            raise BackendError(f"compile must be one of {COMPILE_MODES} or None, got {compile!r}")
        if threads is not None:
            torch.set_num_threads(int(threads))
        self.model = model.to(dev).eval()
        self._dev = dev
        self.device = str(dev) if dev.type == "cpu" or dev.index is not None else f"cuda:{torch.cuda.current_device()}"
        self.precision = precision
        self.cuda_graphs = cuda_graphs
        self.compile_mode = compile
        self.name = f"torch-{dev.type}" + ("-graphs" if cuda_graphs else "") + ("-compile" if compile else "")
        self._graphs: OrderedDict[tuple[Any, ...], tuple[Any, dict[str, Any], tuple[Any, ...]]] = OrderedDict()
        self._pinned: dict[str, Any] = {}  # input name -> reusable pinned host tensor (CUDA only)
        self._compiled = (
            torch.compile(self.model, mode=compile, dynamic=False, fullgraph=False) if compile is not None else None
        )
        cfg = model.config
        super().__init__(input_specs(cfg), output_specs(cfg))

    @classmethod
    def from_bundle(cls, bundle: Any, precision: Precision = "fp32", **kwargs: Any) -> TorchBackend:
        """Build the model from the bundle's verified safetensors bytes (its config must equal the manifest's)."""
        from scoligait_edge.bundle.load import Bundle, load_bundle

        _torch()  # OptionalDependencyError with the install command before the model package is imported
        from scoligait_edge.research.models.io import CheckpointError

        if not isinstance(bundle, Bundle):
            bundle = load_bundle(bundle)
        try:
            model = model_from_checkpoint_bytes(
                bundle.format_bytes("checkpoint"),
                bundle.manifest.model_config_object(),
                bundle.manifest.formats["checkpoint"],
            )
        except CheckpointError as exc:
            raise BackendError(f"bundle {bundle.source}: {exc}") from exc
        return cls(model, precision=precision, **kwargs)

    def _autocast(self) -> Any:
        torch = _torch()
        if self.precision in ("fp16", "bf16"):
            dtype = torch.float16 if self.precision == "fp16" else torch.bfloat16
            # CUDA graphs need autocast's cast cache off (cached casts made during capture would be freed)
            return torch.autocast(device_type=self._dev.type, dtype=dtype, cache_enabled=not self.cuda_graphs)
        return contextlib.nullcontext()

    def _forward(self, tensors: dict[str, Any]) -> tuple[Any, ...]:
        model = self._compiled if self._compiled is not None else self.model
        with self._autocast():
            out = model(**tensors)
        return tuple(getattr(out, MODEL_OUTPUT_FIELDS[n]).float() for n in self.output_names)

    def _to_device(self, name: str, array: np.ndarray) -> Any:
        """numpy -> a tensor on the model's device; on CUDA through a pinned buffer (asynchronous copy).

        Reusing the buffer is safe: every call reads its outputs back (``.cpu()``), which waits for the copy."""
        torch = _torch()
        host = torch.from_numpy(array)
        if self._dev.type != "cuda":
            return host
        pinned = self._pinned.get(name)
        if pinned is None or pinned.shape != host.shape or pinned.dtype != host.dtype:
            pinned = self._pinned[name] = torch.empty(host.shape, dtype=host.dtype, pin_memory=True)
        pinned.copy_(host)
        return pinned.to(self._dev, non_blocking=True)

    def _run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = _torch()
        with torch.inference_mode():
            if self.cuda_graphs:
                outs = self._run_graph(feed)
            else:
                outs = self._forward({k: self._to_device(k, v) for k, v in feed.items()})
            return {n: o.cpu().numpy() for n, o in zip(self.output_names, outs, strict=True)}

    def _run_graph(self, feed: dict[str, np.ndarray]) -> tuple[Any, ...]:
        torch = _torch()
        key = tuple((k, v.shape) for k, v in feed.items())
        if key not in self._graphs:
            static = {k: torch.from_numpy(v).to(self._dev) for k, v in feed.items()}
            side = torch.cuda.Stream(self._dev)
            side.wait_stream(torch.cuda.current_stream(self._dev))
            with torch.cuda.stream(side):
                for _ in range(3):  # warm up kernels and the allocator outside the capture
                    self._forward(static)
            torch.cuda.current_stream(self._dev).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = self._forward(static)
            self._graphs[key] = (graph, static, static_out)
            if len(self._graphs) > MAX_CUDA_GRAPHS:
                self._graphs.popitem(last=False)
        graph, static, static_out = self._graphs[key]
        self._graphs.move_to_end(key)
        for k, v in feed.items():
            static[k].copy_(self._to_device(k, v), non_blocking=True)
        graph.replay()
        return tuple(o.clone() for o in static_out)

    def close(self) -> None:
        self._graphs.clear()
        self._pinned.clear()
        self._compiled = None
        self.model = None
        super().close()
