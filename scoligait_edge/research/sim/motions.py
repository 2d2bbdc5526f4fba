"""SIMULATED motions that are not a walk: standing, swaying, jumping, running, and random keypoints.

The screening protocol is walking. These motions exist to measure the walking gate
(:mod:`scoligait_edge.kinematics.walking`): it must accept the walks of
:func:`~scoligait_edge.research.sim.simulate.simulate_clip` and refuse these. Each is a simple
articulated body (the walker's segment lengths, the same cameras and pose-estimator noise),
not a biomechanical model:

* ``standing``: feet planted, slow postural sway of a centimetre or two.
* ``swaying``: feet planted, the pelvis shifting side to side or fore and aft (5-12 cm, 0.2-1 Hz).
* ``jumping``: both feet together, hops in place or forward (1.5-2.8 Hz), crouch at take-off and
  landing, a flight phase.
* ``running``: alternating strides with a flight phase (duty factor 0.28-0.42), a lowered pelvis at
  mid-stance, high heel recovery, bent arms; cadence 150-200 steps/min, which overlaps children's fast
  walking, so cadence alone cannot tell the two apart.
* ``random``: keypoints scattered over the image, or a random walk of each joint (no body at all).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from scoligait_edge.core.skeleton import (
    L_ANKLE,
    L_EAR,
    L_ELBOW,
    L_EYE,
    L_HEEL,
    L_HIP,
    L_KNEE,
    L_SHOULDER,
    L_TOE,
    L_WRIST,
    NOSE,
    NUM_COCO_FEET,
    R_ANKLE,
    R_EAR,
    R_ELBOW,
    R_EYE,
    R_HEEL,
    R_HIP,
    R_KNEE,
    R_SHOULDER,
    R_TOE,
    R_WRIST,
)
from scoligait_edge.research.sim.body import SubjectParams, _two_link_ik, body_dimensions
from scoligait_edge.research.sim.camera import FRONTAL_DIRECTIONS, SIDE_DIRECTIONS, View
from scoligait_edge.research.sim.settings import SimulationSettings

Motion = Literal["standing", "swaying", "jumping", "running", "random"]
MOTIONS: tuple[Motion, ...] = ("standing", "swaying", "jumping", "running", "random")


def _body(
    dims: dict[str, float],
    pelvis: np.ndarray,
    feet: dict[str, np.ndarray],
    *,
    lean_deg: np.ndarray | float = 0.0,
    shoulder_deg: dict[str, np.ndarray] | None = None,
    elbow_deg: np.ndarray | float = 10.0,
    height_m: float = 1.5,
) -> np.ndarray:
    """COCO-21 world joints ``[T, 21, 3]`` (X forward, Y left, Z up) from the pelvis and the ankles."""
    t = pelvis.shape[0]
    world = np.zeros((t, NUM_COCO_FEET, 3))
    up = np.array([0.0, 0.0, 1.0])
    fwd = np.array([1.0, 0.0, 0.0])
    left = np.array([0.0, 1.0, 0.0])
    for side, sg, (ih, ik, ia, ihe, ito) in (
        ("left", 1.0, (L_HIP, L_KNEE, L_ANKLE, L_HEEL, L_TOE)),
        ("right", -1.0, (R_HIP, R_KNEE, R_ANKLE, R_HEEL, R_TOE)),
    ):
        hip = pelvis + sg * dims["hip_half"] * left
        ankle = feet[side]
        knee, _ = _two_link_ik(hip, ankle, dims["thigh"], dims["shank"], np.broadcast_to(fwd, hip.shape))
        world[:, ih], world[:, ik], world[:, ia] = hip, knee, ankle
        world[:, ihe] = ankle - dims["ankle_fwd"] * fwd - np.array([0.0, 0.0, dims["ankle_h"] * 0.6])
        world[:, ito] = ankle + (dims["foot_len"] - dims["ankle_fwd"]) * fwd - np.array([0.0, 0.0, dims["ankle_h"]])
    lean = np.deg2rad(np.broadcast_to(np.asarray(lean_deg, dtype=float), (t,)))
    trunk = np.stack([np.sin(lean), np.zeros(t), np.cos(lean)], -1)
    mid_sh = pelvis + dims["trunk"] * trunk
    world[:, L_SHOULDER] = mid_sh + dims["shoulder_half"] * left
    world[:, R_SHOULDER] = mid_sh - dims["shoulder_half"] * left
    head = mid_sh + dims["head"] * trunk
    h = height_m
    world[:, NOSE] = head + 0.060 * h * fwd - 0.015 * h * up
    world[:, L_EYE] = head + 0.045 * h * fwd + 0.010 * h * up + 0.020 * h * left
    world[:, R_EYE] = head + 0.045 * h * fwd + 0.010 * h * up - 0.020 * h * left
    world[:, L_EAR] = head + 0.045 * h * left - 0.005 * h * up
    world[:, R_EAR] = head - 0.045 * h * left - 0.005 * h * up
    shoulder_deg = shoulder_deg or {"left": np.zeros(t), "right": np.zeros(t)}
    elbow = np.deg2rad(np.broadcast_to(np.asarray(elbow_deg, dtype=float), (t,)))
    for side, sg, ish, iel, iwr in (
        ("left", 1.0, L_SHOULDER, L_ELBOW, L_WRIST),
        ("right", -1.0, R_SHOULDER, R_ELBOW, R_WRIST),
    ):
        a1 = np.deg2rad(shoulder_deg[side])
        a2 = a1 + elbow
        out = 0.08 * sg * left
        d1 = np.sin(a1)[:, None] * fwd - np.cos(a1)[:, None] * up + out
        d2 = np.sin(a2)[:, None] * fwd - np.cos(a2)[:, None] * up + out
        world[:, iel] = world[:, ish] + dims["upper_arm"] * d1
        world[:, iwr] = world[:, iel] + dims["forearm"] * d2
    return world


def _standing_height(dims: dict[str, float], bend: float = 0.02) -> float:
    """Pelvis height over the ankles of a standing subject (knees nearly straight)."""
    return (dims["thigh"] + dims["shank"]) * (1.0 - bend) + dims["ankle_h"]


def _planted(dims: dict[str, float], t: int, stance_half_m: float, x: float = 0.0) -> dict[str, np.ndarray]:
    return {
        side: np.tile([x, sg * stance_half_m, dims["ankle_h"]], (t, 1)) for side, sg in (("left", 1.0), ("right", -1.0))
    }


def _slow_noise(rng: np.random.Generator, times_s: np.ndarray, amp: float, f_lo: float, f_hi: float) -> np.ndarray:
    f = rng.uniform(f_lo, f_hi, size=3)
    ph = rng.uniform(0, 2 * np.pi, size=3)
    w = rng.uniform(0.3, 1.0, size=3)
    return amp * np.sum(w[:, None] * np.sin(2 * np.pi * f[:, None] * times_s[None] + ph[:, None]), 0) / w.sum()


def standing(subj: SubjectParams, times_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    dims = body_dimensions(subj)
    t = times_s.size
    z = _standing_height(dims, rng.uniform(0.0, 0.05))
    pelvis = np.stack(
        [_slow_noise(rng, times_s, 0.012, 0.1, 0.6), _slow_noise(rng, times_s, 0.012, 0.1, 0.6), np.full(t, z)], -1
    )
    feet = _planted(dims, t, dims["hip_half"] * rng.uniform(0.8, 2.0))
    arms = {s: _slow_noise(rng, times_s, 4.0, 0.1, 0.5) for s in ("left", "right")}
    return _body(dims, pelvis, feet, shoulder_deg=arms, elbow_deg=rng.uniform(5, 40), height_m=subj.height_m)


def swaying(subj: SubjectParams, times_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    dims = body_dimensions(subj)
    t = times_s.size
    f = rng.uniform(0.2, 1.0)
    amp = rng.uniform(0.05, 0.12)
    phase = 2 * np.pi * f * times_s + rng.uniform(0, 2 * np.pi)
    lateral = rng.random() < 0.65  # side to side (weight shifting), else fore and aft
    z = _standing_height(dims, rng.uniform(0.02, 0.06)) - 0.01 * np.abs(np.sin(phase))
    sway = amp * np.sin(phase)
    pelvis = np.stack([np.zeros(t) if lateral else sway, sway if lateral else np.zeros(t), z], -1)
    feet = _planted(dims, t, dims["hip_half"] * rng.uniform(1.0, 2.5))
    arms = {s: _slow_noise(rng, times_s, 6.0, 0.1, 0.8) for s in ("left", "right")}
    lean = 0.0 if lateral else 25.0 * sway
    return _body(dims, pelvis, feet, lean_deg=lean, shoulder_deg=arms, height_m=subj.height_m)


def jumping(subj: SubjectParams, times_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    dims = body_dimensions(subj)
    f = rng.uniform(1.5, 2.8)  # hops per second
    flight = rng.uniform(0.3, 0.55)  # fraction of each hop in the air
    height = rng.uniform(0.05, 0.25)  # metres of foot clearance at the top
    travel = rng.choice([0.0, 0.0, rng.uniform(0.2, 0.6)])  # metres forward per hop (0: in place)
    p = f * times_s + rng.uniform(0, 1)
    frac = p % 1.0
    in_air = frac < flight
    u = np.where(in_air, frac / flight, 0.0)
    lift = np.where(in_air, 4 * height * u * (1 - u), 0.0)
    ground = np.where(in_air, 0.0, (frac - flight) / (1 - flight))
    crouch = 0.10 * (dims["thigh"] + dims["shank"]) * np.sin(np.pi * ground)  # knees bend to land and push off
    z = _standing_height(dims) - crouch + lift
    hop = np.floor(p) + np.where(in_air, u, 1.0)
    x = travel * hop
    pelvis = np.stack([x, np.zeros_like(x), z], -1)
    foot_x = travel * (np.floor(p) + np.where(in_air, u, 1.0))
    stance_half = dims["hip_half"] * rng.uniform(0.8, 1.6)
    feet = {
        side: np.stack([foot_x + 0.02, np.full_like(x, sg * stance_half), dims["ankle_h"] + lift], -1)
        for side, sg in (("left", 1.0), ("right", -1.0))
    }
    swing = 60.0 * np.sin(2 * np.pi * p)
    arms = {"left": swing, "right": swing}
    return _body(dims, pelvis, feet, lean_deg=10.0 * crouch / 0.1, shoulder_deg=arms, height_m=subj.height_m)


def running(subj: SubjectParams, times_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    dims = body_dimensions(subj)
    leg = dims["thigh"] + dims["shank"]
    cadence = rng.uniform(150.0, 200.0)  # steps per minute
    f = cadence / 120.0  # strides per second
    duty = rng.uniform(0.28, 0.42)  # stance fraction of each foot's cycle: < 0.5 leaves a flight phase
    speed = rng.uniform(1.8, 3.6) * leg / 0.75  # m/s, scaled to the child's legs
    stride = speed / f
    z_top = _standing_height(dims, 0.03)
    drop = rng.uniform(0.05, 0.09) * leg / 0.75  # pelvis lower at mid-stance (knee bent)
    p0 = rng.uniform(0, 1)
    x_pelvis = speed * times_s
    feet: dict[str, np.ndarray] = {}
    knee_lift = rng.uniform(0.25, 0.45) * leg  # heel recovery height
    for side, off in (("right", 0.0), ("left", 0.5)):
        p = f * times_s + p0 + off
        k, frac = np.floor(p), p % 1.0
        stance = frac < duty
        # contact point: under the body, a little ahead, at each stride's start
        contact = speed * (k / f - (p0 + off) / f) + 0.15 * leg
        u = np.where(stance, 0.0, (frac - duty) / (1 - duty))
        s = u * u * (3 - 2 * u)
        fx = np.where(stance, contact, contact + stride * s)
        fz = dims["ankle_h"] + np.where(stance, 0.0, knee_lift * np.sin(np.pi * u) ** 1.5)
        feet[side] = np.stack([fx, np.full_like(fx, (1 if side == "left" else -1) * dims["hip_half"]), fz], -1)
    # the pelvis is lowest at each mid-stance and highest in flight (a spring, where walking vaults)
    step_phase = (2 * (f * times_s + p0)) % 1.0
    z = z_top - drop * np.cos(np.pi * np.clip(step_phase / (2 * duty), 0, 1) * 2 - np.pi) * 0.5 - drop * 0.5
    z = np.where(
        step_phase < 2 * duty, z, z_top + drop * 0.3 * np.sin(np.pi * (step_phase - 2 * duty) / (1 - 2 * duty))
    )
    pelvis = np.stack([x_pelvis, np.zeros_like(x_pelvis), z], -1)
    tp = 2 * np.pi * (f * times_s + p0)
    arms = {"left": 35.0 * np.cos(tp), "right": -35.0 * np.cos(tp)}
    return _body(
        dims,
        pelvis,
        feet,
        lean_deg=rng.uniform(5, 15),
        shoulder_deg=arms,
        elbow_deg=rng.uniform(70, 100),
        height_m=subj.height_m,
    )


def random_keypoints(n_frames: int, image_size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Keypoints that belong to no body: uniform over the image, or each joint on its own random walk."""
    w, h = image_size
    if rng.random() < 0.5:
        xy = rng.uniform(0, 1, size=(n_frames, NUM_COCO_FEET, 2)) * np.array([w, h])
    else:
        start = rng.uniform(0.2, 0.8, size=(1, NUM_COCO_FEET, 2)) * np.array([w, h])
        steps = rng.normal(0, rng.uniform(2, 30), size=(n_frames, NUM_COCO_FEET, 2))
        xy = start + np.cumsum(steps, axis=0)
    score = rng.uniform(0.5, 1.0, size=(n_frames, NUM_COCO_FEET, 1))
    return np.concatenate([xy, score], axis=-1)


