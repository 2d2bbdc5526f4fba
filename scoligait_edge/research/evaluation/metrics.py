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

from scoligait_edge.viz.figures import as_probabilities

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
