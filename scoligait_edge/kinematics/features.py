"""The knowledge map's per-frame quantities, compiled from the schema and vectorised over frames.

The batch map calls these with N = T frames and the streaming builder with
N = 1, so the instantaneous columns (positions, distances, angles) cannot drift
apart between the two. The trailing-window statistics (velocities, lagged
cross-correlation) are computed by each route its own way (direct windows in
batch, running sums when streaming) and only share :func:`lagged_correlation`
and :func:`peak_lag_zero`, the formulas that turn moments into the columns.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np

from scoligait_edge.core.constants import MAP_FPS
from scoligait_edge.core.schema import (
    ANGLE_IDS,
    ANGLES,
    CORE_JOINTS,
    CROSS_PAIRS,
    DISTANCES,
    MAX_LAG,
    MID_ANKLE,
    MID_HIP,
    MID_SHOULDER,
    MIN_LAG_PAIRS,
    MIN_PEAK,
    POINT_NAMES,
    POSITION_JOINTS,
    VELOCITY_POINTS,
)
from scoligait_edge.core.skeleton import (
    L_ANKLE,
    L_HIP,
    L_KNEE,
    L_SHOULDER,
    NUM_COCO,
    R_ANKLE,
    R_HIP,
    R_KNEE,
    R_SHOULDER,
)

_P = {n: i for i, n in enumerate(POINT_NAMES)}
NUM_POINTS = len(POINT_NAMES)
EPS_VAR = 1e-6
"""Added to variances before dividing, so a still signal gives correlation 0, not noise."""
TIE_STEP = 1e-9
"""Peak search: |r| is lowered by this per frame of lag, so exact ties go to the lag nearest zero."""

POSITION_INDEX = np.array([_P[j] for j in POSITION_JOINTS])
VELOCITY_INDEX = np.array([_P[p] for p in VELOCITY_POINTS if p != "mid_hip"])
assert VELOCITY_POINTS[-1] == "mid_hip"
DIST_A = np.array([_P[a] for a, _, _, _ in DISTANCES])
DIST_B = np.array([_P[b] for _, b, _, _ in DISTANCES])
LAGS = np.arange(-MAX_LAG, MAX_LAG + 1)
NUM_LAGS = len(LAGS)
ZERO_LAG = MAX_LAG
"""Index of lag 0 in :data:`LAGS`."""


def _compile_angles() -> dict[str, tuple[np.ndarray, ...]]:
    groups: dict[str, list[tuple[int, ...]]] = {"tilt": [], "up": [], "down": [], "between": []}
    for col, (_id, kind, v1, v2, _m, _p) in enumerate(ANGLES):
        row: tuple[int, ...] = (col, _P[v1[0]], _P[v1[1]])
        if kind == "between":
            assert v2 is not None
            row += (_P[v2[0]], _P[v2[1]])
        groups[kind].append(row)
    return {k: tuple(np.array(c) for c in zip(*rows, strict=True)) for k, rows in groups.items() if rows}


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
_SIG_COORD = [
    (i, _P[s.split(".")[0]], "xy".index(s.split(".")[1]))
    for i, s in enumerate(SIGNAL_NAMES)
    if not s.startswith("angle:")
]
_SIG_ANGLE = [
    (i, ANGLE_IDS.index(s.removeprefix("angle:"))) for i, s in enumerate(SIGNAL_NAMES) if s.startswith("angle:")
]
SIG_COORD_COL = np.array([c for c, _, _ in _SIG_COORD])
SIG_COORD_FLAT = np.array([p * 2 + ax for _, p, ax in _SIG_COORD])
SIG_ANGLE_COL = np.array([c for c, _ in _SIG_ANGLE])
SIG_ANGLE_SRC = np.array([a for _, a in _SIG_ANGLE])
NUM_SIGNALS = len(SIGNAL_NAMES)
NUM_PAIRS = len(CROSS_PAIRS)
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
    present: np.ndarray = np.all(np.isfinite(points[:, CORE, 0]), axis=1)
    return present


def raw_body_size(points: np.ndarray) -> np.ndarray:
    """Trunk length plus mean leg length per frame (pixels); NaN where a joint is missing."""

    def seg(a: int, b: int) -> np.ndarray:
        length: np.ndarray = np.linalg.norm(points[:, b] - points[:, a], axis=-1)
        return length

    trunk = seg(MID_HIP, MID_SHOULDER)
    legs = 0.5 * (seg(L_HIP, L_KNEE) + seg(L_KNEE, L_ANKLE) + seg(R_HIP, R_KNEE) + seg(R_KNEE, R_ANKLE))
    size: np.ndarray = trunk + legs
    return size


def normalise(points: np.ndarray, body_size: np.ndarray) -> np.ndarray:
    """Hip-centred, body-size normalised points ``[N, 20, 2]``."""
    normalised: np.ndarray = (points - points[:, MID_HIP : MID_HIP + 1]) / body_size[:, None, None]
    return normalised


def _vec(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = p[:, b] - p[:, a]
    return v[..., 0], v[..., 1]


def angles_of(norm: np.ndarray) -> np.ndarray:
    """The 32 self-skeleton angles ``[N, 32]`` of normalised points."""
    angles = np.empty((norm.shape[0], len(ANGLES)))
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
    return angles


def positions_and_distances(norm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hip-centred positions ``[N, 32]`` and paired-joint distances ``[N, 74]`` (body sizes)."""
    n = norm.shape[0]
    positions = norm[:, POSITION_INDEX].reshape(n, -1)
    d = norm[:, DIST_B] - norm[:, DIST_A]
    return positions, np.sqrt(d[..., 0] ** 2 + d[..., 1] ** 2)