_BODIES = {"standing": standing, "swaying": swaying, "jumping": jumping, "running": running}


def simulate_motion(
    subject: SubjectParams,
    motion: Motion,
    *,
    n_frames: int = 150,
    fps: float = 30.0,
    camera: View = "side",
    seed: int = 0,
    settings: SimulationSettings | None = None,
    image_size: tuple[int, int] = (1280, 720),
    noise: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """``(keypoints [T, 21, 3], timestamps_ms [T])`` of ``subject`` doing ``motion`` (SIMULATED), seen from a
    ``side`` or ``frontal`` camera placed as for a walk, with the walker's pose-estimator noise."""
    from scoligait_edge.research.sim.simulate import _clip_camera, _sensor_noise

    if motion not in MOTIONS:
        raise ValueError(f"motion must be one of {MOTIONS}, got {motion!r}")
    s = settings or SimulationSettings()
    rng = np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 0x30710]))
    ts = np.arange(n_frames) * 1000.0 / fps
    if motion == "random":
        return random_keypoints(n_frames, image_size, rng), ts
    world = _BODIES[motion](subject, ts / 1000.0, rng)
    pelvis = 0.5 * (world[:, L_HIP] + world[:, R_HIP])
    options = SIDE_DIRECTIONS if camera == "side" else FRONTAL_DIRECTIONS
    direction = options[int(rng.integers(len(options)))]
    track = pelvis.copy()
    if np.ptp(track[:, 0]) < 0.5:  # in place: place the camera as for a short walk through this spot
        track[:, 0] = np.linspace(-1.0, 1.0, n_frames)
    cam = _clip_camera(camera, direction, track, subject.height_m, rng, image_size, s)  # as a simulated walk's
    uv, _ = cam.project(world)
    kp = _sensor_noise(uv, cam, rng, s) if noise else np.concatenate([uv, np.ones(uv.shape[:2] + (1,))], -1)
    return kp, ts
