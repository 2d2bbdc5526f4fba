"""fp32 ONNX -> int8 ONNX (``model.int8.onnx``) for CPUs and ARM, and its parity against fp32.

How (:func:`quantize_int8`):

1. **Offline graph optimisation at ORT_ENABLE_BASIC** (ONNX Runtime writes the
   optimised graph via ``SessionOptions.optimized_model_filepath``, CPU EP):
   constant folding, redundant-node elimination and the other BASIC rewrites,
   which emit only standard ONNX ops, so the file stays portable (any ORT build,
   any execution provider, the reduced ARM builds). EXTENDED/ALL are NOT baked
   in: their fusions emit ``com.microsoft`` contrib ops (FusedMatMul,
   SkipLayerNormalization, ...) and layout transforms that are specific to the
   EP and CPU they were made on; ONNX Runtime applies them anyway when it loads
   the file (the backend opens sessions at ORT_ENABLE_ALL).
2. **Dynamic quantization** (``onnxruntime.quantization.quantize_dynamic``) of
   the MatMul and Gemm weights to **signed int8 (QInt8), per output channel**;
   activations are quantized to uint8 at run time per tensor
   (DynamicQuantizeLinear), so no calibration data is needed and the input
   ranges of a new clinic or camera cannot fall outside a calibrated range.
   QInt8 weights (U8S8 kernels) are ONNX Runtime's default and fast path on
   x86-64 (AVX2 / AVX-512 VNNI) and ARM64 (SDOT/UDOT, I8MM); QUInt8 weights
   (U8U8) are the fallback for old x86 CPUs without VNNI, where U8S8 can
   saturate (``weight_type="quint8"``). Per-channel scales keep the small
   transformer's heads (whose weight columns differ in range) accurate.
   Convolutions (the video tubelet embedding), LayerNorm, Softmax, RoPE and the
   knowledge-map standardisation stay fp32.

The quantized graph holds standard ONNX ops only (DynamicQuantizeLinear,
MatMulInteger, Mul, Cast, ...); ONNX Runtime fuses them into its int8 kernels
when it opens the session. Inputs and outputs stay float32/bool, so the
runtime feeds an int8 model exactly as it feeds the fp32 one.

:func:`int8_parity` compares the fp32 and int8 models of a bundle on
realistic windows (:func:`simulated_windows`: sliding windows over SIMULATED
walking clips) at the bundle's threshold: max |dprob| and label agreement.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np

from scoligait_edge.errors import OptionalDependencyError

WeightType = Literal["qint8", "quint8"]
OptimizeLevel = Literal["none", "basic"]
QUANTIZED_OPS = ("MatMul", "Gemm")
MIN_LABEL_AGREEMENT = 0.99


def optimize_onnx(src: str | Path, dst: str | Path, level: OptimizeLevel = "basic") -> Path:
    """Write ONNX Runtime's offline-optimised copy of ``src`` (``basic``: standard ONNX ops only) to ``dst``."""
    import onnxruntime as ort

    src, dst = Path(src), Path(dst)
    if level == "none":
        dst.write_bytes(src.read_bytes())
        return dst
    if level != "basic":
        raise ValueError(f"offline optimisation level must be 'none' or 'basic' (portable), got {level!r}")
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = str(dst)
    ort.InferenceSession(str(src), so, providers=["CPUExecutionProvider"])
    return dst


def weight_matmuls(model: Any) -> list[str]:
    """Names of the MatMul/Gemm nodes whose second input is a 2-D weight (an initializer); unnamed nodes get names.

    Only these are quantized: activation x activation products (attention
    scores, attention x values) would need both sides quantized at run time and
    lose the most accuracy for little speed, and batched 3-D weights (the
    pooling queries) have no per-channel int8 kernel.
    """
    inits = {t.name: len(t.dims) for t in model.graph.initializer}
    names = []
    for i, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_{i}"
        if node.op_type in QUANTIZED_OPS and len(node.input) > 1 and inits.get(node.input[1]) == 2:
            names.append(node.name)
    return names


def _named_optimized_graph(onnx: Any, src: Path, dst: Path, optimize: OptimizeLevel) -> list[str]:
    """Optimize ``src`` into ``dst`` with every node named; return the weight MatMul/Gemm nodes to quantize."""
    optimized = optimize_onnx(src, dst, optimize)
    graph = onnx.load(str(optimized))
    nodes = weight_matmuls(graph)
    onnx.save(graph, str(optimized))  # with every node named
    return nodes


