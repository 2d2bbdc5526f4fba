"""The knowledge map and gait events on real footage (the sports2d walking video)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from scoligait_edge.kinematics.builder import StreamingKnowledgeMap, build_knowledge_map
from scoligait_edge.kinematics.events import detect_gait_events
from scoligait_edge.kinematics.resample import StreamResampler, resample_keypoints

pytestmark = pytest.mark.slow


def test_streaming_map_equals_batch_on_the_real_video(real_subject_sequence):
    kp, ts = real_subject_sequence
    batch = build_knowledge_map(kp, timestamps_ms=ts)
    resampler, sk = StreamResampler(), StreamingKnowledgeMap(21)
    rows = [r for t, f in zip(ts, kp, strict=True) for _, g in resampler.push(t, f) for r in sk.push(g)] + sk.flush()
    values = np.array([r.values for r in rows])
    np.testing.assert_array_equal(np.array([r.valid for r in rows]), batch.valid)
    assert np.abs(values - batch.values).max() <= 1e-5
    # she is in full view for most of her crossing (frames ~59-195 of 230)
    assert 100 <= batch.valid.sum() <= 150


def test_gait_events_match_what_is_seen(real_subject_sequence):
    kp, ts = real_subject_sequence
    kp30, grid = resample_keypoints(kp, ts)
    events = detect_gait_events(kp30, fps=30.0)
    assert events.view == "side"
    hs = events.all_heel_strikes()
    # about 8 steps while she crosses; the detector sees those while she is tracked
    assert 6 <= len(hs) <= 9, hs
    assert all(50 <= f <= 205 for f, _ in hs)
    sides = [s for _, s in hs]
    assert all(a != b for a, b in pairwise(sides)), f"steps must alternate feet: {hs}"
    cadence = events.cadence()
    assert cadence is not None and 85 <= cadence <= 130, cadence  # normal adult walking
    assert events.complete_cycles() >= 2
    # toe-off of a foot falls between its heel strikes, as in any gait cycle
    for side in ("left", "right"):
        strikes, offs = events.heel_strikes[side], events.toe_offs[side]
        for a, b in pairwise(strikes):
            assert sum(a < t < b for t in offs) == 1, (side, strikes, offs)
