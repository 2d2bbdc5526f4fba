"""Screening models (torch): ScoliGait-style knowledge map / video / text fusion and the ScoNet baseline.

Needs the ``train`` extra (torch, safetensors). ``layers`` holds the reusable
building blocks; this package assembles them.
"""

from __future__ import annotations

from scoligait_edge.core.lazy import lazy_face
from scoligait_edge.errors import OptionalDependencyError

try:
    import torch  # noqa: F401
except ImportError as _exc:  # pragma: no cover - depends on the install
    raise OptionalDependencyError(
        "scoligait_edge.research.models needs PyTorch: pip install 'scoligait-edge[train]'"
    ) from _exc

_LAZY: dict[str, str] = {
    "encoders": "EncoderOutput KnowledgeMapEncoder MINILM_DIM TextProjection VideoEncoder",
    "fusion": "FUSION_KINDS TokenFusion",
    "io": "CheckpointError load_checkpoint read_checkpoint_config save_checkpoint",
    "sconet": "SCONET_CLASSES ScoNet ScoNetConfig ScoNetLoss ScoNetLossOutput ScoNetOutput batch_hard_triplet crop_silhouettes",
    "screening": "ScreeningLoss ScreeningLossOutput ScreeningModel ScreeningModelConfig ScreeningOutput",
}
"""Submodule -> the public names it defines (imported on first use)."""
_MOVED: dict[str, str] = {
    "scoligait_edge.core.constants": "COBB_THRESHOLD_DEG",
}
"""Names this face re-exported in 0.1, now imported from their own module (deprecated until 0.3)."""

__getattr__, __dir__, __all__ = lazy_face(__name__, _LAZY, _MOVED)
