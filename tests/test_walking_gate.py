"""The walking gate on SIMULATED motions: what it refuses today (standing, swaying, jumping, side-on
running) and that it keeps simulated walks. Figures for every motion and view: docs/RUNTIME.md."""

from __future__ import annotations

import numpy as np
import pytest

from scoligait_edge.kinematics.walking import assess_walking
from scoligait_edge.research.sim.motions import simulate_motion
from scoligait_edge.research.sim.simulate import sample_subject, simulate_clip


def _windows(kp: np.ndarray) -> list[np.ndarray]:
    return [kp[s : s + 96] for s in range(0, kp.shape[0] - 96 + 1, 48)]


@pytest.mark.parametrize("motion", ["standing", "swaying", "jumping"])
@pytest.mark.parametrize("camera", ["side", "frontal"])
def test_feet_together_is_not_walking(motion, camera):
    for i in range(3):
        subject = sample_subject(np.random.default_rng(i), f"m{i}", cobb_deg=0.0)
        kp, _ = simulate_motion(subject, motion, n_frames=192, camera=camera, seed=i)
        for window in _windows(kp):
            verdict = assess_walking(window)
            assert not verdict.walking and verdict.motion != "walking" and "no walking" in verdict.reason


def test_running_side_on_is_refused_as_running():
    for i in range(3):
        subject = sample_subject(np.random.default_rng(i), f"r{i}", cobb_deg=0.0)
        kp, _ = simulate_motion(subject, "running", n_frames=192, camera="side", seed=i)
        for window in _windows(kp):
            verdict = assess_walking(window)
            assert not verdict.walking and verdict.motion == "running", verdict


@pytest.mark.parametrize("camera", ["side", "frontal"])
def test_simulated_walks_are_walking(camera):
    verdicts = []
    for i in range(4):
        subject = sample_subject(np.random.default_rng(i), f"w{i}", cobb_deg=20.0 * (i % 2))
        clip = simulate_clip(subject, n_frames=192, camera=camera, seed=i)
        verdicts += [assess_walking(w) for w in _windows(clip.keypoints)]
    assert np.mean([v.walking for v in verdicts]) >= 0.9, [v.reason for v in verdicts if not v.walking]
