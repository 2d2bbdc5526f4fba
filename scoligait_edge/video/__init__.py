"""Video-branch inputs: Scoliosis1K-style 64 x 44 silhouettes from person masks."""

from __future__ import annotations

from scoligait_edge.core.lazy import lazy_face

_LAZY: dict[str, str] = {
    "silhouette": "MASK_THRESHOLD binarize_mask crop_silhouette nearest_frames person_silhouette",
}
"""Submodule -> the public names it defines (imported on first use)."""
_MOVED: dict[str, str] = {
    "scoligait_edge.core.constants": "SIL_CUT SIL_SHAPE SIL_SIZE",
}
"""Names this face re-exported in 0.1, now imported from their own module (deprecated until 0.3)."""

__getattr__, __dir__, __all__ = lazy_face(__name__, _LAZY, _MOVED)
