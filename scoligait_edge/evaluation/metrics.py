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

The paper scores clips, one per test subject: score windows with the model,
then :func:`aggregate_windows` to clips, then :func:`binary_metrics`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.stats import rankdata

log = logging.getLogger(__name__)

ArrayLike = np.ndarray | Sequence[float] | Sequence[int]


# ------------------------------------------------------------------ validation
def _as_labels(y: ArrayLike, name: str = "y_true") -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: nothing to evaluate")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN at index {int(np.flatnonzero(np.isnan(arr))[0])}")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric 0/1 labels, got dtype {arr.dtype}")
    bad = ~np.isin(arr, (0, 1))
    if bad.any():
        raise ValueError(f"{name} must contain only 0 and 1 (1 = Cobb >= 10 deg); found {sorted(set(arr[bad].tolist()))[:5]}")
    return arr.astype(np.int64)


def _as_prob(p: ArrayLike, n: int | None = None, name: str = "prob") -> np.ndarray:
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
        raise ValueError(f"{name} must lie in [0, 1] (pass sigmoid(logit), not the logit); range [{arr.min():.3g}, {arr.max():.3g}]")
    return arr


def _as_values(x: ArrayLike, name: str, n: int | None = None) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} entries, expected {n}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN/inf at index {int(np.flatnonzero(~np.isfinite(arr))[0])}")
    return arr


def _check_threshold(threshold: float) -> float:
    t = float(threshold)
    if not np.isfinite(t) or not 0.0 <= t <= 1.0:
        raise ValueError(f"threshold must be a probability in [0, 1], got {threshold!r}")
    return t


# ------------------------------------------------------------------ results
class BinaryMetrics(BaseModel):
    """The paper's Table 2 columns (overall, positive class, negative class) and more."""

    model_config = ConfigDict(frozen=True)

    n: int
    n_pos: int
    n_neg: int
    threshold: float
    accuracy: float
    macro_f1: float | None
    pos_precision: float
    pos_recall: float | None
    pos_f1: float | None
    neg_precision: float
    neg_recall: float | None
    neg_f1: float | None
    sensitivity: float | None = Field(description="= pos_recall")
    specificity: float | None = Field(description="= neg_recall")
    balanced_accuracy: float | None
    auc: float | None = Field(description="rank-based ROC AUC; None when only one class is present")
    tn: int
    fp: int
    fn: int
    tp: int
    notes: list[str] = Field(default_factory=list)

    @property
    def confusion(self) -> np.ndarray:
        """[[tn, fp], [fn, tp]] (rows = truth, columns = prediction, negative first)."""
        return np.array([[self.tn, self.fp], [self.fn, self.tp]], dtype=np.int64)


def _f1(p: float, r: float | None) -> float | None:
    if r is None:
        return None
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def roc_auc(y_true: ArrayLike, score: ArrayLike) -> float | None:
    """Probability that a random positive outscores a random negative (ties count 1/2); None if one class."""
    y = _as_labels(y_true)
    s = _as_values(score, "score", y.size)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(s, method="average")
    u = ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def roc_curve(y_true: ArrayLike, score: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) for "positive when score >= threshold", from (0, 0) at +inf to (1, 1).

    Raises ValueError with one class, where a ROC curve does not exist.
    """
    y = _as_labels(y_true)
    s = _as_values(score, "score", y.size)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("a ROC curve needs both classes; got only " + ("negatives" if n_pos == 0 else "positives"))
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), y.size - 1]  # last index of each distinct score
    tps = np.cumsum(y_sorted)[last]
    fps = (last + 1) - tps
    return (np.r_[0.0, fps / n_neg], np.r_[0.0, tps / n_pos], np.r_[np.inf, s_sorted[last]])


def binary_metrics(y_true: ArrayLike, prob: ArrayLike, threshold: float = 0.5) -> BinaryMetrics:
    """All screening metrics at one operating point (positive when ``prob >= threshold``)."""
    y = _as_labels(y_true)
    p = _as_prob(prob, y.size)
    t = _check_threshold(threshold)
    pred = (p >= t).astype(np.int64)
    tp = int(((pred == 1) & (y == 1)).sum())
    tn = int(((pred == 0) & (y == 0)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    n_pos, n_neg = tp + fn, tn + fp
    notes: list[str] = []

    def precision(correct: int, predicted: int, cls: str) -> float:
        if predicted == 0:
            notes.append(f"no {cls} predictions: {cls} precision set to 0")
            return 0.0
        return correct / predicted

    def recall(correct: int, support: int, cls: str) -> float | None:
        if support == 0:
            notes.append(f"no {cls} samples: {cls} recall/F1 and macro F1 undefined")
            return None
        return correct / support

    pos_p, neg_p = precision(tp, tp + fp, "positive"), precision(tn, tn + fn, "negative")
    pos_r, neg_r = recall(tp, n_pos, "positive"), recall(tn, n_neg, "negative")
    pos_f1, neg_f1 = _f1(pos_p, pos_r), _f1(neg_p, neg_r)
    macro = None if pos_f1 is None or neg_f1 is None else (pos_f1 + neg_f1) / 2
    auc = roc_auc(y, p)
    if auc is None:
        notes.append("one class only: AUC undefined")
    return BinaryMetrics(
        n=int(y.size), n_pos=n_pos, n_neg=n_neg, threshold=t,
        accuracy=(tp + tn) / y.size, macro_f1=macro,
        pos_precision=pos_p, pos_recall=pos_r, pos_f1=pos_f1,
        neg_precision=neg_p, neg_recall=neg_r, neg_f1=neg_f1,
        sensitivity=pos_r, specificity=neg_r,
        balanced_accuracy=None if pos_r is None or neg_r is None else (pos_r + neg_r) / 2,
        auc=auc, tn=tn, fp=fp, fn=fn, tp=tp, notes=notes,
    )


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
    return ClipScores(clip_ids=uniq[order], prob=mean(p), n_windows=counts, labels=y, groups=g, cobb_true=ct, cobb_pred=cp)
