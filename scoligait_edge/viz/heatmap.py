"""Pictures of a knowledge map: people read a heatmap faster than 238 columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from scoligait_edge.core.schema import domain_slices
from scoligait_edge.kinematics.builder import KnowledgeMap
from scoligait_edge.kinematics.events import GaitEvents

DOMAIN_LABELS = {
    "motion": "motion space (140)",
    "self_skeleton": "self-skeleton (32)",
    "cross_correlation": "cross-correlation (66)",
}


def standardise_array(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per-column z-scores over the valid rows (robust: median / MAD), invalid rows NaN.

    Array-level so that maps without a :class:`KnowledgeMap` wrapper (model
    inputs, evaluation windows) are drawn on exactly the same colour scale.
    """
    vals = np.asarray(values, dtype=np.float64).copy()
    valid = np.asarray(valid, dtype=bool)
    if vals.ndim != 2 or valid.shape != (vals.shape[0],):
        raise ValueError(f"values must be [T, F] and valid [T]; got {vals.shape} and {valid.shape}")
    vals[~valid] = np.nan
    if not valid.any():
        return vals
    med = np.nanmedian(vals, axis=0)
    mad = np.nanmedian(np.abs(vals - med), axis=0) * 1.4826
    mad[~(mad > 1e-9)] = 1.0
    return np.clip((vals - med) / mad, -4, 4)


def standardise_columns(kmap: KnowledgeMap) -> np.ndarray:
    """Per-column z-scores over the valid rows (robust: median / MAD), invalid rows NaN."""
    return standardise_array(kmap.values, kmap.valid)


def masked_cmap(name: str = "RdBu_r", bad: str = "#d0d0d0"):
    """A diverging colormap whose masked (invalid-frame) cells show grey, not a colour that reads as a value."""
    import matplotlib.pyplot as plt

    return plt.get_cmap(name).with_extremes(bad=bad)


def mark_domains(ax, *, fontsize: int = 9, labels: bool = True) -> None:
    """Draw the domain boundaries (rows = map columns) and label each domain on the y axis."""
    ticks, names = [], []
    for name, sl in domain_slices().items():
        if sl.start:
            ax.axhline(sl.start, color="black", lw=1.2)
        ticks.append((sl.start + sl.stop) / 2)
        names.append(DOMAIN_LABELS[name].replace(" (", "\n("))
    if labels:
        ax.set_yticks(ticks, names, fontsize=fontsize)
    else:
        ax.set_yticks(ticks, [""] * len(ticks))


def _scatter_map_events(ax_ev: Any, events: GaitEvents, t_s: np.ndarray) -> None:
    """Heel strikes (filled) and toe-offs (hollow) per foot at their frames' times; events past the map are left out."""
    n = len(t_s)
    for row, side, color in ((1, "left", "tab:blue"), (0, "right", "tab:red")):
        hs = np.asarray(events.heel_strikes[side], dtype=int)
        to = np.asarray(events.toe_offs[side], dtype=int)
        if hs.size:
            ax_ev.scatter(
                t_s[hs[hs < n]],
                np.full(hs[hs < n].size, row),
                marker="v",
                color=color,
                s=40,
                label=f"{side} heel strike",
            )
        if to.size:
            ax_ev.scatter(
                t_s[to[to < n]],
                np.full(to[to < n].size, row),
                marker="^",
                facecolors="none",
                edgecolors=color,
                s=30,
                label=f"{side} toe-off",
            )
    if ax_ev.get_legend_handles_labels()[0]:
        ax_ev.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=7, ncol=4, frameon=False)


def plot_knowledge_map(
    kmap: KnowledgeMap,
    path: str | Path,
    *,
    events: GaitEvents | None = None,
    title: str = "Kinematic knowledge map",
) -> Path:
    """Save a time x 238 heatmap (domains marked, heel strikes on top, masked rows grey)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    z = standardise_columns(kmap)
    n = len(kmap)
    t_s = (kmap.timestamps_ms - kmap.timestamps_ms[0]) / 1000.0 if n else np.zeros(0)
    extent = (float(t_s[0]) if n else 0.0, float(t_s[-1]) + 1.0 / kmap.fps if n else 1.0, 238, 0)
    fig, (ax_ev, ax) = plt.subplots(
        2, 1, figsize=(12, 8), gridspec_kw={"height_ratios": [1, 9], "hspace": 0.05}, sharex=True
    )
    im = ax.imshow(
        np.ma.masked_invalid(z.T),
        aspect="auto",
        cmap=masked_cmap(),
        vmin=-4,
        vmax=4,
        extent=extent,
        interpolation="nearest",
    )
    mark_domains(ax)
    ax.set_xlabel("time (s)")
    cbar = fig.colorbar(im, ax=[ax_ev, ax], fraction=0.025, pad=0.01)
    cbar.set_label("per-feature robust z-score (grey: masked frame)")
    ax_ev.set_yticks([0, 1], ["right", "left"])
    ax_ev.set_ylim(-0.6, 1.6)
    ax_ev.set_title(title, fontsize=11, pad=18)
    if events is not None:
        _scatter_map_events(ax_ev, events, t_s)
    ax_ev.tick_params(labelbottom=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
