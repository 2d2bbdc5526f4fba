"""Evaluation: metrics against hand-computed numbers, validation-only thresholds, reports, plots, interpretation."""

from __future__ import annotations

import json
import logging
from itertools import product

import numpy as np
import pytest

from scoligait_edge import SCREENING_NOTICE
from scoligait_edge.core.schema import FEATURE_NAMES, FEATURE_SCHEMA, NUM_FEATURES
from scoligait_edge.interpret import top_features
from scoligait_edge.research.evaluation.metrics import (
    BinaryMetrics,
    aggregate_windows,
    binary_metrics,
    cobb_mae,
    roc_auc,
    roc_curve,
    stratified_metrics,
)
from scoligait_edge.research.evaluation.plots import plot_confusion, plot_probability_over_time, plot_roc
from scoligait_edge.research.evaluation.report import (
    PAPER_RESULTS,
    SIMULATED_DATA_LINE,
    EvaluationReport,
    LevelResult,
    SplitSizes,
    ablation_table,
)
from scoligait_edge.research.evaluation.threshold import TEST_SPLIT_ERROR, ThresholdChoice, choose_threshold
from scoligait_edge.viz.attention import plot_attention_on_map

# y, prob at threshold 0.5 -> pred [1,1,0,1,0,0,0,1]: tp 2, fn 1, fp 2, tn 3 (worked by hand below).
Y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
P = np.array([0.9, 0.6, 0.3, 0.7, 0.2, 0.1, 0.4, 0.55])


# ------------------------------------------------------------------ metrics
def test_binary_metrics_match_hand_computed_table2_columns():
    m = binary_metrics(Y, P, 0.5)
    assert (m.tn, m.fp, m.fn, m.tp) == (3, 2, 1, 2)
    assert (m.n, m.n_pos, m.n_neg) == (8, 3, 5)
    assert m.accuracy == pytest.approx(5 / 8)
    assert m.pos_precision == pytest.approx(2 / 4)
    assert m.pos_recall == pytest.approx(2 / 3)
    assert m.pos_f1 == pytest.approx(4 / 7)  # 2 * 1/2 * 2/3 / (1/2 + 2/3)
    assert m.neg_precision == pytest.approx(3 / 4)
    assert m.neg_recall == pytest.approx(3 / 5)
    assert m.neg_f1 == pytest.approx(2 / 3)  # 2 * 3/4 * 3/5 / (3/4 + 3/5)
    assert m.macro_f1 == pytest.approx((4 / 7 + 2 / 3) / 2)
    assert m.sensitivity == m.pos_recall and m.specificity == m.neg_recall
    assert m.auc == pytest.approx(11 / 15)  # positive beats negative in 5 + 4 + 2 of 15 pairs
    assert m.confusion.tolist() == [[3, 2], [1, 2]]
    assert m.notes == []


def test_threshold_is_inclusive_and_zero_divisions_are_explicit():
    assert binary_metrics([1, 0], [0.5, 0.49], 0.5).tp == 1  # prob == threshold -> positive
    m = binary_metrics([1, 0, 0], [0.2, 0.1, 0.3], 0.9)  # nothing called positive
    assert m.pos_precision == 0.0 and m.pos_recall == 0.0 and m.pos_f1 == 0.0
    assert any("no positive predictions" in n for n in m.notes)
    only_neg = binary_metrics([0, 0], [0.2, 0.7], 0.5)
    assert only_neg.pos_recall is None and only_neg.macro_f1 is None and only_neg.auc is None
    assert only_neg.neg_recall == 0.5


def test_auc_equals_bruteforce_pairwise_with_ties():
    rng = np.random.default_rng(3)
    for _ in range(5):
        y = rng.integers(0, 2, 60)
        s = np.round(rng.random(60), 1)  # many ties
        pos, neg = s[y == 1], s[y == 0]
        brute = np.mean([1.0 if a > b else 0.5 if a == b else 0.0 for a, b in product(pos, neg)])
        assert roc_auc(y, s) == pytest.approx(brute)
        fpr, tpr, thr = roc_curve(y, s)
        assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0) and np.isinf(thr[0])
        assert np.trapezoid(tpr, fpr) == pytest.approx(brute)  # trapezoids = ties counted 1/2
    assert roc_auc([0, 1, 0, 1], [0.3] * 4) == 0.5
    assert roc_auc([1, 1], [0.1, 0.2]) is None


