"""Per-window screening probability over time (a session report's and an evaluation's figure)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from scoligait_edge.viz.figures import as_probabilities, pyplot, save_figure


def plot_probability_over_time(
    prob: Sequence[float] | np.ndarray,
    path: str | Path,
    title: str = "Screening probability over time",
    *,
    times_s: Sequence[float] | np.ndarray | None = None,
    threshold: float | None = None,
    label: int | None = None,
) -> Path:
    """Per-window probability along one recording: shows whether a call is stable or driven by a few windows."""
    plt = pyplot()
    p = as_probabilities(prob, name="prob")
    t = np.arange(p.size, dtype=np.float64) if times_s is None else np.asarray(times_s, dtype=np.float64)
    if t.shape != p.shape:
        raise ValueError(f"times_s has shape {t.shape} but prob has {p.shape}")
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    ax.plot(t, p, marker="o", ms=3, lw=1.5, color="tab:blue", label="window probability")
    ax.axhline(float(p.mean()), color="tab:blue", ls=":", lw=1, label=f"clip mean {p.mean():.3f}")
    if threshold is not None:
        ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"threshold {threshold:.3f}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("window start (s)" if times_s is not None else "window index")
    ax.set_ylabel("P(Cobb ≥ 10°)")
    if label is not None:
        title = f"{title} (true: {'positive' if label else 'negative'})"
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return save_figure(fig, path)
