"""Kinematic knowledge map (238 features a frame), resampling, gait events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scoligait_edge.core.lazy import lazy_face

if TYPE_CHECKING:
    from scoligait_edge.kinematics.builder import (
        KnowledgeMap,
        KnowledgeMapBuilder,
        MapRow,
        StreamingKnowledgeMap,
        build_knowledge_map,
    )
    from scoligait_edge.kinematics.events import GaitEvents, WindowQuality, assess_window, detect_gait_events
    from scoligait_edge.kinematics.keypoints import GapFiller, fill_gaps, validate_keypoints
    from scoligait_edge.kinematics.resample import StreamResampler, iter_windows, resample_keypoints, window_starts

_NAMES: dict[str, str] = {
    "GaitEvents": "events",
    "GapFiller": "keypoints",
    "KnowledgeMap": "builder",
    "KnowledgeMapBuilder": "builder",
    "MapRow": "builder",
    "StreamResampler": "resample",
    "StreamingKnowledgeMap": "builder",
    "WindowQuality": "events",
    "assess_window": "events",
    "build_knowledge_map": "builder",
    "detect_gait_events": "events",
    "fill_gaps": "keypoints",
    "iter_windows": "resample",
    "resample_keypoints": "resample",
    "validate_keypoints": "keypoints",
    "window_starts": "resample",
}
"""Public name -> the submodule that defines it (imported on first use)."""
_MOVED: dict[str, str] = {
    "CLINICAL_PRIORS": "scoligait_edge.core.schema",
    "FEATURE_NAMES": "scoligait_edge.core.schema",
    "FEATURE_SCHEMA": "scoligait_edge.core.schema",
    "FeatureSpec": "scoligait_edge.core.schema",
    "NUM_FEATURES": "scoligait_edge.core.schema",
    "SCHEMA_VERSION": "scoligait_edge.core.schema",
    "domain_slices": "scoligait_edge.core.schema",
    "features_for_prior": "scoligait_edge.core.schema",
    "schema_hash": "scoligait_edge.core.schema",
}
"""Names this package re-exported in 0.1, now imported from their own module (deprecated)."""

__getattr__, __dir__ = lazy_face(__name__, _NAMES, _MOVED)

__all__ = [
    "GaitEvents",
    "GapFiller",
    "KnowledgeMap",
    "KnowledgeMapBuilder",
    "MapRow",
    "StreamResampler",
    "StreamingKnowledgeMap",
    "WindowQuality",
    "assess_window",
    "build_knowledge_map",
    "detect_gait_events",
    "fill_gaps",
    "iter_windows",
    "resample_keypoints",
    "validate_keypoints",
    "window_starts",
]
