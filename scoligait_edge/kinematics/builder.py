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

from scoligait_edge.core.constants import MAP_FPS, check_fps
from scoligait_edge.core.schema import (
    CROSS_WINDOW,
    MID_HIP,
    MIN_CROSS_FRAMES,
    NUM_FEATURES,
    SCHEMA_VERSION,
    SIZE_WINDOW,
    VELOCITY_STEP,
    schema_hash,
)
from scoligait_edge.core.skeleton import NUM_COCO, NUM_COCO_FEET
from scoligait_edge.kinematics import features as F
from scoligait_edge.kinematics.keypoints import (
    _MAX_ABS_COORD,
    MAX_GAP_FRAMES,
    MIN_SCORE,
    GapFiller,
    fill_gaps,
    validate_keypoints,
)
from scoligait_edge.kinematics.resample import MAX_SEGMENT_GAP_MS, resample_keypoints, segment_bounds

log = logging.getLogger(__name__)

_RESYNC_EVERY = 1024
_BATCH_CHUNK = 1024
"""Rows per block of the batch cross-correlation (bounds its memory on long clips)."""


@dataclass(frozen=True)
class KnowledgeMap:
    """A ``[T, 238]`` map at 30 Hz; row t describes frame t in all columns.

    ``valid[t]`` is False where the subject's core joints were missing or the
    trailing window held fewer than ``MIN_CROSS_FRAMES`` valid frames (the
    warm-up at the start of a clip or after a long gap); such rows are all
    zeros. NaN never appears in ``values``.
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
    sums: np.ndarray = c[1:] - c[lo]
    return sums


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
        positions, distances = F.positions_and_distances(norm)
        angles = F.angles_of(norm)
        vpoints = F.velocity_points(norm, points)
        sig = F.signals(norm, angles)
    sig_ok = core & np.isfinite(size)
    velocity = _batch_velocity(vpoints, sig_ok, size)
    cross, count = _batch_cross(sig, sig_ok)

    valid = sig_ok & (count >= MIN_CROSS_FRAMES)
    values = np.concatenate([positions, velocity, distances, angles, cross], axis=1)
    values[~valid] = 0.0
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
    assert values.shape == (n, NUM_FEATURES)
    return values, valid


def _batch_velocity(vpoints: np.ndarray, ok: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Backward difference over ``VELOCITY_STEP`` frames where that frame is valid, else over fewer; 0 on a
    segment's first frame. Body sizes per second, ``[T, 34]``."""
    n = vpoints.shape[0]
    flat = vpoints.reshape(n, -1)
    out = np.zeros_like(flat)
    done = ~ok  # frames that already have their velocity (0 where the frame itself is invalid)
    for step in range(VELOCITY_STEP, 0, -1):
        if n <= step:
            continue
        use = np.zeros(n, bool)
        use[step:] = ~done[step:] & ok[:-step]
        out[use] = (flat[use] - flat[np.flatnonzero(use) - step]) * (MAP_FPS / step)
        done |= use
    out[:, F.VELOCITY_SCALE_BY_SIZE] /= size[:, None]
    return out


