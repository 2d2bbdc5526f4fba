"""Evaluation: screening metrics (the paper's Table 2 layout), validation-only thresholds,
figures, reports with provenance, and reading the model's evidence off the knowledge map."""

from __future__ import annotations

from scoligait_edge.evaluation.interpret import SalientFeature, plot_attention_on_map, top_features
from scoligait_edge.evaluation.metrics import (
    BinaryMetrics,
    ClipScores,
    GroupMetrics,
    StratifiedMetrics,
    aggregate_windows,
    binary_metrics,
    cobb_mae,
    roc_auc,
    roc_curve,
    stratified_metrics,
)
from scoligait_edge.evaluation.plots import plot_confusion, plot_probability_over_time, plot_roc
from scoligait_edge.evaluation.report import (
    PAPER_RESULTS,
    SIMULATED_DATA_LINE,
    EvaluationReport,
    LevelResult,
    PaperRow,
    SplitSizes,
    ablation_table,
)
from scoligait_edge.evaluation.threshold import TEST_SPLIT_ERROR, ThresholdChoice, choose_threshold

__all__ = [
    "PAPER_RESULTS",
    "SIMULATED_DATA_LINE",
    "TEST_SPLIT_ERROR",
    "BinaryMetrics",
    "ClipScores",
    "EvaluationReport",
    "GroupMetrics",
    "LevelResult",
    "PaperRow",
    "SalientFeature",
    "SplitSizes",
    "StratifiedMetrics",
    "ThresholdChoice",
    "ablation_table",
    "aggregate_windows",
    "binary_metrics",
    "choose_threshold",
    "cobb_mae",
    "plot_attention_on_map",
    "plot_confusion",
    "plot_probability_over_time",
    "plot_roc",
    "roc_auc",
    "roc_curve",
    "stratified_metrics",
    "top_features",
]
