"""Splits by subject: every path that assigns clips to train / val / test checks that no subject is on two sides
and raises :class:`~scoligait_edge.errors.SplitLeakError` otherwise."""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from scoligait_edge.errors import DatasetError
from scoligait_edge.research.sim.cohort import check_subject_disjoint

if TYPE_CHECKING:
    from scoligait_edge.research.data.torch_dataset import WindowDataset

log = logging.getLogger(__name__)

T = TypeVar("T")


# -- subjects and splits ------------------------------------------------------------


def _subject_of(item: Any) -> str:
    if isinstance(item, str):
        return item
    sid = getattr(item, "subject_id", None)
    if sid is None and hasattr(item, "record"):
        sid = item.record.subject_id
    if sid is None:
        raise TypeError(f"cannot tell the subject of a {type(item).__name__}")
    return str(sid)


def _attr(item: Any, name: str) -> Any:
    if hasattr(item, name):
        return getattr(item, name)
    if hasattr(item, "record"):
        return getattr(item.record, name)
    if name == "label" and hasattr(item, "binary_label"):
        return item.binary_label
    raise TypeError(f"a {type(item).__name__} has no {name!r}")


def assert_subject_disjoint(datasets_by_split: Mapping[str, WindowDataset | Iterable[Any]]) -> None:
    """Raise :class:`SplitLeakError` when a subject appears under two split names.

    Values may be :class:`WindowDataset`, lists of :class:`WindowSample`,
    :class:`ProcessedClip`, :class:`ClipRecord`, :class:`Scoliosis1KSequence`
    or plain subject ids.
    """
    by_split: dict[str, list[str]] = {}
    for name, items in datasets_by_split.items():
        src: Iterable[Any] = items.samples if hasattr(items, "samples") else items  # a WindowDataset: its windows
        by_split[str(name)] = [_subject_of(x) for x in src]
    check_subject_disjoint(by_split)


def make_splits(
    items: Sequence[T],
    *,
    fractions: Mapping[str, float] | None = None,
    seed: int = 0,
    stratify_by: str | Callable[[T], Any] | None = "label",
) -> dict[str, list[T]]:
    """Assign whole subjects to splits (``fractions`` default train 0.7 / val 0.15 / test 0.15).

    Items (windows, clips, records, sequences) are grouped by subject; subjects
    are shuffled with ``seed`` within each stratum (``stratify_by``: an
    attribute name such as ``'label'`` or ``'sconet_class'``, a function, or
    None) and dealt out by the fractions, so every split keeps the class mix.
    A subject whose items disagree on the stratum raises :class:`DatasetError`.
    The result is checked with :func:`assert_subject_disjoint`.
    """
    fr = dict(fractions or {"train": 0.7, "val": 0.15, "test": 0.15})
    if not fr or any(v < 0 for v in fr.values()) or sum(fr.values()) <= 0:
        raise ValueError(f"fractions must be non-negative and not all zero, got {fr}")
    by_subject: dict[str, list[T]] = defaultdict(list)
    for it in items:
        by_subject[_subject_of(it)].append(it)
    stratum = _subject_strata(by_subject, stratify_by)
    out = _deal_subjects(by_subject, stratum, fr, seed)
    assert_subject_disjoint(out)
    return out


def _subject_strata(by_subject: Mapping[str, list[T]], stratify_by: str | Callable[[T], Any] | None) -> dict[str, Any]:
    """Each subject's stratum; all of a subject's items must agree on it, else :class:`DatasetError`."""
    stratum: dict[str, Any] = {}
    for sid, its in by_subject.items():
        if stratify_by is None:
            keys = {None}
        elif callable(stratify_by):
            keys = {stratify_by(x) for x in its}
        else:
            keys = {_attr(x, stratify_by) for x in its}
        if len(keys) > 1:
            raise DatasetError(
                f"subject {sid!r} has items with different {stratify_by!r} values {sorted(map(str, keys))}"
            )
        stratum[sid] = next(iter(keys))
    return stratum


def _deal_subjects(
    by_subject: Mapping[str, list[T]], stratum: Mapping[str, Any], fr: Mapping[str, float], seed: int
) -> dict[str, list[T]]:
    """Shuffle each stratum's subjects with ``seed`` and deal them out by the fractions ``fr``, so every split
    keeps the strata's mix; strata and subjects are sorted first, so the result depends on ``seed`` alone."""
    total = sum(fr.values())
    names = list(fr)
    rng = np.random.default_rng(seed)
    out: dict[str, list[T]] = {n: [] for n in names}
    groups: dict[Any, list[str]] = defaultdict(list)
    for sid in sorted(by_subject):
        groups[stratum[sid]].append(sid)
    for key in sorted(groups, key=str):
        sids = groups[key]
        order = [sids[i] for i in rng.permutation(len(sids))]
        bounds = np.round(np.cumsum([fr[n] / total for n in names]) * len(order)).astype(int)
        lo = 0
        for n, hi in zip(names, bounds, strict=True):
            for sid in order[lo:hi]:
                out[n].extend(by_subject[sid])
            lo = hi
    return out


