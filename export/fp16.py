"""fp32 ONNX -> fp16 ONNX with fp32 inputs/outputs; overflow-prone ops stay fp32.

Uses ONNX Runtime's own converter (``onnxruntime.transformers.float16``), not
``onnxconverter_common`` (whose keep_io_types left Cast nodes typed FLOAT here
and the model failed to load). Kept in fp32:

* LayerNormalization and Softmax (variance / exp overflow in fp16), ReduceL2
  (sum of squares of raw text embeddings), and ops the converter never handles;
* the RoPE angle subgraph (``position * inv_freq`` for positions up to ~96
  has an fp16 spacing of 0.06 rad) and its Cos/Sin;
* the knowledge map's standardisation (``(km - mean) / std`` can exceed the fp16
  range when a feature's training std is tiny).

The converter appends its input casts at the end of the node list, so the
graph is topologically re-sorted before ``onnx.checker`` sees it.

ONNX Runtime 1.32 segfaults creating a session at ORT_ENABLE_ALL for some fp16
graphs with cross-attention pooling (seen with ``cat_pma``); the runtime
loader (:mod:`scoligait_edge.runtimes.onnxruntime_backend`) disables the
``NchwcTransformer`` for fp16 models, which avoids it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from scoligait_edge.errors import OptionalDependencyError

try:
    import onnx
except ImportError as _exc:  # pragma: no cover - depends on the install
    raise OptionalDependencyError(
        "fp16 conversion needs the onnx package: pip install 'scoligait-edge[export]'"
    ) from _exc

FP32_OPS = ("LayerNormalization", "Softmax", "ReduceL2", "Cos", "Sin")
FP32_NODE_MARKERS = ("/rope/",)


def _km_standardisation_nodes(model: onnx.ModelProto) -> set[str]:
    """The Sub/Div chain applied directly to the ``km`` input (standardisation by the stored mean/std)."""
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node)
    keep: set[str] = set()
    frontier = ["km"]
    while frontier:
        tensor = frontier.pop()
        for node in consumers.get(tensor, []):
            if node.op_type in ("Sub", "Div") and node.name not in keep:
                keep.add(node.name)
                frontier.extend(node.output)
    return keep


def fp32_node_names(model: onnx.ModelProto, markers: Iterable[str] = FP32_NODE_MARKERS) -> list[str]:
    """Names of the nodes (beyond whole op types) that must stay fp32."""
    names = {n.name for n in model.graph.node if n.name and any(m in n.name for m in markers)}
    return sorted(names | _km_standardisation_nodes(model))


def _drop_duplicate_casts(graph: onnx.GraphProto) -> int:
    """Remove repeated identical Cast nodes writing the same output name.

    The converter inserts ``<tensor>_cast_to_fp32`` once per blocked consumer;
    when a graph (as torch 2.11 exports RoPE) feeds one tensor to several blocked
    nodes, that name is written twice and the graph is no longer in SSA form.
    Identical casts compute the same value, so keeping the first is exact.
    """
    seen: dict[str, onnx.NodeProto] = {}
    keep, dropped = [], 0
    for node in graph.node:
        out = node.output[0] if node.op_type == "Cast" and len(node.output) == 1 else None
        if out is not None and out in seen:
            first = seen[out]
            if list(first.input) == list(node.input) and first.attribute == node.attribute:
                dropped += 1
                continue
            raise ValueError(f"fp16 conversion wrote {out!r} twice with different casts")
        if out is not None:
            seen[out] = node
        keep.append(node)
    if dropped:
        del graph.node[:]
        graph.node.extend(keep)
    return dropped


def convert_to_fp16(
    src: str | Path,
    dst: str | Path,
    *,
    extra_fp32_ops: Iterable[str] = (),
    check: bool = True,
) -> Path:
    """Write an fp16 copy of the fp32 ONNX ``src`` to ``dst`` (inputs and outputs stay float32)."""
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16
    from onnxruntime.transformers.onnx_model import OnnxModel

    src, dst = Path(src), Path(dst)
    model = onnx.load(str(src))
    op_block = sorted(set(DEFAULT_OP_BLOCK_LIST) | set(FP32_OPS) | set(extra_fp32_ops))
    fp16 = convert_float_to_float16(
        model,
        keep_io_types=True,
        op_block_list=op_block,
        node_block_list=fp32_node_names(model),
    )
    _drop_duplicate_casts(fp16.graph)
    wrapped = OnnxModel(fp16)
    wrapped.topological_sort()
    fp16 = wrapped.model
    del fp16.metadata_props[:]
    for prop in model.metadata_props:
        fp16.metadata_props.add(key=prop.key, value=prop.value)
    fp16.metadata_props.add(key="precision", value="fp16")
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(fp16, str(dst))
    if check:
        onnx.checker.check_model(str(dst), full_check=True)
    for a, b in zip((*model.graph.input, *model.graph.output), (*fp16.graph.input, *fp16.graph.output), strict=True):
        if a.name != b.name or a.type.tensor_type.elem_type != b.type.tensor_type.elem_type:
            raise ValueError(f"fp16 conversion changed the interface: {a.name} -> {b.name}")
    return dst
