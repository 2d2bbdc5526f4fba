"""Read the model's evidence off the knowledge map: which clinical feature, during which seconds.

The one attention-to-feature interpretation, torch-free and plot-free: the
Screener calls it per window (``ScreeningResult.top_features``), evaluation and
training reports re-export it, and :mod:`scoligait_edge.viz.attention` draws it.

The paper's explainability (its Fig. 3) selects "the top-ranked feature in each
relevant domain", the column naming a clinical variable and the rows its time
period, and boxes that region on the map. :func:`top_features` does that on
``ScreeningOutput.km_attention_map`` (signed per-cell evidence, zero on invalid
frames); :func:`~scoligait_edge.viz.attention.plot_attention_on_map` draws it.

The model's evidence is painted from tokens, each covering a few frames x one
feature group, so every column of a group carries the same evidence. A chosen
column therefore lists the columns it is tied with (``tied_features``): read
the group, not just the one name. Among tied columns, the one carrying a
clinical prior is named first (then the lowest index): deterministic, and the
name a clinician can check in a physical examination.
"""

from __future__ import annotations

import logging

import numpy as np
from pydantic import BaseModel, ConfigDict

from scoligait_edge.core.constants import MAP_FPS
from scoligait_edge.core.schema import CLINICAL_PRIORS, DOMAINS, FEATURE_SCHEMA, NUM_FEATURES, domain_slices
from scoligait_edge.results import FeatureHighlight

log = logging.getLogger(__name__)


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
        prior = (
            f"; clinical prior: {self.clinical_prior} ({self.clinical_prior_meaning})" if self.clinical_prior else ""
        )
        tied = f"; same evidence as {len(self.tied_features)} neighbouring column(s)" if self.tied_features else ""
        return (
            f"{self.name} [{self.domain}]: {self.meaning}; high evidence {self.start_s:.2f}-{self.stop_s:.2f} s "
            f"(peak {self.peak_evidence:.3g}){prior}{tied}"
        )


def validate_attention(
    att: np.ndarray, valid: np.ndarray, name: str = "km_attention_map"
) -> tuple[np.ndarray, np.ndarray]:
    """One window's evidence map ``[T, 238]`` (float64) and its valid frames ``[T]`` (bool), or ValueError."""
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
    a, v = validate_attention(km_attention_map, valid)
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
        for rank, (c, tied) in enumerate(_pick_distinct(order, cols, pos, peak, per_domain), start=1):
            out.append(_salient(c, dom, rank, pos[:, c], v, tied, fps, window_start_frame, span_fraction))
    return out


def _pick_distinct(
    order: np.ndarray, cols: np.ndarray, pos: np.ndarray, peak: np.ndarray, per_domain: int
) -> list[tuple[int, list[int]]]:
    """The first ``per_domain`` columns of ``order`` with positive evidence, each with the other columns of
    the domain whose evidence is the same curve (``tied``): those are reported with it, not ranked apart."""
    picks: list[tuple[int, list[int]]] = []
    used: set[int] = set()
    for c in order:
        if len(picks) >= per_domain or peak[c] <= 0.0:
            break
        if int(c) in used:
            continue
        tied = [
            int(o)
            for o in cols
            if o != c and int(o) not in used and np.allclose(pos[:, o], pos[:, c], rtol=1e-6, atol=1e-12)
        ]
        used.update([int(c), *tied])
        picks.append((int(c), tied))
    return picks


def _salient(
    c: int,
    dom: str,
    rank: int,
    col: np.ndarray,
    v: np.ndarray,
    tied: list[int],
    fps: float,
    offset: int,
    span_fraction: float,
) -> SalientFeature:
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
        domain=dom,
        rank=rank,
        feature_index=c,
        name=spec.name,
        unit=spec.unit,
        meaning=spec.meaning,
        clinical_prior=spec.clinical_prior,
        clinical_prior_meaning=CLINICAL_PRIORS.get(spec.clinical_prior) if spec.clinical_prior else None,
        peak_evidence=float(col[t_peak]),
        mean_evidence=float(col[lo:hi].mean()),
        peak_frame=offset + t_peak,
        frame_start=offset + lo,
        frame_stop=offset + hi,
        start_s=(offset + lo) / fps,
        stop_s=(offset + hi) / fps,
        tied_features=[FEATURE_SCHEMA[i].name for i in tied],
        tied_indices=tied,
    )


def feature_highlights(
    attention: np.ndarray, valid: np.ndarray, *, window_start_frame: int = 0, fps: float = MAP_FPS
) -> list[FeatureHighlight]:
    """:func:`top_features` (one per domain) in the result schema's :class:`FeatureHighlight` form (what the
    Screener puts in ``ScreeningResult.top_features``)."""
    return [
        FeatureHighlight(
            name=f.name,
            domain=f.domain,
            meaning=f.meaning,
            clinical_prior=f.clinical_prior,
            start_s=f.start_s,
            stop_s=f.stop_s,
            evidence=f.peak_evidence,
        )
        for f in top_features(attention, valid, fps=fps, window_start_frame=window_start_frame)
    ]
