"""Validation and missing-joint handling for keypoint arrays ``[T, J, 3]``.

Short gaps are interpolated so a blink of the pose model does not cost a window;
long gaps stay missing (and mask rows) because inventing a joint for half a
second would feed the classifier a made-up gait.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from scoligait_edge.core.skeleton import NUM_COCO, NUM_COCO_FEET
from scoligait_edge.errors import KeypointError

MIN_SCORE = 0.3
"""A joint whose score is below this is treated as missing."""
MAX_GAP_FRAMES = 6
"""Gaps up to this many frames (200 ms at 30 Hz) between two observations are interpolated."""
_MAX_ABS_COORD = 1e6


def validate_keypoints(keypoints: np.ndarray, *, name: str = "keypoints") -> np.ndarray:
    """Check shape and ranges; return float64 ``[T, J, 3]`` with missing joints as NaN/0.

    Non-finite coordinates are legitimate (a joint the pose model did not see) and
    become missing; a score outside [0, 1] or absurd coordinates mean the caller
    passed something that is not a keypoint array, and raise.
    """
    try:
        arr = np.array(keypoints, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise KeypointError(f"{name}: not a numeric array ({exc})") from None
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1] not in (NUM_COCO, NUM_COCO_FEET) or arr.shape[2] != 3:
        raise KeypointError(f"{name}: expected shape [T, 17 or 21, 3] (x, y, score), got {list(np.shape(keypoints))}")
    if arr.shape[0] == 0:
        raise KeypointError(f"{name}: zero frames")
    score = arr[..., 2]
    finite_score = np.isfinite(score)
    if np.any(finite_score & ((score < 0.0) | (score > 1.0))):
        bad = np.argwhere(finite_score & ((score < 0.0) | (score > 1.0)))[0]
        raise KeypointError(
            f"{name}: score {score[tuple(bad)]:.3g} at frame {bad[0]}, joint {bad[1]} is outside [0, 1]"
        )
    xy = arr[..., :2]
    big = np.isfinite(xy) & (np.abs(xy) > _MAX_ABS_COORD)
    if np.any(big):
        bad = np.argwhere(big)[0]
        raise KeypointError(
            f"{name}: coordinate {xy[tuple(bad)]:.3g} at frame {bad[0]}, joint {bad[1]} is out of range"
        )
    missing = ~np.all(np.isfinite(arr), axis=-1)
    arr[missing] = (np.nan, np.nan, 0.0)
    return arr


def present_mask(keypoints: np.ndarray, min_score: float = MIN_SCORE) -> np.ndarray:
    """``[T, J]`` True where a joint is observed with enough confidence."""
    present: np.ndarray = (
        np.isfinite(keypoints[..., 0]) & np.isfinite(keypoints[..., 1]) & (keypoints[..., 2] >= min_score)
    )
    return present


def fill_gaps(keypoints: np.ndarray, *, max_gap: int = MAX_GAP_FRAMES, min_score: float = MIN_SCORE) -> np.ndarray:
    """Batch gap filling: interpolate interior gaps of <= ``max_gap`` frames per joint.

    Filled joints get score ``min_score`` (so they count as present but are
    recognisable); everything else that is missing becomes NaN / 0.
    """
    kp = validate_keypoints(keypoints)
    ok = present_mask(kp, min_score)
    out = kp.copy()
    out[~ok] = (np.nan, np.nan, 0.0)
    n_frames = kp.shape[0]
    for j in range(kp.shape[1]):
        idx = np.flatnonzero(ok[:, j])
        if idx.size < 2:
            continue
        gaps = np.diff(idx) - 1
        for k in np.flatnonzero((gaps > 0) & (gaps <= max_gap)):
            a, b = idx[k], idx[k + 1]
            w = (np.arange(a + 1, b) - a) / (b - a)
            out[a + 1 : b, j, :2] = (1 - w)[:, None] * kp[a, j, :2] + w[:, None] * kp[b, j, :2]
            out[a + 1 : b, j, 2] = min_score
    assert out.shape[0] == n_frames
    return out


class GapFiller:
    """Streaming twin of :func:`fill_gaps`: same output, ``max_gap`` frames of latency.

    A frame is released once every joint in it is settled: observed, filled by
    a later observation, or known to sit in a gap longer than ``max_gap``.
    :meth:`push_with_payload` / :meth:`flush_with_payload` carry a per-frame
    payload through that latency: each released frame comes out with the
    payload pushed with it (frames are never merged or reordered).
    """

    def __init__(self, num_joints: int = NUM_COCO_FEET, *, max_gap: int = MAX_GAP_FRAMES, min_score: float = MIN_SCORE):
        self.num_joints = num_joints
        self.max_gap = max_gap
        self.min_score = min_score
        self._pending: deque[np.ndarray] = deque()  # frames not yet released, oldest first
        self._unsettled: deque[np.ndarray] = deque()  # per pending frame: joints still open
        self._payloads: deque[Any] = deque()  # per pending frame: what the caller pushed with it
        self._last_seen: list[tuple[int, np.ndarray] | None] = [None] * num_joints  # (frame no, xy)
        self._frame_no = 0
        self._released = 0

    def push(self, frame_keypoints: np.ndarray) -> list[np.ndarray]:
        """Add one frame ``[J, 3]``; return the frames that are now settled, in order."""
        return [frame for frame, _ in self.push_with_payload(frame_keypoints)]

    def flush(self) -> list[np.ndarray]:
        """End of stream: whatever is still open stays missing."""
        return [frame for frame, _ in self.flush_with_payload()]

    def push_with_payload(self, frame_keypoints: np.ndarray, payload: Any = None) -> list[tuple[np.ndarray, Any]]:
        """:meth:`push` with a ``payload`` for this frame: returns ``(frame, payload)`` for each settled frame."""
        kp = validate_keypoints(frame_keypoints, name="frame keypoints")[0]
        if kp.shape[0] != self.num_joints:
            raise KeypointError(f"frame keypoints: expected {self.num_joints} joints, got {kp.shape[0]}")
        ok = present_mask(kp, self.min_score)
        frame = kp.copy()
        frame[~ok] = (np.nan, np.nan, 0.0)
        t = self._frame_no
        self._frame_no += 1
        self._pending.append(frame)
        self._unsettled.append(~ok)
        self._payloads.append(payload)
        for j in np.flatnonzero(ok):
            last = self._last_seen[j]
            if last is not None and 0 < t - last[0] - 1 <= self.max_gap:
                a, xy_a = last
                for f in range(a + 1, t):
                    w = (f - a) / (t - a)
                    pend = self._pending[f - self._released]
                    pend[j, :2] = (1 - w) * xy_a + w * kp[j, :2]
                    pend[j, 2] = self.min_score
                    self._unsettled[f - self._released][j] = False
            self._last_seen[j] = (t, kp[j, :2].copy())
        # A missing joint is settled as missing once no observation can fill it.
        for k, open_joints in enumerate(self._unsettled):
            if not open_joints.any():
                continue
            f = self._released + k
            for j in np.flatnonzero(open_joints):
                last = self._last_seen[j]
                # a leading gap (nothing seen yet) or a gap already longer than max_gap
                if last is None or (last[0] < f and t - last[0] > self.max_gap):
                    open_joints[j] = False
        return self._release()

    def flush_with_payload(self) -> list[tuple[np.ndarray, Any]]:
        """:meth:`flush` with each frame's payload."""
        for open_joints in self._unsettled:
            open_joints[:] = False
        return self._release()

    def _release(self) -> list[tuple[np.ndarray, Any]]:
        out = []
        while self._pending and not self._unsettled[0].any():
            out.append((self._pending.popleft(), self._payloads.popleft()))
            self._unsettled.popleft()
            self._released += 1
        return out
