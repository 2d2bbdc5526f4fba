"""Screening metrics in the paper's Table 2 layout, plus AUC, Cobb error and strata.

Positive class = Cobb >= 10 degrees ("refer for a clinical examination"); a
sample is called positive when ``prob >= threshold``. Every number is computed
here from the confusion matrix, with no scikit-learn, so the definitions are
in one readable place:

* precision of a class with no predictions is 0.0 (scikit-learn's
  ``zero_division=0``) and a note says so;
* recall (and hence F1 and macro F1) of a class with no samples is None:
  undefined, which happens in strata (e.g. a sex with no positives);
* AUC is the Mann-Whitney rank statistic with average ranks for ties, None when
  only one class is present.

The definitions themselves live in :mod:`scoligait_edge.metrics` (numpy only, so the runtime's
``validate`` command computes the same numbers without the train extra); this module adds
clip aggregation, strata, per-clip prediction files and the paired bootstrap.

The paper scores clips, one per test subject: score windows with the model,
then :func:`aggregate_windows` to clips, then :func:`binary_metrics`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

# The torch- and scipy-free core lives one floor down, shared with the runtime's ``validate``; the names
# stay importable from here (``X as X``), where the research wing and its tests have always found them.
from scoligait_edge.metrics import ArrayLike as ArrayLike
from scoligait_edge.metrics import AucInterval as AucInterval
from scoligait_edge.metrics import BinaryMetrics as BinaryMetrics
from scoligait_edge.metrics import _as_labels as _as_labels
from scoligait_edge.metrics import _as_prob as _as_prob
from scoligait_edge.metrics import _as_values as _as_values
from scoligait_edge.metrics import _check_threshold as _check_threshold
from scoligait_edge.metrics import _resamples as _resamples
from scoligait_edge.metrics import _subject_members as _subject_members
from scoligait_edge.metrics import binary_metrics as binary_metrics
from scoligait_edge.metrics import bootstrap_auc_ci as bootstrap_auc_ci
from scoligait_edge.metrics import roc_auc as roc_auc
from scoligait_edge.metrics import roc_curve as roc_curve

log = logging.getLogger(__name__)


def cobb_mae(true: ArrayLike, pred: ArrayLike) -> float:
    """Mean absolute Cobb-angle error in degrees (the auxiliary head's headline number)."""
    t = _as_values(true, "true Cobb angles")
    p = _as_values(pred, "predicted Cobb angles", t.size)
    return float(np.mean(np.abs(t - p)))


# ------------------------------------------------------------------ strata
class GroupMetrics(BaseModel):
    """One stratum (e.g. sex = F): its size and metrics, or a note why there are none."""

    model_config = ConfigDict(frozen=True)

    group: str
    n: int
    n_pos: int
    metrics: BinaryMetrics | None
    note: str | None = None


class StratifiedMetrics(BaseModel):
    """Metrics per stratum, because the cohort is sex-confounded (see ANCHORS.md)."""

    model_config = ConfigDict(frozen=True)

    group_name: str
    threshold: float
    rows: list[GroupMetrics]


def stratified_metrics(
    y_true: ArrayLike,
    prob: ArrayLike,
    threshold: float,
    groups: Sequence[str] | np.ndarray,
    *,
    group_name: str = "sex",
    expected_groups: Sequence[str] | None = None,
) -> StratifiedMetrics:
    """Metrics per group at one shared threshold.

    A model can look good overall by learning the confounder (sex) rather than
    the gait; per-group rows expose that. ``expected_groups`` (e.g. ``("F",
    "M")``) lists groups to report even if absent; absent ones get a row with
    a note and no metrics.
    """
    y = _as_labels(y_true)
    p = _as_prob(prob, y.size)
    t = _check_threshold(threshold)
    g = np.asarray(groups).astype(str)
    if g.shape != y.shape:
        raise ValueError(f"groups has shape {g.shape} but the labels have {y.shape}")
    names = list(dict.fromkeys([*(expected_groups or ()), *sorted(set(g.tolist()))]))
    rows: list[GroupMetrics] = []
    for name in names:
        sel = g == name
        if not sel.any():
            log.info("stratum %s=%s is empty; reported without metrics", group_name, name)
            rows.append(GroupMetrics(group=name, n=0, n_pos=0, metrics=None, note="no samples in this group: skipped"))
            continue
        m = binary_metrics(y[sel], p[sel], t)
        note = None
        if m.n_pos == 0 or m.n_neg == 0:
            note = f"one class only ({'negatives' if m.n_pos == 0 else 'positives'}): recall of the other class, macro F1 and AUC undefined"
        rows.append(GroupMetrics(group=name, n=m.n, n_pos=m.n_pos, metrics=m, note=note))
    return StratifiedMetrics(group_name=group_name, threshold=t, rows=rows)


# ------------------------------------------------------------------ windows -> clips
@dataclass(frozen=True)
class ClipScores:
    """Per-clip arrays in order of each clip's first window."""

    clip_ids: np.ndarray
    prob: np.ndarray
    n_windows: np.ndarray
    labels: np.ndarray | None = None
    groups: np.ndarray | None = None
    cobb_true: np.ndarray | None = None
    cobb_pred: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.clip_ids.size)


