"""Tests of the SIMULATED walker (scoligait_edge.research.sim.simulate)."""

from __future__ import annotations

import time
from itertools import pairwise

import numpy as np
import pytest
from scipy.signal import find_peaks
from scipy.stats import rankdata

from scoligait_edge.core.skeleton import (
    L_HEEL,
    L_HIP,
    L_SHOULDER,
    L_TOE,
    NUM_COCO_FEET,
    R_HEEL,
    R_HIP,
    R_SHOULDER,
    R_TOE,
)
from scoligait_edge.errors import ScoliGaitError, SplitLeakError
from scoligait_edge.research.sim.cohort import ClipSpec, Cohort, check_subject_disjoint, make_cohort
from scoligait_edge.research.sim.simulate import (
    SimulatedClip,
    SimulationSettings,
    crop_scoliosis1k,
    render_silhouette,
    sample_subject,
    simulate_clip,
)

HEEL = {"left": L_HEEL, "right": R_HEEL}
TOE = {"left": L_TOE, "right": R_TOE}


def _subject(i: int = 0, cobb: float | None = None, settings: SimulationSettings | None = None):
    return sample_subject(np.random.default_rng(i), f"t{i:03d}", cobb_deg=cobb, settings=settings)


def _auc(score: np.ndarray, y: np.ndarray) -> float:
    """Mann-Whitney AUC from ranks (ties get average ranks)."""
    r = rankdata(score)
    n1 = int(y.sum())
    n0 = len(y) - n1
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


@pytest.fixture(scope="module")
def side_clip() -> SimulatedClip:
    return simulate_clip(_subject(1, 20.0), n_frames=150, camera="side", direction="left_to_right", seed=7)


def test_deterministic_given_seeds():
    a = simulate_clip(_subject(3), seed=11, camera="frontal")
    b = simulate_clip(_subject(3), seed=11, camera="frontal")
    c = simulate_clip(_subject(3), seed=12, camera="frontal")
    assert np.array_equal(a.keypoints, b.keypoints, equal_nan=True)
    assert np.array_equal(a.timestamps_ms, b.timestamps_ms)
    assert a.events == b.events and a.direction == b.direction
    assert not np.array_equal(a.keypoints, c.keypoints, equal_nan=True)
    assert make_cohort(20, seed=4).clips == make_cohort(20, seed=4).clips


def test_shapes_ranges_and_provenance(side_clip: SimulatedClip):
    c = side_clip
    T = 150
    assert c.provenance == "simulated" and c.subject.provenance == "simulated"
    assert c.keypoints.shape == (T, NUM_COCO_FEET, 3) and c.keypoints.dtype == np.float64
    assert c.world_keypoints.shape == (T, NUM_COCO_FEET, 3)
    assert c.timestamps_ms.shape == (T,) and np.all(np.diff(c.timestamps_ms) > 0)
    assert c.image_size == (1280, 720) and c.fps == 30.0 and c.silhouettes is None
    assert c.label == 1 and c.cobb_deg == 20.0 and c.camera == "side"
    xy, score = c.keypoints[..., :2], c.keypoints[..., 2]
    missing = np.isnan(xy).any(-1)
    assert np.all(np.isnan(xy[missing])) and np.all(score[missing] == 0)
    assert np.all((score[~missing] > 0) & (score[~missing] <= 1))
    assert 0 < missing.mean() < 0.2  # some dropouts, not many
    w, h = c.image_size
    assert np.all((xy[~missing, 0] >= 0) & (xy[~missing, 0] < w) & (xy[~missing, 1] >= 0) & (xy[~missing, 1] < h))
    # the world model stands on the floor, the head is at about body height
    assert np.nanmin(c.world_keypoints[..., 2]) > -1e-6
    assert abs(np.nanmin(c.world_keypoints[:, [L_HEEL, R_HEEL, L_TOE, R_TOE], 2]) - 0.0) < 1e-6
    # far side (left, camera on the right) is less confident than the near side
    assert score[:, L_SHOULDER][score[:, L_SHOULDER] > 0].mean() < score[:, R_SHOULDER][score[:, R_SHOULDER] > 0].mean()


def test_fast_enough():
    subj = _subject(2)
    simulate_clip(subj, seed=0)
    t0 = time.perf_counter()
    for s in range(5):
        simulate_clip(subj, seed=s, n_frames=150)
    assert (time.perf_counter() - t0) / 5 < 0.05


