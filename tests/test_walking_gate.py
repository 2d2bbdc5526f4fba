"""The walking gate on SIMULATED motions, measured with a fixed seed: the acceptance table of
docs/RUNTIME.md (walks >= 98 % of valid windows, every other motion <= 1 %, per view), a treadmill walk,
and the reason each refusal gives."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from scoligait_edge.core.skeleton import L_ANKLE, L_HIP, R_HIP
from scoligait_edge.kinematics.builder import build_knowledge_map
from scoligait_edge.kinematics.walking import WalkingVerdict, assess_walking
from scoligait_edge.research.sim.motions import simulate_motion
from scoligait_edge.research.sim.simulate import sample_subject, simulate_clip

SEED = 1000
SUBJECTS = 30
WINDOWS = 90
"""30 subjects, windows of 96 frames at 0, 48 and 96 of a 192-frame clip: 90 a row. Walks count only
windows whose body is visible (map validity >= 90 %, as window quality asks); subjects are drawn until
90 such windows are in."""


def _treadmill(kp: np.ndarray, camera: str) -> np.ndarray:
    """A walk with its travel taken out: the hips' straight-line drift (side-on) or the body's growth
    toward the camera (frontal) removed, so the stance foot slides back as on a belt."""
    kp = np.array(kp, np.float64)
    t = np.arange(len(kp))
    hip = 0.5 * (kp[:, L_HIP, :2] + kp[:, R_HIP, :2])
    ok = np.all(np.isfinite(hip), 1)
    trend = np.stack([np.polyval(np.polyfit(t[ok], hip[ok, c], 1), t) for c in range(2)], 1)
    if camera == "side":
        kp[:, :, 0] -= (trend[:, 0] - trend[0, 0])[:, None]
        return kp
    leg = np.linalg.norm(kp[:, L_ANKLE, :2] - kp[:, L_HIP, :2], axis=1)
    okl = np.isfinite(leg) & (leg > 0)
    scale = np.exp(np.polyval(np.polyfit(t[okl], np.log(leg[okl]), 1), t))
    mid = len(kp) // 2
    kp[:, :, :2] = trend[mid] + (kp[:, :, :2] - trend[:, None]) * (scale[mid] / scale)[:, None, None]
    return kp


@cache
def verdicts(motion: str, camera: str) -> tuple[WalkingVerdict, ...]:
    out: list[WalkingVerdict] = []
    walk = motion in ("walking", "treadmill")
    i = 0
    while (len(out) < WINDOWS if walk else i < SUBJECTS) and i < 200:
        rng = np.random.default_rng(SEED + i)
        subject = sample_subject(rng, f"s{i}", cobb_deg=float(rng.uniform(0, 40)) if walk else 0.0)
        if walk:
            clip = simulate_clip(subject, n_frames=192, camera=camera, seed=SEED + i)
            kp, ts = clip.keypoints, clip.timestamps_ms
            if motion == "treadmill":
                kp = _treadmill(kp, camera)
            valid = build_knowledge_map(kp, timestamps_ms=ts).valid
        else:
            kp, _ = simulate_motion(subject, motion, n_frames=192, camera=camera, seed=SEED + i)
        for s in (0, 48, 96):
            if walk and valid[s : s + 96].mean() < 0.9:
                continue
            out.append(assess_walking(kp[s : s + 96]))
        i += 1
    return tuple(out[:WINDOWS])


def acceptance(motion: str, camera: str) -> float:
    return float(np.mean([v.walking for v in verdicts(motion, camera)]))


# the measured table (docs/RUNTIME.md): share of windows accepted as walking
MEASURED = {
    ("walking", "side"): 0.989,
    ("walking", "frontal"): 0.989,
    ("treadmill", "side"): 0.989,
    ("treadmill", "frontal"): 1.0,
    ("standing", "side"): 0.0,
    ("standing", "frontal"): 0.0,
    ("swaying", "side"): 0.0,
    ("swaying", "frontal"): 0.0,
    ("jumping", "side"): 0.0,
    ("jumping", "frontal"): 0.0,
    ("running", "side"): 0.0,
    ("running", "frontal"): 0.0,
    ("random", "side"): 0.0,
    ("random", "frontal"): 0.0,
}


@pytest.mark.parametrize(("motion", "camera"), sorted(MEASURED))
def test_acceptance_meets_its_target(motion, camera):
    vs = verdicts(motion, camera)
    assert len(vs) == WINDOWS
    got = acceptance(motion, camera)
    if motion in ("walking", "treadmill"):
        assert got >= 0.98, [v.reason for v in vs if not v.walking]
    else:
        assert got <= 0.01, [v for v in vs if v.walking]
    assert got == pytest.approx(MEASURED[motion, camera], abs=0.006)  # the table in docs/RUNTIME.md


@pytest.mark.parametrize("camera", ["side", "frontal"])
def test_refusals_say_what_the_motion_was(camera):
    said = {m: {v.motion for v in verdicts(m, camera)} for m in ("standing", "swaying", "jumping", "running", "random")}
    assert said["random"] == {"no_body"}
    assert "running" in said["running"] and "walking" not in said["running"]
    for m in ("standing", "swaying", "jumping"):
        assert "standing" in said[m] and "walking" not in said[m]
    for m in said:
        for v in verdicts(m, camera):
            assert v.reason is not None and v.reason.startswith("no walking: ")


def test_running_side_on_is_refused_as_running():
    vs = verdicts("running", "side")
    assert np.mean([v.motion == "running" for v in vs]) >= 0.85
