"""Per-frame features compiled from the schema, vectorised over frames.

The same functions serve the batch map (N = T frames) and the streaming builder
(N = 1), so the 172 instantaneous columns cannot drift apart between the two.
"""

from __future__ import annotations

import numpy as np

from scoligait_edge.kinematics.schema import (
    ANGLE_IDS,
    ANGLES,
    CORE_JOINTS,
    CROSS_PAIRS,
    MID_ANKLE,
    MID_HIP,
    MID_SHOULDER,
    PAIR_VECTORS,
    POINT_NAMES,
)
from scoligait_edge.pose.skeleton import (
    L_ANKLE, L_HIP, L_KNEE, L_SHOULDER, NUM_COCO, R_ANKLE, R_HIP, R_KNEE, R_SHOULDER,
)

_P = {n: i for i, n in enumerate(POINT_NAMES)}
NUM_POINTS = len(POINT_NAMES)
EPS_VAR = 1e-6
"""Added to variances before dividing, so a still signal gives correlation 0, not noise."""
EPS_SD = 1e-3

PAIR_FROM = np.array([_P[a] for a, _, _, _ in PAIR_VECTORS])
PAIR_TO = np.array([_P[b] for _, b, _, _ in PAIR_VECTORS])


def _compile_angles() -> dict[str, tuple[np.ndarray, ...]]:
    groups: dict[str, list[tuple[int, ...]]] = {"tilt": [], "up": [], "down": [], "between": []}
    for col, (_id, kind, v1, v2, _m, _p) in enumerate(ANGLES):
        row = (col, _P[v1[0]], _P[v1[1]])
        if kind == "between":
            assert v2 is not None
            row += (_P[v2[0]], _P[v2[1]])
        groups[kind].append(row)
    return {k: tuple(np.array(c) for c in zip(*rows)) for k, rows in groups.items() if rows}


ANGLE_GROUPS = _compile_angles()


def _compile_signals() -> tuple[list[str], np.ndarray, np.ndarray]:
    names: list[str] = []
    for a, b, _m, _p in CROSS_PAIRS:
        for s in (a, b):
            if s not in names:
                names.append(s)
    pa = np.array([names.index(a) for a, _, _, _ in CROSS_PAIRS])
    pb = np.array([names.index(b) for _, b, _, _ in CROSS_PAIRS])
    return names, pa, pb


SIGNAL_NAMES, CROSS_A, CROSS_B = _compile_signals()
_SIG_COORD = [(i, _P[s.split(".")[0]], "xy".index(s.split(".")[1])) for i, s in enumerate(SIGNAL_NAMES) if not s.startswith("angle:")]
_SIG_ANGLE = [(i, ANGLE_IDS.index(s.removeprefix("angle:"))) for i, s in enumerate(SIGNAL_NAMES) if s.startswith("angle:")]
SIG_COORD_COL = np.array([c for c, _, _ in _SIG_COORD])
SIG_COORD_FLAT = np.array([p * 2 + ax for _, p, ax in _SIG_COORD])
SIG_ANGLE_COL = np.array([c for c, _ in _SIG_ANGLE])
SIG_ANGLE_SRC = np.array([a for _, a in _SIG_ANGLE])
NUM_SIGNALS = len(SIGNAL_NAMES)
CORE = np.array(CORE_JOINTS)


def points_y_up(keypoints: np.ndarray) -> np.ndarray:
    """``[N, J, 3]`` pixels -> ``[N, 20, 2]`` with y up and the three midpoints appended."""
    xy = keypoints[:, :NUM_COCO, :2] * np.array([1.0, -1.0])
    mids = np.stack(
        [
            0.5 * (xy[:, L_SHOULDER] + xy[:, R_SHOULDER]),
            0.5 * (xy[:, L_HIP] + xy[:, R_HIP]),
            0.5 * (xy[:, L_ANKLE] + xy[:, R_ANKLE]),
        ],
        axis=1,
    )
    return np.concatenate([xy, mids], axis=1)


def core_present(points: np.ndarray) -> np.ndarray:
    """``[N]`` True where every core joint is present."""
    return np.all(np.isfinite(points[:, CORE, 0]), axis=1)


def raw_body_size(points: np.ndarray) -> np.ndarray:
    """Trunk length plus mean leg length per frame (pixels); NaN where a joint is missing."""
    def seg(a: int, b: int) -> np.ndarray:
        return np.linalg.norm(points[:, b] - points[:, a], axis=-1)

    trunk = seg(MID_HIP, MID_SHOULDER)
    legs = 0.5 * (seg(L_HIP, L_KNEE) + seg(L_KNEE, L_ANKLE) + seg(R_HIP, R_KNEE) + seg(R_KNEE, R_ANKLE))
    return trunk + legs


def normalise(points: np.ndarray, body_size: np.ndarray) -> np.ndarray:
    """Hip-centred, body-size normalised points ``[N, 20, 2]``."""
    return (points - points[:, MID_HIP : MID_HIP + 1]) / body_size[:, None, None]


def _vec(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = p[:, b] - p[:, a]
    return v[..., 0], v[..., 1]


def instantaneous_features(norm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Motion space (140) and self-skeleton angles (32) of each frame."""
    n = norm.shape[0]
    coords = norm[:, :NUM_COCO].reshape(n, 2 * NUM_COCO)
    pairs = (norm[:, PAIR_TO] - norm[:, PAIR_FROM]).reshape(n, 2 * len(PAIR_FROM))
    angles = np.empty((n, len(ANGLES)))
    col, a, b = ANGLE_GROUPS["tilt"]
    dx, dy = _vec(norm, a, b)
    angles[:, col] = np.arctan2(-dy, np.abs(dx))  # left side up is positive
    col, a, b = ANGLE_GROUPS["up"]
    dx, dy = _vec(norm, a, b)
    angles[:, col] = np.arctan2(dx, dy)
    col, a, b = ANGLE_GROUPS["down"]
    dx, dy = _vec(norm, a, b)
    angles[:, col] = np.arctan2(dx, -dy)
    col, a, b, c, d = ANGLE_GROUPS["between"]
    x1, y1 = _vec(norm, a, b)
    x2, y2 = _vec(norm, c, d)
    angles[:, col] = np.arctan2(x1 * y2 - y1 * x2, x1 * x2 + y1 * y2)
    return np.concatenate([coords, pairs], axis=1), angles


def signals(norm: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """The per-frame signals ``[N, K]`` whose trailing-window pair statistics form the cross domain."""
    out = np.empty((norm.shape[0], NUM_SIGNALS))
    out[:, SIG_COORD_COL] = norm.reshape(norm.shape[0], -1)[:, SIG_COORD_FLAT]
    out[:, SIG_ANGLE_COL] = angles[:, SIG_ANGLE_SRC]
    return out


def pair_statistics(
    mean_a: np.ndarray, mean_b: np.ndarray, var_a: np.ndarray, var_b: np.ndarray, cov: np.ndarray
) -> np.ndarray:
    """Correlation, amplitude asymmetry and mean difference, interleaved per pair ``[N, 3P]``."""
    var_a = np.maximum(var_a, 0.0)
    var_b = np.maximum(var_b, 0.0)
    corr = cov / np.sqrt((var_a + EPS_VAR) * (var_b + EPS_VAR))
    sd_a, sd_b = np.sqrt(var_a), np.sqrt(var_b)
    asym = (sd_a - sd_b) / (sd_a + sd_b + EPS_SD)
    mdiff = mean_a - mean_b
    return np.stack([corr, asym, mdiff], axis=-1).reshape(corr.shape[0], -1)
