"""Video-branch inputs: Scoliosis1K-style 64 x 44 silhouettes from person masks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scoligait_edge.core.lazy import lazy_face

if TYPE_CHECKING:
    from scoligait_edge.video.silhouette import (
        MASK_THRESHOLD,
        binarize_mask,
        crop_silhouette,
        nearest_frames,
        person_silhouette,
    )

_NAMES: dict[str, str] = {
    "MASK_THRESHOLD": "silhouette",
    "binarize_mask": "silhouette",
    "crop_silhouette": "silhouette",
    "nearest_frames": "silhouette",
    "person_silhouette": "silhouette",
}
"""Public name -> the submodule that defines it (imported on first use)."""
_MOVED: dict[str, str] = {
    "SIL_CUT": "scoligait_edge.core.constants",
    "SIL_SHAPE": "scoligait_edge.core.constants",
    "SIL_SIZE": "scoligait_edge.core.constants",
}
"""Names this package re-exported in 0.1, now imported from their own module (deprecated)."""

__getattr__, __dir__ = lazy_face(__name__, _NAMES, _MOVED)

__all__ = [
    "MASK_THRESHOLD",
    "binarize_mask",
    "crop_silhouette",
    "nearest_frames",
    "person_silhouette",
]
