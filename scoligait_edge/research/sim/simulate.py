"""SIMULATED gait clips for development and tests: NOT clinical data.

A parametric walker (3-D body model, planted-foot gait kinematics, pinhole
camera, pose-estimator noise) that produces COCO-21 keypoint sequences, true
gait events and silhouettes, with scoliosis-like posture effects growing with
a Cobb angle and look-alike confounders in both classes. Every result carries
``provenance = "simulated"``; nothing here says anything about real patients.
See ``docs/SIMULATION.md`` for the model, the default effect sizes and why the
classes overlap.

Quick use::

    rng = np.random.default_rng(0)
    subj = sample_subject(rng, "demo-001", cobb_deg=25.0)
    clip = simulate_clip(subj, n_frames=150, camera="side", direction="left_to_right", seed=1)
    clip.keypoints        # [T, 21, 3] float64 (x px, y px down, score), NaN/0 where missing
    clip.events["left"]["heel_strike"]   # true frame indices

    cohort = make_cohort(200, prevalence=0.5, seed=0)
    for clip in cohort.iter_clips("train"): ...

Parts: :mod:`~scoligait_edge.research.sim.settings` (all knobs),
:mod:`~scoligait_edge.research.sim.body` (subjects, body, gait),
:mod:`~scoligait_edge.research.sim.camera` (camera, silhouettes),
:mod:`~scoligait_edge.research.sim.cohort` (subject-disjoint cohorts).
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from scoligait_edge.core.skeleton import (
    COCO21_NAMES,
    L_ANKLE,
    L_ELBOW,
    L_EYE,
    L_HEEL,
    L_KNEE,
    L_TOE,
    L_WRIST,
    NOSE,
    NUM_COCO_FEET,
    R_ANKLE,
    R_ELBOW,
    R_EYE,
    R_HEEL,
    R_KNEE,
    R_TOE,
    R_WRIST,
)
from scoligait_edge.research.sim.body import (
    ClipVariationDraw,
    SubjectParams,
    body_dimensions,
    draw_clip_variation,
    label_for,
    sample_cobb,
    sample_subject,
    walk,
)
from scoligait_edge.research.sim.camera import (
    FRONTAL_DIRECTIONS,
    SIDE_DIRECTIONS,
    CameraModel,
    Direction,
    View,
    crop_scoliosis1k,
    make_camera,
    render_silhouette,
)
from scoligait_edge.research.sim.settings import SensorNoise, SimulationSettings

PROVENANCE: Final = "simulated"

_LEFT = np.array(["left_" in n for n in COCO21_NAMES])
_RIGHT = np.array(["right_" in n for n in COCO21_NAMES])
_LEG_PAIRS = ((L_KNEE, R_KNEE), (L_ANKLE, R_ANKLE), (L_HEEL, R_HEEL), (L_TOE, R_TOE))
_DISTAL = {"left": (L_WRIST, L_ELBOW, L_ANKLE, L_HEEL, L_TOE), "right": (R_WRIST, R_ELBOW, R_ANKLE, R_HEEL, R_TOE)}


class SimulatedClip(BaseModel):
    """One SIMULATED clip (``provenance == "simulated"``).

    ``keypoints`` are what a pose estimator would give (noise, outliers,
    dropouts, scores); ``keypoints_clean`` the exact projection of the body
    model (score 1); ``world_keypoints`` the 3-D joints in metres (X walking
    direction, Y subject's left, Z up). ``events`` hold TRUE heel-strike /
    toe-off frame indices (nearest frame to the exact event time, which is in
    ``event_times_ms``).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    provenance: Literal["simulated"] = PROVENANCE
    subject_id: str
    clip_id: str
    cobb_deg: float
    label: int
    camera: View
    direction: Direction
    fps: float = Field(description="Nominal frame rate; real spacing is in timestamps_ms.")
    image_size: tuple[int, int] = Field(description="(width, height) px.")
    keypoints: np.ndarray = Field(description="[T, 21, 3] float64 (x px, y px down, score).")
    keypoints_clean: np.ndarray
    timestamps_ms: np.ndarray = Field(description="[T] float64, strictly increasing.")
    world_keypoints: np.ndarray = Field(description="[T, 21, 3] metres, world frame.")
    events: dict[str, dict[str, list[int]]]
    event_times_ms: dict[str, dict[str, list[float]]]
    angles_deg: dict[str, np.ndarray] = Field(description="True sagittal joint angles [T] (hip/knee/ankle...).")
    silhouettes: np.ndarray | None = Field(None, description="[T, H, W] uint8 0/255 or None.")
    camera_model: CameraModel
    subject: SubjectParams
    cadence_spm: float = Field(description="This clip's true cadence (subject's x per-clip factor).")
    walking_speed_mps: float

    @property
    def n_frames(self) -> int:
        return int(self.keypoints.shape[0])


def _timestamps(n: int, fps: float, drop_rate: float, jitter_ms: float, rng: np.random.Generator) -> np.ndarray:
    dt = 1000.0 / fps
    if drop_rate > 0:
        n_cand = int(np.ceil(n / (1 - drop_rate) * 1.2)) + 10
        keep = np.flatnonzero(rng.random(n_cand) >= drop_rate)
        while keep.size < n:  # vanishingly rare; extend deterministically
            keep = np.concatenate([keep, np.arange(n_cand, n_cand + n)])
        idx = keep[:n].astype(np.float64)
    else:
        idx = np.arange(n, dtype=np.float64)
    ts = idx * dt
    if jitter_ms > 0:
        ts = ts + np.clip(rng.normal(0.0, jitter_ms, size=n), -0.4 * dt, 0.4 * dt)
        ts -= min(ts[0], 0.0)
    return ts


def _camera_visibility(cam: CameraModel, n_joints: int) -> tuple[np.ndarray, np.ndarray]:
    """Joints on the far side (side view) and face points hidden from behind (walking away): ``(far, hidden_face)``."""
    far = np.zeros(n_joints, bool)
    hidden_face = np.zeros(n_joints, bool)
    if cam.view == "side":
        far = _LEFT.copy() if cam.direction == "left_to_right" else _RIGHT.copy()
    elif cam.direction == "away":
        hidden_face[[NOSE, L_EYE, R_EYE]] = True
    return far, hidden_face


def _confidence_scores(
    rng: np.random.Generator, ns: SensorNoise, far: np.ndarray, hidden_face: np.ndarray, body_px: np.ndarray
) -> np.ndarray:
    """Scores ``[T, J]``: a per-joint level for the clip (lower far and hidden), frame noise, lower when small."""
    T, J = body_px.shape[0], far.shape[0]
    mu = np.where(hidden_face, ns.score_face_hidden[0], np.where(far, ns.score_far[0], ns.score_near[0]))
    sg = np.where(hidden_face, ns.score_face_hidden[1], np.where(far, ns.score_far[1], ns.score_near[1]))
    score = mu + sg * rng.normal(size=J)  # per-joint level for the clip
    size_factor = 0.85 + 0.15 * np.clip(body_px / 400.0, 0, 1)
    score = (score[None, :] + 0.5 * sg * rng.normal(size=(T, J))) * size_factor[:, None]
    return np.clip(score, 0.05, 1.0)


def _add_outliers(
    rng: np.random.Generator, ns: SensorNoise, xy: np.ndarray, score: np.ndarray, body_px: np.ndarray
) -> np.ndarray:
    """Move a few points far off (in place in ``xy``), often still with a confident score; return the scores."""
    T, J = score.shape
    out = rng.random((T, J)) < ns.outlier_rate
    ang = rng.uniform(0, 2 * np.pi, size=(T, J))
    mag = rng.uniform(*ns.outlier_size, size=(T, J)) * body_px[:, None]
    xy[..., 0] += np.where(out, mag * np.cos(ang), 0.0)
    xy[..., 1] += np.where(out, mag * np.sin(ang), 0.0)
    return np.where(out, score * rng.uniform(0.5, 1.0, size=(T, J)), score)


def _swap_legs(rng: np.random.Generator, ns: SensorNoise, xy: np.ndarray, view: View) -> None:
    """Left/right leg confusion in side view, in short bursts (in place in ``xy``)."""
    T = int(xy.shape[0])
    swap_start = rng.random(T) < (ns.left_right_swap_rate if view == "side" else 0.0)
    swap_len = rng.integers(1, 4, size=T)
    swapped = np.zeros(T, bool)
    for t0 in np.flatnonzero(swap_start).tolist():
        swapped[t0 : t0 + swap_len[t0]] = True
    for a, b in _LEG_PAIRS:
        xa, xb = xy[swapped, a].copy(), xy[swapped, b].copy()
        xy[swapped, a], xy[swapped, b] = xb, xa


def _dropouts(rng: np.random.Generator, ns: SensorNoise, far: np.ndarray, T: int) -> np.ndarray:
    """Missing joints ``[T, J]``: short bursts everywhere (more on the far side), rarely one long one on a hand or foot."""
    J = far.shape[0]
    missing = np.zeros((T, J), bool)
    rate = ns.dropout_start_rate * np.where(far, ns.far_side_dropout_factor, 1.0)
    starts = np.argwhere(rng.random((T, J)) < rate[None, :])
    lens = rng.geometric(1.0 / max(ns.dropout_mean_frames, 1.0), size=len(starts))
    for (t0, j), ln in zip(starts, lens, strict=True):
        missing[t0 : t0 + ln, j] = True
    u_long, u_j, u_len, u_t = rng.random(4)
    if u_long < ns.long_dropout_clip_rate and T > 2:
        pool = _DISTAL["left" if (far[L_WRIST] or (not far.any() and u_j < 0.5)) else "right"]
        j = pool[int(u_j * len(pool)) % len(pool)]
        ln = int(ns.long_dropout_frames[0] + u_len * (ns.long_dropout_frames[1] - ns.long_dropout_frames[0]))
        t0 = int(u_t * max(T - ln, 1))
        missing[t0 : t0 + ln, j] = True
    return missing


def _sensor_noise(
    uv: np.ndarray,
    cam: CameraModel,
    rng: np.random.Generator,
    settings: SimulationSettings,
) -> np.ndarray:
    """Pose-estimator imperfections on projected pixels ``uv [T, 21, 2]`` -> ``[T, 21, 3]``.

    Pixel noise in proportion to body height, scores, outliers, leg swaps and dropouts, in that
    order (the order of the random draws); points outside the image are missing too.
    """
    ns = settings.noise
    T: int
    J: int
    T, J = uv.shape[:2]
    body_px = np.nanmax(uv[..., 1], axis=1) - np.nanmin(uv[..., 1], axis=1)
    body_px = np.maximum(np.nan_to_num(body_px, nan=100.0) * 1.1, 10.0)
    far, hidden_face = _camera_visibility(cam, J)
    sd = ns.pixel_sd_per_body_height * body_px[:, None] * np.where(far, ns.far_side_noise_factor, 1.0)
    xy = uv + rng.normal(size=(T, J, 2)) * sd[..., None]
    score = _confidence_scores(rng, ns, far, hidden_face, body_px)
    score = _add_outliers(rng, ns, xy, score, body_px)
    _swap_legs(rng, ns, xy, cam.view)
    missing = _dropouts(rng, ns, far, T)
    w, h = cam.image_size
    outside = ~np.isfinite(xy).all(-1) | (xy[..., 0] < 0) | (xy[..., 0] >= w) | (xy[..., 1] < 0) | (xy[..., 1] >= h)
    missing |= outside
    kp = np.empty((T, J, 3))
    kp[..., :2] = np.where(missing[..., None], np.nan, xy)
    kp[..., 2] = np.where(missing, 0.0, score)
    return kp


def _check_clip_arguments(n_frames: int, fps: float, drop_rate: float, camera: str) -> None:
    if n_frames < 2:
        raise ValueError(f"n_frames must be >= 2, got {n_frames}")
    if not (1.0 <= fps <= 1000.0):
        raise ValueError(f"fps must be in [1, 1000], got {fps}")
    if not (0.0 <= drop_rate < 0.9):
        raise ValueError(f"drop_rate must be in [0, 0.9), got {drop_rate}")
    if camera not in ("side", "frontal"):
        raise ValueError(f"camera must be 'side' or 'frontal', got {camera!r}")


def _pick_direction(camera: View, direction: Direction | None, rng: np.random.Generator) -> Direction:
    """The asked direction, checked against the view, or one drawn from the view's options."""
    options = SIDE_DIRECTIONS if camera == "side" else FRONTAL_DIRECTIONS
    if direction is None:
        return options[int(rng.integers(len(options)))]
    if direction not in options:
        raise ValueError(f"{camera} camera needs direction in {options}, got {direction!r}")
    return direction


def _events_in_clip(
    event_times_s: dict[str, dict[str, list[float]]], ts: np.ndarray, fps: float
) -> tuple[dict[str, dict[str, list[int]]], dict[str, dict[str, list[float]]]]:
    """True events within half a frame of the clip: ``(frame index of the nearest frame, time in ms)``."""
    half = 0.5 * 1000.0 / fps
    events: dict[str, dict[str, list[int]]] = {}
    ev_ms: dict[str, dict[str, list[float]]] = {}
    for side, kinds in event_times_s.items():
        events[side], ev_ms[side] = {}, {}
        for kind, times in kinds.items():
            tm = [1000.0 * v for v in times if ts[0] - half <= 1000.0 * v <= ts[-1] + half]
            ev_ms[side][kind] = tm
            events[side][kind] = [int(np.argmin(np.abs(ts - v))) for v in tm]
    return events, ev_ms


def _clip_camera(
    camera: View,
    direction: Direction,
    pelvis: np.ndarray,
    height_m: float,
    rng: np.random.Generator,
    image_size: tuple[int, int],
    s: SimulationSettings,
) -> CameraModel:
    """The clip's camera, placed around the walk with the settings' lens, distances and jitter."""
    return make_camera(
        camera,
        direction,
        pelvis,
        height_m,
        rng,
        image_size=image_size,
        focal_px=s.focal_length_px,
        side_distance_m=s.side_distance_m,
        frontal_near_distance_m=s.frontal_near_distance_m,
        jitter_deg=s.camera_jitter_deg,
    )


def _silhouettes(world: np.ndarray, cam: CameraModel, subject: SubjectParams, scale: float) -> np.ndarray:
    """The clip's silhouettes with the subject's silhouette-only torso shape."""
    return render_silhouette(
        world,
        cam,
        subject.height_m,
        scale=scale,
        waist_asymmetry_mm=subject.waist_asymmetry_mm,
        rib_prominence_mm=subject.rib_prominence_mm,
    )


def simulate_clip(
    subject: SubjectParams,
    *,
    n_frames: int = 150,
    fps: float = 30.0,
    camera: View = "side",
    direction: Direction | None = None,
    seed: int = 0,
    settings: SimulationSettings | None = None,
    with_silhouettes: bool = False,
    silhouette_scale: float = 1.0,
    image_size: tuple[int, int] = (1280, 720),
    drop_rate: float = 0.0,
    timestamp_jitter_ms: float = 0.0,
    noise: bool = True,
    clip_id: str | None = None,
) -> SimulatedClip:
    """Simulate one clip of ``subject`` walking (SIMULATED data).

    ``camera='side'`` takes ``direction`` 'left_to_right' or 'right_to_left';
    ``camera='frontal'`` takes 'toward' or 'away'; ``None`` picks one from the
    seed. ``drop_rate`` removes that fraction of frames (timestamps keep the
    gaps) and ``timestamp_jitter_ms`` perturbs timestamps, so resampling can be
    tested; the body is simulated at the actual timestamps. ``noise=False``
    gives exact projections with score 1 in ``keypoints`` too.
    Deterministic given ``subject``, ``seed`` and the arguments.
    """
    s = settings or SimulationSettings()
    _check_clip_arguments(n_frames, fps, drop_rate, camera)
    # one independent stream per stage, so changing one stage leaves the others' draws alone
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 0x5C01])
    r_var, r_walk, r_cam, r_noise, r_time, r_dir = (np.random.default_rng(c) for c in ss.spawn(6))
    direction = _pick_direction(camera, direction, r_dir)
    var: ClipVariationDraw = draw_clip_variation(r_var, s)
    ts = _timestamps(n_frames, fps, drop_rate, timestamp_jitter_ms, r_time)
    wk = walk(subject, ts / 1000.0, var, r_walk, s)
    cam = _clip_camera(camera, direction, wk.pelvis, subject.height_m, r_cam, image_size, s)
    uv, _ = cam.project(wk.world)
    clean = np.concatenate([uv, np.ones(uv.shape[:2] + (1,))], axis=-1)
    events, ev_ms = _events_in_clip(wk.event_times_s, ts, fps)
    return SimulatedClip(
        subject_id=subject.subject_id,
        clip_id=clip_id or f"{subject.subject_id}-s{seed}",
        cobb_deg=subject.cobb_deg,
        label=subject.label,
        camera=camera,
        direction=direction,
        fps=float(fps),
        image_size=cam.image_size,
        keypoints=_sensor_noise(uv, cam, r_noise, s) if noise else clean.copy(),
        keypoints_clean=clean,
        timestamps_ms=ts,
        world_keypoints=wk.world,
        events=events,
        event_times_ms=ev_ms,
        angles_deg=wk.angles_deg,
        silhouettes=_silhouettes(wk.world, cam, subject, silhouette_scale) if with_silhouettes else None,
        camera_model=cam,
        subject=subject,
        cadence_spm=subject.cadence_spm * var.cadence_factor,
        walking_speed_mps=subject.walking_speed_mps * var.speed_factor,
    )


__all__ = [
    "PROVENANCE",
    "SimulationSettings",
    "SubjectParams",
    "SimulatedClip",
    "CameraModel",
    "View",
    "Direction",
    "sample_subject",
    "sample_cobb",
    "label_for",
    "simulate_clip",
    "render_silhouette",
    "crop_scoliosis1k",
    "body_dimensions",
    "NUM_COCO_FEET",
]
