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
from typing import Any

import numpy as np

from scoligait_edge.errors import BackendError, OptionalDependencyError
from scoligait_edge.bundle.specs import MODEL_OUTPUT_FIELDS, input_specs, output_specs
from scoligait_edge.runtimes.base import BackendBase, Precision

log = logging.getLogger(__name__)
MAX_CUDA_GRAPHS = 8


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise OptionalDependencyError("the torch backend needs PyTorch: `pip install 'scoligait-edge[train]'` "
                                      "(or `pip install torch safetensors`)") from exc
    return torch


def model_from_checkpoint_bytes(data: bytes, expected_config: Any, name: str = "model.safetensors") -> Any:
    """A model rebuilt from the bytes of a checkpoint written by ``save_checkpoint``, checked like
    :func:`scoligait_edge.models.load_checkpoint` does (format, model kind, knowledge-map schema, config equal to
    ``expected_config``, every tensor present) but never reading a file."""
    _torch()
    from safetensors.torch import load as load_safetensors

    from scoligait_edge.kinematics.schema import schema_hash
    from scoligait_edge.models.io import FORMAT, MODEL_KINDS, CheckpointError

    try:
        (n,) = struct.unpack("<Q", data[:8])
        meta = json.loads(data[8 : 8 + n]).get("__metadata__") or {}
    except (struct.error, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{name} is not a readable safetensors file ({exc})") from exc
    kind = meta.get("model")
    if meta.get("format") != FORMAT or kind not in MODEL_KINDS:
        raise CheckpointError(f"{name} is not a {FORMAT} checkpoint (metadata: {sorted(meta)})")
    if meta.get("schema_hash") != schema_hash():
        raise CheckpointError(f"{name} was trained on another knowledge-map schema "
                              f"({str(meta.get('schema_hash', '?'))[:12]} vs {schema_hash()[:12]})")
    config_cls, model_cls = MODEL_KINDS[kind]
    try:
        config = config_cls.model_validate_json(meta["config"])
    except Exception as exc:  # noqa: BLE001 - pydantic ValidationError or a missing key
        raise CheckpointError(f"{name}: stored config is invalid for this version: {exc}") from exc
    if type(expected_config) is not type(config):
        raise CheckpointError(f"{name} holds a {kind}, expected {type(expected_config).__name__}")
    have, want = config.model_dump(mode="json"), expected_config.model_dump(mode="json")
    diff = [f"{k}: {have.get(k)!r} != {want.get(k)!r}" for k in sorted(set(have) | set(want)) if have.get(k) != want.get(k)]
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


class TorchBackend(BackendBase):
    """Runs a :class:`~scoligait_edge.models.ScreeningModel` directly."""

    def __init__(
        self,
        model: Any,
        *,
        device: str = "cpu",
        precision: Precision = "fp32",
        cuda_graphs: bool = False,
        threads: int | None = None,
    ) -> None:
        torch = _torch()
        dev = torch.device(device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise BackendError("device 'cuda' asked but torch sees no CUDA device")
        if cuda_graphs and dev.type != "cuda":
            raise BackendError("CUDA graphs need device='cuda'")
        if precision not in ("fp32", "fp16"):
            raise BackendError(f"precision must be 'fp32' or 'fp16', got {precision!r}")
        if threads is not None:
            torch.set_num_threads(int(threads))
        self.model = model.to(dev).eval()
        self._dev = dev
        self.device = str(dev) if dev.type == "cpu" or dev.index is not None else f"cuda:{torch.cuda.current_device()}"
        self.precision = precision
        self.cuda_graphs = cuda_graphs
        self.name = f"torch-{dev.type}" + ("-graphs" if cuda_graphs else "")
        self._graphs: OrderedDict[tuple, tuple[Any, dict, tuple]] = OrderedDict()
        cfg = model.config
        super().__init__(input_specs(cfg), output_specs(cfg))

    @classmethod
    def from_bundle(cls, bundle: Any, precision: Precision = "fp32", **kwargs: Any) -> TorchBackend:
        """Build the model from the bundle's verified safetensors bytes (its config must equal the manifest's)."""
        from scoligait_edge.bundle.load import Bundle, load_bundle

        _torch()  # OptionalDependencyError with the install command before the model package is imported
        from scoligait_edge.models import CheckpointError

        if not isinstance(bundle, Bundle):
            bundle = load_bundle(bundle)
        try:
            model = model_from_checkpoint_bytes(bundle.format_bytes("checkpoint"),
                                                bundle.manifest.model_config_object(), bundle.manifest.formats["checkpoint"])
        except CheckpointError as exc:
            raise BackendError(f"bundle {bundle.source}: {exc}") from exc
        return cls(model, precision=precision, **kwargs)

    def _autocast(self) -> Any:
        torch = _torch()
        if self.precision == "fp16":
            # CUDA graphs need autocast's cast cache off (cached casts made during capture would be freed)
            return torch.autocast(device_type=self._dev.type, dtype=torch.float16, cache_enabled=not self.cuda_graphs)
        return contextlib.nullcontext()

    def _forward(self, tensors: dict[str, Any]) -> tuple:
        with self._autocast():
            out = self.model(**tensors)
        return tuple(getattr(out, MODEL_OUTPUT_FIELDS[n]).float() for n in self.output_names)

    def _run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = _torch()
        with torch.inference_mode():
            if self.cuda_graphs:
                outs = self._run_graph(feed)
            else:
                outs = self._forward({k: torch.from_numpy(v).to(self._dev) for k, v in feed.items()})
            return {n: o.cpu().numpy() for n, o in zip(self.output_names, outs)}

    def _run_graph(self, feed: dict[str, np.ndarray]) -> tuple:
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
            static[k].copy_(torch.from_numpy(v), non_blocking=False)
        graph.replay()
        return tuple(o.clone() for o in static_out)

    def close(self) -> None:
        self._graphs.clear()
        self.model = None
        super().close()