@pytest.mark.parametrize("direction,sign", [("left_to_right", 1), ("right_to_left", -1)])
def test_side_walker_crosses_the_image_in_the_asked_direction(direction: str, sign: int):
    c = simulate_clip(_subject(5), camera="side", direction=direction, seed=3, noise=False)
    x = (c.keypoints[:, L_HIP, 0] + c.keypoints[:, R_HIP, 0]) / 2
    w = c.image_size[0]
    assert sign * (x[-1] - x[0]) > 0.3 * w
    assert np.all(sign * np.diff(x) > 0)  # forward every frame (the pelvis never stops)
    # the nose leads: it is ahead of the hips in the walking direction
    assert np.mean(sign * (c.keypoints[:, 0, 0] - x) > 0) > 0.95


def test_true_heel_strikes_match_zeni_criterion():
    """Heel most forward relative to the pelvis (Zeni et al. 2008) at the true heel
    strike within +-2 frames; toe most backward at the true toe-off likewise."""
    errors: list[int] = []
    for i in range(6):
        c = simulate_clip(_subject(10 + i), camera="side", seed=i, n_frames=150)
        pel = (c.world_keypoints[:, L_HIP, 0] + c.world_keypoints[:, R_HIP, 0]) / 2
        for side in ("left", "right"):
            for joint, kind, sgn in ((HEEL[side], "heel_strike", 1), (TOE[side], "toe_off", -1)):
                rel = sgn * (c.world_keypoints[:, joint, 0] - pel)
                peaks, _ = find_peaks(rel, distance=10)
                for ev in c.events[side][kind]:
                    if 3 <= ev < c.n_frames - 3:
                        errors.append(int(np.min(np.abs(peaks - ev))))
    assert len(errors) > 60
    assert max(errors) <= 2


def test_events_alternate_and_cadence_matches_subject():
    subj = _subject(21)
    c = simulate_clip(subj, n_frames=300, fps=30.0, seed=2, noise=False)
    hs = sorted((f, s) for s in ("left", "right") for f in c.events[s]["heel_strike"])
    sides = [s for _, s in hs]
    assert all(a != b for a, b in pairwise(sides))  # left/right alternate
    t_hs = sorted(t for s in ("left", "right") for t in c.event_times_ms[s]["heel_strike"])
    cadence = 60_000.0 / np.mean(np.diff(t_hs))
    assert cadence == pytest.approx(c.cadence_spm, rel=0.03)
    assert cadence == pytest.approx(subj.cadence_spm, rel=0.10)
    # step count over the clip is what the cadence implies (10 s at ~115 steps/min)
    duration_min = (c.timestamps_ms[-1] - c.timestamps_ms[0]) / 60_000.0
    assert abs(len(hs) - c.cadence_spm * duration_min) <= 1.5
    assert 12 <= len(hs) <= 25
    # toe-off follows each heel strike of the same foot after ~60 % of the cycle
    for s in ("left", "right"):
        hs_s, to_s = c.event_times_ms[s]["heel_strike"], c.event_times_ms[s]["toe_off"]
        for a, b in pairwise(hs_s):
            tos = [t for t in to_s if a < t < b]
            assert len(tos) == 1 and 0.55 < (tos[0] - a) / (b - a) < 0.68


def test_knee_angle_curve_is_gait_like(side_clip: SimulatedClip):
    knee = side_clip.angles_deg["right_knee_flexion"]
    assert 45 < knee.max() < 75 and knee.min() < 15
    hip = side_clip.angles_deg["right_hip_flexion"]
    assert 20 < hip.max() < 45 and hip.min() < 5


def test_cobb_effects_grow_monotonically():
    no_conf = SimulationSettings(
        confounders={
            "limp_rate_negative": 0,
            "limp_rate_positive": 0,
            "backpack_rate_negative": 0,
            "backpack_rate_positive": 0,
            "habitual_asymmetry_rate_negative": 0,
            "habitual_asymmetry_rate_positive": 0,
            "fast_walk_rate_negative": 0,
            "fast_walk_rate_positive": 0,
        }
    )
    means = []
    for cobb in (0.0, 20.0, 40.0):
        vals = []
        for i in range(15):
            subj = _subject(100 + i, cobb, no_conf)
            ref = _subject(100 + i, 40.0, no_conf)  # same person: take the curve side from here
            sg = 1.0 if ref.curve_side == "right" else -1.0
            c = simulate_clip(subj, n_frames=60, seed=i, settings=no_conf, noise=False)
            w = c.world_keypoints
            vals.append(sg * np.mean(w[:, R_SHOULDER, 2] - w[:, L_SHOULDER, 2]))
        means.append(np.mean(vals))
    assert means[0] < means[1] < means[2]
    assert means[2] - means[0] > 0.008  # > 8 mm more convex-side elevation at 40 deg


