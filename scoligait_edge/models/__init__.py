"""Screening models (torch): ScoliGait-style knowledge map / video / text fusion and the ScoNet baseline.

Needs the ``train`` extra (torch, safetensors). ``layers`` holds the reusable
building blocks; this package assembles them.
"""

from scoligait_edge.errors import OptionalDependencyError

try:
    import torch  # noqa: F401
except ImportError as _exc:  # pragma: no cover - depends on the install
    raise OptionalDependencyError("scoligait_edge.models needs PyTorch: pip install 'scoligait-edge[train]'") from _exc

from scoligait_edge.models.encoders import MINILM_DIM, EncoderOutput, KnowledgeMapEncoder, TextProjection, VideoEncoder
from scoligait_edge.models.fusion import FUSION_KINDS, TokenFusion
from scoligait_edge.models.io import CheckpointError, load_checkpoint, read_checkpoint_config, save_checkpoint
from scoligait_edge.models.sconet import (
    SCONET_CLASSES,
    ScoNet,
    ScoNetConfig,
    ScoNetLoss,
    ScoNetLossOutput,
    ScoNetOutput,
    batch_hard_triplet,
    crop_silhouettes,
)
from scoligait_edge.models.screening import (
    COBB_THRESHOLD_DEG,
    ScreeningLoss,
    ScreeningLossOutput,
    ScreeningModel,
    ScreeningModelConfig,
    ScreeningOutput,
)

__all__ = [
    "COBB_THRESHOLD_DEG",
    "FUSION_KINDS",
    "MINILM_DIM",
    "SCONET_CLASSES",
    "CheckpointError",
    "EncoderOutput",
    "KnowledgeMapEncoder",
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