@pytest.mark.parametrize(
    ("y", "p", "t", "match"),
    [
        ([1, 0], [0.5], 0.5, "has 1 entries but the labels have 2"),
        ([1, 0], [0.5, np.nan], 0.5, "NaN"),
        ([1.0, np.nan], [0.5, 0.5], 0.5, "NaN"),
        ([1, 2], [0.5, 0.5], 0.5, "only 0 and 1"),
        ([], [], 0.5, "empty"),
        ([[1, 0]], [[0.5, 0.5]], 0.5, "1-D"),
        ([1, 0], [0.5, 3.0], 0.5, "not the logit"),
        ([1, 0], [0.5, 0.5], 1.5, "threshold"),
        (["a", "b"], [0.5, 0.5], 0.5, "numeric"),
    ],
)
def test_bad_inputs_give_clear_errors(y, p, t, match):
    with pytest.raises(ValueError, match=match):
        binary_metrics(y, p, t)


def test_cobb_mae():
    assert cobb_mae([10.0, 20.0, 5.0], [12.0, 17.0, 5.0]) == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="expected 3"):
        cobb_mae([1.0, 2.0, 3.0], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        cobb_mae([1.0, np.nan], [1.0, 2.0])


def test_stratified_rows_per_sex_with_notes():
    y = np.array([1, 1, 0, 0, 0, 0, 0])
    p = np.array([0.8, 0.3, 0.6, 0.1, 0.2, 0.7, 0.1])
    sex = np.array(["F", "F", "F", "M", "M", "M", "M"])
    st = stratified_metrics(y, p, 0.5, sex, expected_groups=("F", "M", "X"))
    assert [r.group for r in st.rows] == ["F", "M", "X"]
    f, m, x = st.rows
    assert (f.n, f.n_pos) == (3, 2) and f.metrics.tp == 1 and f.metrics.fp == 1 and f.note is None
    assert f.metrics == binary_metrics(y[:3], p[:3], 0.5)
    assert (m.n, m.n_pos) == (4, 0) and m.metrics.specificity == pytest.approx(3 / 4)
    assert m.metrics.sensitivity is None and "one class only" in m.note
    assert x.metrics is None and x.n == 0 and "no samples" in x.note
    with pytest.raises(ValueError, match="groups has shape"):
        stratified_metrics(y, p, 0.5, sex[:3])


def test_aggregate_windows_means_per_clip_in_first_seen_order():
    ids = ["b", "a", "b", "c", "a", "b"]
    prob = [0.2, 0.9, 0.4, 0.5, 0.7, 0.6]
    agg = aggregate_windows(
        prob,
        ids,
        labels=[0, 1, 0, 1, 1, 0],
        groups=["M", "F", "M", "F", "F", "M"],
        cobb_true=[3, 25, 3, 12, 25, 3],
        cobb_pred=[4, 20, 6, 10, 22, 5],
    )
    assert agg.clip_ids.tolist() == ["b", "a", "c"] and len(agg) == 3
    assert agg.prob == pytest.approx([0.4, 0.8, 0.5])
    assert agg.n_windows.tolist() == [3, 2, 1]
    assert agg.labels.tolist() == [0, 1, 1] and agg.groups.tolist() == ["M", "F", "F"]
    assert agg.cobb_true.tolist() == [3, 25, 12] and agg.cobb_pred == pytest.approx([5, 21, 10])
    with pytest.raises(ValueError, match="labels differs between windows of clip 'a'"):
        aggregate_windows(prob, ids, labels=[0, 1, 0, 1, 0, 0])
    with pytest.raises(ValueError, match="clip_ids has shape"):
        aggregate_windows(prob, ids[:2])
    with pytest.raises(ValueError, match="empty"):
        aggregate_windows([], [])


# ------------------------------------------------------------------ threshold
def test_threshold_refuses_test_data():
    for name in ("test", "Test", "external_test"):
        with pytest.raises(ValueError, match=TEST_SPLIT_ERROR):
            choose_threshold([0, 1], [0.2, 0.8], split_name=name)
    with pytest.raises(ValueError, match="never on test data"):
        ThresholdChoice(threshold=0.5, criterion="youden", score=1.0, split_name="test", n=2, n_pos=1)
    assert TEST_SPLIT_ERROR == "thresholds are chosen on validation data, never on test data"


@pytest.mark.parametrize("criterion", ["youden", "macro_f1"])
def test_threshold_cuts_the_gap_of_a_separable_set(criterion):
    y = np.array([0, 1, 0, 1, 0])
    p = np.array([0.1, 0.8, 0.35, 0.6, 0.2])
    ch = choose_threshold(y, p, criterion)
    assert ch.threshold == pytest.approx((0.35 + 0.6) / 2)
    assert ch.score == pytest.approx(1.0) and ch.source == "validation" and not ch.degenerate
    assert binary_metrics(y, p, ch.threshold).accuracy == 1.0


def test_threshold_ties_go_to_the_lowest_cut_regardless_of_order():
    y, p = np.array([0, 1, 0, 1]), np.array([0.1, 0.2, 0.3, 0.4])  # J = 0.5 at 0.15 and at 0.35
    perm = np.array([2, 0, 3, 1])
    for yy, pp in ((y, p), (y[perm], p[perm])):
        ch = choose_threshold(yy, pp)
        assert ch.threshold == pytest.approx(0.15) and ch.score == pytest.approx(0.5)


def test_degenerate_validation_falls_back_to_half_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="scoligait_edge.research.evaluation.threshold"):
        ch = choose_threshold([1, 1, 1], [0.2, 0.5, 0.9])
    assert ch.threshold == 0.5 and ch.degenerate and "one class" in ch.warning
    assert "one class" in caplog.text
    assert choose_threshold([0, 1], [0.4, 0.4]).degenerate


