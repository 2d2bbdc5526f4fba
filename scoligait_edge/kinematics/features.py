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


# ----------------------------------------------------------------- single-frame tables (streaming builder)
# The streaming builder computes the same quantities as the functions above for ONE frame, but with a
# handful of numpy calls instead of dozens (per-call overhead, not arithmetic, is what a frame costs):
# every point difference it needs (hip-centred points, pair vectors, angle vectors, body segments) is one
# gather ``P[DIFF_TO] - P[DIFF_FROM]`` over the 20 points (plus three constant points), laid out so that each
# block is a contiguous slice. Compiled from the same schema tables, so the two routes cannot drift apart
# (and the tests compare them).
_MID_SRC = ((L_SHOULDER, R_SHOULDER), (L_HIP, R_HIP), (L_ANKLE, R_ANKLE))  # order of MID_SHOULDER, MID_HIP, MID_ANKLE
assert [MID_SHOULDER, MID_HIP, MID_ANKLE] == [NUM_COCO, NUM_COCO + 1, NUM_COCO + 2] == [17, 18, 19]
POINT_SRC_A = np.array(list(range(NUM_COCO)) + [a for a, _ in _MID_SRC])
POINT_SRC_B = np.array(list(range(NUM_COCO)) + [b for _, b in _MID_SRC])
HALF_FLIP = np.array([0.5, -0.5])
"""``(xy[A] + xy[B]) * HALF_FLIP`` equals :func:`points_y_up` (x + x halved is x): the builder works on the
doubled points ``S = xy[A] + xy[B]`` and folds ``HALF_FLIP`` into its one scaling by 1 / size."""
CONST_POINTS = np.array([[0.0, 0.0], [0.0, -1.0], [0.0, 1.0]])
"""Appended after the 20 doubled points: origin, then the points that become +i and -i once y is flipped
(the constants of the angle trick below)."""
_ORIGIN, _PLUS_I, _MINUS_I = NUM_POINTS, NUM_POINTS + 1, NUM_POINTS + 2
BODY_SEGMENTS = ((MID_HIP, MID_SHOULDER), (L_HIP, L_KNEE), (L_KNEE, L_ANKLE), (R_HIP, R_KNEE), (R_KNEE, R_ANKLE))
"""The segments of :func:`raw_body_size`: trunk, then the four leg segments."""


def _compile_frame_tables() -> dict[str, object]:
    """Rows of the one gather, and where each quantity sits in the builder's flat work vector.

    Angles, with each difference row read as a complex number z = dx + i dy (all rows scaled by 1 / size,
    which leaves angles unchanged): 'up' arctan2(dx, dy) = arg(conj(z) * i), 'down' arctan2(dx, -dy) =
    arg(conj(-i) * z), 'between' = arg(conj(z1) * z2); so those 24 are one ``arg(conj(A) * B)`` over two
    row blocks. 'tilt' arctan2(-dy, |dx|) reads its vector reversed (b -> a) and is arctan2(y, |x|).
    """
    to: list[int] = []
    frm: list[int] = []

    def block(pairs: list[tuple[int, int]]) -> slice:
        start = len(to)
        for a, b in pairs:  # row = P[b] - P[a]
            frm.append(a)
            to.append(b)
        return slice(start, len(to))

    g = {k: [v.tolist() for v in ANGLE_GROUPS[k]] for k in ("tilt", "up", "down", "between")}
    coords = block([(MID_HIP, p) for p in range(NUM_COCO)])
    pairs = block(list(zip(PAIR_FROM.tolist(), PAIR_TO.tolist())))
    mids = block([(MID_HIP, p) for p in range(NUM_COCO, NUM_POINTS)])
    tilt = block([(b, a) for a, b in zip(g["tilt"][1], g["tilt"][2])])  # reversed: (-dx, -dy)
    arg_a = block([(a, b) for a, b in zip(g["up"][1], g["up"][2])] + [(_ORIGIN, _MINUS_I)] * len(g["down"][0])
                  + [(a, b) for a, b in zip(g["between"][1], g["between"][2])])
    arg_b = block([(_ORIGIN, _PLUS_I)] * len(g["up"][0]) + [(a, b) for a, b in zip(g["down"][1], g["down"][2])]
                  + [(c, d) for c, d in zip(g["between"][3], g["between"][4])])
    n_norm = len(to)  # rows divided by the body size
    segments = block(list(BODY_SEGMENTS) + [(_ORIGIN, p) for p in CORE_JOINTS])  # + each core point, to test it
    assert coords.start == 0 and pairs.start == coords.stop
    assert 2 * pairs.stop == 2 * NUM_COCO + 2 * len(PAIR_FROM)  # the motion domain is the first rows, flattened

    # flat work vector: [normalised rows, x and y interleaved (2 * n_norm) | angles as tilt, up, down, between];
    # angle_order takes the angles into schema (column) order
    kind_cols = np.concatenate([np.asarray(g[k][0]) for k in ("tilt", "up", "down", "between")])
    angle_order = np.argsort(kind_cols)
    row_of_point = {p: coords.start + p for p in range(NUM_COCO)}
    row_of_point.update({p: mids.start + p - NUM_COCO for p in range(NUM_COCO, NUM_POINTS)})
    sig_flat = np.empty(NUM_SIGNALS, dtype=np.int64)
    sig_flat[SIG_COORD_COL] = [2 * row_of_point[p] + ax for _, p, ax in _SIG_COORD]
    sig_flat[SIG_ANGLE_COL] = 2 * n_norm + angle_order[SIG_ANGLE_SRC]  # where schema angle c sits by kind
    return {
        "to": np.array(to), "from": np.array(frm), "n_norm": n_norm, "segments": segments, "tilt": tilt,
        "arg_a": arg_a, "arg_b": arg_b, "angle_order": angle_order,
        "pair_ab_flat": np.concatenate([sig_flat[CROSS_A], sig_flat[CROSS_B]]),
    }


FRAME_TABLES = _compile_frame_tables()
