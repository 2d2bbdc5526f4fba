"""Pose: MediaPipe Tasks estimator, subject tracking, skeleton conversions, loaders.

``PoseEstimator`` and ``SubjectTracker`` are imported lazily so that code that only
needs keypoint arrays does not pay for importing MediaPipe.
"""

from __future__ import annotations

from scoligait_edge.core.lazy import lazy_face

_LAZY: dict[str, str] = {
    "estimator": "PoseEstimator PoseEstimatorOptions",
    "frame": "PersonPose PoseFrame",
    "loaders": "PoseSequence load_pose_sequence save_pose_sequence",
    "tracker": "SubjectTracker TrackerOptions select_subject",
}
"""Submodule -> the public names it defines (imported on first use)."""
_MOVED: dict[str, str] = {
    "scoligait_edge.core.skeleton": "COCO17_NAMES COCO21_NAMES J coco17 mediapipe_to_coco",
    "scoligait_edge.research.extract": "extract_pose_sequence extract_subject_silhouettes",
}
"""Names this face re-exported in 0.1, now imported from their own module (deprecated until 0.3)."""

__getattr__, __dir__, __all__ = lazy_face(__name__, _LAZY, _MOVED)