def aggregate_windows(
    prob_per_window: ArrayLike,
    clip_ids: Sequence[str] | np.ndarray,
    *,
    labels: ArrayLike | None = None,
    groups: Sequence[str] | np.ndarray | None = None,
    cobb_true: ArrayLike | None = None,
    cobb_pred: ArrayLike | None = None,
) -> ClipScores:
    """Mean window probability per clip (the paper scores clips, one per test subject).

    Per-clip attributes that must not vary inside a clip (label, group, true
    Cobb angle) are checked and carried along; predicted Cobb angles are
    averaged like the probabilities.
    """
    p = _as_prob(prob_per_window, name="prob_per_window")
    ids = np.asarray(clip_ids).astype(str)
    if ids.shape != p.shape:
        raise ValueError(f"clip_ids has shape {ids.shape} but prob_per_window has {p.shape}")
    uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    idx = rank[inverse]  # clip index (first-appearance order) of every window
    k = uniq.size
    counts = np.bincount(idx, minlength=k)

    def mean(v: np.ndarray) -> np.ndarray:
        return np.bincount(idx, weights=v, minlength=k) / counts

    def constant(v: np.ndarray, name: str) -> np.ndarray:
        out = v[first[order]]
        bad = v != out[idx]
        if bad.any():
            clip = str(ids[np.flatnonzero(bad)[0]])
            raise ValueError(f"{name} differs between windows of clip {clip!r}; it must be constant per clip")
        return out

    def same_shape(v: np.ndarray, name: str) -> np.ndarray:
        if v.shape != p.shape:
            raise ValueError(f"{name} has shape {v.shape} but prob_per_window has {p.shape}")
        return v

    y = None if labels is None else constant(_as_labels(same_shape(np.asarray(labels), "labels"), "labels"), "labels")
    g = None if groups is None else constant(same_shape(np.asarray(groups).astype(str), "groups"), "groups")
    ct = None if cobb_true is None else constant(_as_values(cobb_true, "cobb_true", p.size), "cobb_true")
    cp = None if cobb_pred is None else mean(_as_values(cobb_pred, "cobb_pred", p.size))
    return ClipScores(
        clip_ids=uniq[order], prob=mean(p), n_windows=counts, labels=y, groups=g, cobb_true=ct, cobb_pred=cp
    )


# ------------------------------------------------------------------ per-clip predictions and bootstrap
CLIP_PREDICTIONS_NAME = "test_clip_predictions.json"
"""What every run writes next to its report: one score per test clip, so rows can be compared on the same clips."""


class ClipPrediction(BaseModel):
    """One clip's score: the unit of the paper's tables and of every bootstrap below."""

    model_config = ConfigDict(frozen=True)

    clip_id: str
    subject_id: str
    label: int = Field(ge=0, le=1)
    prob: float = Field(ge=0.0, le=1.0)


