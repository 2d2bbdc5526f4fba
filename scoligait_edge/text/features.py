"""Window-level text-feature values from a window's own knowledge map (no labels, no model).

Each value is the statistic of a :class:`~scoligait_edge.text.sentences.TextFeature`
over the window's valid rows, NaN where the feature is not observable (too few
usable rows, or a frontal-only feature in a side-on window). Image-x quantities
are turned into the subject's own left/right with the window's shoulder and hip
lines, so "left" means the subject's left whether they walk toward or away from
the camera.

The window's view (toward / away / side-on with the right or left side nearer)
is also read from its own kinematics: reference statistics are fitted per view,
because perspective makes e.g. the nearer shoulder look lower when side-on.
"""

from __future__ import annotations

import numpy as np

from scoligait_edge.core.schema import FEATURE_NAMES, NUM_FEATURES
from scoligait_edge.text.sentences import (
    FRONTAL_MIN_WIDTH,
    FRONTAL_VIEWS,
    MIN_VALID_ROWS,
    NUM_TEXT_FEATURES,
    TEXT_FEATURES,
    View,
)

_COL = {n: i for i, n in enumerate(FEATURE_NAMES)}
# subject-left-minus-right x, averaged over shoulders and hips: 0.5 (ls.x - rs.x) + 0.5 (lh.x - rh.x), and the
# hip-centred right hip is minus the left one
_WIDTH_COLS = np.array([_COL["left_shoulder.x"], _COL["right_shoulder.x"], _COL["left_hip.x"]])
_WIDTH_WEIGHTS = np.array([0.5, -0.5, 1.0])
_KNEE_COLS = (_COL["angle:left_knee_flexion"], _COL["angle:right_knee_flexion"])


def _compile() -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    out = []
    for f in TEXT_FEATURES:
        cols = np.array([_COL[t.column] for t in f.terms], dtype=np.int64)
        coefs = np.array([t.coef for t in f.terms], dtype=np.float64)
        mags = np.array([t.magnitude for t in f.terms], dtype=bool)
        pres = np.array([_COL[c] for c in f.presence], dtype=np.int64)
        out.append((cols, coefs, mags, pres))
    return out


_COMPILED = _compile()


def check_window(km: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert one window: ``km`` [T, 238] and ``valid`` [T] bool."""
    km = np.asarray(km, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    if km.ndim != 2 or km.shape[1] != NUM_FEATURES:
        raise ValueError(f"knowledge-map window must be [T, {NUM_FEATURES}], got {km.shape}")
    if valid.shape != (km.shape[0],):
        raise ValueError(f"valid must be [T={km.shape[0]}], got {valid.shape}")
    return km, valid & np.isfinite(km).all(axis=1)


def lateral_width(km: np.ndarray, valid: np.ndarray) -> float:
    """Median subject-left-minus-right x (body sizes) over shoulders and hips; NaN if no valid row.

    "L->R" vectors run left joint -> right joint, so left.x - right.x = -dx.
    Positive: the subject's left is at image right (walking toward the camera).
    """
    km, valid = check_window(km, valid)
    if not valid.any():
        return float("nan")
    return float(np.median(km[valid][:, _WIDTH_COLS] @ _WIDTH_WEIGHTS))


def _view(rows: np.ndarray, width: float) -> View:
    if abs(width) >= FRONTAL_MIN_WIDTH:
        return "toward" if width > 0 else "away"  # facing the camera puts the subject's left at image right
    # Side-on the knee flexes backward: thigh -> shank turns clockwise (negative) when the
    # subject faces +x, and facing +x (y up) puts the subject's left away from the camera.
    knee = float(np.median(rows[:, _KNEE_COLS].sum(axis=1)))
    return "side_right" if knee < 0 else "side_left"


def window_view(km: np.ndarray, valid: np.ndarray) -> View | None:
    """The window's camera view from its own shoulder/hip lines and knee flexion; None without valid rows."""
    km, valid = check_window(km, valid)
    if not valid.any():
        return None
    return _view(km[valid], lateral_width(km, valid))


def text_feature_values(km: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, View | None]:
    """``[NUM_TEXT_FEATURES]`` float64 values (NaN = not observable) and the window's view
    (None when the window has fewer than ``MIN_VALID_ROWS`` valid rows)."""
    km, valid = check_window(km, valid)
    values = np.full(NUM_TEXT_FEATURES, np.nan)
    if valid.sum() < MIN_VALID_ROWS:
        return values, None
    rows = km[valid]
    width = lateral_width(km, valid)
    view = _view(rows, width)
    left_sign = 1.0 if width > 0 else -1.0  # image-x direction of the subject's left (frontal views)
    for k, (f, (cols, coefs, mags, pres)) in enumerate(zip(TEXT_FEATURES, _COMPILED, strict=True)):
        if f.frontal_only and view not in FRONTAL_VIEWS:
            continue
        r = rows[(rows[:, pres] != 0.0).all(axis=1)] if pres.size else rows
        if r.shape[0] < MIN_VALID_ROWS:
            continue
        x = r[:, cols]
        signal = (np.where(mags, np.abs(x), x) * coefs).sum(axis=1)
        v = float(signal.mean() if f.statistic == "mean" else signal.std())
        values[k] = left_sign * v if f.mirror else v
    return values, view


def batch_text_feature_values(km: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, list[View | None]]:
    """``km`` [N, T, 238], ``valid`` [N, T] -> values [N, NUM_TEXT_FEATURES] and N views."""
    km = np.asarray(km)
    valid = np.asarray(valid)
    if km.ndim != 3 or valid.ndim != 2 or km.shape[:2] != valid.shape:
        raise ValueError(f"expected km [N, T, {NUM_FEATURES}] and valid [N, T], got {km.shape} and {valid.shape}")
    out = np.full((km.shape[0], NUM_TEXT_FEATURES), np.nan)
    views: list[View | None] = []
    for i in range(km.shape[0]):
        out[i], v = text_feature_values(km[i], valid[i])
        views.append(v)
    return out, views
