"""Pose: MediaPipe Tasks estimator, subject tracking, skeleton conversions, loaders.

``PoseEstimator`` and ``SubjectTracker`` are imported lazily so that code that only
needs keypoint arrays does not pay for importing MediaPipe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scoligait_edge.core.lazy import lazy_face

if TYPE_CHECKING:
    from scoligait_edge.pose.estimator import PoseEstimator, PoseEstimatorOptions
    from scoligait_edge.pose.frame import PersonPose, PoseFrame
    from scoligait_edge.pose.loaders import PoseSequence, load_pose_sequence, save_pose_sequence
    from scoligait_edge.pose.tracker import SubjectTracker, TrackerOptions, select_subject

_NAMES: dict[str, str] = {
    "PersonPose": "frame",
    "PoseEstimator": "estimator",
    "PoseEstimatorOptions": "estimator",
    "PoseFrame": "frame",
    "PoseSequence": "loaders",
    "SubjectTracker": "tracker",
    "TrackerOptions": "tracker",
    "load_pose_sequence": "loaders",
    "save_pose_sequence": "loaders",
    "select_subject": "tracker",
}
"""Public name -> the submodule that defines it (imported on first use)."""
_MOVED: dict[str, str] = {
    "COCO17_NAMES": "scoligait_edge.core.skeleton",
    "COCO21_NAMES": "scoligait_edge.core.skeleton",
    "J": "scoligait_edge.core.skeleton",
    "coco17": "scoligait_edge.core.skeleton",
    "extract_pose_sequence": "scoligait_edge.research.extract",
    "extract_subject_silhouettes": "scoligait_edge.research.extract",
    "mediapipe_to_coco": "scoligait_edge.core.skeleton",
}
"""Names this package re-exported in 0.1, now imported from their own module (deprecated)."""

__getattr__, __dir__ = lazy_face(__name__, _NAMES, _MOVED)

__all__ = [
    "PersonPose",
    "PoseEstimator",
    "PoseEstimatorOptions",
    "PoseFrame",
    "PoseSequence",
    "SubjectTracker",
    "TrackerOptions",
    "load_pose_sequence",
    "save_pose_sequence",
    "select_subject",
]
