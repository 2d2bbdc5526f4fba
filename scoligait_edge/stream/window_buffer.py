"""The last ``length`` rows of the streaming map with everything aligned to them.

Rows, keypoints, silhouettes and timestamps share one ring so a window handed
to the model is always one consistent slice of time; the ring is bounded, so a
kiosk can run all day in flat memory.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from scoligait_edge.core.constants import WINDOW_FRAMES
from scoligait_edge.kinematics.builder import MapRow


@dataclass(frozen=True)
class WindowArrays:
    km: np.ndarray  # float32 [L, 238]
    valid: np.ndarray  # bool [L]
    keypoints: np.ndarray  # float64 [L, J, 3] (30 Hz, gap-filled)
    silhouettes: np.ndarray | None  # uint8 [L, 64, 44]
    timestamps_ms: np.ndarray  # [L]
    first_index: int  # 30 Hz row index of the window's first row in the session


class WindowBuffer:
    """Ring buffer that says when a window (every ``hop`` rows once full) is ready."""

    def __init__(self, length: int = WINDOW_FRAMES, hop: int = 16) -> None:
        if length <= 0 or hop <= 0:
            raise ValueError("window length and hop must be positive")
        self.length, self.hop = length, hop
        self._rows: deque[tuple[MapRow, np.ndarray, np.ndarray | None, float]] = deque(maxlen=length)
        self._since_last = 0
        self._seen = 0

    def push(self, row: MapRow, keypoints: np.ndarray, silhouette: np.ndarray | None, timestamp_ms: float) -> bool:
        """Add a row; True when a new window is complete."""
        self._rows.append((row, keypoints, silhouette, timestamp_ms))
        self._seen += 1
        self._since_last += 1
        if len(self._rows) == self.length and (self._seen == self.length or self._since_last >= self.hop):
            self._since_last = 0
            return True
        return False

    @property
    def progress(self) -> float:
        """How far (0..1) the buffer is to its next window."""
        if len(self._rows) < self.length:
            return len(self._rows) / self.length
        return min(self._since_last / self.hop, 1.0)

    def window(self) -> WindowArrays:
        if len(self._rows) < self.length:
            raise ValueError(f"only {len(self._rows)} of {self.length} rows buffered")
        rows = list(self._rows)
        sils = [r[2] for r in rows]
        return WindowArrays(
            km=np.stack([r[0].values for r in rows]),
            valid=np.array([r[0].valid for r in rows]),
            keypoints=np.stack([r[1] for r in rows]),
            silhouettes=None if any(s is None for s in sils) else np.stack([s for s in sils if s is not None]),
            timestamps_ms=np.array([r[3] for r in rows]),
            first_index=rows[0][0].index,
        )
