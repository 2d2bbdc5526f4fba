"""ScreeningModel -> ONNX (fp32): named, documented inputs, dynamic batch, opset >= 17 (native LayerNormalization).

Uses the legacy TorchScript exporter (``dynamo=False``): the model is written
to trace cleanly (shapes depend only on the config), and the legacy exporter
emits plain MatMul/Softmax/LayerNormalization nodes that ONNX Runtime, its
mobile format and TensorRT all accept. The time axis is fixed at
``window_frames``; the batch axis (and the number of text sentences) is
dynamic. Inputs and outputs follow :mod:`scoligait_edge.bundle.specs`; the
feature-schema hash, window and model config go into the graph's metadata.

Needs torch (the ``train`` extra); importing this module does not.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from scoligait_edge import __version__
from scoligait_edge.bundle.specs import INPUT_ORDER, MODEL_OUTPUT_FIELDS, input_specs, output_specs
from scoligait_edge.core.constants import MAP_FPS
from scoligait_edge.core.schema import SCHEMA_VERSION, schema_hash
from scoligait_edge.errors import BackendError, OptionalDependencyError

try:
    import onnx
except ImportError as _exc:  # pragma: no cover - depends on the install
    raise OptionalDependencyError("ONNX export needs the onnx package: pip install 'scoligait-edge[export]'") from _exc

if TYPE_CHECKING:
    from scoligait_edge.research.models.screening import ScreeningModel

DEFAULT_OPSET = 18
MIN_OPSET = 17


def _wrapper(model: ScreeningModel, input_names: list[str], output_names: list[str]) -> Any:
    import torch

    class ExportWrapper(torch.nn.Module):
        """Positional inputs in graph order -> the exported outputs as a tuple."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
            out = self.model(**dict(zip(input_names, tensors, strict=True)))
            return tuple(getattr(out, MODEL_OUTPUT_FIELDS[name]) for name in output_names)

    return ExportWrapper()


def torch_outputs(model: ScreeningModel, batch: dict[str, Any]) -> dict[str, np.ndarray]:
    """Run the torch model on a numpy batch and return outputs under the exported names (float32 numpy)."""
    import torch

    names = [s.name for s in output_specs(model.config)]
    device = next(model.parameters()).device
    with torch.no_grad():
        out = model(**{k: torch.as_tensor(np.asarray(v)).to(device) for k, v in batch.items()})
    return {n: getattr(out, MODEL_OUTPUT_FIELDS[n]).float().cpu().numpy() for n in names}


def _trace_to_file(model: ScreeningModel, path: Path, opset: int) -> tuple[list[str], list[str]]:
    """Trace ``model`` in eval mode (its training flag restored after) into ``path``; return input and output names.

    Every axis the specs name (batch, text sentences) is exported as dynamic.
    """
    import torch

    ins, outs = input_specs(model.config), output_specs(model.config)
    in_names, out_names = [s.name for s in ins], [s.name for s in outs]
    assert list(in_names) == [n for n in INPUT_ORDER if n in in_names]
    was_training = model.training
    model.eval()
    try:
        example = model.example_inputs(batch_size=2, text_tokens=2, seed=0)
        args = tuple(example[n].to(next(model.parameters()).device) for n in in_names)
        dynamic: dict[str, dict[int, str]] = {}
        for spec in (*ins, *outs):
            dynamic[spec.name] = {i: d for i, d in enumerate(spec.shape) if isinstance(d, str)}
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # TracerWarnings about constant shapes are expected
            torch.onnx.export(
                _wrapper(model, in_names, out_names),
                args,
                str(path),
                dynamo=False,
                opset_version=opset,
                input_names=in_names,
                output_names=out_names,
                dynamic_axes=dynamic,
                do_constant_folding=True,
            )
    finally:
        model.train(was_training)
    return in_names, out_names


