"""The box-first silhouette (only the person's box is thresholded) equals the full-frame route."""

from __future__ import annotations

import numpy as np

from scoligait_edge.video.silhouette import binarize_mask, crop_silhouette, person_silhouette


def test_box_first_silhouette_equals_full_frame_threshold_then_crop():
    rng = np.random.default_rng(0)
    for _ in range(10):
        mask = np.zeros((480, 640), np.float32)
        x, y = int(rng.integers(50, 400)), int(rng.integers(20, 200))
        w, h = int(rng.integers(40, 120)), int(rng.integers(150, 260))
        mask[y : y + h, x : x + w] = rng.uniform(0.3, 1.0, (h, w))
        mask[rng.integers(0, 480, 200), rng.integers(0, 640, 200)] = 0.9  # clutter outside the person
        box = (x + 5.0, y + 5.0, w - 10.0, h - 10.0)
        fast, ok = person_silhouette(mask, box)
        slow = crop_silhouette(binarize_mask(mask, box=box))
        assert ok and fast.shape == (64, 44) and np.array_equal(fast, slow)
    empty, ok = person_silhouette(np.zeros((100, 100), np.float32), (10, 10, 20, 40))
    assert not ok and not empty.any()
    assert person_silhouette(None)[1] is False