def test_classes_overlap_with_default_settings():
    """A single simple feature separates the classes only partly (0.55 < AUC < 0.9)."""
    cohort = make_cohort(160, prevalence=0.5, clips_per_train_subject=1, seed=3, val_fraction=0.0, test_fraction=0.0)
    feat, y = [], []
    for spec in cohort.specs():
        c = cohort.simulate(spec, noise=False)
        w = c.world_keypoints
        feat.append(abs(np.mean(w[:, R_SHOULDER, 2] - w[:, L_SHOULDER, 2])))
        y.append(c.label)
    auc = _auc(np.array(feat), np.array(y))
    assert 0.55 < auc < 0.9, auc


def test_cohort_is_subject_disjoint_and_lazy():
    co = make_cohort(60, prevalence=0.4, clips_per_train_subject=3, seed=9)
    assert co.provenance == "simulated"
    ids = {sp: set(co.subject_ids(sp)) for sp in ("train", "val", "test")}
    assert not (ids["train"] & ids["val"] or ids["train"] & ids["test"] or ids["val"] & ids["test"])
    assert sum(len(v) for v in ids.values()) == 60
    assert sum(s.label for s in co.subjects.values()) == 24
    assert all(len([c for c in co.specs("train") if c.subject_id == s]) == 3 for s in ids["train"])
    assert len(co.specs("test")) == len(ids["test"]) and len(co.specs("val")) == len(ids["val"])
    summ = co.summary()
    assert summ["test"]["positive_subjects"] > 0 and summ["train"]["positive_subjects"] > 0
    assert all(isinstance(c, ClipSpec) for c in co.clips)  # specs only, no frames
    clip = next(co.iter_clips("test"))
    assert clip.subject_id in ids["test"] and clip.keypoints.shape == (96, NUM_COCO_FEET, 3)


def test_leaking_split_raises():
    co = make_cohort(20, seed=1)
    train_subject = co.subject_ids("train")[0]
    spec = co.specs("train")[0]
    leaked = spec.model_copy(update={"split": "test", "clip_id": spec.clip_id + "-leak"})
    with pytest.raises(SplitLeakError) as ei:
        Cohort(seed=1, settings=co.settings, subjects=co.subjects, clips=co.clips + (leaked,))
    assert isinstance(ei.value, ValueError) and isinstance(ei.value, ScoliGaitError)
    assert train_subject in str(ei.value)
    with pytest.raises(SplitLeakError):
        check_subject_disjoint({"train": ["a", "b"], "val": ["c"], "test": ["b"]})
    check_subject_disjoint({"train": ["a", "a"], "test": ["b"]})  # repeats within a split are fine


def test_silhouettes_and_scoliosis1k_crop():
    c = simulate_clip(
        _subject(4),
        n_frames=12,
        camera="frontal",
        direction="toward",
        seed=1,
        with_silhouettes=True,
        silhouette_scale=0.5,
    )
    sil = c.silhouettes
    assert sil is not None and sil.dtype == np.uint8 and sil.shape == (12, 360, 640)
    assert set(np.unique(sil)) <= {0, 255}
    area = (sil > 0).reshape(12, -1).sum(1)
    assert np.all(area > 500)
    crops = crop_scoliosis1k(sil)
    assert crops.shape == (12, 64, 44) and crops.dtype == np.uint8
    assert np.all(crops.reshape(12, -1).max(1) > 0)
    one = render_silhouette(c.world_keypoints[0], c.camera_model, c.subject.height_m, scale=0.25)
    assert one.shape == (180, 320) and one.any()
    assert crop_scoliosis1k(np.zeros((50, 40), np.uint8)).shape == (64, 44)


@pytest.mark.parametrize("direction,grows", [("toward", True), ("away", False)])
def test_frontal_walker_size_changes(direction: str, grows: bool):
    c = simulate_clip(_subject(6), camera="frontal", direction=direction, seed=5, noise=False)
    y = c.keypoints[..., 1]
    height_px = np.max(y, axis=1) - np.min(y, axis=1)
    ratio = height_px[-10:].mean() / height_px[:10].mean()
    assert (ratio > 1.5) if grows else (ratio < 1 / 1.5)


def test_frame_drops_and_timestamp_jitter():
    c = simulate_clip(_subject(8), n_frames=120, fps=30.0, seed=4, drop_rate=0.2, timestamp_jitter_ms=3.0)
    dt = np.diff(c.timestamps_ms)
    assert c.timestamps_ms.shape == (120,) and np.all(dt > 0)
    assert np.any(dt > 1.5 * 1000 / 30)  # gaps where frames were dropped
    assert not np.allclose(dt[dt < 50], 1000 / 30)  # jittered
    for side in ("left", "right"):
        for kind in ("heel_strike", "toe_off"):
            assert all(0 <= f < 120 for f in c.events[side][kind])