def velocity_points(norm: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The points whose velocity is a column ``[N, 17, 2]``: hip-centred joints (body sizes), then the mid-hip
    in image pixels (its difference is divided by the current body size: see :data:`VELOCITY_SCALE_BY_SIZE`)."""
    return np.concatenate([norm[:, VELOCITY_INDEX], points[:, MID_HIP : MID_HIP + 1]], axis=1)


VELOCITY_SCALE_BY_SIZE = slice(2 * len(VELOCITY_INDEX), 2 * len(VELOCITY_INDEX) + 2)
"""Columns of the flattened velocity (the mid-hip's x, y) that are pixels per second until divided by the body
size; differencing pixels first keeps the velocity independent of where the subject stands."""


def signals(norm: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """The per-frame signals ``[N, K]`` whose trailing-window cross-correlations form the cross domain."""
    out = np.empty((norm.shape[0], NUM_SIGNALS))
    out[:, SIG_COORD_COL] = norm.reshape(norm.shape[0], -1)[:, SIG_COORD_FLAT]
    out[:, SIG_ANGLE_COL] = angles[:, SIG_ANGLE_SRC]
    return out


def lagged_correlation(count: np.ndarray, var_a: np.ndarray, var_b: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation ``[..., L, P]`` from the moments of each lag's frame pairs; NaN for lags with
    fewer than ``MIN_LAG_PAIRS`` pairs (``count [..., L, P]``): they neither win the peak search nor bend its
    refinement."""
    r = cov / np.sqrt((np.maximum(var_a, 0.0) + EPS_VAR) * (np.maximum(var_b, 0.0) + EPS_VAR))
    return np.where(count >= MIN_LAG_PAIRS, r, np.nan)


_TIE = TIE_STEP * np.abs(LAGS)[:, None]
_PAIR_COLS = np.arange(NUM_PAIRS)


def peak_lag_zero(r: np.ndarray) -> np.ndarray:
    """``r [N, L, P]`` (NaN: unusable lag) -> ``[N, 3P]``: (peak value, lag at the peak in seconds, zero-lag value)
    per pair.

    The peak is the lag of largest |r| (ties to the lag nearest zero), refined to a fraction of a frame by a
    parabola through its two neighbours when both are usable lags and bend down around it (|peak| <= 1); with
    every |r| below ``MIN_PEAK`` it is the zero-lag value at lag 0. Written with flat gathers (a few dozen numpy
    calls whatever N is): the streaming builder calls it per frame."""
    n, nl, p = r.shape
    mag = np.abs(r)
    score = mag - _TIE
    score[np.isnan(score)] = -np.inf
    best = np.argmax(score, axis=1)  # [N, P]
    idx = best * p + (_PAIR_COLS[:p] + (np.arange(n) * (nl * p))[:, None])  # of [i, best, c] in the flat arrays
    flat_mag, flat_r = mag.reshape(-1), r.reshape(-1)
    interior = (best > 0) & (best < nl - 1)
    y0 = flat_mag[idx]
    lo = flat_mag[np.where(interior, idx - p, idx)]
    hi = flat_mag[np.where(interior, idx + p, idx)]
    curvature = lo - 2.0 * y0 + hi
    bend = curvature < 0  # False at the edges (0) and next to an unusable lag (NaN)
    half_diff = np.where(bend, 0.5 * (lo - hi), 0.0)
    delta = np.clip(half_diff / np.where(bend, curvature, -1.0), -0.5, 0.5)
    peak = np.minimum(y0 - 0.5 * half_diff * delta, 1.0)
    weak = ~(y0 >= MIN_PEAK)  # also when no lag is usable
    zero = r[:, ZERO_LAG]
    out = np.empty((n, p, 3))
    out[..., 0] = np.where(weak, zero, np.copysign(peak, flat_r[idx]))
    out[..., 1] = np.where(weak, 0.0, (best - ZERO_LAG + delta) * (1.0 / MAP_FPS))
    out[..., 2] = zero
    return out.reshape(n, 3 * p)


def lag_pair_positions(window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For a history of ``window + 1`` frames (position ``window`` = now, 0 = the frame leaving the trailing
    window), where each lag's entering and leaving frame pair sits: (a in, b in, a out, b out) ``[L]``.

    Lag k pairs ``a[s - k]`` with ``b[s]``: k > 0 means b follows a by k frames."""
    w, k = window, LAGS
    a_in = np.where(k >= 0, w - k, w)
    b_in = np.where(k >= 0, w, w + k)
    a_out = np.where(k >= 0, 0, -k)
    b_out = np.where(k >= 0, k, 0)
    return a_in, b_in, a_out, b_out


# ----------------------------------------------------------------- single-frame tables (streaming builder)
# The streaming builder computes the instantaneous quantities above for ONE frame with a handful of numpy calls
# instead of dozens (per-call overhead, not arithmetic, is what a frame costs): every point difference it needs
# (hip-centred points, distance vectors, angle vectors, body segments) is one gather ``P[TO] - P[FROM]`` over the
# 20 points plus three constant points, laid out so that each block is a contiguous slice. Compiled from the same
# schema tables, and the tests compare the two routes.
_MID_SRC = ((L_SHOULDER, R_SHOULDER), (L_HIP, R_HIP), (L_ANKLE, R_ANKLE))  # order of MID_SHOULDER, MID_HIP, MID_ANKLE
assert [MID_SHOULDER, MID_HIP, MID_ANKLE] == [NUM_COCO, NUM_COCO + 1, NUM_COCO + 2] == [17, 18, 19]
POINT_SRC_A = np.array(list(range(NUM_COCO)) + [a for a, _ in _MID_SRC])
POINT_SRC_B = np.array(list(range(NUM_COCO)) + [b for _, b in _MID_SRC])
HALF_FLIP = np.array([0.5, -0.5])
"""``(xy[A] + xy[B]) * HALF_FLIP`` equals :func:`points_y_up` for one frame."""
CONST_POINTS = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
"""Appended after the 20 points: the origin, +i and -i (constants of the angle trick below)."""
_ORIGIN, _PLUS_I, _MINUS_I = NUM_POINTS, NUM_POINTS + 1, NUM_POINTS + 2
BODY_SEGMENTS = ((MID_HIP, MID_SHOULDER), (L_HIP, L_KNEE), (L_KNEE, L_ANKLE), (R_HIP, R_KNEE), (R_KNEE, R_ANKLE))
"""The segments of :func:`raw_body_size`: trunk, then the four leg segments."""


# "from" is a keyword, hence the functional form
FrameTables = TypedDict(
    "FrameTables",
    {
        "to": np.ndarray,
        "from": np.ndarray,
        "n_norm": int,
        "segments": slice,
        "tilt": slice,
        "arg_a": slice,
        "arg_b": slice,
        "angle_order": np.ndarray,
        "positions": np.ndarray,
        "velocity": slice,
        "dist": slice,
        "pair_ab_flat": np.ndarray,
    },
)


def _compile_frame_tables() -> FrameTables:
    """Rows of the one gather, and where each quantity sits in the builder's work arrays.

    Angles, with each difference row read as a complex number z = dx + i dy (all rows scaled by 1 / size, which
    leaves angles unchanged): 'up' arctan2(dx, dy) = arg(conj(z) * i), 'down' arctan2(dx, -dy) = arg(conj(-i) * z),
    'between' = arg(conj(z1) * z2); so those are one ``arg(conj(A) * B)`` over two row blocks. 'tilt'
    arctan2(-dy, |dx|) reads its vector reversed (b -> a) and is arctan2(y, |x|).
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
    hip_centred = block([(MID_HIP, p) for p in range(NUM_POINTS)])  # every point, hip-centred
    velocity = block([(MID_HIP, p) for p in VELOCITY_INDEX.tolist()])  # the mid-hip in pixels comes separately
    dist = block(list(zip(DIST_A.tolist(), DIST_B.tolist(), strict=True)))
    tilt = block([(b, a) for a, b in zip(g["tilt"][1], g["tilt"][2], strict=True)])  # reversed: (-dx, -dy)
    a_pairs, b_pairs = _arg_pairs(g)
    arg_a = block(a_pairs)
    arg_b = block(b_pairs)
    n_norm = len(to)  # rows divided by the body size
    segments = block(list(BODY_SEGMENTS) + [(_ORIGIN, p) for p in CORE_JOINTS])  # + each core point, to test it

    kind_cols = np.concatenate([np.asarray(g[k][0]) for k in ("tilt", "up", "down", "between")])
    angle_order = np.argsort(kind_cols)  # angles by kind -> schema order
    sig_flat = _signal_indices(hip_centred.start, n_norm, angle_order)
    return {
        "to": np.array(to),
        "from": np.array(frm),
        "n_norm": n_norm,
        "segments": segments,
        "tilt": tilt,
        "arg_a": arg_a,
        "arg_b": arg_b,
        "angle_order": angle_order,
        "positions": hip_centred.start + POSITION_INDEX,
        "velocity": velocity,
        "dist": dist,
        "pair_ab_flat": np.concatenate([sig_flat[CROSS_A], sig_flat[CROSS_B]]),
    }


def _arg_pairs(g: dict[str, list[list[int]]]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The A and B row blocks of ``arg(conj(A) * B)``: 'up' angles pair their vector with +i, 'down' angles
    -i with their vector, 'between' angles their two vectors."""
    a_pairs = (
        [(a, b) for a, b in zip(g["up"][1], g["up"][2], strict=True)]
        + [(_ORIGIN, _MINUS_I)] * len(g["down"][0])
        + [(a, b) for a, b in zip(g["between"][1], g["between"][2], strict=True)]
    )
    b_pairs = (
        [(_ORIGIN, _PLUS_I)] * len(g["up"][0])
        + [(a, b) for a, b in zip(g["down"][1], g["down"][2], strict=True)]
        + [(c, d) for c, d in zip(g["between"][3], g["between"][4], strict=True)]
    )
    return a_pairs, b_pairs


def _signal_indices(hip_centred_start: int, n_norm: int, angle_order: np.ndarray) -> np.ndarray:
    """Each signal as an index into the flat work vector [normalised rows, x and y interleaved | angles by kind]."""
    sig_flat = np.empty(NUM_SIGNALS, dtype=np.int64)
    sig_flat[SIG_COORD_COL] = [2 * (hip_centred_start + p) + ax for _, p, ax in _SIG_COORD]
    sig_flat[SIG_ANGLE_COL] = 2 * n_norm + angle_order[SIG_ANGLE_SRC]
    return sig_flat


FRAME_TABLES = _compile_frame_tables()
