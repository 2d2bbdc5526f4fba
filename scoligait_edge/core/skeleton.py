"""Skeleton layouts: MediaPipe's 33 landmarks, canonical COCO-17, and COCO-17 plus
the four foot points (heels, toes) that gait-event detection needs.

Arrays of keypoints are always ``[..., J, 3]`` with (x, y, score): x, y in image
pixels (y pointing down, as images do) and score in [0, 1] (MediaPipe
visibility, ViTPose/OpenPose confidence). A missing joint is NaN in x and y and
0 in score.
"""

from __future__ import annotations

import numpy as np

COCO17_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
FOOT_NAMES: tuple[str, ...] = ("left_heel", "right_heel", "left_toe", "right_toe")
COCO21_NAMES: tuple[str, ...] = COCO17_NAMES + FOOT_NAMES

NUM_COCO = 17
NUM_COCO_FEET = 21

J = {name: i for i, name in enumerate(COCO21_NAMES)}
"""Joint index by name, e.g. ``J['left_hip'] == 11``."""

NOSE, L_EYE, R_EYE, L_EAR, R_EAR = 0, 1, 2, 3, 4
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 5, 6, 7, 8, 9, 10
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 11, 12, 13, 14, 15, 16
L_HEEL, R_HEEL, L_TOE, R_TOE = 17, 18, 19, 20

# MediaPipe Pose landmark index for each COCO-21 joint (toe = "foot_index").
MEDIAPIPE_INDEX_FOR_COCO21: tuple[int, ...] = (
    0,
    2,
    5,
    7,
    8,
    11,
    12,
    13,
    14,
    15,
    16,
    23,
    24,
    25,
    26,
    27,
    28,
    29,
    30,
    31,
    32,
)

# Index permutation that swaps anatomical left and right (for mirroring).
FLIP_LEFT_RIGHT: tuple[int, ...] = tuple(
    J[n.replace("left_", "§").replace("right_", "left_").replace("§", "right_")] for n in COCO21_NAMES
)

# Bones for drawing (COCO-17 limbs plus feet).
BONES: tuple[tuple[int, int], ...] = (
    (L_SHOULDER, R_SHOULDER),
    (L_HIP, R_HIP),
    (L_SHOULDER, L_HIP),
    (R_SHOULDER, R_HIP),
    (L_SHOULDER, L_ELBOW),
    (L_ELBOW, L_WRIST),
    (R_SHOULDER, R_ELBOW),
    (R_ELBOW, R_WRIST),
    (L_HIP, L_KNEE),
    (L_KNEE, L_ANKLE),
    (R_HIP, R_KNEE),
    (R_KNEE, R_ANKLE),
    (NOSE, L_EYE),
    (NOSE, R_EYE),
    (L_EYE, L_EAR),
    (R_EYE, R_EAR),
    (L_ANKLE, L_HEEL),
    (L_HEEL, L_TOE),
    (L_ANKLE, L_TOE),
    (R_ANKLE, R_HEEL),
    (R_HEEL, R_TOE),
    (R_ANKLE, R_TOE),
)


def mediapipe_to_coco(
    landmarks_xy: np.ndarray,
    visibility: np.ndarray,
    *,
    presence: np.ndarray | None = None,
    with_feet: bool = True,
) -> np.ndarray:
    """Convert MediaPipe's 33 landmarks to COCO-21 (or COCO-17) ``[J, 3]``.

    ``landmarks_xy`` is ``[..., 33, 2]`` in pixels, ``visibility`` and
    ``presence`` ``[..., 33]``. MediaPipe places a joint hidden behind the body
    (the far arm in a side view) from body context: its visibility is low but
    its presence (in the image at all) is high and the position is usable. So
    with presence the score is ``presence * (0.5 + 0.5 * visibility)``: an
    occluded joint keeps about half its confidence, a joint outside the image
    drops out. Without presence the score is the visibility.
    """
    xy = np.asarray(landmarks_xy, dtype=np.float64)
    vis = np.asarray(visibility, dtype=np.float64)
    if xy.shape[-2:] != (33, 2) or vis.shape[-1] != 33:
        raise ValueError(f"expected [...,33,2] and [...,33], got {xy.shape} and {vis.shape}")
    score = np.clip(vis, 0.0, 1.0)
    if presence is not None:
        pres = np.asarray(presence, dtype=np.float64)
        if pres.shape != vis.shape:
            raise ValueError(f"presence {pres.shape} does not match visibility {vis.shape}")
        score = np.clip(pres, 0.0, 1.0) * (0.5 + 0.5 * score)
    idx = list(MEDIAPIPE_INDEX_FOR_COCO21 if with_feet else MEDIAPIPE_INDEX_FOR_COCO21[:NUM_COCO])
    out = np.empty(xy.shape[:-2] + (len(idx), 3), dtype=np.float64)
    out[..., :2] = xy[..., idx, :]
    out[..., 2] = score[..., idx]
    return out


def coco17(keypoints: np.ndarray) -> np.ndarray:
    """The COCO-17 part of a COCO-17 or COCO-21 array (a view, no copy)."""
    if keypoints.shape[-2] not in (NUM_COCO, NUM_COCO_FEET):
        raise ValueError(f"expected 17 or 21 joints, got {keypoints.shape[-2]}")
    return keypoints[..., :NUM_COCO, :]