def clip_predictions(
    clip_ids: Sequence[str], subject_ids: Sequence[str], labels: ArrayLike, prob: ArrayLike
) -> list[ClipPrediction]:
    """Zip per-clip arrays into records (lengths checked)."""
    y = _as_labels(labels, "labels")
    p = _as_prob(prob, y.size)
    if len(clip_ids) != y.size or len(subject_ids) != y.size:
        raise ValueError(f"{len(clip_ids)} clip ids and {len(subject_ids)} subject ids for {y.size} labels")
    return [
        ClipPrediction(clip_id=str(c), subject_id=str(s), label=int(a), prob=float(b))
        for c, s, a, b in zip(clip_ids, subject_ids, y, p, strict=True)
    ]


def write_clip_predictions(path, clips: Sequence[ClipPrediction], **meta) -> None:
    """``{**meta, "clips": [...]}`` as JSON (``meta``: split, threshold, provenance, ...)."""
    import json
    from pathlib import Path

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(
        json.dumps({**meta, "clips": [c.model_dump() for c in clips]}, indent=1, default=float) + "\n", encoding="utf-8"
    )


def read_clip_predictions(path) -> list[ClipPrediction]:
    import json
    from pathlib import Path

    return [ClipPrediction.model_validate(c) for c in json.loads(Path(path).read_text(encoding="utf-8"))["clips"]]


Verdict = str
HOLDS, NOT_SHOWN, REVERSED = "holds", "not shown", "reversed"


class AucDifference(BaseModel):
    """AUC(a) - AUC(b) on the same clips, with a paired bootstrap (the same resampled subjects for both)."""

    model_config = ConfigDict(frozen=True)

    auc_a: float | None
    auc_b: float | None
    diff: float | None = Field(description="AUC(a) - AUC(b) on all clips")
    mean_diff: float | None = Field(description="mean of the resampled differences")
    lo: float | None
    hi: float | None
    p_le_0: float | None = Field(description="one-sided p: share of resamples with AUC(a) - AUC(b) <= 0")
    n: int
    n_boot: int
    n_used: int
    seed: int
    level: float = 0.95

    @property
    def verdict(self) -> Verdict:
        """ "holds" when the interval lies above 0, "reversed" below 0, else "not shown"."""
        if self.lo is None or self.hi is None:
            return NOT_SHOWN
        if self.lo > 0:
            return HOLDS
        if self.hi < 0:
            return REVERSED
        return NOT_SHOWN


def paired_bootstrap_auc_diff(
    y_true: ArrayLike,
    score_a: ArrayLike,
    score_b: ArrayLike,
    subjects: Sequence[str] | np.ndarray | None = None,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> AucDifference:
    """Paired bootstrap of AUC(a) - AUC(b): each resample draws test SUBJECTS (with all their clips) once
    and scores both rows on it, so what the two rows share (the same hard clips) cancels.

    With several seeds per row, pass each row's seed-averaged probability per clip (what
    :func:`scoligait_edge.research.ablate.run_ablation` does): the comparison is between the two seed ensembles.
    """
    y = _as_labels(y_true)
    a = _as_values(score_a, "score_a", y.size)
    b = _as_values(score_b, "score_b", y.size)
    members = _subject_members(subjects, y.size)
    diffs = []
    for idx in _resamples(members, n_boot, seed):
        ra, rb = roc_auc(y[idx], a[idx]), roc_auc(y[idx], b[idx])
        if ra is not None and rb is not None:
            diffs.append(ra - rb)
    auc_a, auc_b = roc_auc(y, a), roc_auc(y, b)
    d = np.asarray(diffs, np.float64)
    alpha = (1.0 - level) / 2.0
    have = d.size > 0
    return AucDifference(
        auc_a=auc_a,
        auc_b=auc_b,
        diff=None if auc_a is None or auc_b is None else auc_a - auc_b,
        mean_diff=float(d.mean()) if have else None,
        lo=float(np.quantile(d, alpha)) if have else None,
        hi=float(np.quantile(d, 1 - alpha)) if have else None,
        p_le_0=float((d <= 0).mean()) if have else None,
        n=int(y.size),
        n_boot=n_boot,
        n_used=int(d.size),
        seed=seed,
        level=level,
    )
