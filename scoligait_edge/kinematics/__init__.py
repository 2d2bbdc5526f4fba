"""Kinematic knowledge map (238 features a frame), resampling, gait events."""

from __future__ import annotations

from scoligait_edge.core.lazy import lazy_face

_LAZY: dict[str, str] = {
    "builder": "KnowledgeMap KnowledgeMapBuilder MapRow StreamingKnowledgeMap build_knowledge_map",
    "events": "GaitEvents WindowQuality assess_window detect_gait_events",
    "keypoints": "GapFiller fill_gaps validate_keypoints",
    "resample": "StreamResampler iter_windows resample_keypoints window_starts",
}
"""Submodule -> the public names it defines (imported on first use)."""
_MOVED: dict[str, str] = {
    "scoligait_edge.core.schema": "CLINICAL_PRIORS FEATURE_NAMES FEATURE_SCHEMA FeatureSpec NUM_FEATURES SCHEMA_VERSION domain_slices features_for_prior schema_hash",
}
"""Names this face re-exported in 0.1, now imported from their own module (deprecated until 0.3)."""

__getattr__, __dir__, __all__ = lazy_face(__name__, _LAZY, _MOVED)
