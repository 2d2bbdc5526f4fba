"""Reading the model's evidence off the knowledge map, for evaluation and training reports.

The interpretation itself lives in the torch-free runtime module
:mod:`scoligait_edge.interpret` (the Screener calls it per window) and the
figure in :mod:`scoligait_edge.viz.attention`; this module re-exports both so
evaluation code has one import.
"""

from __future__ import annotations

from scoligait_edge.interpret import SalientFeature, feature_highlights, top_features, validate_attention
from scoligait_edge.viz.attention import plot_attention_on_map

__all__ = ["SalientFeature", "feature_highlights", "plot_attention_on_map", "top_features", "validate_attention"]
