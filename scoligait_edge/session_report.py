"""Turn a Screener's bounded session history into the offline HTML report."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scoligait_edge.kinematics import GaitEvents
from scoligait_edge.kinematics.schema import MAP_FPS, NUM_FEATURES


def stitched_attention(screener, first_row: int, n_rows: int) -> np.ndarray | None:
    """The windows' evidence maps placed on the session's rows (overlaps averaged, NaN where none)."""
    maps = screener.history.attention
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


def write_report(screener, out_dir: str | Path, notices: list[str]) -> Path:
    from scoligait_edge.viz.report import write_session_report

    h = screener.history
    n = len(h.km)
    first_row = screener.rows_seen - n  # rows older than the history were dropped
    km = np.array(h.km) if n else np.zeros((0, NUM_FEATURES), np.float32)
    events = GaitEvents(
        heel_strikes={s: sorted(i - first_row for i in h.heel_strikes[s] if i >= first_row) for s in ("left", "right")},
        fps=MAP_FPS, n_frames=n,
    )
    probabilities = [((r.first_frame - first_row) / MAP_FPS, r.probability, r.decision or r.status)
                     for r in screener.results if r.first_frame >= first_row and r.status != "skipped"]
    return write_session_report(
        out_dir, summary=screener.summary(), km=km, km_valid=np.array(h.valid, dtype=bool),
        timestamps_ms=np.array(h.timestamps_ms), attention=stitched_attention(screener, first_row, n),
        probabilities=probabilities, threshold=screener.threshold, events=events, notices=notices,
    )
