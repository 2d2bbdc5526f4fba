"""The model's evidence drawn on the knowledge map (plotting only; the reading is :mod:`scoligait_edge.interpret`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scoligait_edge.core.constants import MAP_FPS
from scoligait_edge.core.schema import NUM_FEATURES
from scoligait_edge.interpret import SalientFeature, top_features, validate_attention

log = logging.getLogger(__name__)

_MIN_BOX_ROWS = 8


def _three_panels() -> tuple[Any, Any, Any]:
    """Map, evidence and traces stacked on one time axis; a column of narrow axes on the right holds the
    colour bars, so all three panels share one time-axis width."""
    import matplotlib.pyplot as plt

    fig, grid = plt.subplots(
        3,
        2,
        figsize=(11, 11),
        gridspec_kw={"hspace": 0.16, "wspace": 0.02, "height_ratios": [4, 4, 1.6], "width_ratios": [60, 1]},
    )
    axes, caxes = grid[:, 0], grid[:, 1]
    for ax in axes[1:]:
        ax.sharex(axes[0])
    return fig, axes, caxes


def _box_salient(ax: Any, salient: Sequence[SalientFeature]) -> None:
    """Box each salient feature's rows over its time span, numbered, legible on any colour."""
    import matplotlib.patheffects as pe
    from matplotlib.patches import Rectangle

    for k, s in enumerate(salient, start=1):
        rows = [s.feature_index, *s.tied_indices]
        y0, y1 = min(rows) - 0.5, max(rows) + 1.5
        if y1 - y0 < _MIN_BOX_ROWS:  # one column is ~2 px tall: pad so the box and its cells are both seen
            mid = (y0 + y1) / 2
            y0, y1 = mid - _MIN_BOX_ROWS / 2, mid + _MIN_BOX_ROWS / 2
        for color, lw, ls in (("white", 3.2, "-"), ("black", 1.6, (0, (3, 1.5)))):
            ax.add_patch(
                Rectangle((s.start_s, y0), s.stop_s - s.start_s, y1 - y0, fill=False, edgecolor=color, lw=lw, ls=ls)
            )
        ax.text(
            s.stop_s,
            y0,
            f" {k}",
            ha="left",
            va="bottom",
            fontsize=10,
            fontweight="bold",
            color="black",
            path_effects=[pe.withStroke(linewidth=3, foreground="white")],
        )


def _draw_map_panels(
    fig: Any,
    axes: Sequence[Any],
    caxes: Sequence[Any],
    z: np.ndarray,
    a_masked: np.ndarray,
    v: np.ndarray,
    extent: tuple[float, float, int, int],
    salient: Sequence[SalientFeature],
) -> None:
    """The standardised map and the signed evidence (symmetric colour range), each boxed and with a colour bar."""
    from scoligait_edge.viz.heatmap import mark_domains, masked_cmap

    vmax = float(np.nanmax(np.abs(a_masked))) if v.any() else 1.0
    vmax = vmax if vmax > 0 else 1.0
    panels = (
        (
            z.T,
            masked_cmap("RdBu_r"),
            -4,
            4,
            "knowledge map (per-feature robust z-score)",
            "z-score (grey: masked frame)",
        ),
        (
            a_masked.T,
            masked_cmap("PuOr_r"),
            -vmax,
            vmax,
            "model evidence per cell (orange: towards 'refer')",
            "signed evidence",
        ),
    )
    for ax, cax, (img, cmap, lo, hi, sub, cbar_label) in zip(axes, caxes, panels, strict=True):
        im = ax.imshow(
            np.ma.masked_invalid(img),
            aspect="auto",
            cmap=cmap,
            vmin=lo,
            vmax=hi,
            extent=extent,
            interpolation="nearest",
        )
        mark_domains(ax)
        ax.set_title(sub, fontsize=10, loc="left")
        cb = fig.colorbar(im, cax=cax)
        cb.set_label(cbar_label, fontsize=8)
        _box_salient(ax, salient)


def _draw_evidence_traces(
    ax: Any,
    cax: Any,
    att: np.ndarray,
    v: np.ndarray,
    salient: Sequence[SalientFeature],
    t0: float,
    fps: float,
    extent: tuple[float, float, int, int],
) -> None:
    """The boxed columns' evidence over time, since one map row is only a pixel or two tall."""
    import matplotlib.pyplot as plt

    t_centres = t0 + (np.arange(att.shape[0]) + 0.5) / fps
    colors = plt.get_cmap("tab10")
    for k, s in enumerate(salient, start=1):
        trace = att[:, s.feature_index].copy()
        trace[~v] = np.nan
        ax.plot(t_centres, trace, color=colors(k - 1), lw=1.5, label=f"{k}")
        ax.axvspan(s.start_s, s.stop_s, color=colors(k - 1), alpha=0.12, lw=0)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylabel("evidence", fontsize=9)
    ax.set_title("evidence of the boxed columns over time (shaded: their spans)", fontsize=10, loc="left")
    if salient:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False, title="box", title_fontsize=8)
    cax.axis("off")  # no colour bar for this panel
    ax.grid(alpha=0.3)
    ax.set_xlabel("time (s)")


def _salient_caption(salient: Sequence[SalientFeature]) -> str:
    """The boxes listed under the figure: name, domain, span, peak, clinical prior and tied columns."""
    if salient:
        lines = [
            f"{k}. {s.name}  [{s.domain}]  {s.start_s:.2f}-{s.stop_s:.2f} s, peak {s.peak_evidence:.3g}"
            + (f"  - prior: {s.clinical_prior}" if s.clinical_prior else "")
            + (f"  (+{len(s.tied_features)} tied columns)" if s.tied_features else "")
            for k, s in enumerate(salient, start=1)
        ]
    else:
        lines = ["no positive evidence on valid frames"]
    return "Boxed regions (top evidence per domain):\n" + "\n".join(lines)


def plot_attention_on_map(
    km: np.ndarray,
    attention: np.ndarray,
    valid: np.ndarray,
    path: str | Path,
    salient: Sequence[SalientFeature] | None = None,
    *,
    fps: float = MAP_FPS,
    window_start_frame: int = 0,
    title: str = "Knowledge map and the model's evidence",
) -> Path:
    """Two panels over time (s): the standardised map and the signed evidence, salient regions boxed and listed.

    ``salient`` defaults to :func:`top_features` (one per domain). Grey rows
    are invalid frames; positive evidence (orange) pushes towards "refer".
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from scoligait_edge.viz.heatmap import standardise_array

    att, v = validate_attention(attention, valid, "attention")
    km_arr = np.asarray(km, dtype=np.float64)
    if km_arr.shape != att.shape:
        raise ValueError(f"km has shape {km_arr.shape} but attention has {att.shape}")
    if salient is None:
        salient = top_features(att, v, fps=fps, window_start_frame=window_start_frame)
    t0 = window_start_frame / fps
    extent = (t0, t0 + att.shape[0] / fps, NUM_FEATURES, 0)
    a_masked = att.copy()
    a_masked[~v] = np.nan

    fig, axes, caxes = _three_panels()
    _draw_map_panels(fig, axes[:2], caxes[:2], standardise_array(km_arr, v), a_masked, v, extent, salient)
    _draw_evidence_traces(axes[2], caxes[2], att, v, salient, t0, fps, extent)
    for upper in axes[:2]:
        upper.tick_params(labelbottom=False)
    fig.suptitle(title, fontsize=12, y=0.93)
    fig.text(0.125, 0.068, _salient_caption(salient), ha="left", va="top", fontsize=9, family="monospace")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    log.info("wrote %s", path)
    return path
