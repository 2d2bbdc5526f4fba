"""Choose the decision threshold on validation data, never on test data.

The authors' public code picked the threshold on the test set, which inflates
every test number; this module refuses a split named "test". Candidates are the
midpoints between consecutive distinct validation scores (a cut at a score
itself would sit on a sample), so a perfectly separable set gets a cut in the
gap. Ties are broken towards the LOWEST threshold: for a screening aid a missed
case costs more than an extra referral.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator

from scoligait_edge.research.evaluation.metrics import _as_labels, _as_prob

log = logging.getLogger(__name__)

Criterion = Literal["youden", "macro_f1"]
DEFAULT_THRESHOLD = 0.5
TEST_SPLIT_ERROR = "thresholds are chosen on validation data, never on test data"


class ThresholdChoice(BaseModel):
    """A threshold and where it came from, stored in every report."""

    model_config = ConfigDict(frozen=True)

    threshold: float
    criterion: Criterion
    score: float | None
    """The criterion's value at the threshold on the validation data (None when degenerate)."""
    split_name: str
    source: Literal["validation"] = "validation"
    n: int
    n_pos: int
    degenerate: bool = False
    warning: str | None = None

    @field_validator("split_name")
    @classmethod
    def _not_test(cls, v: str) -> str:
        if _is_test_split(v):
            raise ValueError(TEST_SPLIT_ERROR)
        return v


def _is_test_split(split_name: str) -> bool:
    return any(tok in ("test", "testing") for tok in re.split(r"[^a-z0-9]+", split_name.lower()))


def _macro_f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> np.ndarray:
    def f1(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        den = 2 * a + b + c
        return np.divide(2 * a, den, out=np.zeros_like(den, dtype=np.float64), where=den > 0)

    return (f1(tp, fp, fn) + f1(tn, fn, fp)) / 2


def _fallback(why: str, criterion: Criterion, split_name: str, *, n: int, n_pos: int) -> ThresholdChoice:
    """The default threshold, marked degenerate with the reason logged and stored: no cut is informative."""
    msg = f"validation split {split_name!r}: {why}; threshold falls back to {DEFAULT_THRESHOLD}"
    log.warning(msg)
    return ThresholdChoice(
        threshold=DEFAULT_THRESHOLD,
        criterion=criterion,
        score=None,
        split_name=split_name,
        n=n,
        n_pos=n_pos,
        degenerate=True,
        warning=msg,
    )


def _scores_at(cand: np.ndarray, y: np.ndarray, p: np.ndarray, criterion: Criterion) -> np.ndarray:
    """The criterion at each candidate threshold (predict positive when ``p >= threshold``); needs both classes."""
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    pred = p[None, :] >= cand[:, None]  # [C, N]
    tp = (pred & (y == 1)).sum(1)
    fp = (pred & (y == 0)).sum(1)
    fn = n_pos - tp
    tn = n_neg - fp
    if criterion == "youden":
        return tp / n_pos + tn / n_neg - 1.0
    return _macro_f1(tp, fp, fn, tn)


def choose_threshold(
    y_val: Sequence[int] | np.ndarray,
    prob_val: Sequence[float] | np.ndarray,
    criterion: Criterion = "youden",
    split_name: str = "val",
) -> ThresholdChoice:
    """Threshold maximising Youden's J (sensitivity + specificity - 1) or macro F1 on validation data.

    Raises ValueError for a split named like "test". With one class (or
    constant scores) no cut is informative: returns 0.5 with ``degenerate``
    set and a warning logged.
    """
    if _is_test_split(split_name):
        raise ValueError(TEST_SPLIT_ERROR)
    if criterion not in ("youden", "macro_f1"):
        raise ValueError(f"criterion must be 'youden' or 'macro_f1', got {criterion!r}")
    y = _as_labels(y_val, "y_val")
    p = _as_prob(prob_val, y.size, "prob_val")
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    uniq = np.unique(p)
    if n_pos == 0 or n_neg == 0 or uniq.size < 2:
        why = "one class only" if n_pos == 0 or n_neg == 0 else "all scores equal"
        return _fallback(why, criterion, split_name, n=int(y.size), n_pos=n_pos)
    cand = (uniq[:-1] + uniq[1:]) / 2.0
    score = _scores_at(cand, y, p, criterion)
    best = score.max()
    i = int(np.flatnonzero(score >= best - 1e-12)[0])  # lowest threshold among ties
    choice = ThresholdChoice(
        threshold=float(cand[i]),
        criterion=criterion,
        score=float(score[i]),
        split_name=split_name,
        n=int(y.size),
        n_pos=n_pos,
    )
    log.info(
        "threshold %.4f (%s = %.4f) chosen on %s (n=%d, %d positive)",
        choice.threshold,
        criterion,
        choice.score,
        split_name,
        choice.n,
        n_pos,
    )
    return choice
