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
from scoligait_edge.kinematics.keypoints import MAX_GAP_FRAMES, MIN_SCORE, GapFiller, fill_gaps, validate_keypoints
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
    each row describes.
    """
    kp = validate_keypoints(keypoints)
    if timestamps_ms is None:
        if not (np.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        timestamps_ms = np.arange(kp.shape[0]) * (1000.0 / fps)
        needs_resampling = abs(fps - MAP_FPS) > 1e-6
    else:
        needs_resampling = True
    if needs_resampling:
        log.info("resampling %d frames to %.0f Hz", kp.shape[0], MAP_FPS)
        kp, timestamps_ms = resample_keypoints(kp, timestamps_ms, rate_hz=MAP_FPS, min_score=min_score)
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


class KnowledgeMapBuilder:
    """Streaming map: ``update(frame) -> MapRow`` in O(1) per frame.

    Feed it gap-filled frames at 30 Hz (see :class:`StreamingKnowledgeMap` for
    the whole chain). Running sums over the trailing windows replace the batch
    route's per-window recomputation; they are re-summed from the ring buffers
    every 1024 frames so rounding cannot accumulate on long sessions.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._index = 0
        self._sizes: deque[float | None] = deque()
        self._size_sum = 0.0
        self._size_count = 0
        self._ring: deque[np.ndarray | None] = deque()
        k, p = F.NUM_SIGNALS, len(F.CROSS_A)
        self._s = np.zeros(k)
        self._ss = np.zeros(k)
        self._sab = np.zeros(p)
        self._n = 0

    @property
    def frames_seen(self) -> int:
        return self._index

    def update(self, frame_keypoints: np.ndarray) -> MapRow:
        """Add one frame ``[17|21, 3]`` (pixels, score) and return its row."""
        kp = validate_keypoints(frame_keypoints, name="frame keypoints")
        points = F.points_y_up(kp)
        core = bool(F.core_present(points)[0])

        self._push_size(float(F.raw_body_size(points)[0]) if core else None)
        size = self._size_sum / self._size_count if self._size_count else math.nan
        sig_ok = core and size > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            norm = F.normalise(points, np.array([size]))
            motion, angles = F.instantaneous_features(norm)
        sig = F.signals(norm, angles)[0] if sig_ok else None
        self._push_signal(sig)

        valid = sig_ok and self._n >= MIN_WINDOW_COUNT
        if valid:
            n = self._n
            mean = self._s / n
            var = self._ss / n - mean * mean
            ma, mb = mean[F.CROSS_A], mean[F.CROSS_B]
            cov = self._sab / n - ma * mb
            cross = F.pair_statistics(ma[None], mb[None], var[F.CROSS_A][None], var[F.CROSS_B][None], cov[None])
            row = np.concatenate([motion[0], angles[0], cross[0]])
            row = np.nan_to_num(row, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
        else:
            row = np.zeros(NUM_FEATURES, np.float32)
        out = MapRow(index=self._index, values=row, valid=valid)
        self._index += 1
        if self._index % _RESYNC_EVERY == 0:
            self._resync()
        return out

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

    def _push_signal(self, sig: np.ndarray | None) -> None:
        self._ring.append(sig)
        if sig is not None:
            self._add(sig, +1)
        if len(self._ring) > CROSS_WINDOW:
            old = self._ring.popleft()
            if old is not None:
                self._add(old, -1)

    def _add(self, sig: np.ndarray, sign: int) -> None:
        self._s += sign * sig
        self._ss += sign * sig * sig
        self._sab += sign * sig[F.CROSS_A] * sig[F.CROSS_B]
        self._n += sign

    def _resync(self) -> None:
        kept = [s for s in self._sizes if s is not None]
        self._size_sum, self._size_count = float(sum(kept)), len(kept)
        self._s[:] = 0.0
        self._ss[:] = 0.0
        self._sab[:] = 0.0
        self._n = 0
        for sig in self._ring:
            if sig is not None:
                self._add(sig, +1)


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
