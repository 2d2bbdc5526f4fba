"""Resampling to 30 Hz and gap filling: streaming twins equal the batch versions."""

from __future__ import annotations

import numpy as np
import pytest

from scoligait_edge.errors import TimestampError
from scoligait_edge.kinematics.keypoints import GapFiller, fill_gaps
from scoligait_edge.kinematics.resample import StreamResampler, iter_windows, resample_keypoints, window_starts


def _random_clip(rng, n, joints=21):
    kp = rng.uniform(0, 500, (n, joints, 3))
    kp[..., 2] = rng.uniform(0, 1, (n, joints))
    return kp


@pytest.mark.parametrize("fps", [25.0, 30.0, 60.0, 29.97])
def test_stream_resampler_equals_batch(fps):
    rng = np.random.default_rng(int(fps))
    n = 120
    ts = np.cumsum(rng.choice([1, 1, 1, 2, 4], n)) * 1000.0 / fps  # with dropped frames
    kp = _random_clip(rng, n)
    batch, grid = resample_keypoints(kp, ts)
    r = StreamResampler()
    out = [p for t, k in zip(ts, kp, strict=True) for p in r.push(t, k)]
    np.testing.assert_allclose([t for t, _ in out], grid)
    np.testing.assert_allclose(np.array([k for _, k in out]), batch, equal_nan=True)
    np.testing.assert_allclose(np.diff(grid), 1000 / 30)


