"""What an embedding station needs from the Screener (issue 23): no windows before a subject is tracked,
reset() for the next subject, progress and readiness from the shared session rules, per-frame guidance with a
tracking state that recovers, quiet native logs, clear errors for misused options and a closed Screener."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from scoligait_edge.errors import ScoliGaitError
from scoligait_edge.session_rules import SESSION_RULES_PATH, SessionRules, default_session_rules, load_session_rules


def _walk(n_frames=260, seed=3):
    from scoligait_edge.research.sim.simulate import sample_subject, simulate_clip

    subject = sample_subject(np.random.default_rng(seed), f"w{seed}", cobb_deg=20.0)
    return simulate_clip(
        subject, n_frames=n_frames, camera="frontal", seed=seed, with_silhouettes=True, silhouette_scale=0.5
    )


def _feed(screener, clip, t0=0.0, empty_before=0):
    from scoligait_edge.video.silhouette import crop_silhouette

    updates = []
    dt = float(clip.timestamps_ms[1] - clip.timestamps_ms[0])
    nobody = np.full((21, 3), np.nan)
    nobody[:, 2] = 0.0
    for i in range(empty_before):
        updates.append(screener.process_keypoints(nobody, t0 + i * dt))
    shift = t0 + empty_before * dt
    for i, (kp, t) in enumerate(zip(clip.keypoints, clip.timestamps_ms, strict=True)):
        updates.append(screener.process_keypoints(kp, shift + t, silhouette=crop_silhouette(clip.silhouettes[i])))
    return updates, screener.finish()


@pytest.fixture()
def screener(screening_bundle):
    from scoligait_edge.screener import Screener

    with Screener(screening_bundle, backend="onnxruntime", pose=False) as s:
        yield s


def _probabilities(updates, tail):
    return [(r.status, r.probability) for u in updates for r in u.results] + [(r.status, r.probability) for r in tail]


def test_an_empty_scene_makes_no_windows_and_does_not_shift_the_walk(screener):
    clip = _walk()
    alone = _probabilities(*_feed(screener, clip))
    screener.reset()
    updates, tail = _feed(screener, clip, empty_before=300)  # 10 s of nobody first
    assert not any(u.results for u in updates[:300])
    assert all(u.guidance is not None and not u.guidance.recording for u in updates[:300])
    assert updates[300].guidance.recording
    assert _probabilities(updates, tail) == alone  # the same windows, the same probabilities
    summary = screener.summary()
    assert summary.windows_skipped == sum(s == "skipped" for s, _ in alone)
    assert summary.frames_processed == 300 + len(clip.keypoints)


def test_reset_starts_a_new_session_with_the_loaded_models(screener):
    clip = _walk()
    first = _probabilities(*_feed(screener, clip, t0=0.0))
    backend = screener.backend
    screener.reset()
    assert screener.summary().windows_total == 0 and screener.summary().frames_processed == 0
    assert screener.results == [] and len(screener.history.km) == 0
    again = _probabilities(*_feed(screener, clip, t0=0.0))  # timestamps start again from 0
    assert again == first and screener.backend is backend


def test_ready_and_progress_follow_the_session_rules(screening_bundle):
    from scoligait_edge.screener import Screener, ScreenerOptions

    options = ScreenerOptions(run_pose=False, rules=SessionRules(target_screened_windows=2))
    with Screener(screening_bundle, options=options) as s:
        updates, _ = _feed(s, _walk())
    screened = np.cumsum([sum(r.status == "screened" for r in u.results) for u in updates])
    assert screened[-1] >= 2, "the clip must give at least two screened windows"
    for u, n in zip(updates, screened, strict=True):
        assert u.windows_screened == n
        assert u.decision_progress == pytest.approx(min(n / 2, 1.0))
        assert u.ready == (n >= 2)


def test_the_shipped_rules_are_the_defaults_and_a_bad_file_is_named(tmp_path):
    shipped = json.loads(SESSION_RULES_PATH.read_text())
    rules = default_session_rules()
    assert rules.model_dump(by_alias=True) == shipped
    assert rules == SessionRules()  # the model's defaults are the file's values
    assert rules.consent_valid(subject_is_minor=True, subject_consents=True, guardian_consents=False) is False
    assert rules.consent_valid(subject_is_minor=False, subject_consents=True, guardian_consents=False) is True
    bad = tmp_path / "rules.json"
    bad.write_text(json.dumps({**shipped, "target_screened_windows": 0}))
    with pytest.raises(ScoliGaitError, match=r"(?s)rules\.json.*target_screened_windows"):
        load_session_rules(bad)


def test_screener_options_name_where_a_keyword_belongs():
    from scoligait_edge.screener import ScreenerOptions

    with pytest.raises(TypeError, match=r"no 'pose_model'.*PoseEstimatorOptions\(model=\.\.\.\)"):
        ScreenerOptions(pose_model="lite")
    with pytest.raises(TypeError, match=r"BackendOptions\(backend='onnxruntime'\)"):
        ScreenerOptions(backend="onnxruntime")


def test_a_closed_screener_says_it_is_closed(screening_bundle):
    from scoligait_edge.screener import Screener

    s = Screener(screening_bundle, backend="onnxruntime", pose=False)
    s.close()
    nobody = np.full((21, 3), np.nan)
    with pytest.raises(ScoliGaitError, match="closed"):
        s.process_keypoints(nobody, 0.0)
    with pytest.raises(ScoliGaitError, match="closed"):
        s.process(np.zeros((8, 8, 3), np.uint8), 0.0)


def test_guidance_and_a_tracking_state_that_recovers_on_the_real_video(real_video):
    """People in view, body in frame and walking from the pose model; 'searching' again once nobody is seen."""
    from scoligait_edge.screener import Screener
    from scoligait_edge.stream.sources import VideoFileSource

    with Screener(backend="onnxruntime", pose_model="lite") as s, VideoFileSource(real_video) as src:
        updates = [s.process(f.image, f.timestamp_ms) for f in src]
        t = updates[-1].timestamp_ms
        black = np.zeros_like(next(iter(VideoFileSource(real_video))).image)
        after = [s.process(black, t + 33.3 * (i + 1)) for i in range(60)]  # 2 s of an empty scene
    states = [u.tracking_state for u in updates]
    assert "locked" in states
    first_lock = states.index("locked")
    assert not any(u.results for u in updates[:first_lock])  # nothing counted before the lock
    before = [u.guidance.people_in_view for u in updates[:first_lock]]
    assert first_lock > 0 and sum(n >= 1 for n in before) >= len(before) / 2  # people seen before the lock
    assert any(u.guidance.walking for u in updates)
    assert sum(u.guidance.body_in_frame for u in updates) > len(updates) // 2
    assert after[-1].tracking_state == "searching" and after[-1].guidance.people_in_view == 0
    assert not after[-1].guidance.recording  # the segment ended with the subject
    assert (
        updates[first_lock].pose is not None and updates[first_lock].pose.image_size[0] > updates[0].pose.image_size[1]
    )


@pytest.mark.parametrize("native_logs", [False, True])
def test_a_screener_is_quiet_unless_asked(native_logs):
    code = textwrap.dedent(
        f"""
        from scoligait_edge.screener import Screener, ScreenerOptions
        s = Screener(options=ScreenerOptions(native_logs={native_logs}))
        s.close()
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    if native_logs:
        assert len(lines) >= 10  # the chatter that the default hides is really there
    else:
        assert lines == []


def test_the_kiosk_without_its_extra_names_the_pip_command():
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("starlette", "uvicorn"):
                    raise ImportError(f"No module named {name!r}", name=name)
        sys.meta_path.insert(0, Block())
        import scoligait_edge.kiosk
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert 'pip install "scoligait-edge[kiosk]"' in out.stderr
