"""Evaluation figures: confusion matrix, ROC with the operating point, probability over time
(the last drawn by :mod:`scoligait_edge.viz.probability`, which the session report shares; re-exported here).

Each function writes one PNG (Agg backend, no display needed) and returns its
path, so CLIs can list the figures in the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from scoligait_edge.research.evaluation.metrics import (
    BinaryMetrics,
    _as_labels,
    _as_prob,
    binary_metrics,
    roc_auc,
    roc_curve,
)
from scoligait_edge.viz.figures import pyplot as _pyplot
from scoligait_edge.viz.figures import save_figure as _save
from scoligait_edge.viz.probability import plot_probability_over_time

__all__ = ["plot_confusion", "plot_probability_over_time", "plot_roc"]


def plot_confusion(
    cm: BinaryMetrics | np.ndarray | Sequence[Sequence[int]], path: str | Path, title: str = "Confusion matrix"
) -> Path:
    """2 x 2 counts with row percentages (rows = truth), negative first as in ``[[tn, fp], [fn, tp]]``."""
    plt = _pyplot()
    m = cm.confusion if isinstance(cm, BinaryMetrics) else np.asarray(cm)
    if m.shape != (2, 2) or (m < 0).any():
        raise ValueError(f"confusion matrix must be 2 x 2 non-negative counts [[tn, fp], [fn, tp]], got {m.shape}")
    m = m.astype(np.int64)
    row = m.sum(1, keepdims=True)
    frac = np.divide(m, row, out=np.zeros(m.shape), where=row > 0)
    fig, ax = plt.subplots(figsize=(4.6, 4.0))
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    names = ["negative\n(Cobb < 10°)", "positive\n(Cobb ≥ 10°)"]
    for i in range(2):
        for j in range(2):
            ax.text(
                j,
                i,
                f"{m[i, j]}\n{100 * frac[i, j]:.1f}%",
                ha="center",
                va="center",
                fontsize=12,
                color="white" if frac[i, j] > 0.55 else "black",
            )
    ax.set_xticks([0, 1], names, fontsize=9)
    ax.set_yticks([0, 1], names, fontsize=9)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=11)
    return _save(fig, path)


def plot_roc(
    y: Sequence[int] | np.ndarray,
    prob: Sequence[float] | np.ndarray,
    path: str | Path,
    title: str = "ROC",
    threshold: float | None = None,
) -> Path:
    """ROC curve with AUC; the operating point at ``threshold`` (chosen on validation) is marked."""
    plt = _pyplot()
    y_arr = _as_labels(y)
    p = _as_prob(prob, y_arr.size)
    fpr, tpr, _ = roc_curve(y_arr, p)
    auc = roc_auc(y_arr, p)
    fig, ax = plt.subplots(figsize=(4.8, 4.6))
    ax.plot([0, 1], [0, 1], ls="--", color="0.6", lw=1, label="chance")
    ax.plot(
        fpr,
        tpr,
        color="tab:blue",
        lw=2,
        drawstyle="default",
        label=f"AUC = {auc:.3f} (n={y_arr.size}, {int(y_arr.sum())} pos)",
    )
    if threshold is not None:
        m = binary_metrics(y_arr, p, threshold)
        x_op, y_op = 1 - (m.specificity or 0.0), m.sensitivity or 0.0
        ax.scatter(
            [x_op],
            [y_op],
            s=70,
            color="tab:red",
            zorder=5,
            label=f"threshold {threshold:.3f}: sens {y_op:.2f}, spec {1 - x_op:.2f}",
        )
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel("1 - specificity (false-positive rate)")
    ax.set_ylabel("sensitivity (true-positive rate)")
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)
