"""PyTorch backend: the reference implementation (CPU or CUDA, fp32 or fp16 autocast, optional CUDA graphs).

fp16 uses ``torch.autocast``, which keeps LayerNorm and softmax in fp32 the same
way the fp16 ONNX graph does. With ``cuda_graphs=True`` each (batch size,
sentence count) shape is captured once into a CUDA graph and replayed, which
removes the per-kernel launch cost that dominates small batches.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from typing import Any

import numpy as np

from scoligait_edge.errors import BackendError, OptionalDependencyError
from scoligait_edge.export.onnx_export import MODEL_OUTPUT_FIELDS
from scoligait_edge.export.specs import input_specs, output_specs
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
        """Load the bundle's safetensors checkpoint (its config must equal the manifest's)."""
        from scoligait_edge.export.bundle import Bundle, load_bundle
        from scoligait_edge.models import CheckpointError, load_checkpoint

        if not isinstance(bundle, Bundle):
            bundle = load_bundle(bundle)
        try:
            model = load_checkpoint(bundle.checkpoint_stem, expected_config=bundle.manifest.model_config_object())
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