def _quantize_quietly(
    onnx: Any, optimized: Path, dst: Path, nodes: list[str], per_channel: bool, weight_type: WeightType
) -> None:
    """Dynamic quantization of ``nodes``, with ONNX Runtime's "consider pre-processing" warning silenced:
    the optimization step already is that pre-processing."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))
    try:
        quantize_dynamic(
            optimized,
            dst,
            op_types_to_quantize=list(QUANTIZED_OPS),
            per_channel=per_channel,
            nodes_to_quantize=nodes,
            weight_type=QuantType.QInt8 if weight_type == "qint8" else QuantType.QUInt8,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)


def _int8_metadata(
    original: Any, model: Any, weight_type: WeightType, per_channel: bool, optimize: OptimizeLevel
) -> None:
    """Keep the fp32 graph's metadata (schema hash, config, ...) and say how the copy was quantized."""
    del model.metadata_props[:]
    for prop in original.metadata_props:
        if prop.key != "precision":
            model.metadata_props.add(key=prop.key, value=prop.value)
    for key, value in (
        ("precision", "int8"),
        (
            "quantization",
            f"dynamic {weight_type} "
            f"{'per-channel' if per_channel else 'per-tensor'} {'/'.join(QUANTIZED_OPS)} weights, "
            f"uint8 activations; offline optimisation {optimize}",
        ),
    ):
        model.metadata_props.add(key=key, value=value)


def _check_same_interface(original: Any, model: Any) -> None:
    """Quantization must leave the inputs and outputs (names, element types) as they were."""
    for a, b in zip(
        (*original.graph.input, *original.graph.output), (*model.graph.input, *model.graph.output), strict=True
    ):
        if a.name != b.name or a.type.tensor_type.elem_type != b.type.tensor_type.elem_type:
            raise ValueError(f"int8 quantization changed the interface: {a.name} -> {b.name}")


def quantize_int8(
    src: str | Path,
    dst: str | Path,
    *,
    weight_type: WeightType = "qint8",
    per_channel: bool = True,
    optimize: OptimizeLevel = "basic",
) -> Path:
    """Write the int8 (dynamic, MatMul/Gemm weights) copy of the fp32 ONNX ``src`` to ``dst``; see the module doc."""
    try:
        import onnx
        from onnxruntime.quantization import quantize_dynamic  # noqa: F401 - fail early without it
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise OptionalDependencyError(
            "int8 quantization needs onnx and onnxruntime: pip install 'scoligait-edge[export]'"
        ) from exc
    if weight_type not in ("qint8", "quint8"):
        raise ValueError(f"weight_type must be 'qint8' or 'quint8', got {weight_type!r}")
    src, dst = Path(src), Path(dst)
    original = onnx.load(str(src))
    with tempfile.TemporaryDirectory(prefix="scoligait-int8-") as tmp:
        optimized = Path(tmp) / "optimized.onnx"
        nodes = _named_optimized_graph(onnx, src, optimized, optimize)
        dst.parent.mkdir(parents=True, exist_ok=True)
        _quantize_quietly(onnx, optimized, dst, nodes, per_channel, weight_type)
    model = onnx.load(str(dst))
    _int8_metadata(original, model, weight_type, per_channel, optimize)
    onnx.save(model, str(dst))
    onnx.checker.check_model(str(dst))
    _check_same_interface(original, model)
    return dst


