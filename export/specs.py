"""Compatibility: the tensor specs live in :mod:`scoligait_edge.bundle.specs` (torch-free bundle contract)."""

from scoligait_edge.bundle.specs import (  # noqa: F401
    INPUT_ORDER,
    MAX_DIM,
    MAX_FPS,
    MAX_WINDOW_FRAMES,
    MODEL_OUTPUT_FIELDS,
    DType,
    TensorSpec,
    WindowSpec,
    input_specs,
    output_specs,
)

__all__ = [
    "INPUT_ORDER",
    "MAX_DIM",
    "MAX_FPS",
    "MAX_WINDOW_FRAMES",
    "MODEL_OUTPUT_FIELDS",
    "DType",
    "TensorSpec",
    "WindowSpec",
    "input_specs",
    "output_specs",
]
