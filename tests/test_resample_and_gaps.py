"""Resampling to 30 Hz and gap filling: streaming twins equal the batch versions."""

from __future__ import annotations

import numpy as np
import pytest

from scoligait_edge.errors import TimestampError
from scoligait_edge.kinematics import GapFiller, StreamResampler, fill_gaps, iter_windows, resample_keypoints, window_starts


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
    out = [p for t, k in zip(ts, kp) for p in r.push(t, k)]
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
