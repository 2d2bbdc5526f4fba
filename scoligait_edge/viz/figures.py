"""The two things every figure module needs: a headless pyplot and one way to save (numpy-free, lazy)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DPI = 110


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed), imported only when a figure is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path) -> Path:
    """Write ``fig`` (folders created), close it, return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    pyplot().close(fig)
    log.info("wrote %s", path)
    return path


def as_probabilities(p, n: int | None = None, name: str = "prob") -> np.ndarray:
    """A 1-D float array of probabilities in [0, 1] (``n`` entries when given), or a ValueError saying what is wrong.

    Lives here, not in ``evaluation``, so figures can check inputs without pulling in
    evaluation's scipy; ``evaluation.metrics`` uses the same check.
    """
    arr = np.asarray(p, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: nothing to evaluate")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} entries but the labels have {n}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN/inf at index {int(np.flatnonzero(~np.isfinite(arr))[0])}")
    if arr.min() < 0.0 or arr.max() > 1.0:
        raise ValueError(
            f"{name} must lie in [0, 1] (pass sigmoid(logit), not the logit); range [{arr.min():.3g}, {arr.max():.3g}]"
        )
    return arr