def _parse_ratio(ratio: str | Sequence[float]) -> tuple[float, float, float]:
    if isinstance(ratio, str):
        parts = ratio.split(":")
        try:
            vals = tuple(float(p) for p in parts)
        except ValueError:
            vals = ()
    else:
        vals = tuple(float(p) for p in ratio)
    if len(vals) != 3 or any(not math.isfinite(v) or v < 0 for v in vals) or sum(vals) <= 0:
        raise ValueError(f"ratio must be 'positive:neutral:negative' like '1:1:8', got {ratio!r}")
    return vals


def ratio_split(
    samples: Sequence[T],
    ratio: str | Sequence[float] = "1:1:8",
    seed: int = 0,
    *,
    n_train: int | None = None,
) -> tuple[list[T], list[T]]:
    """ScoNet-MT's training mix: a training set whose subjects are positive : neutral :
    negative in ``ratio`` (e.g. '1:1:8'); the test set takes every other subject.

    Counts are in subjects (for Scoliosis1K one sequence = one subject), and
    each subject's class comes from ``sconet_class`` (0 positive, 1 neutral, 2
    negative). ``n_train`` (default: half of all subjects, like Scoliosis1K's
    1:1:8 split of 744 of 1,493 sequences) is the training set's size; when a
    class has too few subjects, the whole training set shrinks to keep the
    ratio exact (logged). Subjects are drawn with ``seed``; the split is
    subject-disjoint by construction and checked.
    """
    r = _parse_ratio(ratio)
    cls_of, items_of = _subjects_by_class(samples)
    by_class: dict[int, list[str]] = {k: sorted(s for s, c in cls_of.items() if c == k) for k in range(3)}
    n_all = len(cls_of)
    want_total = n_all // 2 if n_train is None else int(n_train)
    if not 0 < want_total <= n_all:
        raise ValueError(f"n_train must be in [1, {n_all}], got {want_total}")
    counts = _class_counts(r, [len(by_class[k]) for k in range(3)], want_total, ratio)
    rng = np.random.default_rng(seed)
    train_ids: set[str] = set()
    for k in range(3):
        ids = by_class[k]
        pick = rng.permutation(len(ids))[: counts[k]]
        train_ids.update(ids[i] for i in pick)
    train = [x for sid in sorted(train_ids) for x in items_of[sid]]
    test = [x for sid in sorted(set(items_of) - train_ids) for x in items_of[sid]]
    assert_subject_disjoint({"train": train, "test": test})
    log.info(
        "ratio %s: training subjects %s (pos/neu/neg), test subjects %d",
        ratio,
        counts.tolist(),
        len(items_of) - len(train_ids),
    )
    return train, test


def _subjects_by_class(samples: Sequence[T]) -> tuple[dict[str, int], dict[str, list[T]]]:
    """Each subject's ScoNet class and items; a subject without a class or with two raises :class:`DatasetError`."""
    cls_of: dict[str, int] = {}
    items_of: dict[str, list[T]] = defaultdict(list)
    for s in samples:
        sid = _subject_of(s)
        c = _attr(s, "sconet_class")
        if c is None:
            raise DatasetError(f"ratio_split needs 3-class labels (sconet_class); subject {sid!r} has none")
        if cls_of.setdefault(sid, int(c)) != int(c):
            raise DatasetError(f"subject {sid!r} has items of two classes ({cls_of[sid]} and {c})")
        items_of[sid].append(s)
    return cls_of, items_of


def _class_counts(
    r: tuple[float, float, float], available: list[int], want_total: int, ratio: str | Sequence[float]
) -> np.ndarray:
    """Training subjects per class for ``want_total`` in the ratio ``r``; when a class has too few subjects,
    every count shrinks by the same factor so the ratio stays exact (logged)."""
    share = np.array(r) / sum(r)
    want = share * want_total
    avail = np.array(available, float)
    scale = min([1.0] + [avail[k] / want[k] for k in range(3) if want[k] > 0])
    if scale < 1.0:
        log.warning(
            "ratio %s: only %s subjects per class; training set shrunk to %.0f%% of %d",
            ratio,
            avail.astype(int).tolist(),
            100 * scale,
            want_total,
        )
    return np.minimum(np.round(want * scale), avail).astype(int)
