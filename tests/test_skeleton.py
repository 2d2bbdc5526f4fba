from __future__ import annotations

import numpy as np
import pytest

from scoligait_edge.core.skeleton import (
    BONES,
    COCO21_NAMES,
    FLIP_LEFT_RIGHT,
    MEDIAPIPE_INDEX_FOR_COCO21,
    coco17,
    mediapipe_to_coco,
)


def test_mediapipe_to_coco_picks_the_right_landmarks():
    xy = np.stack([np.arange(33) * 10.0, np.arange(33) * -1.0], axis=-1)
    vis = np.linspace(0, 1.2, 33)
    out = mediapipe_to_coco(xy, vis)
    assert out.shape == (21, 3)
    # COCO left_hip is MediaPipe 23, right_ankle 28, left_heel 29, right_toe (foot index) 32
    assert out[COCO21_NAMES.index("left_hip"), 0] == 230
    assert out[COCO21_NAMES.index("right_ankle"), 0] == 280
    assert out[COCO21_NAMES.index("left_heel"), 0] == 290
    assert out[COCO21_NAMES.index("right_toe"), 1] == -32
    assert out[:, 2].max() <= 1.0  # visibility clipped into [0, 1]
    assert mediapipe_to_coco(xy, vis, with_feet=False).shape == (17, 3)
    assert coco17(out).shape == (17, 3)
    with pytest.raises(ValueError):
        mediapipe_to_coco(xy[:17], vis[:17])


def test_flip_is_an_involution_that_swaps_sides():
    flip = np.array(FLIP_LEFT_RIGHT)
    assert (flip[flip] == np.arange(21)).all()
    for i, j in enumerate(flip):
        a, b = COCO21_NAMES[i], COCO21_NAMES[j]
        assert a.replace("left", "X").replace("right", "X") == b.replace("left", "X").replace("right", "X")
    assert len(set(MEDIAPIPE_INDEX_FOR_COCO21)) == 21
    assert all(0 <= a < 21 and 0 <= b < 21 for a, b in BONES)