def test_invalid_arguments():
    subj = _subject(0)
    with pytest.raises(ValueError):
        simulate_clip(subj, camera="side", direction="toward")
    with pytest.raises(ValueError):
        simulate_clip(subj, camera="top")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        make_cohort(10, val_fraction=0.6, test_fraction=0.5)
    with pytest.raises(ValueError):
        sample_subject(np.random.default_rng(0), "x", cobb_deg=-5.0)


def test_new_silhouette_draws_leave_existing_subject_parameters_unchanged():
    """Silhouette-only draws come after every earlier draw: seeded subjects keep their values."""
    expected = {  # values from before the silhouette-only effects were added
        (0, None): (1.147095956203909, 2.4161179209935346, 11.900124201832103, 0.5400538741555359, 1.784320003610411),
        (5, 25.0): (25.0, -25.8084515004625, -16.44960687295071, 1.0008403624228885, 1.546841160767826),
        (7, None): (0.0, -10.710950358537755, -4.299779484305375, -1.615069350663793, 1.684811488207795),
    }
    for (seed, cobb), values in expected.items():
        s = sample_subject(np.random.default_rng(seed), "x", cobb_deg=cobb)
        assert (s.cobb_deg, s.shoulder_height_diff_mm, s.trunk_shift_mm, s.trunk_rotation_deg, s.height_m) == values


def test_silhouette_only_effects_never_move_keypoints():
    subj = _subject(5, 40.0)
    assert subj.curve_side != "none" and abs(subj.waist_asymmetry_mm) > 5 and abs(subj.rib_prominence_mm) > 1
    flat = subj.model_copy(update={"waist_asymmetry_mm": 0.0, "rib_prominence_mm": 0.0})
    for cam in ("frontal", "side"):
        a = simulate_clip(subj, n_frames=24, camera=cam, seed=3, with_silhouettes=True, silhouette_scale=0.25)
        b = simulate_clip(flat, n_frames=24, camera=cam, seed=3, with_silhouettes=True, silhouette_scale=0.25)
        assert np.array_equal(a.keypoints, b.keypoints, equal_nan=True)
        assert np.array_equal(a.keypoints_clean, b.keypoints_clean)
        assert np.array_equal(a.world_keypoints, b.world_keypoints)
        assert not np.array_equal(a.silhouettes, b.silhouettes)  # ... but the outline changes


def test_silhouette_only_effects_follow_the_convex_side():
    """Right curve: right waist flatter, left crease deeper; right flank bulges; sizes grow with Cobb."""
    base = [sample_subject(np.random.default_rng(i), "x", cobb_deg=0.0) for i in range(40)]
    big = [sample_subject(np.random.default_rng(i), "x", cobb_deg=40.0) for i in range(40)]
    for b, s in zip(base, big, strict=True):
        sg = 1.0 if s.curve_side == "right" else -1.0
        assert sg * (s.waist_asymmetry_mm - b.waist_asymmetry_mm) > 0
        assert sg * (s.rib_prominence_mm - b.rib_prominence_mm) > 0
    # away view: the subject's right is on the image right; a flatter right waist (+) adds foreground
    # right of the body's mid-line and removes some left of it, a deeper right crease (-) the opposite
    c = simulate_clip(_subject(2, 0.0), n_frames=6, camera="frontal", direction="away", seed=1)
    plain = render_silhouette(c.world_keypoints, c.camera_model, c.subject.height_m, scale=0.5) > 0
    mid = int(round(np.mean(c.keypoints_clean[:, [L_HIP, R_HIP], 0]) * 0.5))
    for wa, sign in ((40.0, 1), (-40.0, -1)):
        m = (
            render_silhouette(c.world_keypoints, c.camera_model, c.subject.height_m, scale=0.5, waist_asymmetry_mm=wa)
            > 0
        )
        right = int(m[..., mid:].sum()) - int(plain[..., mid:].sum())
        left = int(m[..., :mid].sum()) - int(plain[..., :mid].sum())
        assert sign * right > 0 and sign * left < 0, (wa, right, left)


def test_default_camera_mix_is_mostly_frontal():
    co = make_cohort(200, clips_per_train_subject=1, seed=2)
    share = np.mean([c.camera == "frontal" for c in co.clips])
    assert 0.7 < share < 0.9
    assert {c.camera for c in make_cohort(20, seed=2, camera_mix={"side": 1.0}).clips} == {"side"}
