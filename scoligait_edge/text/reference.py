"""Reference statistics of the text features, fitted on TRAINING windows only.

A window's description compares its own text-feature values with these
statistics: the distribution among training negatives (median, robust scale,
percentiles) turns a value into a robust z-score, and the effect size between
the classes says how much a feature's deviations tell the classes apart (used
only to order findings). Labels enter here and nowhere else: descriptions take
no label, so they cannot leak one. Fit on the training split, save as JSON, and
ship the file with the model; validation and test windows are only described.

Statistics are kept per camera view (perspective biases left/right height
differences side-on, see ``features.py``) and pooled ("all"); a view with too
few negatives for a feature falls back to the pooled statistics.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from scoligait_edge.core.schema import SCHEMA_VERSION, schema_hash
from scoligait_edge.errors import ScoliGaitError
from scoligait_edge.text.features import text_feature_values
from scoligait_edge.text.sentences import (
    TEXT_FEATURE_IDS,
    TEXT_SCHEMA_VERSION,
    VIEWS,
    View,
    sentence_set_hash,
    text_features_hash,
)

log = logging.getLogger(__name__)

POOLED = "all"
MAD_TO_SD = 1.4826
IQR_TO_SD = 1.349
MIN_SCALE = 1e-9
PERCENTILES = (5, 25, 50, 75, 95)


class ReferenceMismatchError(ScoliGaitError, ValueError):
    """Reference statistics were fitted for another knowledge-map schema or text schema."""


class FeatureReference(BaseModel):
    """One text feature's statistics in one view stratum."""

    model_config = ConfigDict(frozen=True)

    n_negative: int
    n_positive: int
    median: float = Field(description="Median among negatives: the z-score's centre.")
    scale: float = Field(gt=0, description="Robust SD among negatives: the z-score's unit.")
    scale_method: Literal["mad", "iqr", "std", "floor"]
    percentiles: dict[str, float] = Field(description="p5/p25/p50/p75/p95 among negatives.")
    mean_negative: float
    mean_positive: float | None = None
    effect_size: float | None = Field(None, description="Signed Cohen's d of the value, positives minus negatives.")
    magnitude_effect_size: float | None = Field(
        None,
        description="Cohen's d of |z| (size of the deviation from the negatives' median), positives minus negatives.",
    )

    def z(self, value: float) -> float:
        return (value - self.median) / self.scale


class ReferenceStats(BaseModel):
    """Per-view, per-feature reference statistics plus the hashes they are valid for."""

    model_config = ConfigDict(frozen=True)

    text_schema_version: int = TEXT_SCHEMA_VERSION
    sentence_set_hash: str
    text_features_hash: str
    kmap_schema_version: str
    kmap_schema_hash: str
    negative_label: int = 0
    positive_label: int = 1
    min_stratum_negatives: int
    n_windows: int
    n_negative_windows: int
    n_positive_windows: int
    windows_per_view: dict[str, int]
    strata: dict[str, dict[str, FeatureReference]] = Field(
        description="'all' and each view -> feature id -> statistics; a missing feature has too few negatives."
    )
    provenance: str = Field("", description="Where the training windows came from, e.g. a split and cohort id.")

    def reference_for(self, feature: str, view: View | None) -> FeatureReference | None:
        """The view's statistics if fitted, else the pooled ones, else None."""
        if view is not None and feature in self.strata.get(view, {}):
            return self.strata[view][feature]
        return self.strata.get(POOLED, {}).get(feature)

    def check_compatible(self) -> None:
        """Raise :class:`ReferenceMismatchError` unless fitted for this knowledge map and text schema."""
        if self.kmap_schema_hash != schema_hash():
            raise ReferenceMismatchError(
                f"reference statistics were fitted on knowledge-map schema {self.kmap_schema_version} "
                f"({self.kmap_schema_hash[:12]}), this build computes {SCHEMA_VERSION} ({schema_hash()[:12]}): refit them"
            )
        if self.text_features_hash != text_features_hash():
            raise ReferenceMismatchError(
                f"reference statistics were fitted for text schema v{self.text_schema_version} "
                f"({self.text_features_hash[:12]}), this build has v{TEXT_SCHEMA_VERSION} "
                f"({text_features_hash()[:12]}): refit them"
            )

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path) -> ReferenceStats:
        return cls.model_validate_json(Path(path).read_text())


def _cohens_d(neg: np.ndarray, pos: np.ndarray) -> float | None:
    if neg.size < 2 or pos.size < 2:
        return None
    pooled = np.sqrt(((neg.size - 1) * neg.var(ddof=1) + (pos.size - 1) * pos.var(ddof=1)) / (neg.size + pos.size - 2))
    if not pooled > 0:
        return None
    return float((pos.mean() - neg.mean()) / pooled)


def _robust_scale(x: np.ndarray) -> tuple[float, Literal["mad", "iqr", "std", "floor"]]:
    med = np.median(x)
    mad = MAD_TO_SD * float(np.median(np.abs(x - med)))
    if mad > MIN_SCALE:
        return mad, "mad"
    q25, q75 = np.percentile(x, [25, 75])
    iqr = float(q75 - q25) / IQR_TO_SD
    if iqr > MIN_SCALE:
        return iqr, "iqr"
    sd = float(x.std(ddof=1)) if x.size > 1 else 0.0
    if sd > MIN_SCALE:
        return sd, "std"
    return MIN_SCALE, "floor"