def _clip_windows(
    specs: dict[str, Any], t: int, stride: int, n_clips: int, seed: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Sliding windows (map, mask and, when the model takes video, silhouettes) over simulated walks,
    half without a curve, cameras alternating in pairs."""
    from scoligait_edge.kinematics.builder import build_knowledge_map
    from scoligait_edge.research.sim.camera import crop_scoliosis1k
    from scoligait_edge.research.sim.simulate import sample_subject, simulate_clip

    cols: dict[str, list[np.ndarray]] = {"km": [], "km_mask": [], "video": []}
    for i in range(n_clips):
        cobb = 0.0 if i % 2 == 0 else float(rng.uniform(10.0, 35.0))
        subject = sample_subject(np.random.default_rng(seed * 1000 + i), f"int8-{i}", cobb_deg=cobb)
        clip = simulate_clip(
            subject,
            n_frames=t + 2 * stride,
            camera=("side", "frontal")[(i // 2) % 2],
            seed=seed * 1000 + i,
            with_silhouettes="video" in specs,
            silhouette_scale=0.25,
        )
        kmap = build_knowledge_map(clip.keypoints, clip.fps)
        n = len(kmap)
        if "video" in specs:
            assert clip.silhouettes is not None  # with_silhouettes
            sil = np.asarray(crop_scoliosis1k(clip.silhouettes), dtype=np.uint8)  # the graph takes uint8
            n = min(n, len(sil))
        for s in range(0, n - t + 1, stride):
            cols["km"].append(kmap.values[s : s + t])
            cols["km_mask"].append(kmap.valid[s : s + t])
            if "video" in specs:
                c = int(specs["video"].shape[2])
                cols["video"].append(np.repeat(sil[s : s + t, None], c, axis=1))
    out = {k: np.ascontiguousarray(np.stack(v)) for k, v in cols.items() if k in specs and v}
    if "km" in out:
        out["km"] = out["km"].astype(np.float32)
    return out


def _text_inputs(d: int, n_win: int, text_tokens: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sentence embeddings drawn from the shipped table (small random vectors without a matching one),
    and a mask that drops the last sentence of every third window."""
    try:
        from scoligait_edge.text.embeddings import default_embedding_table

        table = default_embedding_table()
        ids = rng.integers(0, len(table), size=(n_win, text_tokens))
        text = np.asarray(table.lookup(ids), dtype=np.float32).reshape(n_win, text_tokens, -1)
        if text.shape[2] != d:
            raise ValueError("table width differs")
    except Exception:  # noqa: BLE001 - no table: small random embeddings
        text = (rng.standard_normal((n_win, text_tokens, d)) * 0.05).astype(np.float32)
    mask = np.ones((n_win, text_tokens), dtype=bool)
    mask[::3, -1] = False
    return text, mask


def simulated_windows(
    config: Any, n_clips: int = 8, stride: int | None = None, text_tokens: int = 4, seed: int = 0
) -> dict[str, np.ndarray]:
    """Realistic inputs for ``config`` (a model config or its dict): sliding windows over SIMULATED walking clips.

    Knowledge maps of simulated walks (half with a Cobb angle of 0, half 10-35
    degrees; side and frontal cameras), their cropped silhouettes, and text
    embeddings from the shipped sentence table (random small vectors if it is
    missing). Deterministic for a given ``seed``.
    """
    from scoligait_edge.bundle.specs import input_specs

    specs = {s.name: s for s in input_specs(config)}
    t = int(specs["km"].shape[1] if "km" in specs else specs["video"].shape[1])
    stride = stride or max(1, t // 2)
    rng = np.random.default_rng(seed)
    out = _clip_windows(specs, t, stride, n_clips, seed, rng)
    n_win = len(next(iter(out.values())))
    if "text" in specs:
        out["text"], out["text_mask"] = _text_inputs(int(specs["text"].shape[2]), n_win, text_tokens, rng)
    return {name: out[name] for name in specs}


def int8_parity_of_files(
    reference: str | Path,
    candidate: str | Path,
    windows: dict[str, np.ndarray],
    threshold: float,
    *,
    batch_size: int = 16,
):
    """:class:`~scoligait_edge.export.parity.ParityResult` of two ONNX files (fp32 reference, int8 candidate)."""
    from scoligait_edge.export.parity import compare_outputs, run_windows
    from scoligait_edge.runtimes.onnxruntime_backend import OnnxRuntimeBackend

    outs = []
    for path in (reference, candidate):
        with OnnxRuntimeBackend(path, device="cpu") as b:
            outs.append(run_windows(b, windows, batch_size))
    return compare_outputs(
        outs[0], outs[1], threshold, reference_name=Path(reference).name, candidate_name=Path(candidate).name
    )


def int8_parity(
    bundle: Any,
    windows: dict[str, np.ndarray] | None = None,
    *,
    reference: str = "onnx",
    candidate: str = "onnx-int8",
    threshold: float | None = None,
    batch_size: int = 16,
):
    """:class:`~scoligait_edge.export.parity.ParityResult` of the bundle's int8 model against its fp32 one.

    ``windows`` default to :func:`simulated_windows` for the bundle's model; the
    threshold defaults to the bundle's own.
    """
    from scoligait_edge.bundle.load import Bundle, load_bundle
    from scoligait_edge.export.parity import compare_outputs, run_windows
    from scoligait_edge.runtimes.onnxruntime_backend import OnnxRuntimeBackend

    if not isinstance(bundle, Bundle):
        bundle = load_bundle(bundle, allow_unsigned=True)
    if windows is None:
        windows = simulated_windows(bundle.manifest.model)
    thr = float(bundle.threshold if threshold is None else threshold)
    outs = {}
    for fmt in (reference, candidate):
        with OnnxRuntimeBackend.from_bundle(bundle, model_format=fmt, device="cpu") as b:
            outs[fmt] = run_windows(b, windows, batch_size)
    return compare_outputs(outs[reference], outs[candidate], thr, reference_name=reference, candidate_name=candidate)
