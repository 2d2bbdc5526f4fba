"""Turn a Screener's bounded session history into the offline HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from scoligait_edge.core.constants import MAP_FPS
from scoligait_edge.core.schema import NUM_FEATURES
from scoligait_edge.kinematics.events import GaitEvents

if TYPE_CHECKING:
    from scoligait_edge.screener import HistorySnapshot, Screener


def stitched_attention(history: HistorySnapshot) -> np.ndarray | None:
    """The windows' evidence maps placed on the history's rows (overlaps averaged, NaN where none)."""
    maps, first_row, n_rows = history.attention, history.first_row, history.n_rows
    if not maps:
        return None
    total = np.zeros((n_rows, NUM_FEATURES))
    count = np.zeros((n_rows, 1))
    for first, att in maps.items():
        a, b = first - first_row, first - first_row + att.shape[0]
        lo, hi = max(a, 0), min(b, n_rows)
        if lo < hi:
            total[lo:hi] += att[lo - a : hi - a]
            count[lo:hi] += 1
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def write_report(screener: Screener, out_dir: str | Path, notices: list[str]) -> Path:
    """The HTML report from the Screener's public :meth:`~Screener.history_snapshot` and ``summary()``."""
    from scoligait_edge.viz.report import write_session_report

    h = screener.history_snapshot()
    first_row, n = h.first_row, h.n_rows  # rows older than the history were dropped
    events = GaitEvents(
        heel_strikes={s: sorted(i - first_row for i in h.heel_strikes[s] if i >= first_row) for s in ("left", "right")},
        fps=MAP_FPS,
        n_frames=n,
    )
    probabilities = [
        ((r.first_frame - first_row) / MAP_FPS, r.probability, r.decision or r.status)
        for r in h.results
        if r.first_frame >= first_row and r.status != "skipped"
    ]
    return write_session_report(
        out_dir,
        summary=screener.summary(),
        km=h.km,
        km_valid=h.valid,
        timestamps_ms=h.timestamps_ms,
        attention=stitched_attention(h),
        probabilities=probabilities,
        threshold=h.threshold,
        events=events,
        notices=notices,
    )
