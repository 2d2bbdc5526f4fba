"""The knowledge map is right: exact geometry, invariances, batch == streaming."""

from __future__ import annotations

import numpy as np
import pytest

from scoligait_edge.core.constants import MAP_FPS
from scoligait_edge.core.schema import FEATURE_NAMES, FEATURE_SCHEMA, MIN_CROSS_FRAMES, domain_slices, schema_hash
from scoligait_edge.core.skeleton import FLIP_LEFT_RIGHT
from scoligait_edge.errors import KeypointError, TimestampError
from scoligait_edge.kinematics.builder import KnowledgeMapBuilder, StreamingKnowledgeMap, build_knowledge_map
from tests.kinematics_helpers import standing_pose, swaying_clip

COL = {n: i for i, n in enumerate(FEATURE_NAMES)}


def stream(kp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sk = StreamingKnowledgeMap(kp.shape[1])
    rows = [r for f in kp for r in sk.push(f)] + sk.flush()
    return np.array([r.values for r in rows]), np.array([r.valid for r in rows])


def test_schema_shape_and_domains():
    assert len(FEATURE_SCHEMA) == 238
    assert [f.index for f in FEATURE_SCHEMA] == list(range(238))
    sl = domain_slices()
    assert (
        sl["motion"].stop - sl["motion"].start,
        sl["self_skeleton"].stop - sl["self_skeleton"].start,
        sl["cross_correlation"].stop - sl["cross_correlation"].start,
    ) == (140, 32, 66)
    for name, s in sl.items():
        assert {f.domain for f in FEATURE_SCHEMA[s]} == {name}
    assert all(f.meaning and f.unit for f in FEATURE_SCHEMA)
    for prior in (
        "trunk_lateral_shift",
        "shoulder_tilt",
        "pelvic_tilt",
        "head_pelvis_offset",
        "ear_line_tilt",
        "arm_swing_asymmetry",
        "step_width",
        "ankle_height_difference",
        "waist_triangle_asymmetry",
    ):
        assert any(f.clinical_prior == prior for f in FEATURE_SCHEMA), prior
    assert len(schema_hash()) == 64


def test_schema_doc_is_current():
    from pathlib import Path

    from scoligait_edge.kinematics.schema_doc import render_schema_markdown

    doc = Path(__file__).parents[1] / "docs" / "FEATURE_SCHEMA.md"
    assert doc.read_text(encoding="utf-8") == render_schema_markdown(), "run `make schema-doc`"


def test_exact_geometry_of_a_known_pose():
    kp = standing_pose(60)
    kp[:, 5, 1] -= 20  # raise the left shoulder by 20 px (image y is down)
    m = build_knowledge_map(kp, 30)
    assert m.valid[MIN_CROSS_FRAMES - 1 :].all() and not m.valid[: MIN_CROSS_FRAMES - 1].any()
    row = m.values[-1].astype(np.float64)
    # body size = trunk + mean leg length, in pixels
    ms = np.array([(340 + 260) / 2, (130 + 150) / 2])
    mh = np.array([300, 300])
    size = np.linalg.norm(ms - mh) + 180.0
    assert row[COL["nose.x"]] == pytest.approx(0.0, abs=1e-6)
    assert row[COL["nose.y"]] == pytest.approx(200 / size, rel=1e-5)
    assert row[COL["dist[left_shoulder | right_shoulder]"]] == pytest.approx(np.hypot(80, 20) / size, rel=1e-5)
    assert row[COL["dist[left_hip | left_knee]"]] == pytest.approx(90 / size, rel=1e-5)
    assert row[COL["left_hip.x"]] == pytest.approx(25 / size, rel=1e-5)
    assert row[COL["vel:left_wrist.x"]] == 0.0 and row[COL["vel:mid_hip.y"]] == 0.0  # a still pose
    assert row[COL["angle:shoulder_tilt"]] == pytest.approx(np.arctan2(20, 80), rel=1e-5)  # left side up
    assert row[COL["angle:pelvic_tilt"]] == pytest.approx(0.0, abs=1e-6)
    assert row[COL["angle:left_knee_flexion"]] == pytest.approx(0.0, abs=1e-6)
    assert row[COL["angle:trunk_lean"]] == pytest.approx(0.0, abs=1e-6)
    # upper arm (10, -90) to forearm (5, -65), y up, with the left shoulder raised: signed angle between them
    assert row[COL["angle:left_elbow_flexion"]] == pytest.approx(
        np.arctan2(10 * -65 - -90 * 5, 10 * 5 + 90 * 65), rel=1e-5
    )
    # a still pose: correlation 0 (regularised), no peak, so lag 0
    assert row[COL["xcorr0[left_shoulder.y | right_shoulder.y]"]] == pytest.approx(0.0, abs=1e-6)
    assert row[COL["xcorr_lag[left_shoulder.y | right_shoulder.y]"]] == 0.0


def test_cross_correlation_tracks_phase():
    kp = swaying_clip(200)
    m = build_knowledge_map(kp, 30)
    # wrists swing in anti-phase, left wrist with the right ankle (contralateral) in phase
    full = m.valid & (np.arange(len(m)) >= 31)
    assert np.median(m.values[full, COL["xcorr0[left_wrist.x | right_wrist.x]"]]) < -0.8
    assert np.median(m.values[full, COL["xcorr_peak[left_wrist.x | right_wrist.x]"]]) < -0.8
    assert np.median(m.values[full, COL["xcorr0[left_wrist.x | right_ankle.x]"]]) > 0.8
    # in phase or in anti-phase: the peak sits at lag 0
    assert np.abs(np.median(m.values[full, COL["xcorr_lag[left_wrist.x | right_ankle.x]"]])) < 0.5 / MAP_FPS


@pytest.mark.parametrize("delay", [-5, -2, 3, 6])
def test_cross_correlation_lag_says_which_limb_leads(delay):
    """The right wrist repeats the left wrist's swing ``delay`` frames later: lag = delay / 30 s (sub-frame)."""
    n = 240
    kp = swaying_clip(n, noise_px=0.0)
    t = np.arange(n) / 30.0
    swing = lambda tt: 40 * np.sin(2 * np.pi * tt / 1.1) + 12 * np.sin(2 * np.pi * tt / 0.45)  # noqa: E731
    kp[:, 9, 0] = 355 + swing(t)
    kp[:, 10, 0] = 245 + swing(t - delay / 30.0)
    m = build_knowledge_map(kp, 30)
    full = m.valid & (np.arange(n) >= 40)
    lag = m.values[full, COL["xcorr_lag[left_wrist.x | right_wrist.x]"]]
    peak = m.values[full, COL["xcorr_peak[left_wrist.x | right_wrist.x]"]]
    assert np.median(lag) == pytest.approx(delay / 30.0, abs=0.25 / 30.0)
    assert np.median(peak) > 0.95
    zero = m.values[full, COL["xcorr0[left_wrist.x | right_wrist.x]"]]
    assert np.median(zero) < np.median(peak) - 0.01  # zero lag is not the peak


def test_velocity_is_the_backward_difference():
    kp = swaying_clip(120, noise_px=0.0)
    kp[:, :, 0] += 3.0 * np.arange(120)[:, None]  # the whole body drifts 3 px a frame to the right
    m = build_knowledge_map(kp, 30)
    size = m.values[-1, COL["dist[mid_hip | mid_shoulder]"]]  # trunk / body size
    trunk_px = np.hypot(0, 150 - 300)  # the standing pose's trunk, unchanged by a horizontal drift
    body = trunk_px / size
    sway = 15 * np.sin(2 * np.pi * np.arange(120) / 90.0)  # swaying_clip's sway, shared by every joint
    expected = (3.0 + (sway[-1] - sway[-3]) / 2) * 30 / body
    assert m.values[-1, COL["vel:mid_hip.x"]] == pytest.approx(expected, rel=1e-3)
    assert m.values[0, COL["vel:mid_hip.x"]] == 0.0  # no earlier frame


@pytest.mark.parametrize("shift,scale", [((37.0, -12.0), 1.0), ((0.0, 0.0), 2.5), ((-100.0, 40.0), 0.4)])
def test_invariant_to_translation_and_scale(shift, scale):
    kp = swaying_clip(150)
    moved = kp.copy()
    moved[..., :2] = moved[..., :2] * scale + np.array(shift)
    a, b = build_knowledge_map(kp, 30), build_knowledge_map(moved, 30)
    np.testing.assert_array_equal(a.valid, b.valid)
    np.testing.assert_allclose(a.values, b.values, atol=2e-5)


def test_mirroring_swaps_left_and_right():
    kp = swaying_clip(150)
    kp[:, 5, 1] -= 15  # left shoulder higher
    mirrored = kp[:, list(FLIP_LEFT_RIGHT)].copy()
    mirrored[..., 0] = 1000 - mirrored[..., 0]
    a, b = build_knowledge_map(kp, 30).values, build_knowledge_map(mirrored, 30).values
    tilt = COL["angle:shoulder_tilt"]
    np.testing.assert_allclose(a[60:, tilt], -b[60:, tilt], atol=1e-5)
    np.testing.assert_allclose(a[60:, COL["left_knee.y"]], b[60:, COL["right_knee.y"]], atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streaming_equals_batch_with_gaps(seed):
    kp = swaying_clip(400, seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(25):  # short and long dropouts, NaNs included
        j, a, n = rng.integers(21), rng.integers(400), rng.integers(1, 15)
        kp[a : a + n, j, 2] = 0.05
        if rng.random() < 0.5:
            kp[a : a + n, j, :2] = np.nan
    batch = build_knowledge_map(kp, 30)
    values, valid = stream(kp)
    np.testing.assert_array_equal(valid, batch.valid)
    assert np.abs(values - batch.values).max() <= 1e-5
    assert np.isfinite(batch.values).all()
    assert 0.2 < batch.valid.mean() < 1.0  # the gaps did mask some rows


def test_long_gap_masks_rows_and_short_gap_is_bridged():
    kp = swaying_clip(160)
    kp[100:103, 9, 2] = 0.0  # 3 frames: interpolated
    kp[120:140, 13, :] = np.nan  # 20 frames of a missing knee: masked
    m = build_knowledge_map(kp, 30)
    assert m.valid[100:103].all()
    assert not m.valid[120:140].any()
    assert (m.values[120:140] == 0).all()
    assert m.valid[140 + MIN_CROSS_FRAMES - 1 :].all()


def test_other_frame_rates_are_resampled_to_30hz():
    kp30 = swaying_clip(300)
    kp60 = np.repeat(kp30, 2, axis=0)[:-1]  # same motion sampled at 60 Hz
    kp60[1::2, :, :2] = 0.5 * (kp30[:-1, :, :2] + kp30[1:, :, :2])
    m30, m60 = build_knowledge_map(kp30, 30), build_knowledge_map(kp60, 60)
    assert len(m60) == len(m30)
    np.testing.assert_allclose(m60.timestamps_ms, m30.timestamps_ms)
    np.testing.assert_allclose(m60.values, m30.values, atol=1e-4)


def test_dropped_frames_via_timestamps():
    kp = swaying_clip(300, noise_px=0.0)  # smooth motion: interpolation is close to the truth
    keep = np.ones(300, bool)
    keep[[50, 51, 120, 200]] = False  # dropped frames
    ts = np.arange(300) * 1000 / 30
    m = build_knowledge_map(kp[keep], timestamps_ms=ts[keep])
    ref = build_knowledge_map(kp, 30)
    assert len(m) == 300
    assert np.abs(m.values[ref.valid & m.valid] - ref.values[ref.valid & m.valid]).max() < 0.05


def test_bad_input_raises_clear_errors():
    with pytest.raises(KeypointError, match="shape"):
        build_knowledge_map(np.zeros((10, 16, 3)), 30)
    with pytest.raises(KeypointError, match="zero frames"):
        build_knowledge_map(np.zeros((0, 17, 3)), 30)
    bad = standing_pose(10)
    bad[3, 4, 2] = 7.0
    with pytest.raises(KeypointError, match=r"outside \[0, 1\]"):
        build_knowledge_map(bad, 30)
    bad = standing_pose(10)
    bad[2, 2, 0] = 1e12
    with pytest.raises(KeypointError, match="out of range"):
        build_knowledge_map(bad, 30)
    with pytest.raises(TimestampError, match="increase strictly"):
        build_knowledge_map(standing_pose(3), timestamps_ms=[0.0, 40.0, 20.0])
    with pytest.raises(ValueError, match="fps"):
        build_knowledge_map(standing_pose(3), fps=0)


def test_nan_keypoints_never_reach_the_map():
    kp = swaying_clip(120)
    kp[::7, ::3, :2] = np.nan
    kp[50:80] = np.nan
    m = build_knowledge_map(kp, 30)
    assert np.isfinite(m.values).all()
    assert not m.valid[50:80].any()
    b = KnowledgeMapBuilder()
    rows = [b.update(f) for f in kp]
    assert all(np.isfinite(r.values).all() for r in rows)


def test_builder_resync_keeps_long_streams_exact():
    kp = swaying_clip(2200, seed=5)
    b = KnowledgeMapBuilder()
    rows = np.array([b.update(f).values for f in kp])
    batch = build_knowledge_map(kp, 30).values  # no gaps in this clip, so no filling differences
    assert np.abs(rows - batch).max() <= 1e-5


@pytest.mark.parametrize("camera", ["side", "frontal"])
def test_streaming_equals_batch_on_simulated_walking(camera):
    from scoligait_edge.research.sim.simulate import sample_subject, simulate_clip

    subject = sample_subject(np.random.default_rng(7), "sim-7", cobb_deg=25.0)
    clip = simulate_clip(subject, n_frames=300, camera=camera, seed=7)  # noise and dropouts on
    batch = build_knowledge_map(clip.keypoints, clip.fps)
    values, valid = stream(clip.keypoints)
    np.testing.assert_array_equal(valid, batch.valid)
    assert np.abs(values - batch.values).max() <= 1e-5
    assert batch.valid.mean() > 0.5


@pytest.mark.parametrize("camera,direction", [("side", "left_to_right"), ("frontal", "toward"), ("frontal", "away")])
def test_a_96_frame_clip_gives_a_screenable_window(camera, direction):
    """No hidden lead-in: a 3.2 s clip with the whole body visible passes the window-quality rule on its own
    (the warm-up costs MIN_CROSS_FRAMES - 1 rows, under the 10% the rule allows)."""
    from scoligait_edge.kinematics.events import assess_window, detect_gait_events
    from scoligait_edge.research.sim.simulate import sample_subject, simulate_clip

    subject = sample_subject(np.random.default_rng(3), "sim-3", cobb_deg=18.0)
    clip = simulate_clip(subject, n_frames=96, camera=camera, direction=direction, seed=3, noise=False)
    kmap = build_knowledge_map(clip.keypoints, clip.fps)
    assert kmap.valid.sum() == 96 - (MIN_CROSS_FRAMES - 1)
    quality = assess_window(kmap.valid, detect_gait_events(clip.keypoints, clip.fps), 0, 96, keypoints=clip.keypoints)
    assert quality.ok, quality.reasons  # the walking gate included


def test_peak_rule_skips_unusable_lags_and_stays_within_one():
    from scoligait_edge.kinematics import features as F

    r = np.full((1, F.NUM_LAGS, F.NUM_PAIRS), 0.1)
    r[0, 10, 0], r[0, 11, 0] = 0.9, 0.95  # a steep peak at lag +3: the parabola would overshoot 1
    r[0, 12, 1] = np.nan  # pair 1: the neighbour after its peak is unusable (too few frame pairs)
    r[0, 10, 1], r[0, 11, 1] = 0.9, 0.95
    out = F.peak_lag_zero(r)[0].reshape(F.NUM_PAIRS, 3)
    assert out[0, 0] == 1.0 and 2.5 / 30 < out[0, 1] < 3 / 30  # refined toward lag +2, capped at 1
    assert out[1, 0] == pytest.approx(0.95) and out[1, 1] == pytest.approx(3 / 30)  # no refinement
    none = F.peak_lag_zero(np.full((1, F.NUM_LAGS, F.NUM_PAIRS), np.nan))[0]
    assert np.isnan(none[0::3]).all() and (none[1::3] == 0).all()  # no usable lag: NaN, masked to 0 in the map
