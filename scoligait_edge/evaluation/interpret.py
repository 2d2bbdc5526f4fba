"""Read the model's evidence off the knowledge map: which clinical feature, during which seconds.

The paper's explainability (its Fig. 3) selects "the top-ranked feature in each
relevant domain", the column naming a clinical variable and the rows its time
period, and boxes that region on the map. :func:`top_features` does that on
``ScreeningOutput.km_attention_map`` (signed per-cell evidence, zero on invalid
frames); :func:`plot_attention_on_map` draws it.

The model's evidence is painted from tokens, each covering a few frames x one
feature group, so every column of a group carries the same evidence. A chosen
column therefore lists the columns it is tied with (``tied_features``): read
the group, not just the one name. Among tied columns, the one carrying a
clinical prior is named first (then the lowest index): deterministic, and the
name a clinician can check in a physical examination.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from scoligait_edge.kinematics.schema import CLINICAL_PRIORS, DOMAINS, FEATURE_SCHEMA, MAP_FPS, NUM_FEATURES, domain_slices

log = logging.getLogger(__name__)

_MIN_BOX_ROWS = 8


class SalientFeature(BaseModel):
    """One knowledge-map column the model leaned on, with its time span (frames absolute, stop exclusive)."""

    model_config = ConfigDict(frozen=True)

    domain: str
    rank: int
    """1 = the domain's strongest column."""
    feature_index: int
    name: str
    unit: str
    meaning: str
    clinical_prior: str | None
    clinical_prior_meaning: str | None
    peak_evidence: float
    mean_evidence: float
    """Mean evidence of the column over the span."""
    peak_frame: int
    frame_start: int
    frame_stop: int
    start_s: float
    stop_s: float
    tied_features: list[str]
    """Other columns of the same domain with the same evidence over time (same model token group)."""
    tied_indices: list[int]

    @property
    def duration_s(self) -> float:
        return self.stop_s - self.start_s

    def describe(self) -> str:
        """One line for a report: feature, domain, seconds, clinical prior."""
        prior = f"; clinical prior: {self.clinical_prior} ({self.clinical_prior_meaning})" if self.clinical_prior else ""
        tied = f"; same evidence as {len(self.tied_features)} neighbouring column(s)" if self.tied_features else ""
        return (f"{self.name} [{self.domain}]: {self.meaning}; high evidence {self.start_s:.2f}-{self.stop_s:.2f} s "
                f"(peak {self.peak_evidence:.3g}){prior}{tied}")


def _validate(att: np.ndarray, valid: np.ndarray, name: str = "km_attention_map") -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(att, dtype=np.float64)
    v = np.asarray(valid)
    if a.ndim != 2 or a.shape[1] != NUM_FEATURES:
        raise ValueError(f"{name} must be [T, {NUM_FEATURES}] (one window, batch index removed), got {a.shape}")
    if a.shape[0] == 0:
        raise ValueError(f"{name} has no frames")
    if v.shape != (a.shape[0],):
        raise ValueError(f"valid must be [T] = [{a.shape[0]}], got {v.shape}")
    if v.dtype.kind not in "bi" or not np.isin(v, (0, 1)).all():
        raise ValueError("valid must be booleans (or 0/1)")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN/inf")
    return a, v.astype(bool)


