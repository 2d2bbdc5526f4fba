"""Scoliosis1K-style silhouettes (64 x 44 uint8) from person masks.

The video branch of the model (and ScoNet) expects what Scoliosis1K ships: a
binary person mask cropped to the body's height, resized to 64 rows keeping
the aspect ratio, centred horizontally on the body, cut to 64 x 64, then 10 px
cut off each side -> 64 x 44. One implementation serves the simulator, the
dataset preprocessing and (later) the runtime, so training and deployment crop
identically.

MediaPipe returns one soft mask per detected person over the whole frame. Soft
masks can carry stray blobs far from the person (another person's arm, a
shadow), so the mask is first restricted to the person's landmark box plus a
margin before the crop box is taken.
"""

from __future__ import annotations

import cv2
import numpy as np

from scoligait_edge.core.constants import SIL_CUT, SIL_SHAPE, SIL_SIZE

MASK_THRESHOLD = 0.5
"""A soft mask pixel at or above this is foreground."""
MIN_FOREGROUND_PX = 16
"""A mask with fewer foreground pixels than this (after cleaning) gives no silhouette."""
MASK_BOX_MARGIN = 0.15
"""The person's landmark box is grown by this share of its larger side to hold the whole silhouette
(hands, hair, loose clothes); only that region of a mask is read (and copied from MediaPipe)."""


def crop_silhouette(mask: np.ndarray, *, size: int = SIL_SIZE, cut: int = SIL_CUT) -> np.ndarray:
    """Height-normalised crop of one binary mask ``[H, W]`` (or a stack ``[T, H, W]``).

    Non-zero pixels are foreground. Their rows set the vertical extent; the box
    is resized to ``size`` rows keeping the aspect ratio, centred on the column
    that halves the foreground mass, placed in a ``size x size`` canvas and cut
    by ``cut`` columns each side -> uint8 ``[size, size - 2*cut]`` (values
    0..255, anti-aliased edges). An empty mask gives zeros.
    """
    m = np.asarray(mask)
    if m.ndim == 3:
        if not len(m):
            return np.zeros((0, size, size - 2 * cut), np.uint8)
        return np.stack([crop_silhouette(x, size=size, cut=cut) for x in m])
    if m.ndim != 2:
        raise ValueError(f"expected [H, W] or [T, H, W] mask, got shape {m.shape}")
    if m.dtype != np.uint8:
        m = np.where(m > 0, 255, 0).astype(np.uint8)
    out = np.zeros((size, size), dtype=np.uint8)
    x, y, w, h = cv2.boundingRect(np.ascontiguousarray(m))
    if w == 0 or h == 0:
        return out[:, cut : size - cut].copy()
    body = np.ascontiguousarray(m[y : y + h, x : x + w])
    new_w = max(int(round(w * size / h)), 1)
    body = cv2.resize(body, (new_w, size), interpolation=cv2.INTER_AREA if h > size else cv2.INTER_LINEAR)
    col_mass = np.cumsum(body.sum(axis=0, dtype=np.float64))
    cx = int(np.searchsorted(col_mass, col_mass[-1] / 2)) if col_mass[-1] > 0 else new_w // 2
    left = cx - size // 2
    src0, src1 = max(left, 0), min(left + size, new_w)
    out[:, src0 - left : src1 - left] = body[:, src0:src1]
    return out[:, cut : size - cut].copy()


def _as_2d(soft_mask: np.ndarray) -> np.ndarray:
    m = np.asarray(soft_mask)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[..., 0]
    if m.ndim != 2:
        raise ValueError(f"expected an [H, W] mask, got shape {m.shape}")
    return m


def box_region(
    shape: tuple[int, int], box: tuple[float, float, float, float], margin: float
) -> tuple[slice, slice] | None:
    """Rows/columns of ``box`` (x, y, w, h px) grown by ``margin`` of its larger side, clipped to the image."""
    x, y, w, h = box
    pad = margin * max(h, w, 1.0)
    H, W = shape
    x0, y0 = max(int(np.floor(x - pad)), 0), max(int(np.floor(y - pad)), 0)
    x1, y1 = min(int(np.ceil(x + w + pad)), W), min(int(np.ceil(y + h + pad)), H)
    return (slice(y0, y1), slice(x0, x1)) if x1 > x0 and y1 > y0 else None