def test_resampling_is_exact_for_linear_motion():
    ts = np.arange(100) * 40.0  # 25 fps
    kp = np.zeros((100, 17, 3))
    kp[..., 0] = 0.25 * ts[:, None]
    kp[..., 1] = 100.0
    kp[..., 2] = 1.0
    out, grid = resample_keypoints(kp, ts)
    assert len(grid) == int(ts[-1] // (1000 / 30)) + 1
    np.testing.assert_allclose(out[:, 3, 0], 0.25 * grid, atol=1e-9)


def test_long_dropouts_are_not_bridged():
    ts = np.array([0.0, 33.3, 66.7, 566.7, 600.0])  # half a second missing
    kp = np.ones((5, 17, 3))
    out, grid = resample_keypoints(kp, ts)
    t_gap = (grid > 100) & (grid < 540)
    assert t_gap.sum() > 10
    assert np.isnan(out[t_gap, :, 0]).all() and (out[t_gap, :, 2] == 0).all()


def test_non_monotonic_timestamps_raise():
    kp = np.ones((3, 17, 3))
    with pytest.raises(TimestampError, match="frame 2"):
        resample_keypoints(kp, [0.0, 40.0, 40.0])
    r = StreamResampler()
    r.push(10.0, kp[0])
    with pytest.raises(TimestampError, match="increase strictly"):
        r.push(5.0, kp[1])
    with pytest.raises(TimestampError, match="NaN"):
        r.push(float("nan"), kp[1])


def test_gap_filler_equals_batch_and_bridges_short_gaps_only():
    rng = np.random.default_rng(3)
    for _ in range(30):
        kp = _random_clip(rng, int(rng.integers(1, 80)))
        f = GapFiller(21)
        out = np.array([x for frame in kp for x in f.push(frame)] + f.flush())
        np.testing.assert_allclose(out, fill_gaps(kp), equal_nan=True)
    kp = np.ones((30, 17, 3))
    kp[:, :, 0] = np.arange(30)[:, None]
    kp[5:8, 0, 2] = 0.0  # 3 frames: bridged linearly
    kp[10:20, 1, 2] = 0.0  # 10 frames: stays missing
    out = fill_gaps(kp)
    np.testing.assert_allclose(out[5:8, 0, 0], [5, 6, 7])
    assert np.isnan(out[10:20, 1, 0]).all()


def test_windows():
    assert list(window_starts(200, 96, 16)) == [0, 16, 32, 48, 64, 80, 96]
    assert list(window_starts(95, 96, 16)) == []
    starts = [s for s, w in iter_windows(np.zeros((130, 238)), 96, 16) if w.shape == (96, 238)]
    assert starts == [0, 16, 32]
    with pytest.raises(ValueError):
        window_starts(10, 0, 1)


def _old_side_queue_rows(ts, kp, payloads):
    """The Screener's former side queues (before payloads): per row ``(grid_t, filled keypoints, payload)``."""
    from collections import deque

    r, f = StreamResampler(), GapFiller(kp.shape[1])
    pending_p, pending_t, out, last = deque(), deque(), [], None
    for t, k, p in zip(ts, kp, payloads, strict=True):
        for grid_t, grid_kp in r.push(t, k):
            pending_p.append(p if last is None or abs(t - grid_t) <= abs(grid_t - last[0]) else last[1])
            pending_t.append(grid_t)
            out += [(pending_t.popleft(), filled, pending_p.popleft()) for filled in f.push(grid_kp)]
        last = (t, p)
    return out + [(pending_t.popleft(), filled, pending_p.popleft()) for filled in f.flush()]


def _new_payload_rows(ts, kp, payloads):
    r, f = StreamResampler(), GapFiller(kp.shape[1])
    out = []
    for t, k, p in zip(ts, kp, payloads, strict=True):
        for grid_t, grid_kp, q in r.push_with_payload(t, k, p):
            out += [(gt, filled, sil) for filled, (gt, sil) in f.push_with_payload(grid_kp, (grid_t, q))]
    return out + [(gt, filled, sil) for filled, (gt, sil) in f.flush_with_payload()]


def test_payloads_ride_through_resampler_and_gap_filler_as_the_old_side_queues_did():
    """Dropped frames, a 400 ms hole in the timestamps, a pose dropout: each row keeps its own frame's payload."""
    rng = np.random.default_rng(7)
    n = 160
    steps = rng.choice([1, 1, 1, 2, 3], n).astype(float)
    steps[70] = 12  # a 400 ms hole (not interpolated across)
    ts = np.cumsum(steps) * 1000 / 30 + 0.37
    kp = _random_clip(rng, n)
    kp[..., 2] = np.where(rng.random((n, 21)) < 0.2, 0.0, 0.9)  # short per-joint gaps the filler bridges
    kp[100:104] = np.nan  # the subject lost for 4 frames
    payloads = [np.full((4, 3), i, np.uint8) for i in range(n)]  # a stand-in silhouette per frame
    old, new = _old_side_queue_rows(ts, kp, payloads), _new_payload_rows(ts, kp, payloads)
    assert len(new) == len(old) > n
    for (t_old, kp_old, p_old), (t_new, kp_new, p_new) in zip(old, new, strict=True):
        assert t_new == t_old and p_new is p_old
        np.testing.assert_array_equal(kp_new, kp_old)  # bit-identical keypoints (so identical map rows)
    # the rule: the nearest source frame in time, a tie to the later one
    r = StreamResampler()
    assert [(t, p) for t, _, p in r.push_with_payload(5.0, kp[0], "a")] == [(5.0, "a")]  # a segment's first row
    r = StreamResampler()
    r.push_with_payload(0.0, kp[0], "a")
    got = [(round(t, 3), p) for t, _, p in r.push_with_payload(50.0, kp[1], "b")]
    assert got == [(33.333, "b")]
    r = StreamResampler()
    r.push_with_payload(0.0, kp[0], "a")
    got = [(round(t, 3), p) for t, _, p in r.push_with_payload(90.0, kp[1], "b")]
    assert got == [(33.333, "a"), (66.667, "b")]
    r = StreamResampler()
    r.push_with_payload(0.0, kp[0], "a")
    assert [p for _, _, p in r.push_with_payload(200 / 3, kp[1], "b")] == ["b", "b"]  # 33.3 is half-way: later


def test_stream_grid_point_just_past_a_sample_does_not_extrapolate_scores():
    """Issue 15: a 30 fps stream not starting at 0 ms lands grid points within the 1e-6 ms tolerance past a
    sample; the weight must not exceed 1, or a 1.0 score becomes 1.0000000000000002 and the gap filler raises."""
    period = 1000.0 / 30.0
    resampler, filler = StreamResampler(), GapFiller(21)
    for i in range(15, 200):
        kp = np.zeros((21, 3))
        kp[:, :2] = 100.0 + i
        kp[:, 2] = 1.0 if i % 2 else 0.9
        for _, grid_kp in resampler.push(i * period, kp):
            assert grid_kp[:, 2].max() <= 1.0
            filler.push(grid_kp)
