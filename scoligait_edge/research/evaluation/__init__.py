"""Evaluation: screening metrics (the paper's Table 2 layout), validation-only thresholds,
figures, reports with provenance, and reading the model's evidence off the knowledge map."""

from __future__ import annotations

from scoligait_edge.core.lazy import lazy_face

_LAZY: dict[str, str] = {
    "metrics": "AucDifference AucInterval BinaryMetrics CLIP_PREDICTIONS_NAME ClipPrediction ClipScores GroupMetrics StratifiedMetrics aggregate_windows binary_metrics bootstrap_auc_ci clip_predictions cobb_mae paired_bootstrap_auc_diff read_clip_predictions roc_auc roc_curve stratified_metrics write_clip_predictions",
    "plots": "plot_confusion plot_probability_over_time plot_roc",
    "report": "Claim EvaluationReport LevelResult PAPER_RESULTS PaperRow SIMULATED_DATA_LINE SplitSizes ablation_table claims_table",
    "threshold": "TEST_SPLIT_ERROR ThresholdChoice choose_threshold",
}
"""Submodule -> the public names it defines (imported on first use)."""

__getattr__, __dir__, __all__ = lazy_face(__name__, _LAZY)
