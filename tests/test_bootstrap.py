"""Subject-level bootstrap of the AUC and the paired bootstrap of an AUC difference (issue 11)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scoligait_edge.research.evaluation.metrics import (
    ClipPrediction,
    bootstrap_auc_ci,
    clip_predictions,
    paired_bootstrap_auc_diff,
    read_clip_predictions,
    roc_auc,
    write_clip_predictions,
)


def _data(n: int = 80, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(n // 2, int), np.ones(n - n // 2, int)]
    return y, rng


def test_identical_predictions_differ_by_exactly_zero():
    y, rng = _data()
    p = rng.random(y.size)
    d = paired_bootstrap_auc_diff(y, p, p.copy(), n_boot=500, seed=1)
    assert d.diff == 0.0 and d.mean_diff == 0.0 and (d.lo, d.hi) == (0.0, 0.0)
    assert d.p_le_0 == 1.0 and d.verdict == "not shown" and d.n_used == 500


def test_a_perfect_row_beats_a_random_one():
    y, rng = _data()
    perfect = np.where(y == 1, 0.9, 0.1) + rng.normal(0, 0.01, y.size)
    random = rng.random(y.size)
    d = paired_bootstrap_auc_diff(y, perfect, random, n_boot=1000, seed=0)
    assert d.auc_a == pytest.approx(1.0)
    assert d.lo > 0.25 and d.p_le_0 == 0.0 and d.verdict == "holds"
    back = paired_bootstrap_auc_diff(y, random, perfect, n_boot=1000, seed=0)
    assert back.hi < -0.25 and back.p_le_0 == 1.0 and back.verdict == "reversed"


def test_auc_interval_is_seeded_covers_the_auc_and_narrows_with_n():
    y, rng = _data(60)
    s = y * 0.5 + rng.random(y.size)
    ci = bootstrap_auc_ci(y, s, n_boot=1000, seed=3)
    assert ci == bootstrap_auc_ci(y, s, n_boot=1000, seed=3)
    assert ci.lo < ci.auc < ci.hi and ci.auc == pytest.approx(roc_auc(y, s))
    y2, rng2 = _data(600)
    big = bootstrap_auc_ci(y2, y2 * 0.5 + rng2.random(y2.size), n_boot=1000, seed=3)
    assert big.hi - big.lo < ci.hi - ci.lo


def test_subjects_are_resampled_with_all_their_clips():
    """Two clips per subject: the subject bootstrap matches a clip bootstrap on the subject means only
    in spirit, but duplicated clips must not narrow the interval (they would if clips were resampled)."""
    y, rng = _data(40)
    s = y * 0.3 + rng.random(y.size)
    one = bootstrap_auc_ci(y, s, n_boot=1000, seed=0)
    yy, ss = np.r_[y, y], np.r_[s, s]
    subj = np.r_[np.arange(40), np.arange(40)].astype(str)
    by_subject = bootstrap_auc_ci(yy, ss, subj, n_boot=1000, seed=0)
    by_clip = bootstrap_auc_ci(yy, ss, None, n_boot=1000, seed=0)
    assert by_clip.hi - by_clip.lo < 0.85 * (one.hi - one.lo)
    assert by_subject.hi - by_subject.lo == pytest.approx(one.hi - one.lo, rel=0.2)


def test_one_class_has_no_interval():
    ci = bootstrap_auc_ci([1, 1, 1], [0.2, 0.5, 0.9], n_boot=50)
    assert ci.auc is None and ci.lo is None and ci.n_used == 0
    d = paired_bootstrap_auc_diff([0, 0], [0.1, 0.2], [0.3, 0.4], n_boot=20)
    assert d.diff is None and d.verdict == "not shown"


def test_clip_predictions_round_trip(tmp_path):
    clips = clip_predictions(["c1", "c2"], ["s1", "s2"], [0, 1], [0.25, 0.75])
    assert clips[1] == ClipPrediction(clip_id="c2", subject_id="s2", label=1, prob=0.75)
    write_clip_predictions(tmp_path / "p.json", clips, split="test", threshold=0.5)
    assert read_clip_predictions(tmp_path / "p.json") == clips
    assert json.loads((tmp_path / "p.json").read_text())["threshold"] == 0.5
    with pytest.raises(ValueError, match="clip ids"):
        clip_predictions(["c1"], ["s1", "s2"], [0, 1], [0.2, 0.3])
