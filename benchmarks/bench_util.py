"""Helpers shared by the benchmark suites (plain module: conftest.py holds the fixtures)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

FRAME_MS = 1000.0 / 30.0
N_FRAMES = 48
FIRST_FRAME = 60
"""Real video frames decoded once and replayed forwards then backwards (a walk back and forth with no cut)."""


def scaled(rounds: int) -> int:
    """A round count times SCOLIGAIT_BENCH_SCALE (at least 3)."""
    return max(3, int(round(rounds * float(os.environ.get("SCOLIGAIT_BENCH_SCALE", "1")))))


@dataclass
class FrameCycle:
    """Real frames replayed ping-pong (0..n-1, n-2..1, ...) with strictly increasing timestamps at 30 fps."""

    images: list[np.ndarray]
    start_ms: float = 0.0

    def __post_init__(self) -> None:
        n = len(self.images)
        self.order = list(range(n)) + list(range(n - 2, 0, -1)) if n > 2 else list(range(n))
        self.i = 0
        self.t = self.start_ms

    def next(self) -> tuple[np.ndarray, int]:
        image = self.images[self.order[self.i % len(self.order)]]
        self.i += 1
        self.t += FRAME_MS
        return image, int(round(self.t))


def cycle_forever(items: list[Any]) -> Iterator[Any]:
    while True:
        yield from items


def pose_rounds(rounds: int = 90, warmup: int = 10) -> dict[str, int]:
    """pedantic() arguments for a per-frame pose/pipeline benchmark (scaled by SCOLIGAIT_BENCH_SCALE)."""
    return {"rounds": scaled(rounds), "warmup_rounds": warmup}
