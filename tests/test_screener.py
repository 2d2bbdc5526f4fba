"""The Screener: windows, quality, results with their caveats, summaries, failures, flat memory."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scoligait_edge import SCREENING_NOTICE
from scoligait_edge.results import ScreeningResult, SessionSummary
from scoligait_edge.screener import Screener


def _walk(n_frames=300, seed=3, camera="frontal"):
    from scoligait_edge.research.sim.simulate import sample_subject, simulate_clip

    subject = sample_subject(np.random.default_rng(seed), f"w{seed}", cobb_deg=20.0)
    return simulate_clip(
        subject, n_frames=n_frames, camera=camera, seed=seed, with_silhouettes=True, silhouette_scale=0.5
    )


@pytest.fixture()
def screener(screening_bundle):
    with Screener(screening_bundle, backend="onnxruntime", pose=False) as s:
        yield s


def _feed(screener, clip):
    from scoligait_edge.video.silhouette import crop_silhouette

    updates = []
    for i, (kp, t) in enumerate(zip(clip.keypoints, clip.timestamps_ms, strict=True)):
        updates.append(screener.process_keypoints(kp, t, silhouette=crop_silhouette(clip.silhouettes[i])))
    return updates, screener.finish()


def test_walking_clip_gives_screened_windows_with_caveats(screener):
    updates, tail = _feed(screener, _walk())
    results = [r for u in updates for r in u.results] + tail
    assert len(results) >= 8  # (300 - 6 latency - 96) / 16 + 1
    assert [r.window_index for r in results] == list(range(len(results)))
    screened = [r for r in results if r.status == "screened"]
    assert len(screened) >= 4
    r = screened[0]
    assert 0.0 <= r.probability <= 1.0 and r.decision in ("refer", "no_referral")
    assert r.decision == ("refer" if r.probability >= r.threshold else "no_referral")
    assert "simulated" in r.provenance and r.notice == SCREENING_NOTICE
    assert r.description and r.top_features and r.steps >= 2
    assert {f.domain for f in r.top_features} == {"motion", "self_skeleton", "cross_correlation"}
    again = ScreeningResult.model_validate_json(r.model_dump_json())  # stable JSON form
    assert again == r
    assert 0 < updates[50].window_progress < 1
    summary = screener.summary()
    assert summary.decision in ("refer", "no_referral") and summary.windows_screened == len(screened)
    assert summary.gait_cycles >= 3 and summary.probability_sd is not None
    assert json.loads(summary.model_dump_json())["schema_version"].startswith("scoligait-result/")


def test_no_person_gives_no_decision_and_says_why(screener):
    empty = np.full((21, 3), np.nan)
    empty[:, 2] = 0
    for i in range(200):
        screener.process_keypoints(empty, i * 33.3)
    summary = screener.summary()
    assert summary.decision is None and "no person" in summary.reason


def test_a_person_who_never_walks_is_skipped_with_reasons(screener):
    from tests.kinematics_helpers import standing_pose

    kp = standing_pose(250)
    kp[..., :2] += np.random.default_rng(0).normal(0, 1.0, kp[..., :2].shape)
    for i, f in enumerate(kp):
        screener.process_keypoints(f, i * 1000 / 30)
    summary = screener.summary()
    assert summary.decision is None and summary.windows_skipped > 0 and summary.windows_screened == 0
    assert "no walking" in summary.reason


def test_a_failing_window_is_reported_and_the_session_goes_on(screener, monkeypatch):
    calls = {"n": 0}
    real = screener.backend.infer

    def flaky(batch):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("simulated accelerator fault")
        return real(batch)

    monkeypatch.setattr(screener.backend, "infer", flaky)
    updates, tail = _feed(screener, _walk())
    results = [r for u in updates for r in u.results] + tail
    failed = [r for r in results if r.status == "error"]
    assert len(failed) == 1 and "simulated accelerator fault" in failed[0].error
    assert any(r.status == "screened" for r in results)
    assert screener.summary().windows_failed == 1


def test_bad_keypoints_raise_a_clear_error(screener):
    from scoligait_edge.errors import ScoliGaitError

    with pytest.raises(ScoliGaitError, match="COCO-21"):
        screener.process_keypoints(np.zeros((17, 3)), 0.0)


def test_summary_round_trips():
    s = SessionSummary(
        decision=None,
        reason="no frames were processed",
        threshold=0.5,
        windows_total=0,
        windows_screened=0,
        windows_skipped=0,
        windows_failed=0,
        gait_cycles=0,
        steps=0,
        frames_processed=0,
        frames_with_subject=0,
        duration_s=0.0,
        provenance="simulated",
    )
    assert SessionSummary.model_validate_json(s.model_dump_json()) == s


@pytest.mark.slow
def test_memory_stays_flat_over_a_20_minute_stream(screening_bundle):
    """20 minutes of simulated frames (36,000 at 30 fps, no pose model): resident memory must not grow."""

    from scoligait_edge.video.silhouette import crop_silhouette

    def rss_mb() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 2**20

    clip = _walk(n_frames=600, seed=5)
    sils = crop_silhouette(clip.silhouettes)
    period = 1000 / 30
    samples = []
    with Screener(screening_bundle, backend="onnxruntime", pose=False, hop=48) as s:
        for i in range(36_000):
            j = i % 600
            s.process_keypoints(clip.keypoints[j], i * period, silhouette=sils[j])
            if i % 3000 == 2999:
                samples.append(rss_mb())
        summary = s.summary()
    assert summary.frames_processed == 36_000 and summary.duration_s == pytest.approx(1200, abs=1)
    assert summary.windows_total > 700 and summary.windows_screened > 100
    assert len(s.results) <= 400 and len(s.history.km) == 9000
    # after the bounded buffers have filled (5 min), memory is flat
    growth = max(samples[3:]) - samples[3]
    assert growth < 15, f"RSS grew by {growth:.1f} MB: {samples}"


def test_rows_silhouettes_and_times_match_the_former_side_queues(screener, monkeypatch):
    """Silhouettes now ride through the resampler and gap filler as a payload: on a clip with dropped frames,
    a 400 ms hole and a lost subject, every row gets the silhouette and time the old side queues gave it, and
    the map rows are bit-identical to resampling + gap filling + the map builder run by hand."""
    from scoligait_edge.kinematics.builder import KnowledgeMapBuilder
    from scoligait_edge.stream.window_buffer import WindowBuffer
    from scoligait_edge.video.silhouette import crop_silhouette
    from tests.test_resample_and_gaps import _old_side_queue_rows

    clip = _walk(n_frames=260, seed=4)
    keep = np.ones(len(clip.keypoints), bool)
    keep[np.random.default_rng(1).choice(np.arange(5, 250), 40, replace=False)] = False  # dropped frames
    keep[120:132] = False  # a 400 ms hole
    kp = clip.keypoints[keep].copy()
    kp[150:155] = np.nan  # the subject lost for 5 frames
    ts, sils = clip.timestamps_ms[keep], list(crop_silhouette(clip.silhouettes[keep]))  # one object per frame
    seen = []
    real_push = WindowBuffer.push

    def spy(self, row, keypoints, silhouette, timestamp_ms):
        seen.append((row.values, row.valid, silhouette, timestamp_ms))
        return real_push(self, row, keypoints, silhouette, timestamp_ms)

    monkeypatch.setattr(WindowBuffer, "push", spy)
    for k, t, s in zip(kp, ts, sils, strict=True):
        screener.process_keypoints(k, t, silhouette=s)
    screener.finish()
    old = _old_side_queue_rows(ts, kp, sils)
    builder = KnowledgeMapBuilder()
    assert len(seen) == len(old) > 200
    for (values, valid, sil, t), (t_old, filled, sil_old) in zip(seen, old, strict=True):
        row = builder.update(filled)
        assert t == t_old and sil is sil_old
        np.testing.assert_array_equal(values, row.values)
        assert valid == row.valid


def test_history_snapshot_is_a_read_only_copy_and_all_the_report_needs(screener, tmp_path):
    from scoligait_edge.screener import HistorySnapshot
    from scoligait_edge.session_report import write_report
    from scoligait_edge.video.silhouette import crop_silhouette

    clip = _walk(n_frames=220, seed=6)
    sils = crop_silhouette(clip.silhouettes)
    for i, (kp, t) in enumerate(zip(clip.keypoints, clip.timestamps_ms, strict=True)):
        screener.process_keypoints(kp, t, silhouette=sils[i])
    snap = screener.history_snapshot()
    assert isinstance(snap, HistorySnapshot)
    assert snap.n_rows == len(screener.history.km) == snap.rows_seen - snap.first_row > 150
    np.testing.assert_array_equal(snap.km, np.array(screener.history.km))
    assert snap.km.dtype == np.float32 and snap.valid.dtype == bool and snap.timestamps_ms.shape == (snap.n_rows,)
    assert snap.results and snap.results[-1] == screener.results[-1] and snap.attention
    with pytest.raises(ValueError, match="read-only"):
        snap.km[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        next(iter(snap.attention.values()))[0, 0] = 1.0
    before = snap.km.copy()
    screener.process_keypoints(clip.keypoints[-1], clip.timestamps_ms[-1] + 40, silhouette=sils[-1])
    screener.finish()
    np.testing.assert_array_equal(snap.km, before)  # a copy: the session goes on without touching it

    class PublicOnly:  # the report may use the public API only
        def history_snapshot(self):
            return screener.history_snapshot()

        def summary(self):
            return screener.summary()

    path = write_report(PublicOnly(), tmp_path / "report", notices=[])
    assert path.exists() and "<html" in path.read_text().lower()
