"""Screening models (torch): ScoliGait-style knowledge map / video / text fusion and the ScoNet baseline.

Needs the ``train`` extra (torch, safetensors). ``layers`` holds the reusable
building blocks; this package assembles them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scoligait_edge.core.lazy import lazy_face
from scoligait_edge.errors import OptionalDependencyError

try:
    import torch  # noqa: F401
except ImportError as _exc:  # pragma: no cover - depends on the install
    raise OptionalDependencyError(
        "scoligait_edge.research.models needs PyTorch: pip install 'scoligait-edge[train]'"
    ) from _exc

if TYPE_CHECKING:
    from scoligait_edge.research.models.encoders import (
        MINILM_DIM,
        EncoderOutput,
        KnowledgeMapEncoder,
        TextProjection,
        VideoEncoder,
    )
    from scoligait_edge.research.models.fusion import FUSION_KINDS, TokenFusion
    from scoligait_edge.research.models.io import (
        CheckpointError,
        load_checkpoint,
        read_checkpoint_config,
        save_checkpoint,
    )
    from scoligait_edge.research.models.sconet import (
        SCONET_CLASSES,
        ScoNet,
        ScoNetConfig,
        ScoNetLoss,
        ScoNetLossOutput,
        ScoNetOutput,
        batch_hard_triplet,
        crop_silhouettes,
    )
    from scoligait_edge.research.models.screening import (
        ScreeningLoss,
        ScreeningLossOutput,
        ScreeningModel,
        ScreeningModelConfig,
        ScreeningOutput,
    )

_NAMES: dict[str, str] = {
    "CheckpointError": "io",
    "EncoderOutput": "encoders",
    "FUSION_KINDS": "fusion",
    "KnowledgeMapEncoder": "encoders",
    "MINILM_DIM": "encoders",
    "SCONET_CLASSES": "sconet",
    "ScoNet": "sconet",
    "ScoNetConfig": "sconet",
    "ScoNetLoss": "sconet",
    "ScoNetLossOutput": "sconet",
    "ScoNetOutput": "sconet",
    "ScreeningLoss": "screening",
    "ScreeningLossOutput": "screening",
    "ScreeningModel": "screening",
    "ScreeningModelConfig": "screening",
    "ScreeningOutput": "screening",
    "TextProjection": "encoders",
    "TokenFusion": "fusion",
    "VideoEncoder": "encoders",
    "batch_hard_triplet": "sconet",
    "crop_silhouettes": "sconet",
    "load_checkpoint": "io",
    "read_checkpoint_config": "io",
    "save_checkpoint": "io",
}
"""Public name -> the submodule that defines it (imported on first use)."""
_MOVED: dict[str, str] = {
    "COBB_THRESHOLD_DEG": "scoligait_edge.core.constants",
}
"""Names this package re-exported in 0.1, now imported from their own module (deprecated)."""

__getattr__, __dir__ = lazy_face(__name__, _NAMES, _MOVED)

__all__ = [
    "CheckpointError",
    "EncoderOutput",
    "FUSION_KINDS",
    "KnowledgeMapEncoder",
    "MINILM_DIM",
    "SCONET_CLASSES",
    "ScoNet",
    "ScoNetConfig",
    "ScoNetLoss",
    "ScoNetLossOutput",
    "ScoNetOutput",
    "ScreeningLoss",
    "ScreeningLossOutput",
    "ScreeningModel",
    "ScreeningModelConfig",
    "ScreeningOutput",
    "TextProjection",
    "TokenFusion",
    "VideoEncoder",
    "batch_hard_triplet",
    "crop_silhouettes",
    "load_checkpoint",
    "read_checkpoint_config",
    "save_checkpoint",
]
