"""Kinematic knowledge map (238 features a frame), resampling, gait events."""

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
from scoligait_edge.kinematics.schema import (
    CLINICAL_PRIORS,
    FEATURE_NAMES,
    FEATURE_SCHEMA,
    NUM_FEATURES,
    SCHEMA_VERSION,
    FeatureSpec,
    domain_slices,
    features_for_prior,
    schema_hash,
)

__all__ = [
    "CLINICAL_PRIORS",
    "FEATURE_NAMES",
    "FEATURE_SCHEMA",
    "NUM_FEATURES",
    "SCHEMA_VERSION",
    "FeatureSpec",
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
    "domain_slices",
    "features_for_prior",
    "fill_gaps",
    "iter_windows",
    "resample_keypoints",
    "schema_hash",
    "validate_keypoints",
    "window_starts",
]
