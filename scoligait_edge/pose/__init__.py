"""Pose: MediaPipe Tasks estimator, subject tracking, skeleton conversions, loaders.

``PoseEstimator`` and ``SubjectTracker`` are imported lazily so that code that only
needs keypoint arrays does not pay for importing MediaPipe.
"""

from __future__ import annotations

from typing import Any

from scoligait_edge.pose.skeleton import (
    COCO17_NAMES,
    COCO21_NAMES,
    J,
    coco17,
    mediapipe_to_coco,
)

_LAZY = {
    "PoseEstimator": "scoligait_edge.pose.estimator",
    "PoseEstimatorOptions": "scoligait_edge.pose.estimator",
    "PoseFrame": "scoligait_edge.pose.frame",
    "PersonPose": "scoligait_edge.pose.frame",
    "SubjectTracker": "scoligait_edge.pose.tracker",
    "TrackerOptions": "scoligait_edge.pose.tracker",
    "load_pose_sequence": "scoligait_edge.pose.loaders",
    "save_pose_sequence": "scoligait_edge.pose.loaders",
    "PoseSequence": "scoligait_edge.pose.loaders",
    "select_subject": "scoligait_edge.pose.tracker",
    "extract_pose_sequence": "scoligait_edge.pose.extract",
    "extract_subject_silhouettes": "scoligait_edge.pose.extract",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)


__all__ = ["COCO17_NAMES", "COCO21_NAMES", "J", "coco17", "mediapipe_to_coco", *_LAZY]
