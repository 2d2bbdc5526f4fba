"""Export: ONNX, fp16, ORT mobile, TensorRT and model bundles (installed as scoligait_edge.export)."""
