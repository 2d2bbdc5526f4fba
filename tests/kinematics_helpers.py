"""A hand-made skeleton with known geometry, for checks that need exact answers."""

from __future__ import annotations

import numpy as np

# Upright person facing the camera, image pixels (y down), ~ 400 px tall.
STANDING = {
    "nose": (300, 100),
    "left_eye": (310, 92),
    "right_eye": (290, 92),
    "left_ear": (320, 98),
    "right_ear": (280, 98),
    "left_shoulder": (340, 150),
    "right_shoulder": (260, 150),
    "left_elbow": (350, 220),
    "right_elbow": (250, 220),
    "left_wrist": (355, 285),
    "right_wrist": (245, 285),
    "left_hip": (325, 300),
    "right_hip": (275, 300),
    "left_knee": (325, 390),
    "right_knee": (275, 390),
    "left_ankle": (325, 480),
    "right_ankle": (275, 480),
    "left_heel": (325, 490),
    "right_heel": (275, 490),
    "left_toe": (325, 470),
    "right_toe": (275, 470),
}


def standing_pose(n_frames: int = 1, joints: int = 21) -> np.ndarray:
    from scoligait_edge.core.skeleton import COCO21_NAMES

    kp = np.zeros((n_frames, joints, 3))
    for j, name in enumerate(COCO21_NAMES[:joints]):
        kp[:, j, :2] = STANDING[name]
    kp[..., 2] = 0.95
    return kp


def swaying_clip(n_frames: int = 200, seed: int = 0, joints: int = 21, noise_px: float = 1.0) -> np.ndarray:
    """Standing pose with arm swing, leg swing, sway and noise: every feature moves."""
    rng = np.random.default_rng(seed)
    kp = standing_pose(n_frames, joints)
    t = np.arange(n_frames) / 30.0
    phase = 2 * np.pi * t / 1.1
    kp[:, :, 0] += 15 * np.sin(2 * np.pi * t / 3.0)[:, None]  # sway
    for j, s in ((9, 1), (7, 0.5), (10, -1), (8, -0.5)):  # wrists/elbows swing in anti-phase
        kp[:, j, 0] += 30 * s * np.sin(phase)
    for j, s in ((15, -1), (13, -0.5), (16, 1), (14, 0.5), (17, -1), (18, 1), (19, -1), (20, 1)):
        kp[:, j, 0] += 25 * s * np.sin(phase)
        kp[:, j, 1] -= 8 * np.clip(s * np.sin(phase), 0, None)
    kp[..., :2] += rng.normal(0, noise_px, kp[..., :2].shape)
    kp[..., 2] = rng.uniform(0.6, 1.0, kp[..., 2].shape)
    return kp