def export_onnx(
    model: ScreeningModel,
    path: str | Path,
    *,
    opset: int = DEFAULT_OPSET,
    fps: float = MAP_FPS,
    check: bool = True,
    verify_atol: float | None = 1e-4,
) -> Path:
    """Export ``model`` (a ScreeningModel, put in eval mode) to ``path``; returns the path.

    ``check`` runs ``onnx.checker`` (full check, with shape inference);
    ``verify_atol`` (None to skip) runs the file in ONNX Runtime on CPU on a
    random batch and raises :class:`BackendError` if any output differs from
    torch by more than that.
    """
    if opset < MIN_OPSET:
        raise ValueError(f"opset {opset} < {MIN_OPSET}: LayerNormalization is only native from opset 17")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    in_names, out_names = _trace_to_file(model, path, opset)
    proto = onnx.load(str(path))
    _annotate(proto, model.config, fps)
    got_in = [i.name for i in proto.graph.input]
    got_out = [o.name for o in proto.graph.output]
    if got_in != in_names or got_out != out_names:
        raise BackendError(f"exported graph has inputs {got_in} / outputs {got_out}, expected {in_names} / {out_names}")
    onnx.save(proto, str(path))
    if check:
        onnx.checker.check_model(str(path), full_check=True)
    if verify_atol is not None:
        _verify(model, path, verify_atol)
    return path


def _annotate(proto: onnx.ModelProto, cfg: Any, fps: float) -> None:
    specs = {s.name: s for s in (*input_specs(cfg), *output_specs(cfg))}
    for vi in (*proto.graph.input, *proto.graph.output):
        if vi.name in specs:
            spec = specs[vi.name]
            vi.doc_string = spec.describe() + ": " + spec.description
            shape = vi.type.tensor_type.shape
            if len(shape.dim) == len(spec.shape):  # the tracer leaves some output dims symbolic: pin them
                for dim, want in zip(shape.dim, spec.shape, strict=True):
                    if isinstance(want, int):
                        dim.Clear()
                        dim.dim_value = want
                    else:
                        dim.Clear()
                        dim.dim_param = want
    proto.doc_string = (
        "ScoliGait screening model (scoliosis screening aid, not a diagnostic device). "
        "Inputs: " + "; ".join(specs[i.name].describe() for i in proto.graph.input)
    )
    proto.producer_name, proto.producer_version = "scoligait_edge", __version__
    meta = {
        "feature_schema_version": SCHEMA_VERSION,
        "feature_schema_hash": schema_hash(),
        "window_frames": str(cfg.window_frames),
        "fps": f"{fps:g}",
        "modalities": cfg.modalities,
        "model_config": cfg.model_dump_json(),
    }
    del proto.metadata_props[:]
    for k, v in meta.items():
        proto.metadata_props.add(key=k, value=v)


def random_batch(config: Any, batch: int, text_tokens: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """A random numpy batch matching the exported inputs (masks partly False), for checks and warm-up."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for spec in input_specs(config):
        shape = tuple(batch if d == "batch" else text_tokens if d == "text_tokens" else int(d) for d in spec.shape)
        if spec.dtype == "bool":
            m = np.ones(shape, dtype=bool)
            if batch > 1:
                m[1, -max(1, shape[1] // 4) :] = False
            out[spec.name] = m
        elif spec.name == "video":
            out[spec.name] = np.where(rng.random(shape) > 0.5, 255, 0).astype(np.uint8)
        else:
            out[spec.name] = rng.standard_normal(shape).astype(np.float32)
    return out


def _verify(model: ScreeningModel, path: Path, atol: float) -> None:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch = random_batch(model.config, 3, text_tokens=3, seed=1)
    want = torch_outputs(model, batch)
    got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, batch), strict=True))
    for name, w in want.items():
        diff = float(np.max(np.abs(got[name] - w)))
        if not diff <= atol:
            raise BackendError(f"{path}: ONNX output {name!r} differs from torch by {diff:.3g} > {atol:g}")


def onnx_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata written by :func:`export_onnx` (model_config parsed)."""
    proto = onnx.load(str(path), load_external_data=False)
    meta = {p.key: p.value for p in proto.metadata_props}
    if "model_config" in meta:
        meta["model_config"] = json.loads(meta["model_config"])
    return meta
