"""Video-branch inputs: Scoliosis1K-style 64 x 44 silhouettes from person masks."""

from scoligait_edge.video.silhouette import (
    MASK_THRESHOLD,
    SIL_CUT,
    SIL_SHAPE,
    SIL_SIZE,
    binarize_mask,
    crop_silhouette,
    nearest_frames,
    person_silhouette,
)

__all__ = [
    "MASK_THRESHOLD",
    "SIL_CUT",
    "SIL_SHAPE",
    "SIL_SIZE",
    "binarize_mask",
    "crop_silhouette",
    "nearest_frames",
    "person_silhouette",
]