def binarize_mask(
    soft_mask: np.ndarray,
    *,
    threshold: float = MASK_THRESHOLD,
    box: tuple[float, float, float, float] | None = None,
    margin: float = MASK_BOX_MARGIN,
) -> np.ndarray:
    """Soft mask ``[H, W]`` in [0, 1] -> uint8 0/255, keeping only ``box`` (x, y, w, h
    px, e.g. the person's landmark box) grown by ``margin`` of its larger side."""
    m = _as_2d(soft_mask)
    if box is None:
        return ((m >= threshold).view(np.uint8) * np.uint8(255)).astype(np.uint8)
    out = np.zeros(m.shape, np.uint8)
    region = box_region(m.shape, box, margin)
    if region is not None:
        out[region] = (m[region] >= threshold).view(np.uint8) * np.uint8(255)
    return out


def person_silhouette(
    soft_mask: np.ndarray | None,
    box: tuple[float, float, float, float] | None = None,
    *,
    threshold: float = MASK_THRESHOLD,
    margin: float = MASK_BOX_MARGIN,
) -> tuple[np.ndarray, bool]:
    """One person's 64 x 44 silhouette and whether it is usable.

    ``soft_mask`` is the person's segmentation (None when the estimator gave
    none); ``box`` their landmark box (see :func:`binarize_mask`). Only the box
    is thresholded: the crop depends only on the foreground, and a full
    1768 x 994 float mask costs ~10x more per frame. Returns zeros and False
    when there is no mask or fewer than ``MIN_FOREGROUND_PX`` foreground pixels survive.
    """
    if soft_mask is None:
        return np.zeros(SIL_SHAPE, np.uint8), False
    m = _as_2d(soft_mask)
    region = (slice(None), slice(None)) if box is None else box_region(m.shape, box, margin)
    if region is None:
        return np.zeros(SIL_SHAPE, np.uint8), False
    binary = (m[region] >= threshold).view(np.uint8) * np.uint8(255)
    if int(np.count_nonzero(binary)) < MIN_FOREGROUND_PX:
        return np.zeros(SIL_SHAPE, np.uint8), False
    return crop_silhouette(binary), True


def nearest_frames(
    frame_ms: np.ndarray, grid_ms: np.ndarray, *, tolerance_ms: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """For each grid instant, the index of the nearest frame and whether it is close enough.

    Silhouettes are per decoded frame, the knowledge map is on a 30 Hz grid;
    this maps one onto the other. ``tolerance_ms`` defaults to 0.6 x the larger
    of the median frame spacing and the grid spacing, so a dropped frame leaves
    a hole rather than a stale silhouette.
    """
    f = np.asarray(frame_ms, dtype=np.float64).reshape(-1)
    g = np.asarray(grid_ms, dtype=np.float64).reshape(-1)
    if f.size == 0:
        return np.zeros(g.size, np.int64), np.zeros(g.size, bool)
    if tolerance_ms is None:
        spacing = [float(np.median(np.diff(a))) for a in (f, g) if a.size > 1]
        tolerance_ms = 0.6 * max(spacing) if spacing else np.inf
    hi = np.clip(np.searchsorted(f, g), 0, f.size - 1)
    lo = np.clip(hi - 1, 0, f.size - 1)
    idx = np.where(np.abs(f[lo] - g) <= np.abs(f[hi] - g), lo, hi)
    ok = np.abs(f[idx] - g) <= tolerance_ms
    return idx.astype(np.int64), ok


__all__ = [
    "MASK_BOX_MARGIN",
    "MASK_THRESHOLD",
    "MIN_FOREGROUND_PX",
    "SIL_CUT",
    "SIL_SHAPE",
    "SIL_SIZE",
    "binarize_mask",
    "crop_silhouette",
    "nearest_frames",
    "person_silhouette",
]
