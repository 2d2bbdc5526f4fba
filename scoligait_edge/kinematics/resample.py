"""Timestamp-based resampling to the map's 30 Hz, and fixed-length windows.

Cameras deliver 25, 30 or 60 fps and drop frames; the knowledge map and the
model count time in frames, so everything is put on one 30 Hz grid first.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np

from scoligait_edge.core.constants import MAP_FPS, WINDOW_FRAMES, WINDOW_HOP, check_fps
from scoligait_edge.errors import TimestampError
from scoligait_edge.kinematics.keypoints import MIN_SCORE, present_mask, validate_keypoints

_TOL_MS = 1e-6
"""A grid point within this of a sample counts as reached by it (float rounding)."""
MAX_INTERP_GAP_MS = 150.0
"""Two samples further apart than this are not interpolated between (a dropout)."""
MAX_SEGMENT_GAP_MS = 10_000.0
"""A pause longer than this between two samples ends a segment and the next sample starts a new one:
no grid points are made for the pause (an hour's pause would otherwise be 108,000 empty rows)."""


def segment_bounds(timestamps_ms: np.ndarray, max_gap_ms: float = MAX_SEGMENT_GAP_MS) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` sample ranges separated by pauses longer than ``max_gap_ms``."""
    ts = np.asarray(timestamps_ms, dtype=np.float64).reshape(-1)
    cuts = (np.flatnonzero(np.diff(ts) > max_gap_ms) + 1).tolist()
    edges = [0, *cuts, ts.size]
    return list(zip(edges[:-1], edges[1:], strict=True))


def check_timestamp(timestamp_ms: object) -> float:
    """One timestamp as a float, or TimestampError (NaN, infinity, a bool, a string, None)."""
    if isinstance(timestamp_ms, bool | np.bool_) or not isinstance(timestamp_ms, numbers.Real):
        raise TimestampError(f"timestamp must be a number of milliseconds, got {timestamp_ms!r}")
    t = float(timestamp_ms)
    if not math.isfinite(t):
        raise TimestampError(f"timestamp is NaN or infinite ({timestamp_ms!r})")
    return t


def check_timestamps(timestamps_ms: np.ndarray) -> np.ndarray:
    if isinstance(timestamps_ms, bool | np.bool_):
        raise TimestampError(f"timestamps must be numbers of milliseconds, got {timestamps_ms!r}")
    try:
        ts = np.asarray(timestamps_ms, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise TimestampError(f"timestamps must be numbers of milliseconds ({exc})") from None
    if ts.size and not np.all(np.isfinite(ts)):
        raise TimestampError("timestamps contain NaN or infinity")
    if ts.size > 1:
        steps = np.diff(ts)
        if np.any(steps <= 0):
            i = int(np.flatnonzero(steps <= 0)[0])
            raise TimestampError(
                f"timestamps must increase strictly: frame {i + 1} has {ts[i + 1]:.3f} ms after {ts[i]:.3f} ms"
            )
    return ts


def _interp_sample(
    t: float,
    ta: float,
    a: np.ndarray,
    tb: float,
    b: np.ndarray,
    ok_a: np.ndarray,
    ok_b: np.ndarray,
    period_ms: float,
    max_gap_ms: float,
) -> np.ndarray:
    """Keypoints at time t from the samples bracketing it (same rule in batch and stream)."""
    out = np.full(a.shape, np.nan)
    out[:, 2] = 0.0
    if tb - ta <= max_gap_ms:
        both = ok_a & ok_b
        # A grid point counts as reached up to TOL past a sample, so w may exceed 1 by an ulp-sized amount;
        # clamped, a score of 1.0 on one side cannot come out as 1.0000000000000002 and fail validation.
        w = 0.0 if tb == ta else min(max((t - ta) / (tb - ta), 0.0), 1.0)
        out[both] = (1 - w) * a[both] + w * b[both]
        only_a, only_b = ok_a & ~ok_b, ok_b & ~ok_a
    else:  # a dropout: no interpolation across it
        only_a, only_b = ok_a, ok_b
    # A joint seen on one side only is kept if that sample is within half a frame.
    take_a = only_a & (t - ta <= period_ms / 2)
    take_b = only_b & (tb - t <= period_ms / 2) & ~take_a
    out[take_a] = a[take_a]
    out[take_b] = b[take_b]
    return out


def resample_keypoints(
    keypoints: np.ndarray,
    timestamps_ms: np.ndarray,
    *,
    rate_hz: float = MAP_FPS,
    max_gap_ms: float = MAX_INTERP_GAP_MS,
    min_score: float = MIN_SCORE,
    max_segment_gap_ms: float = MAX_SEGMENT_GAP_MS,
) -> tuple[np.ndarray, np.ndarray]:
    """Resample ``[T, J, 3]`` keypoints taken at ``timestamps_ms`` onto a ``rate_hz`` grid.

    The grid starts at the first timestamp, and again at the first sample after
    each pause longer than ``max_segment_gap_ms`` (no rows for the pause; the
    jump shows in ``grid_ms``, see :func:`segment_bounds`). Returns ``(keypoints, grid_ms)``.
    """
    rate_hz = check_fps(rate_hz, name="rate_hz")
    kp = validate_keypoints(keypoints)
    ts = check_timestamps(timestamps_ms)
    if ts.size != kp.shape[0]:
        raise TimestampError(f"{ts.size} timestamps for {kp.shape[0]} frames")
    segments = segment_bounds(ts, max_segment_gap_ms)
    if len(segments) > 1:
        parts = [
            resample_keypoints(
                kp[a:b],
                ts[a:b],
                rate_hz=rate_hz,
                max_gap_ms=max_gap_ms,
                min_score=min_score,
                max_segment_gap_ms=math.inf,
            )
            for a, b in segments
        ]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    period = 1000.0 / rate_hz
    n_out = int(np.floor((ts[-1] - ts[0]) / period)) + 2
    grid = ts[0] + period * np.arange(n_out)
    grid = grid[grid <= ts[-1] + _TOL_MS]  # the same test the stream makes
    n_out = grid.size
    ok = present_mask(kp, min_score)
    out = np.empty((n_out, kp.shape[1], 3))
    hi = np.clip(np.searchsorted(ts, grid - _TOL_MS, side="left"), 0, ts.size - 1)
    for i, t in enumerate(grid):
        # bracket: the last sample before t and the first at or after it (as the stream sees them)
        b = hi[i]
        a = max(b - 1, 0)
        out[i] = _interp_sample(t, ts[a], kp[a], ts[b], kp[b], ok[a], ok[b], period, max_gap_ms)
    return out, grid


class StreamResampler:
    """Streaming twin of :func:`resample_keypoints` (same output, one sample of latency).

    :meth:`push_with_payload` carries a per-frame payload (the Screener's
    silhouettes) to the grid points: the nearest source frame's, ties to the later.

    A sample more than ``max_segment_gap_ms`` after the previous one starts a
    new segment (the grid restarts at it, ``segments`` counts them) instead of
    filling the pause with grid points.
    """

    def __init__(
        self,
        *,
        rate_hz: float = MAP_FPS,
        max_gap_ms: float = MAX_INTERP_GAP_MS,
        min_score: float = MIN_SCORE,
        max_segment_gap_ms: float = MAX_SEGMENT_GAP_MS,
    ):
        self.period = 1000.0 / check_fps(rate_hz, name="rate_hz")
        self.max_segment_gap_ms = float(max_segment_gap_ms)
        self.segments = 0
        self.max_gap_ms = max_gap_ms
        self.min_score = min_score
        self._prev: tuple[float, np.ndarray, np.ndarray, Any] | None = None  # t, keypoints, present, payload
        self._t0: float | None = None
        self._next_index = 0

    def push(self, timestamp_ms: float, frame_keypoints: np.ndarray) -> list[tuple[float, np.ndarray]]:
        """Add a sample; return the grid points ``(t_ms, [J, 3])`` now determined."""
        return [(g, kp) for g, kp, _ in self.push_with_payload(timestamp_ms, frame_keypoints)]

    def push_with_payload(
        self, timestamp_ms: float, frame_keypoints: np.ndarray, payload: Any = None
    ) -> list[tuple[float, np.ndarray, Any]]:
        """:meth:`push` with a per-sample ``payload`` (e.g. the frame's silhouette) carried along.

        Each grid point ``(t_ms, [J, 3], payload)`` carries the payload of the
        source sample *nearest in time* to it, of the two samples that bracket
        it; a tie (grid point exactly half-way) goes to the later sample. A
        segment's first grid point is its first sample, so it gets that
        sample's payload. The keypoints are exactly those :meth:`push` returns.
        """
        t = check_timestamp(timestamp_ms)
        kp = validate_keypoints(frame_keypoints, name="frame keypoints")[0]
        ok = present_mask(kp, self.min_score)
        if self._prev is not None and t <= self._prev[0]:
            raise TimestampError(f"timestamps must increase strictly: {t:.3f} ms after {self._prev[0]:.3f} ms")
        if self._prev is None or t - self._prev[0] > self.max_segment_gap_ms:
            self.segments += 1
            self._t0 = t
            self._prev = (t, kp, ok, payload)
            self._next_index = 1
            return [(t, _interp_sample(t, t, kp, t, kp, ok, ok, self.period, self.max_gap_ms), payload)]
        ta, a, ok_a, payload_a = self._prev
        if t <= ta:
            raise TimestampError(f"timestamps must increase strictly: {t:.3f} ms after {ta:.3f} ms")
        out = []
        assert self._t0 is not None
        while True:
            g = self._t0 + self.period * self._next_index
            if g > t + _TOL_MS:
                break
            nearest = payload if abs(t - g) <= abs(g - ta) else payload_a
            out.append((g, _interp_sample(g, ta, a, t, kp, ok_a, ok, self.period, self.max_gap_ms), nearest))
            self._next_index += 1
        self._prev = (t, kp, ok, payload)
        return out


def window_starts(n_frames: int, length: int = WINDOW_FRAMES, hop: int = WINDOW_HOP) -> range:
    """Start indices of the complete windows of ``length`` frames every ``hop`` frames."""
    if length <= 0 or hop <= 0:
        raise ValueError("window length and hop must be positive")
    return range(0, max(n_frames - length + 1, 0), hop)


def iter_windows(
    array: np.ndarray, length: int = WINDOW_FRAMES, hop: int = WINDOW_HOP
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, array[start:start+length])`` for every complete window."""
    for s in window_starts(array.shape[0], length, hop):
        yield s, array[s : s + length]
