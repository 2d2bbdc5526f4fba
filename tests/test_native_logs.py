"""Where the "Sparsity tensors may not yet be fully supported" lines come from (issue 12, item 6).

They are LiteRT's (``model_load.cc``), printed once per sparse tensor while MediaPipe loads its pose
landmarker ``.task`` (Google's model, shipped as is), not ONNX Runtime's: our exported ONNX has no
sparse tensors, and ONNX Runtime at its most verbose says nothing about sparsity when it loads one.
The CLI hides LiteRT's lines with the rest of the native output (see ``native_logs``).
"""

from __future__ import annotations

import pytest


def test_a_fresh_export_has_no_sparse_tensors_and_ort_does_not_warn(tiny_bundle, capfd):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    path = tiny_bundle.path / "model.onnx"
    proto = onnx.load(str(path))
    assert len(proto.graph.sparse_initializer) == 0
    sparse_attrs = [
        a.name
        for n in proto.graph.node
        for a in n.attribute
        if a.type in (onnx.AttributeProto.SPARSE_TENSOR, onnx.AttributeProto.SPARSE_TENSORS)
    ]
    assert sparse_attrs == []
    so = ort.SessionOptions()
    so.log_severity_level = 0  # verbose: everything ORT has to say
    ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    captured = capfd.readouterr()
    assert "Sparsity" not in captured.err + captured.out