def top_features(
    km_attention_map: np.ndarray,
    valid: np.ndarray,
    fps: float = MAP_FPS,
    per_domain: int = 1,
    window_start_frame: int = 0,
    *,
    span_fraction: float = 0.5,
) -> list[SalientFeature]:
    """The ``per_domain`` columns of each domain with the highest positive evidence, in domain order.

    A column's score is its peak positive evidence over valid frames (ties:
    integrated positive evidence, then a clinical prior, then index). Its span
    is the contiguous run of valid frames around the peak where the evidence
    stays >= ``span_fraction`` x peak. Domains with no positive evidence are
    left out. Frames and seconds count from the clip start
    (``window_start_frame`` = the window's first frame in the clip).
    """
    a, v = _validate(km_attention_map, valid)
    if per_domain < 1:
        raise ValueError(f"per_domain must be >= 1, got {per_domain}")
    if not 0.0 < span_fraction <= 1.0:
        raise ValueError(f"span_fraction must be in (0, 1], got {span_fraction}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    pos = np.where(v[:, None], np.maximum(a, 0.0), 0.0)  # [T, F] positive evidence on valid frames
    peak = pos.max(0)
    total = pos.sum(0)
    has_prior = np.array([f.clinical_prior is not None for f in FEATURE_SCHEMA])
    out: list[SalientFeature] = []
    for dom in DOMAINS:
        sl = domain_slices()[dom]
        cols = np.arange(sl.start, sl.stop)
        if peak[cols].max() <= 0.0:
            log.debug("domain %s: no positive evidence", dom)
            continue
        order = cols[np.lexsort((cols, ~has_prior[cols], -total[cols], -peak[cols]))]
        used: set[int] = set()
        rank = 0
        for c in order:
            if rank >= per_domain or peak[c] <= 0.0:
                break
            if int(c) in used:
                continue
            tied = [int(o) for o in cols if o != c and int(o) not in used and np.allclose(pos[:, o], pos[:, c], rtol=1e-6, atol=1e-12)]
            used.update([int(c), *tied])
            rank += 1
            out.append(_salient(int(c), dom, rank, pos[:, c], v, tied, fps, window_start_frame, span_fraction))
    return out


def _salient(c: int, dom: str, rank: int, col: np.ndarray, v: np.ndarray, tied: list[int], fps: float,
             offset: int, span_fraction: float) -> SalientFeature:
    t_peak = int(np.argmax(col))
    cut = span_fraction * col[t_peak]
    lo = t_peak
    while lo > 0 and v[lo - 1] and col[lo - 1] >= cut:
        lo -= 1
    hi = t_peak + 1
    while hi < col.size and v[hi] and col[hi] >= cut:
        hi += 1
    spec = FEATURE_SCHEMA[c]
    return SalientFeature(
        domain=dom, rank=rank, feature_index=c, name=spec.name, unit=spec.unit, meaning=spec.meaning,
        clinical_prior=spec.clinical_prior,
        clinical_prior_meaning=CLINICAL_PRIORS.get(spec.clinical_prior) if spec.clinical_prior else None,
        peak_evidence=float(col[t_peak]), mean_evidence=float(col[lo:hi].mean()), peak_frame=offset + t_peak,
        frame_start=offset + lo, frame_stop=offset + hi, start_s=(offset + lo) / fps, stop_s=(offset + hi) / fps,
        tied_features=[FEATURE_SCHEMA[i].name for i in tied], tied_indices=tied,
    )


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
    import matplotlib.patheffects as pe
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from scoligait_edge.viz.heatmap import mark_domains, masked_cmap, standardise_array

    att, v = _validate(attention, valid, "attention")
    km_arr = np.asarray(km, dtype=np.float64)
    if km_arr.shape != att.shape:
        raise ValueError(f"km has shape {km_arr.shape} but attention has {att.shape}")
    if salient is None:
        salient = top_features(att, v, fps=fps, window_start_frame=window_start_frame)
    n = att.shape[0]
    t0 = window_start_frame / fps
    extent = (t0, t0 + n / fps, NUM_FEATURES, 0)
    z = standardise_array(km_arr, v)
    a_masked = att.copy()
    a_masked[~v] = np.nan
    vmax = float(np.nanmax(np.abs(a_masked))) if v.any() else 1.0
    vmax = vmax if vmax > 0 else 1.0

    # A column of narrow axes on the right holds the colour bars, so all three panels share one time axis width.
    fig, grid = plt.subplots(3, 2, figsize=(11, 11), gridspec_kw={"hspace": 0.16, "wspace": 0.02,
                             "height_ratios": [4, 4, 1.6], "width_ratios": [60, 1]})
    axes, caxes = grid[:, 0], grid[:, 1]
    for ax in axes[1:]:
        ax.sharex(axes[0])
    panels = (
        (z.T, masked_cmap("RdBu_r"), -4, 4, "knowledge map (per-feature robust z-score)", "z-score (grey: masked frame)"),
        (a_masked.T, masked_cmap("PuOr_r"), -vmax, vmax, "model evidence per cell (orange: towards 'refer')", "signed evidence"),
    )
    for ax, cax, (img, cmap, lo, hi, sub, cbar_label) in zip(axes[:2], caxes[:2], panels, strict=True):
        im = ax.imshow(np.ma.masked_invalid(img), aspect="auto", cmap=cmap, vmin=lo, vmax=hi, extent=extent, interpolation="nearest")
        mark_domains(ax)
        ax.set_title(sub, fontsize=10, loc="left")
        cb = fig.colorbar(im, cax=cax)
        cb.set_label(cbar_label, fontsize=8)
        for k, s in enumerate(salient, start=1):
            rows = [s.feature_index, *s.tied_indices]
            y0, y1 = min(rows) - 0.5, max(rows) + 1.5
            if y1 - y0 < _MIN_BOX_ROWS:  # one column is ~2 px tall: pad so the box and its cells are both seen
                mid = (y0 + y1) / 2
                y0, y1 = mid - _MIN_BOX_ROWS / 2, mid + _MIN_BOX_ROWS / 2
            for color, lw, ls in (("white", 3.2, "-"), ("black", 1.6, (0, (3, 1.5)))):
                ax.add_patch(Rectangle((s.start_s, y0), s.stop_s - s.start_s, y1 - y0, fill=False, edgecolor=color, lw=lw, ls=ls))
            ax.text(s.stop_s, y0, f" {k}", ha="left", va="bottom", fontsize=10, fontweight="bold", color="black",
                    path_effects=[pe.withStroke(linewidth=3, foreground="white")])
    # Third panel: the boxed columns' evidence over time, since one map row is only a pixel or two tall.
    ax = axes[2]
    t_centres = t0 + (np.arange(n) + 0.5) / fps
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
    caxes[2].axis("off")
    ax.grid(alpha=0.3)
    ax.set_xlabel("time (s)")
    for upper in axes[:2]:
        upper.tick_params(labelbottom=False)
    fig.suptitle(title, fontsize=12, y=0.93)
    if salient:
        lines = [f"{k}. {s.name}  [{s.domain}]  {s.start_s:.2f}-{s.stop_s:.2f} s, peak {s.peak_evidence:.3g}"
                 + (f"  - prior: {s.clinical_prior}" if s.clinical_prior else "")
                 + (f"  (+{len(s.tied_features)} tied columns)" if s.tied_features else "")
                 for k, s in enumerate(salient, start=1)]
    else:
        lines = ["no positive evidence on valid frames"]
    fig.text(0.125, 0.068, "Boxed regions (top evidence per domain):\n" + "\n".join(lines), ha="left", va="top",
             fontsize=9, family="monospace")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    log.info("wrote %s", path)
    return path
