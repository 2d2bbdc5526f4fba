"""Evaluation: screening metrics (the paper's Table 2 layout), validation-only thresholds,
figures, reports with provenance, and reading the model's evidence off the knowledge map."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scoligait_edge.core.lazy import lazy_face

if TYPE_CHECKING:
    from scoligait_edge.research.evaluation.metrics import (
        CLIP_PREDICTIONS_NAME,
        AucDifference,
        AucInterval,
        BinaryMetrics,
        ClipPrediction,
        ClipScores,
        GroupMetrics,
        StratifiedMetrics,
        aggregate_windows,
        binary_metrics,
        bootstrap_auc_ci,
        clip_predictions,
        cobb_mae,
        paired_bootstrap_auc_diff,
        read_clip_predictions,
        roc_auc,
        roc_curve,
        stratified_metrics,
        write_clip_predictions,
    )
    from scoligait_edge.research.evaluation.plots import plot_confusion, plot_probability_over_time, plot_roc
    from scoligait_edge.research.evaluation.report import (
        PAPER_RESULTS,
        SIMULATED_DATA_LINE,
        Claim,
        EvaluationReport,
        LevelResult,
        PaperRow,
        SplitSizes,
        ablation_table,
        claims_table,
    )
    from scoligait_edge.research.evaluation.threshold import TEST_SPLIT_ERROR, ThresholdChoice, choose_threshold

_NAMES: dict[str, str] = {
    "AucDifference": "metrics",
    "AucInterval": "metrics",
    "BinaryMetrics": "metrics",
    "CLIP_PREDICTIONS_NAME": "metrics",
    "Claim": "report",
    "ClipPrediction": "metrics",
    "ClipScores": "metrics",
    "EvaluationReport": "report",
    "GroupMetrics": "metrics",
    "LevelResult": "report",
    "PAPER_RESULTS": "report",
    "PaperRow": "report",
    "SIMULATED_DATA_LINE": "report",
    "SplitSizes": "report",
    "StratifiedMetrics": "metrics",
    "TEST_SPLIT_ERROR": "threshold",
    "ThresholdChoice": "threshold",
    "ablation_table": "report",
    "aggregate_windows": "metrics",
    "binary_metrics": "metrics",
    "bootstrap_auc_ci": "metrics",
    "choose_threshold": "threshold",
    "claims_table": "report",
    "clip_predictions": "metrics",
    "cobb_mae": "metrics",
    "paired_bootstrap_auc_diff": "metrics",
    "plot_confusion": "plots",
    "plot_probability_over_time": "plots",
    "plot_roc": "plots",
    "read_clip_predictions": "metrics",
    "roc_auc": "metrics",
    "roc_curve": "metrics",
    "stratified_metrics": "metrics",
    "write_clip_predictions": "metrics",
}
"""Public name -> the submodule that defines it (imported on first use)."""

__getattr__, __dir__ = lazy_face(__name__, _NAMES)

__all__ = [
    "AucDifference",
    "AucInterval",
    "BinaryMetrics",
    "CLIP_PREDICTIONS_NAME",
    "Claim",
    "ClipPrediction",
    "ClipScores",
    "EvaluationReport",
    "GroupMetrics",
    "LevelResult",
    "PAPER_RESULTS",
    "PaperRow",
    "SIMULATED_DATA_LINE",
    "SplitSizes",
    "StratifiedMetrics",
    "TEST_SPLIT_ERROR",
    "ThresholdChoice",
    "ablation_table",
    "aggregate_windows",
    "binary_metrics",
    "bootstrap_auc_ci",
    "choose_threshold",
    "claims_table",
    "clip_predictions",
    "cobb_mae",
    "paired_bootstrap_auc_diff",
    "plot_confusion",
    "plot_probability_over_time",
    "plot_roc",
    "read_clip_predictions",
    "roc_auc",
    "roc_curve",
    "stratified_metrics",
    "write_clip_predictions",
]
