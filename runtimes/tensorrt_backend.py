"""TensorRT backend (TensorRT 10 and 11): named I/O tensors, ``set_input_shape``, ``execute_async_v3``.

The engine is the one :mod:`scoligait_edge.export.tensorrt` built on this device from the bundle's
verified ONNX bytes (``python -m scoligait_edge.export --bundle B --formats engine``), cached per
device, compute capability and TensorRT version; the plan is deserialised from the bytes whose sha256
:func:`~scoligait_edge.runtimes.tensorrt_engine.load_cached_engine` just checked against its sidecar.
Without such an engine the backend refuses with that command (building is an export step: minutes
of GPU time, not something a screening session should start by surprise). Device buffers and the CUDA stream are
torch's (torch with CUDA is the one GPU dependency here). Importing this
module needs neither TensorRT nor torch; constructing the backend without
TensorRT raises :class:`OptionalDependencyError` with the install command.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from scoligait_edge.errors import BackendError, OptionalDependencyError
from scoligait_edge.runtimes.base import BackendBase, Precision
from scoligait_edge.runtimes.tensorrt_engine import (
    EngineMetadata,
    EngineOptions,
    load_cached_engine,
    missing_engine_error,
    require_tensorrt,
)

log = logging.getLogger(__name__)


def _torch_cuda() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise OptionalDependencyError(
            "the TensorRT backend uses torch for CUDA memory: install a CUDA build of "
            "torch (`pip install torch` on a CUDA machine)"
        ) from exc
    if not torch.cuda.is_available():
        raise BackendError("the TensorRT backend needs a CUDA GPU, and torch sees none")
    return torch


class TensorRTBackend(BackendBase):
    """Runs the bundle's model as a TensorRT engine on one GPU."""

    def __init__(
        self,
        bundle: Any,
        precision: Precision = "fp32",
        options: EngineOptions | None = None,
    ) -> None:
        options = options or EngineOptions()
        if precision == "int8":  # engines are fp32/fp16; int8 is the ONNX Runtime CPU model
            raise BackendError("TensorRT engines are fp32 or fp16; precision='int8' runs on the onnxruntime backend")
        trt = require_tensorrt()
        torch = _torch_cuda()
        from scoligait_edge.bundle.load import Bundle, load_bundle

        if not isinstance(bundle, Bundle):
            bundle = load_bundle(bundle)
        self._torch, self._trt = torch, trt
        self._dev = torch.device("cuda", options.device_index)
        with torch.cuda.device(self._dev):
            # the plan bytes checked against the sha256 in its sidecar (built from the bundle's verified ONNX bytes)
            cached = load_cached_engine(bundle, precision, options, trt)
            if cached is None:
                raise missing_engine_error(bundle, precision)
            self.engine_path, self.engine_metadata, plan = cached
            self._logger = trt.Logger(trt.Logger.WARNING)
            self._runtime = trt.Runtime(self._logger)
            self._engine = self._runtime.deserialize_cuda_engine(plan)
            del plan
            if self._engine is None:
                raise BackendError(
                    f"TensorRT {trt.__version__} could not deserialize {self.engine_path}; delete it "
                    "and its .json to rebuild"
                )
            self._context = self._engine.create_execution_context()
            self._stream = torch.cuda.Stream(self._dev)
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        self._in_names = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self._out_names = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        want_in = [s.name for s in bundle.manifest.inputs]
        if sorted(self._in_names) != sorted(want_in):
            raise BackendError(f"engine {self.engine_path.name} takes {self._in_names}, the bundle lists {want_in}")
        self._dtypes = {n: self._torch_dtype(self._engine.get_tensor_dtype(n)) for n in names}
        self.precision = precision
        self.device = f"cuda:{options.device_index}"
        self.name = "tensorrt"
        self._max_batch = options.batch.max
        super().__init__(bundle.manifest.inputs, bundle.manifest.outputs)

    def _torch_dtype(self, dt: Any) -> Any:
        trt, torch = self._trt, self._torch
        table = {
            trt.float32: torch.float32,
            trt.float16: torch.float16,
            trt.bool: torch.bool,
            trt.int32: torch.int32,
            trt.int64: torch.int64,
            trt.uint8: torch.uint8,
        }
        if dt not in table:
            raise BackendError(f"unsupported TensorRT tensor type {dt}")
        return table[dt]

    @property
    def metadata(self) -> EngineMetadata:
        return self.engine_metadata

    def _run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch, ctx = self._torch, self._context
        b = next(iter(feed.values())).shape[0]
        if b > self._max_batch:
            raise BackendError(
                f"batch {b} exceeds the engine's profile maximum {self._max_batch}; split the "
                "batch or rebuild with a larger ProfileRange"
            )
        with torch.cuda.device(self._dev), torch.cuda.stream(self._stream):
            keep = []
            for name in self._in_names:
                t = torch.from_numpy(feed[name]).to(self._dev, non_blocking=True).to(self._dtypes[name])
                keep.append(t)
                if not ctx.set_input_shape(name, tuple(t.shape)):
                    raise BackendError(
                        f"input {name} shape {tuple(t.shape)} is outside the engine's profile "
                        f"(batch {self.engine_metadata.batch}, text {self.engine_metadata.text_tokens})"
                    )
                ctx.set_tensor_address(name, t.data_ptr())
            if hasattr(ctx, "infer_shapes"):
                missing = ctx.infer_shapes()
                if missing:
                    raise BackendError(f"TensorRT could not infer the shapes of {missing}")
            outs = {}
            for name in self._out_names:
                shape = tuple(ctx.get_tensor_shape(name))
                o = torch.empty(shape, dtype=self._dtypes[name], device=self._dev)
                outs[name] = o
                ctx.set_tensor_address(name, o.data_ptr())
            if not ctx.execute_async_v3(self._stream.cuda_stream):
                raise BackendError("TensorRT execute_async_v3 failed (see the TensorRT log)")
            result = {n: outs[n].float().cpu() for n in self.output_names}
            self._stream.synchronize()
        del keep
        return {n: v.numpy() for n, v in result.items()}

    def close(self) -> None:
        self._context = None
        self._engine = None
        self._runtime = None
        super().close()