def _feature_reference(neg: np.ndarray, pos: np.ndarray) -> FeatureReference:
    med = float(np.median(neg))
    scale, method = _robust_scale(neg)
    pct = np.percentile(neg, PERCENTILES)
    z_neg, z_pos = np.abs((neg - med) / scale), np.abs((pos - med) / scale)
    return FeatureReference(
        n_negative=int(neg.size),
        n_positive=int(pos.size),
        median=med,
        scale=scale,
        scale_method=method,
        percentiles={f"p{p}": float(v) for p, v in zip(PERCENTILES, pct, strict=True)},
        mean_negative=float(neg.mean()),
        mean_positive=float(pos.mean()) if pos.size else None,
        effect_size=_cohens_d(neg, pos),
        magnitude_effect_size=_cohens_d(z_neg, z_pos),
    )


def _window_feature_values(
    windows_km: np.ndarray | Sequence[np.ndarray], windows_valid: np.ndarray | Sequence[np.ndarray], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each window's text-feature values ``[N, F]`` and its view ("" where the view is not assessable)."""
    values = np.full((n, len(TEXT_FEATURE_IDS)), np.nan)
    views: list[View | None] = []
    for i, (km, valid) in enumerate(zip(windows_km, windows_valid, strict=True)):
        values[i], view = text_feature_values(km, valid)
        views.append(view)
    return values, np.array([v or "" for v in views])


def _fit_strata(
    values: np.ndarray,
    view_arr: np.ndarray,
    neg: np.ndarray,
    pos: np.ndarray,
    min_negatives: int,
    min_stratum_negatives: int,
) -> dict[str, dict[str, FeatureReference]]:
    """Per stratum (pooled, then each view), a reference for every feature with enough negative windows."""
    strata: dict[str, dict[str, FeatureReference]] = {}
    for stratum in (POOLED, *VIEWS):
        in_s = view_arr != "" if stratum == POOLED else view_arr == stratum
        need = min_negatives if stratum == POOLED else min_stratum_negatives
        refs: dict[str, FeatureReference] = {}
        for k, fid in enumerate(TEXT_FEATURE_IDS):
            ok = in_s & np.isfinite(values[:, k])
            xn, xp = values[ok & neg, k], values[ok & pos, k]
            if xn.size >= need:
                refs[fid] = _feature_reference(xn, xp)
            elif stratum == POOLED:
                log.warning("text feature %s: only %d negative windows, it will never be described", fid, xn.size)
        if refs:
            strata[stratum] = refs
    return strata


def fit_reference(
    windows_km: np.ndarray | Sequence[np.ndarray],
    windows_valid: np.ndarray | Sequence[np.ndarray],
    labels: np.ndarray | Sequence[int],
    *,
    negative_label: int = 0,
    positive_label: int = 1,
    min_stratum_negatives: int = 20,
    min_negatives: int = 5,
    provenance: str = "",
) -> ReferenceStats:
    """Fit :class:`ReferenceStats` on TRAINING windows (``[N, T, 238]`` or N arrays ``[T_i, 238]``).

    ``labels`` are window labels; only ``negative_label`` and ``positive_label``
    windows are used (e.g. Scoliosis1K's neutral class is left out). A view
    stratum is kept for a feature when it has ``min_stratum_negatives``
    negatives; the pooled stratum needs ``min_negatives``.
    """
    labels = np.asarray(labels).reshape(-1)
    if len(windows_km) != labels.size or len(windows_valid) != labels.size:
        raise ValueError(
            f"need one label per window: {len(windows_km)} windows, {len(windows_valid)} masks, {labels.size} labels"
        )
    n_neg_w, n_pos_w = int((labels == negative_label).sum()), int((labels == positive_label).sum())
    if n_neg_w < min_negatives:
        raise ValueError(f"need at least {min_negatives} negative training windows, got {n_neg_w}")
    values, view_arr = _window_feature_values(windows_km, windows_valid, labels.size)
    neg, pos = labels == negative_label, labels == positive_label
    strata = _fit_strata(values, view_arr, neg, pos, min_negatives, min_stratum_negatives)
    per_view: dict[str, int] = {v: int((view_arr == v).sum()) for v in VIEWS}
    per_view["not_assessable"] = int((view_arr == "").sum())
    log.info(
        "fitted text reference on %d windows (%d negative, %d positive), views %s",
        labels.size,
        n_neg_w,
        n_pos_w,
        per_view,
    )
    return ReferenceStats(
        sentence_set_hash=sentence_set_hash(),
        text_features_hash=text_features_hash(),
        kmap_schema_version=SCHEMA_VERSION,
        kmap_schema_hash=schema_hash(),
        negative_label=negative_label,
        positive_label=positive_label,
        min_stratum_negatives=min_stratum_negatives,
        n_windows=int(labels.size),
        n_negative_windows=n_neg_w,
        n_positive_windows=n_pos_w,
        windows_per_view=per_view,
        strata=strata,
        provenance=provenance,
    )