# ------------------------------------------------------------------ report and ablation
def _report(tmp_path, provenance: str = "simulated") -> EvaluationReport:
    th = choose_threshold([0, 0, 1, 1], [0.2, 0.4, 0.6, 0.7], split_name="val")
    clip = binary_metrics(Y, P, th.threshold)
    st = stratified_metrics(Y, P, th.threshold, ["F", "F", "M", "M", "M", "F", "M", "F"])
    return EvaluationReport(
        model_name="km+video+text cat_latent",
        config_summary={"modalities": "km+video+text", "dim": 128},
        provenance=provenance,
        splits={
            "train": SplitSizes(subjects=40, clips=120, windows=480, positives=20),
            "test": SplitSizes(
                subjects=8,
                clips=8,
                windows=32,
                positives=3,
                sex_by_class={"F": {"pos": 2, "neg": 2}, "M": {"pos": 1, "neg": 3}},
            ),
        },
        threshold=th,
        levels={
            "clip": LevelResult(metrics=clip, stratified=st, cobb_mae_deg=4.25),
            "window": LevelResult(metrics=binary_metrics(Y, P, th.threshold)),
        },
        figures={"roc": str(tmp_path / "fig" / "roc.png")},
        notes=["toy"],
    )


def test_report_writes_json_and_markdown_with_provenance_and_notice(tmp_path):
    rep = _report(tmp_path)
    js = rep.to_json(tmp_path / "r.json")
    md = rep.to_markdown(tmp_path / "r.md")
    data = json.loads(js.read_text())
    assert data["data_warning"] == SIMULATED_DATA_LINE and data["notice"] == SCREENING_NOTICE
    assert list(data)[:2] == ["data_warning", "notice"]
    assert data["threshold"]["source"] == "validation" and data["levels"]["clip"]["cobb_mae_deg"] == 4.25
    text = md.read_text()
    assert text.count(SIMULATED_DATA_LINE) >= 2 and SCREENING_NOTICE in text
    assert "Screening aid, not a diagnosis" in text
    assert text.splitlines()[2] == f"> **{SIMULATED_DATA_LINE}**"  # right under the title
    assert "| clip | 8 | 3 | 0.625 |" in text and "### By sex (clip level)" in text
    assert "![roc](fig/roc.png)" in text and "mean absolute error 4.25°" in text
    assert EvaluationReport.from_json(js) == rep
    real = _report(tmp_path, provenance="real (clinic X)")
    assert real.data_warning is None and SIMULATED_DATA_LINE not in real.markdown()
    assert SCREENING_NOTICE in real.markdown()


