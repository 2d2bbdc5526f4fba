"""Screening metrics with no torch and no scipy: the paper's Table 2 columns, AUC, and subject-bootstrap intervals.

One definition for the research wing (``research.evaluation.metrics`` builds on these) and the
runtime's ``validate`` command, which must run on the runtime install alone. Positive = Cobb >= 10
degrees ("refer"); a sample is called positive when ``prob >= threshold``. Precision of a class
with no predictions is 0.0 with a note; recall of a class with no samples is None; AUC is the
Mann-Whitney statistic with average ranks for ties, None with one class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from scoligait_edge.viz.figures import as_probabilities

ArrayLike = np.ndarray | Sequence[float] | Sequence[int]


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank (scipy's ``rankdata(method='average')``)."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    first = np.r_[True, xs[1:] != xs[:-1]]
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], xs.size]
    avg = (starts + ends + 1) / 2.0  # mean of the 1-based ranks starts+1 .. ends
    ranks = np.empty(x.size)
    ranks[order] = avg[group]
    return ranks


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
        raise ValueError(
            f"{name} must contain only 0 and 1 (1 = Cobb >= 10 deg); found {sorted(set(arr[bad].tolist()))[:5]}"
        )
    return arr.astype(np.int64)


_as_prob = as_probabilities  # one check, shared with the figures (viz.figures)


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
    ranks = average_ranks(s)
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
        n=int(y.size),
        n_pos=n_pos,
        n_neg=n_neg,
        threshold=t,
        accuracy=(tp + tn) / y.size,
        macro_f1=macro,
        pos_precision=pos_p,
        pos_recall=pos_r,
        pos_f1=pos_f1,
        neg_precision=neg_p,
        neg_recall=neg_r,
        neg_f1=neg_f1,
        sensitivity=pos_r,
        specificity=neg_r,
        balanced_accuracy=None if pos_r is None or neg_r is None else (pos_r + neg_r) / 2,
        auc=auc,
        tn=tn,
        fp=fp,
        fn=fn,
        tp=tp,
        notes=notes,
    )


def _subject_members(subjects: Sequence[str] | np.ndarray | None, n: int) -> list[np.ndarray]:
    if subjects is None:
        return [np.array([i]) for i in range(n)]
    subj = np.asarray(subjects).astype(str)
    if subj.shape != (n,):
        raise ValueError(f"subjects has shape {subj.shape}, expected ({n},)")
    _, inv = np.unique(subj, return_inverse=True)
    return [np.flatnonzero(inv == k) for k in range(int(inv.max()) + 1)]


def _resamples(members: list[np.ndarray], n_boot: int, seed: int):
    """Index arrays of ``n_boot`` resamples of subjects (with all their clips), seeded."""
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    k = len(members)
    for _ in range(n_boot):
        yield np.concatenate([members[j] for j in rng.integers(0, k, k)])


class AucInterval(BaseModel):
    """AUC with a percentile bootstrap interval; test subjects resampled with all their clips."""

    model_config = ConfigDict(frozen=True)

    auc: float | None
    lo: float | None
    hi: float | None
    n: int
    n_boot: int
    n_used: int = Field(description="resamples with both classes (the others have no AUC and are skipped)")
    seed: int
    level: float = 0.95


def bootstrap_auc_ci(
    y_true: ArrayLike,
    score: ArrayLike,
    subjects: Sequence[str] | np.ndarray | None = None,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> AucInterval:
    """Percentile interval of the AUC over ``n_boot`` resamples of SUBJECTS (each with all its clips;
    ``subjects=None``: each clip is its own subject). Resamples with one class are skipped."""
    y = _as_labels(y_true)
    s = _as_values(score, "score", y.size)
    members = _subject_members(subjects, y.size)
    aucs = [a for idx in _resamples(members, n_boot, seed) if (a := roc_auc(y[idx], s[idx])) is not None]
    alpha = (1.0 - level) / 2.0
    lo = hi = None
    if aucs:
        lo, hi = float(np.quantile(aucs, alpha)), float(np.quantile(aucs, 1 - alpha))
    return AucInterval(
        auc=roc_auc(y, s), lo=lo, hi=hi, n=int(y.size), n_boot=n_boot, n_used=len(aucs), seed=seed, level=level
    )


class RateInterval(BaseModel):
    """A proportion (sensitivity, specificity, referral rate) with a percentile bootstrap interval over subjects."""

    model_config = ConfigDict(frozen=True)

    value: float | None
    lo: float | None
    hi: float | None
    n: int = Field(description="samples in the denominator")
    n_boot: int
    level: float = 0.95


def bootstrap_rate_ci(
    hits: ArrayLike,
    subjects: Sequence[str] | np.ndarray | None = None,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> RateInterval:
    """Share of ``hits`` (0/1) with a percentile interval over ``n_boot`` resamples of SUBJECTS (each with all
    its samples). E.g. sensitivity: hits = called positive, among the positives only."""
    h = np.asarray(hits, dtype=np.float64)
    if h.size == 0:
        return RateInterval(value=None, lo=None, hi=None, n=0, n_boot=n_boot, level=level)
    members = _subject_members(subjects, h.size)
    vals = [float(h[idx].mean()) for idx in _resamples(members, n_boot, seed)]
    alpha = (1.0 - level) / 2.0
    return RateInterval(
        value=float(h.mean()),
        lo=float(np.quantile(vals, alpha)),
        hi=float(np.quantile(vals, 1 - alpha)),
        n=int(h.size),
        n_boot=n_boot,
        level=level,
    )
