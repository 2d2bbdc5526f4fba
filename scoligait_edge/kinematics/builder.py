"""The knowledge map, in batch (a whole clip) and streaming (one frame at a time).

Batch computes every trailing-window statistic directly over its window;
streaming keeps running sums and pays O(1) per frame. They are two independent
routes to the same numbers, which is what the agreement test relies on.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from scoligait_edge.kinematics import features as F
from scoligait_edge.kinematics.keypoints import (
    _MAX_ABS_COORD,
    MAX_GAP_FRAMES,
    MIN_SCORE,
    GapFiller,
    fill_gaps,
    validate_keypoints,
)
from scoligait_edge.kinematics.resample import resample_keypoints
from scoligait_edge.kinematics.schema import (
    CROSS_WINDOW,
    MAP_FPS,
    MIN_WINDOW_FRACTION,
    NUM_FEATURES,
    SCHEMA_VERSION,
    SIZE_WINDOW,
    schema_hash,
)
from scoligait_edge.pose.skeleton import NUM_COCO, NUM_COCO_FEET

log = logging.getLogger(__name__)

MIN_WINDOW_COUNT = math.ceil(CROSS_WINDOW * MIN_WINDOW_FRACTION)
_RESYNC_EVERY = 1024


@dataclass(frozen=True)
class KnowledgeMap:
    """A ``[T, 238]`` map at 30 Hz; row t describes frame t in all columns.

    ``valid[t]`` is False where the subject's core joints were missing or the
    trailing window had too few valid frames; such rows are all zeros. NaN never
    appears in ``values``.
    """

    values: np.ndarray
    valid: np.ndarray
    timestamps_ms: np.ndarray
    fps: float = MAP_FPS
    schema_version: str = SCHEMA_VERSION
    schema_hash: str = field(default_factory=schema_hash)

    def __len__(self) -> int:
        return int(self.values.shape[0])


@dataclass(frozen=True)
class MapRow:
    """One row of the streaming map."""

    index: int
    values: np.ndarray
    valid: bool


def _trailing_sum(x: np.ndarray, window: int) -> np.ndarray:
    c = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(x, axis=0)])
    lo = np.maximum(np.arange(1, x.shape[0] + 1) - window, 0)
    return c[1:] - c[lo]


def build_knowledge_map(
    keypoints: np.ndarray,
    fps: float = MAP_FPS,
    *,
    timestamps_ms: np.ndarray | None = None,
    max_gap: int = MAX_GAP_FRAMES,
    min_score: float = MIN_SCORE,
) -> KnowledgeMap:
    """Batch knowledge map of a clip ``[T, 17|21, 3]`` (pixels, score).

    Input at another rate (or with ``timestamps_ms`` showing dropped frames) is
    resampled to 30 Hz first; the returned ``timestamps_ms`` say which instant
    each row describes. ``fps`` must be a real number in [1, 1000] (FrameRateError).

    A pause longer than ``resample.MAX_SEGMENT_GAP_MS`` in ``timestamps_ms``
    ends a segment: the pause gets no rows, only ``max(SIZE_WINDOW,
    CROSS_WINDOW)`` invalid separator rows (all-missing joints, timestamps
    continuing the grid), so no trailing statistic spans it, exactly as the
    streaming :class:`~scoligait_edge.screener.Screener` restarts its map there.
    """
    from scoligait_edge.kinematics.resample import MAX_SEGMENT_GAP_MS, check_fps, segment_bounds

    kp = validate_keypoints(keypoints)
    if timestamps_ms is None:
        fps = check_fps(fps)
        timestamps_ms = np.arange(kp.shape[0]) * (1000.0 / fps)
        needs_resampling = abs(fps - MAP_FPS) > 1e-6
    else:
        needs_resampling = True
    if needs_resampling:
        log.info("resampling %d frames to %.0f Hz", kp.shape[0], MAP_FPS)
        kp, timestamps_ms = resample_keypoints(kp, timestamps_ms, rate_hz=MAP_FPS, min_score=min_score)
        segments = segment_bounds(timestamps_ms)
        if len(segments) > 1:
            n_sep, period = max(SIZE_WINDOW, CROSS_WINDOW), 1000.0 / MAP_FPS
            parts, stamps = [], []
            for i, (a, b) in enumerate(segments):
                if i:
                    parts.append(np.full((n_sep, *kp.shape[1:]), (np.nan, np.nan, 0.0)))
                    stamps.append(timestamps_ms[a - 1] + period * np.arange(1, n_sep + 1))
                parts.append(kp[a:b])
                stamps.append(timestamps_ms[a:b])
            kp, timestamps_ms = np.concatenate(parts), np.concatenate(stamps)
            log.info("%d segments separated by pauses > %.0f s", len(segments), MAX_SEGMENT_GAP_MS / 1000)
    kp = fill_gaps(kp, max_gap=max_gap, min_score=min_score)
    values, valid = _batch_map(kp)
    return KnowledgeMap(values=values, valid=valid, timestamps_ms=np.asarray(timestamps_ms, dtype=np.float64))


def _batch_map(kp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = kp.shape[0]
    points = F.points_y_up(kp)
    core = F.core_present(points)
    size_raw = np.where(core, F.raw_body_size(points), 0.0)
    size_count = _trailing_sum(core.astype(np.float64), SIZE_WINDOW)
    with np.errstate(invalid="ignore", divide="ignore"):
        size = _trailing_sum(size_raw, SIZE_WINDOW) / size_count
        size[(size_count == 0) | ~(size > 0)] = np.nan
        norm = F.normalise(points, size)
        motion, angles = F.instantaneous_features(norm)
        sig = F.signals(norm, angles)
    sig_ok = core & np.isfinite(size)

    # Trailing windows, computed directly over each window (no running sums).
    pad = CROSS_WINDOW - 1
    sig_p = np.concatenate([np.zeros((pad, sig.shape[1])), np.where(sig_ok[:, None], sig, 0.0)])
    ok_p = np.concatenate([np.zeros(pad, bool), sig_ok]).astype(np.float64)
    win = sliding_window_view(sig_p, CROSS_WINDOW, axis=0)  # [T, K, W]
    w_ok = sliding_window_view(ok_p, CROSS_WINDOW)[:, None, :]  # [T, 1, W]
    count = w_ok.sum(axis=-1)  # [T, 1]
    safe = np.maximum(count, 1.0)
    a, b = win[:, F.CROSS_A], win[:, F.CROSS_B]
    ma = (a * w_ok).sum(-1) / safe
    mb = (b * w_ok).sum(-1) / safe
    da, db = (a - ma[..., None]) * w_ok, (b - mb[..., None]) * w_ok
    cross = F.pair_statistics(ma, mb, (da * da).sum(-1) / safe, (db * db).sum(-1) / safe, (da * db).sum(-1) / safe)

    valid = sig_ok & (count[:, 0] >= MIN_WINDOW_COUNT)
    values = np.concatenate([motion, angles, cross], axis=1)
    values[~valid] = 0.0
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
    assert values.shape == (n, NUM_FEATURES)
    return values, valid


_T = F.FRAME_TABLES
_DIFF_TO, _DIFF_FROM, _N_NORM = _T["to"], _T["from"], _T["n_norm"]
_SEGMENTS, _TILT, _ARG_A, _ARG_B = _T["segments"], _T["tilt"], _T["arg_a"], _T["arg_b"]
_ANGLE_ORDER, _PAIR_AB = _T["angle_order"], _T["pair_ab_flat"]
_N_PAIRS = len(F.CROSS_A)
_N_MOTION = 2 * F.NUM_COCO + 2 * len(F.PAIR_FROM)
_N_ANGLES = len(_ANGLE_ORDER)
_N_TILT = _TILT.stop - _TILT.start
_add_reduce, _or_reduce = np.add.reduce, np.logical_or.reduce  # ufuncs directly: no Python wrapper
_RANGE_MID = np.array([0.0, 0.0, 0.5])
_RANGE_HALF = np.array([_MAX_ABS_COORD, _MAX_ABS_COORD, 0.5])  # |x|, |y| <= 1e6 and 0 <= score <= 1


def _validate_frame(frame_keypoints: np.ndarray) -> np.ndarray:
    """``validate_keypoints`` for one well-formed frame in a few numpy calls; anything unusual (wrong type or
    shape, a coordinate or score out of range, an infinity) goes through ``validate_keypoints`` itself, which
    raises or cleans exactly as in batch."""
    if isinstance(frame_keypoints, np.ndarray) and frame_keypoints.shape in ((NUM_COCO_FEET, 3), (NUM_COCO, 3)):
        arr = frame_keypoints.astype(np.float64)  # a copy
        # NaN compares False, so only finite values out of range (or infinities) fail this check
        if not _or_reduce(np.abs(arr - _RANGE_MID) > _RANGE_HALF, axis=None):
            if not math.isfinite(_add_reduce(arr, axis=None)):
                arr[~np.isfinite(arr).all(axis=1)] = (np.nan, np.nan, 0.0)
            return arr
    return validate_keypoints(frame_keypoints, name="frame keypoints")[0]


class KnowledgeMapBuilder:
    """Streaming map: ``update(frame) -> MapRow`` in O(1) per frame.

    Feed it gap-filled frames at 30 Hz (see :class:`StreamingKnowledgeMap` for
    the whole chain). Running sums over the trailing windows replace the batch
    route's per-window recomputation; they are re-summed from the ring buffers
    every 1024 frames so rounding cannot accumulate on long sessions.

    Per frame it makes one gather of every point difference it needs (see
    ``features.FRAME_TABLES``) and keeps, per cross-domain pair, the running
    sums of a, b, a², b² and ab: a few dozen numpy calls in all (the batch
    route's functions, called with one frame, cost several times more).
    """

    def __init__(self) -> None:
        self._doubled = np.concatenate([np.empty((F.NUM_POINTS, 2)), F.CONST_POINTS])  # S = xy[A] + xy[B], consts
        self._work = np.empty(2 * _N_NORM + _N_ANGLES)  # [normalised differences | angles by kind]
        self._row = np.empty(NUM_FEATURES)
        self._stats = np.empty(7 * _N_PAIRS)
        self._stat_num = np.empty((3, _N_PAIRS))
        self._stat_den = np.ones((3, _N_PAIRS))  # the mean difference is divided by 1
        self.reset()

    def reset(self) -> None:
        self._index = 0
        self._sizes: deque[float | None] = deque()
        self._size_sum = 0.0
        self._size_count = 0
        self._ring: deque[np.ndarray | None] = deque()
        self._sums = np.zeros(5 * _N_PAIRS)  # running sums of [a | b | a^2 | b^2 | ab] per pair
        self._n = 0

    @property
    def frames_seen(self) -> int:
        return self._index

    def update(self, frame_keypoints: np.ndarray) -> MapRow:
        """Add one frame ``[17|21, 3]`` (pixels, score) and return its row."""
        kp = _validate_frame(frame_keypoints)
        xy = kp[:NUM_COCO, :2]
        doubled = self._doubled  # 2 x the points of F.points_y_up, y not yet flipped (see F.HALF_FLIP)
        np.add(xy.take(F.POINT_SRC_A, axis=0), xy.take(F.POINT_SRC_B, axis=0), out=doubled[: F.NUM_POINTS])
        raw = doubled.take(_DIFF_TO, axis=0) - doubled.take(_DIFF_FROM, axis=0)  # 2 x differences
        seg = raw[_SEGMENTS]
        trunk, l1, l2, l3, l4, *core_norms = np.sqrt(_add_reduce(seg * seg, axis=1)).tolist()
        core = math.isfinite(math.fsum(core_norms))  # == F.core_present: NaN marks a missing joint
        # == F.raw_body_size (the differences are doubled)
        self._push_size(0.5 * trunk + 0.5 * (0.5 * l1 + 0.5 * l2 + 0.5 * l3 + 0.5 * l4) if core else None)
        size = self._size_sum / self._size_count if self._size_count else math.nan
        sig_ok = core and size > 0
        self._push_signal(self._pair_terms(raw, size) if sig_ok else None)

        valid = sig_ok and self._n >= MIN_WINDOW_COUNT
        if valid:
            row, work, p = self._row, self._work, _N_PAIRS
            row[:_N_MOTION] = work[:_N_MOTION]
            work[2 * _N_NORM :].take(_ANGLE_ORDER, out=row[_N_MOTION : _N_MOTION + _N_ANGLES])
            # == F.pair_statistics from the running means of a, b, a^2, b^2, ab; g = [sd | mean | var -> ve | ab]
            g = self._stats
            np.divide(self._sums, self._n, out=g[2 * p :])
            mean, var = g[2 * p : 4 * p], g[4 * p : 6 * p]
            var -= mean * mean
            np.maximum(var, 0.0, out=var)
            np.sqrt(var, out=g[: 2 * p])
            var += F.EPS_VAR
            q = g[: 6 * p].reshape(3, 2 * p)  # rows: sd, mean, ve (each a | b)
            num, den = self._stat_num, self._stat_den  # rows: corr, asym, mdiff
            np.subtract(q[:2, :p], q[:2, p:], out=num[1:])  # sd_a - sd_b, mean_a - mean_b
            prod = q[1:, :p] * q[1:, p:]  # mean_a * mean_b, ve_a * ve_b
            np.subtract(g[6 * p :], prod[0], out=num[0])  # covariance
            np.sqrt(prod[1], out=den[0])
            np.add(q[0, :p] + q[0, p:], F.EPS_SD, out=den[1])
            # (corr, asym, mdiff) interleaved per pair, written straight into the row
            np.divide(num, den, out=row[_N_MOTION + _N_ANGLES :].reshape(p, 3).T)
            if not math.isfinite(_add_reduce(row)):
                row[~np.isfinite(row)] = 0.0  # == nan_to_num(nan=0, posinf=0, neginf=0)
            values = row.astype(np.float32)
        else:
            values = np.zeros(NUM_FEATURES, np.float32)
        out = MapRow(index=self._index, values=values, valid=valid)
        self._index += 1
        if self._index % _RESYNC_EVERY == 0:
            self._resync()
        return out

    def _pair_terms(self, raw: np.ndarray, size: float) -> np.ndarray:
        """Normalise this frame's differences into the work vector, compute its angles (== F.normalise,
        F.instantaneous_features; see F.FRAME_TABLES) and return its signals' pair terms [a | b | a^2 | b^2 | ab]."""
        work = self._work
        d = np.multiply(raw[:_N_NORM], F.HALF_FLIP / size, out=work[: 2 * _N_NORM].reshape(_N_NORM, 2))
        ang = work[2 * _N_NORM :]
        np.arctan2(d[_TILT, 1], np.abs(d[_TILT, 0]), out=ang[:_N_TILT])  # left side up is positive
        z = d.view(np.complex128)[:, 0]
        w = np.conj(z[_ARG_A]) * z[_ARG_B]
        np.arctan2(w.imag, w.real, out=ang[_N_TILT:])
        p = _N_PAIRS
        terms = np.empty(5 * p)
        ab = work.take(_PAIR_AB, out=terms[: 2 * p])
        np.multiply(ab, ab, out=terms[2 * p : 4 * p])
        np.multiply(ab[:p], ab[p:], out=terms[4 * p :])
        return terms

    def _push_size(self, size: float | None) -> None:
        self._sizes.append(size)
        if size is not None:
            self._size_sum += size
            self._size_count += 1
        if len(self._sizes) > SIZE_WINDOW:
            old = self._sizes.popleft()
            if old is not None:
                self._size_sum -= old
                self._size_count -= 1

    def _push_signal(self, terms: np.ndarray | None) -> None:
        self._ring.append(terms)
        if terms is not None:
            self._sums += terms
            self._n += 1
        if len(self._ring) > CROSS_WINDOW:
            old = self._ring.popleft()
            if old is not None:
                self._sums -= old
                self._n -= 1

    def _resync(self) -> None:
        kept = [s for s in self._sizes if s is not None]
        self._size_sum, self._size_count = float(sum(kept)), len(kept)
        self._sums[:] = 0.0
        self._n = 0
        for terms in self._ring:
            if terms is not None:
                self._sums += terms
                self._n += 1


class StreamingKnowledgeMap:
    """Gap filling + :class:`KnowledgeMapBuilder`: the streaming twin of
    :func:`build_knowledge_map` for 30 Hz input. Rows come out ``max_gap``
    frames late (the gap filler must see past a gap to bridge it)."""

    def __init__(self, num_joints: int = 21, *, max_gap: int = MAX_GAP_FRAMES, min_score: float = MIN_SCORE):
        self.filler = GapFiller(num_joints, max_gap=max_gap, min_score=min_score)
        self.builder = KnowledgeMapBuilder()

    def push(self, frame_keypoints: np.ndarray) -> list[MapRow]:
        return [self.builder.update(f) for f in self.filler.push(frame_keypoints)]

    def flush(self) -> list[MapRow]:
        return [self.builder.update(f) for f in self.filler.flush()]