def test_report_refuses_metrics_at_another_threshold(tmp_path):
    rep = _report(tmp_path)
    with pytest.raises(ValueError, match="use threshold"):
        EvaluationReport(
            model_name="m",
            provenance="simulated",
            threshold=rep.threshold,
            levels={"clip": LevelResult(metrics=binary_metrics(Y, P, 0.123))},
        )


def _metrics_with(acc: float, auc: float | None) -> BinaryMetrics:
    base = binary_metrics(Y, P, 0.5)
    return base.model_copy(update={"accuracy": acc, "auc": auc})


def test_ablation_table_mean_std_and_separate_paper_table():
    table = ablation_table(
        [("cat_latent", [_metrics_with(0.6, 0.7), _metrics_with(0.7, None)]), ("cat", [_metrics_with(0.55, 0.6)])],
        paper_keys=["cat", "cat_latent"],
    )
    lines = table.splitlines()
    row = next(ln for ln in lines if ln.startswith("| cat_latent |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "2" and cells[2] == f"0.650 ± {np.std([0.6, 0.7], ddof=1):.3f}" == "0.650 ± 0.071"
    assert cells[-1] == "0.700"  # AUC: the None seed is left out
    assert cells[3] == "0.619 ± 0.000"  # macro F1 of the hand example, twice
    assert next(ln for ln in lines if ln.startswith("| cat |")).split("|")[3].strip() == "0.550"
    assert SIMULATED_DATA_LINE in table and SCREENING_NOTICE in table
    paper_at = next(i for i, ln in enumerate(lines) if ln.startswith("**Paper**"))
    ours_at = next(i for i, ln in enumerate(lines) if ln.startswith("**Ours**"))
    assert ours_at < paper_at and "real clinical data" in lines[paper_at]
    assert "| Aligned Cat+Latent | Table 3 | 0.640 | 0.562 |" in table
    assert "support of about 88" in table
    assert "**Paper**" not in ablation_table({"x": [_metrics_with(0.5, 0.5)]}, paper_keys=[])
    with pytest.raises(ValueError, match="unknown paper rows"):
        ablation_table({"x": [_metrics_with(0.5, 0.5)]}, paper_keys=["nope"])


def test_paper_numbers_are_transcribed_consistently():
    for r in PAPER_RESULTS.values():
        assert r.macro_f1 == pytest.approx((r.pos_f1 + r.neg_f1) / 2, abs=1e-3), r.key
        assert r.pos_f1 == pytest.approx(2 * r.pos_p * r.pos_r / (r.pos_p + r.pos_r), abs=2e-3), r.key
        assert r.neg_f1 == pytest.approx(2 * r.neg_p * r.neg_r / (r.neg_p + r.neg_r), abs=2e-3), r.key
        if not r.key.startswith("sconet"):  # their accuracy fits a 'positive' support of 88 of 300
            assert r.acc == pytest.approx((88 * r.pos_r + 212 * r.neg_r) / 300, abs=2e-3), r.key


# ------------------------------------------------------------------ plots
def _assert_png(path):
    import matplotlib.image as mpimg

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(path)
    assert img.ndim == 3 and img[..., :3].var() > 1e-3, "image is blank"


def test_plots_write_non_blank_pngs(tmp_path):
    m = binary_metrics(Y, P, 0.5)
    _assert_png(plot_confusion(m, tmp_path / "cm.png", "toy"))
    _assert_png(plot_confusion(np.array([[3, 2], [1, 2]]), tmp_path / "cm2.png", "toy"))
    _assert_png(plot_roc(Y, P, tmp_path / "sub" / "roc.png", "toy", threshold=0.5))
    _assert_png(plot_probability_over_time(P, tmp_path / "t.png", times_s=np.arange(8) * 3.2, threshold=0.5, label=1))
    with pytest.raises(ValueError, match="2 x 2"):
        plot_confusion(np.ones((3, 3)), tmp_path / "bad.png")


# ------------------------------------------------------------------ interpretation
def _planted(T: int = 96):
    rng = np.random.default_rng(0)
    att = rng.normal(0.0, 0.02, (T, NUM_FEATURES))
    valid = np.ones(T, dtype=bool)
    valid[:8] = False
    att[~valid] = 0.0
    c = FEATURE_NAMES.index("vel:mid_hip.x")
    att[40:56, c] = 1.0
    att[44, c] = 1.2  # peak inside the block; the span is the whole block (>= half the peak)
    att[0:8, 150] = 5.0  # on invalid frames: must be ignored
    return att, valid, c


def test_top_features_finds_a_planted_hot_spot():
    att, valid, c = _planted()
    found = top_features(att, valid, fps=30, per_domain=1, window_start_frame=96)
    assert [s.domain for s in found] == ["motion", "self_skeleton", "cross_correlation"]
    hot = found[0]
    assert hot.feature_index == c and hot.name == "vel:mid_hip.x" and hot.domain == "motion"
    assert (
        hot.clinical_prior == "trunk_lateral_shift" and "shoulder-centre x" in hot.clinical_prior_meaning
    )  # vel:mid_hip.x: pelvis sway
    assert hot.meaning == FEATURE_SCHEMA[c].meaning
    assert (hot.frame_start, hot.frame_stop, hot.peak_frame) == (96 + 40, 96 + 56, 96 + 44)
    assert hot.start_s == pytest.approx(136 / 30) and hot.stop_s == pytest.approx(152 / 30)
    assert hot.duration_s == pytest.approx(16 / 30) and hot.peak_evidence == pytest.approx(1.2)
    assert "vel:mid_hip.x" in hot.describe()
    assert found[1].feature_index != 150 or found[1].peak_evidence < 1.0  # the invalid-frame spike is ignored
    assert len(top_features(att, valid, per_domain=2)) == 6


def test_top_features_reports_token_group_ties_and_prefers_a_clinical_prior():
    att = np.zeros((32, NUM_FEATURES))
    valid = np.ones(32, dtype=bool)
    group = [FEATURE_NAMES.index(n) for n in ("angle:eye_line_tilt", "angle:elbow_line_tilt", "angle:shoulder_tilt")]
    for g in group:
        att[8:16, g] = 0.7  # one model token: same evidence in every column of the group
    (s,) = top_features(att, valid)
    assert s.name == "angle:shoulder_tilt"  # the tied column carrying a clinical prior
    assert sorted(s.tied_features) == ["angle:elbow_line_tilt", "angle:eye_line_tilt"]
    assert top_features(np.zeros((4, NUM_FEATURES)), np.ones(4, dtype=bool)) == []
    with pytest.raises(ValueError, match=r"\[T, 238\]"):
        top_features(np.zeros((4, 10)), np.ones(4, dtype=bool))
    with pytest.raises(ValueError, match="valid must be"):
        top_features(np.zeros((4, NUM_FEATURES)), np.ones(5, dtype=bool))


def test_attention_on_map_png_is_written_with_boxes(tmp_path):
    att, valid, _ = _planted()
    km = np.random.default_rng(1).normal(size=att.shape)
    path = plot_attention_on_map(
        km, att, valid, tmp_path / "att.png", salient=top_features(att, valid), window_start_frame=96
    )
    _assert_png(path)
    _assert_png(plot_attention_on_map(km, np.zeros_like(att), valid, tmp_path / "none.png"))


def test_array_standardisation_matches_the_knowledge_map_one():
    from scoligait_edge.kinematics.builder import KnowledgeMap
    from scoligait_edge.viz.heatmap import standardise_array, standardise_columns

    rng = np.random.default_rng(2)
    vals = rng.normal(size=(20, NUM_FEATURES)).astype(np.float32)
    valid = rng.random(20) > 0.2
    kmap = KnowledgeMap(values=vals, valid=valid, timestamps_ms=np.arange(20) * 33.3)
    np.testing.assert_array_equal(standardise_columns(kmap), standardise_array(vals, valid))