def _batch_cross(sig: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cross domain ``[T, 66]`` and valid frames in each trailing window ``[T]``, computed directly over each
    window and lag (two-pass moments, no running sums). A signal that is missing in a valid frame (a face
    point, say) leaves that frame out of its pairs only."""
    n, w, p = sig.shape[0], CROSS_WINDOW, F.NUM_PAIRS
    ab = np.concatenate([sig[:, F.CROSS_A], sig[:, F.CROSS_B]], axis=1)
    ab_ok = ok[:, None] & np.isfinite(ab)
    pad = w - 1
    abp = np.concatenate([np.zeros((pad, 2 * p)), np.where(ab_ok, ab, 0.0)])
    okp = np.concatenate([np.zeros((pad, 2 * p)), ab_ok.astype(np.float64)])
    count = _trailing_sum(ok.astype(np.float64), w)
    out = np.empty((n, 3 * p))
    for t0 in range(0, n, _BATCH_CHUNK):
        t1 = min(n, t0 + _BATCH_CHUNK)
        win = sliding_window_view(abp[t0 : t1 + pad], w, axis=0)  # [m, 2P, W]
        wok = sliding_window_view(okp[t0 : t1 + pad], w, axis=0)
        wa, wb, oka, okb = win[:, :p], win[:, p:], wok[:, :p], wok[:, p:]
        moments = np.empty((4, t1 - t0, F.NUM_LAGS, p))  # pairs, var a, var b, cov
        for j, k in enumerate(F.LAGS):  # pairs (a[s - k], b[s])
            if k >= 0:
                xa, xb, m = wa[..., : w - k], wb[..., k:], oka[..., : w - k] * okb[..., k:]
            else:
                xa, xb, m = wa[..., -k:], wb[..., : w + k], oka[..., -k:] * okb[..., : w + k]
            c = m.sum(-1)
            safe = np.maximum(c, 1.0)
            ma, mb = (xa * m).sum(-1) / safe, (xb * m).sum(-1) / safe
            da, db = (xa - ma[..., None]) * m, (xb - mb[..., None]) * m
            moments[:, :, j] = (c, (da * da).sum(-1) / safe, (db * db).sum(-1) / safe, (da * db).sum(-1) / safe)
        out[t0:t1] = F.peak_lag_zero(F.lagged_correlation(*moments))
    return out, count


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
    first: np.ndarray = validate_keypoints(frame_keypoints, name="frame keypoints")[0]
    return first


_T = F.FRAME_TABLES
_DIFF_TO, _DIFF_FROM, _N_NORM = _T["to"], _T["from"], _T["n_norm"]
_SEGMENTS, _TILT, _ARG_A, _ARG_B = _T["segments"], _T["tilt"], _T["arg_a"], _T["arg_b"]
_ANGLE_ORDER, _PAIR_AB, _POSITIONS = _T["angle_order"], _T["pair_ab_flat"], _T["positions"]
_VELOCITY, _DIST = _T["velocity"], _T["dist"]
_N_TILT = _TILT.stop - _TILT.start
_N_ANGLES = len(_ANGLE_ORDER)
_N_POS = 2 * len(_POSITIONS)
_N_VEL = 2 * (_VELOCITY.stop - _VELOCITY.start + 1)  # + the mid-hip in pixels
_N_DIST = _DIST.stop - _DIST.start
_C_VEL = _N_POS
_C_DIST = _C_VEL + _N_VEL
_C_ANG = _C_DIST + _N_DIST
_C_CROSS = _C_ANG + _N_ANGLES
assert _C_CROSS + 3 * F.NUM_PAIRS == NUM_FEATURES
_A_IN, _B_IN, _A_OUT, _B_OUT = F.lag_pair_positions(CROSS_WINDOW)
_ROWS_A = np.concatenate([_A_IN, _A_OUT])  # history rows of a (then b) for the entering, then leaving, pairs
_ROWS_B = np.concatenate([_B_IN, _B_OUT])
_L = F.NUM_LAGS


class KnowledgeMapBuilder:
    """Streaming map: ``update(frame) -> MapRow`` in O(1) per frame.

    Feed it gap-filled frames at 30 Hz (see :class:`StreamingKnowledgeMap` for
    the whole chain). Per frame it makes one gather of every point difference
    it needs (see ``features.FRAME_TABLES``); the trailing-window statistics
    keep, per lag and pair, running sums of a, b, a², b² and ab over the frame
    pairs in the window, updated by the one pair that enters and the one that
    leaves. Sums are re-summed from the history every 1024 frames so rounding
    cannot accumulate on long sessions. The batch map computes every window
    directly: two independent routes, which the agreement tests rely on.
    """

    def __init__(self) -> None:
        self._points = np.concatenate([np.empty((F.NUM_POINTS, 2)), F.CONST_POINTS])
        self._work = np.empty(2 * _N_NORM + _N_ANGLES)  # [normalised differences (x, y) | angles by kind]
        self._row = np.empty(NUM_FEATURES)
        self._terms = np.empty((5, 2 * _L, F.NUM_PAIRS))
        self.reset()

    def reset(self) -> None:
        self._index = 0
        self._sizes: deque[float | None] = deque()
        self._size_sum = 0.0
        self._size_count = 0
        p = F.NUM_PAIRS
        self._hist = np.zeros((CROSS_WINDOW + 1, 2 * p))  # [a | b] per pair, 0 where missing; last row = now
        self._hist_ok = np.zeros((CROSS_WINDOW + 1, 2 * p))
        self._frames_ok: deque[bool] = deque([False] * CROSS_WINDOW, maxlen=CROSS_WINDOW)
        self._n_ok = 0
        self._sums = np.zeros((5, _L, p))  # a, b, a^2, b^2, ab over each lag's pairs
        self._counts = np.zeros((_L, p))
        self._recent: deque[np.ndarray | None] = deque(maxlen=VELOCITY_STEP)  # velocity points, newest last

    @property
    def frames_seen(self) -> int:
        return self._index

    def update(self, frame_keypoints: np.ndarray) -> MapRow:
        """Add one frame ``[17|21, 3]`` (pixels, score) and return its row."""
        kp = _validate_frame(frame_keypoints)
        xy = kp[:NUM_COCO, :2]
        pts = self._points  # == F.points_y_up, then the constant points
        np.add(xy.take(F.POINT_SRC_A, axis=0), xy.take(F.POINT_SRC_B, axis=0), out=pts[: F.NUM_POINTS])
        pts[: F.NUM_POINTS] *= F.HALF_FLIP
        raw = pts.take(_DIFF_TO, axis=0) - pts.take(_DIFF_FROM, axis=0)
        seg = raw[_SEGMENTS]
        trunk, l1, l2, l3, l4, *core_norms = np.sqrt(_add_reduce(seg * seg, axis=1)).tolist()
        core = math.isfinite(math.fsum(core_norms))  # == F.core_present: NaN marks a missing joint
        self._push_size(trunk + 0.5 * (l1 + l2 + l3 + l4) if core else None)  # == F.raw_body_size
        size = self._size_sum / self._size_count if self._size_count else math.nan
        sig_ok = core and size > 0
        row = self._row
        if sig_ok:
            ab = self._instantaneous(raw, size, row)
            ab_ok = np.isfinite(ab)
            self._push_signal(np.where(ab_ok, ab, 0.0), ab_ok.astype(np.float64), True)
        else:
            self._recent.append(None)
            self._push_signal(None, None, False)

        valid = sig_ok and self._n_ok >= MIN_CROSS_FRAMES
        if valid:
            n, s = self._counts, self._sums
            safe = np.maximum(n, 1.0)
            m = s / safe  # mean a, mean b, mean a^2, mean b^2, mean ab
            r = F.lagged_correlation(n, m[2] - m[0] * m[0], m[3] - m[1] * m[1], m[4] - m[0] * m[1])
            row[_C_CROSS:] = F.peak_lag_zero(r[None])[0]
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

    def _instantaneous(self, raw: np.ndarray, size: float, row: np.ndarray) -> np.ndarray:
        """Write this frame's positions, velocities, distances and angles into ``row`` (== the batch functions of
        ``features``; see ``F.FRAME_TABLES``) and return its signals' pair values ``[a | b]``."""
        work = self._work
        d = np.divide(raw[:_N_NORM], size, out=work[: 2 * _N_NORM].reshape(_N_NORM, 2))
        row[:_C_VEL] = d[_POSITIONS].ravel()
        vpoints = np.concatenate([d[_VELOCITY].ravel(), self._points[MID_HIP]])  # == F.velocity_points
        recent = self._recent
        velocity = row[_C_VEL:_C_DIST]
        velocity[:] = 0.0
        for step in range(VELOCITY_STEP, 0, -1):  # == _batch_velocity
            if len(recent) >= step and recent[-step] is not None:
                np.multiply(vpoints - recent[-step], MAP_FPS / step, out=velocity)
                velocity[F.VELOCITY_SCALE_BY_SIZE] /= size
                break
        recent.append(vpoints)
        dv = d[_DIST]
        np.sqrt(_add_reduce(dv * dv, axis=1), out=row[_C_DIST:_C_ANG])
        ang = work[2 * _N_NORM :]
        np.arctan2(d[_TILT, 1], np.abs(d[_TILT, 0]), out=ang[:_N_TILT])  # left side up is positive
        z = d.view(np.complex128)[:, 0]
        w = np.conj(z[_ARG_A]) * z[_ARG_B]
        np.arctan2(w.imag, w.real, out=ang[_N_TILT:])
        ang.take(_ANGLE_ORDER, out=row[_C_ANG:_C_CROSS])
        return work.take(_PAIR_AB)

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

    def _push_signal(self, ab: np.ndarray | None, ab_ok: np.ndarray | None, frame_ok: bool) -> None:
        hist, hist_ok, p = self._hist, self._hist_ok, F.NUM_PAIRS
        hist[:-1] = hist[1:]
        hist_ok[:-1] = hist_ok[1:]
        if ab is None:
            hist[-1] = 0.0
            hist_ok[-1] = 0.0
        else:
            hist[-1] = ab
            hist_ok[-1] = ab_ok
        self._n_ok += int(frame_ok) - int(self._frames_ok[0])
        self._frames_ok.append(frame_ok)
        a, b = hist[_ROWS_A, :p], hist[_ROWS_B, p:]
        m = hist_ok[_ROWS_A, :p] * hist_ok[_ROWS_B, p:]  # [2L, P]: entering pairs, then leaving
        t = self._terms
        np.multiply(a, m, out=t[0])
        np.multiply(b, m, out=t[1])
        np.multiply(t[0], a, out=t[2])
        np.multiply(t[1], b, out=t[3])
        np.multiply(t[0], b, out=t[4])
        self._sums += t[:, :_L]
        self._sums -= t[:, _L:]
        self._counts += m[:_L]
        self._counts -= m[_L:]

    def _resync(self) -> None:
        kept = [s for s in self._sizes if s is not None]
        self._size_sum, self._size_count = float(sum(kept)), len(kept)
        hist, ok, p, w = self._hist, self._hist_ok, F.NUM_PAIRS, CROSS_WINDOW
        lags: list[int] = F.LAGS.tolist()
        for j, k in enumerate(lags):  # pairs (a[s - k], b[s]) with both in rows 1..w
            s = np.arange(max(1, 1 + k), min(w, w + k) + 1)
            m = ok[s - k, :p] * ok[s, p:]
            a, b = hist[s - k, :p] * m, hist[s, p:] * m
            self._sums[:, j] = np.stack([a, b, a * a, b * b, a * b]).sum(axis=1)
            self._counts[j] = m.sum(axis=0)


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
