"""Input holes (issue 12, item 5): pauses, frame rates, non-finite timestamps, truncated videos,
credentials in URLs, and per-backend options."""

from __future__ import annotations

import math
import tracemalloc
from urllib.parse import quote

import cv2
import numpy as np
import pytest

from scoligait_edge.core.constants import check_fps
from scoligait_edge.core.schema import CROSS_WINDOW, SIZE_WINDOW
from scoligait_edge.errors import FrameRateError, TimestampError
from scoligait_edge.kinematics.builder import build_knowledge_map
from scoligait_edge.kinematics.events import detect_gait_events
from scoligait_edge.kinematics.resample import MAX_SEGMENT_GAP_MS, StreamResampler, resample_keypoints, segment_bounds
from scoligait_edge.stream.sources import ImageFolderSource, VideoFileSource, open_source, redact_url


@pytest.fixture(scope="module")
def walk():
    from scoligait_edge.research.sim.simulate import sample_subject, simulate_clip

    subject = sample_subject(np.random.default_rng(0), "a", cobb_deg=0.0)
    return simulate_clip(subject, n_frames=240, camera="side", seed=0).keypoints  # [240, 21, 3] at 30 fps


# ---------------------------------------------------------------- pauses
def test_stream_resampler_starts_a_segment_after_a_long_pause(walk):
    r = StreamResampler()
    for i in range(10):
        r.push(i * 1000 / 30, walk[i])
    out = r.push(9 * 1000 / 30 + 600_000, walk[10])  # 600 s later: a new segment, not 18,000 empty grid points
    assert len(out) == 1 and out[0][0] == pytest.approx(9 * 1000 / 30 + 600_000)
    assert r.segments == 2
    nxt = r.push(9 * 1000 / 30 + 600_000 + 1000 / 30, walk[11])  # the grid restarted at the new sample
    assert len(nxt) == 1
    # a pause just under the bound is still bridged (with empty grid points, as before)
    r2 = StreamResampler()
    r2.push(0.0, walk[0])
    assert len(r2.push(MAX_SEGMENT_GAP_MS - 1, walk[1])) == int((MAX_SEGMENT_GAP_MS - 1) // (1000 / 30))


def test_batch_map_allocates_nothing_for_an_hour_pause(walk):
    ts = np.arange(240) * 1000 / 30
    ts[120:] += 3_600_000.0
    tracemalloc.start()
    try:
        m = build_knowledge_map(walk, timestamps_ms=ts)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    sep = max(SIZE_WINDOW, CROSS_WINDOW)
    assert peak < 100e6  # was 3.4 GB
    assert len(m) == 240 + sep  # two segments of 120 rows and the invalid separator rows
    assert not m.valid[120 : 120 + sep].any() and np.all(np.diff(m.timestamps_ms) > 0)
    # no trailing statistic spans the pause: the second segment maps exactly as it does on its own
    alone = build_knowledge_map(walk[120:], timestamps_ms=ts[120:])
    np.testing.assert_allclose(m.values[120 + sep :], alone.values, atol=1e-6)  # running sums: rounding only
    np.testing.assert_array_equal(m.valid[120 + sep :], alone.valid)
    assert segment_bounds(ts) == [(0, 120), (120, 240)]
    kp, grid = resample_keypoints(walk, ts)
    assert kp.shape[0] == grid.shape[0] == 240


@pytest.fixture(scope="module")
def keypoint_screener():
    from scoligait_edge.screener import Screener

    with Screener(None, backend="onnxruntime", pose=False) as s:  # the demo bundle, no pose model
        yield s


def test_screener_restarts_after_a_pause_and_refuses_bad_timestamps(keypoint_screener, walk):
    s = keypoint_screener
    s._reset_stream()
    t = 0.0
    for i in range(150):
        t = i * 1000 / 30
        s.process_keypoints(walk[i], t)
    before = s.summary()
    for bad in (math.nan, math.inf, -math.inf, True, "12", None, t, t - 5):  # non-finite, not numbers, not increasing
        with pytest.raises(TimestampError):
            s.process_keypoints(walk[150], bad)
    assert s.summary().frames_processed == before.frames_processed == 150  # rejected frames are not counted
    update = s.process_keypoints(walk[150], t + 600_000)  # 10 minutes later
    assert len(update.results) <= 1  # only what the first segment's last rows complete (was 1,125)
    assert s.segments == 1
    for i in range(151, 240):
        s.process_keypoints(walk[i], t + 600_000 + (i - 150) * 1000 / 30)
    firsts = [r.first_frame for r in s.results]
    assert firsts == sorted(set(firsts))  # row indices stay unique across the segments
    assert s.summary().frames_processed == 240
    assert s.rows_seen == len(s.history.km)  # what the report places the history by (was wrong after a pause)
    assert s.results[-1].first_frame + s.window_length <= s.rows_seen


# ---------------------------------------------------------------- frame rates
BAD_FPS = [True, False, np.bool_(True), "30", None, 1e-9, 0.0, -30.0, math.nan, math.inf, 1e6]


@pytest.mark.parametrize("fps", BAD_FPS, ids=repr)
def test_every_public_fps_refuses_bad_rates(fps, walk, tmp_path):
    (tmp_path / "a.png").write_bytes(cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    from scoligait_edge.pose.loaders import PoseSequence
    from scoligait_edge.stream.sources import CameraSource

    calls = [
        lambda: check_fps(fps),
        lambda: build_knowledge_map(walk, fps),
        lambda: resample_keypoints(walk, np.arange(240) * 33.0, rate_hz=fps),
        lambda: StreamResampler(rate_hz=fps),
        lambda: detect_gait_events(walk, fps),
        lambda: ImageFolderSource(tmp_path, fps=fps),
        lambda: open_source(images=tmp_path, fps=fps),
        lambda: PoseSequence.from_frames(walk, fps=fps),
    ]
    if fps is not None:
        calls.append(lambda: CameraSource(0, fps=fps))
    for call in calls:
        with pytest.raises(FrameRateError):
            call()


def test_good_frame_rates_pass_unchanged(walk):
    assert check_fps(25) == 25.0 and check_fps(np.float32(59.94)) == pytest.approx(59.94)
    assert len(build_knowledge_map(walk, np.int64(30))) == 240


# ---------------------------------------------------------------- truncated video
def test_a_truncated_video_says_it_ended_early(tmp_path):
    path = tmp_path / "walk.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    rng = np.random.default_rng(0)
    for _ in range(60):
        writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    whole = VideoFileSource(path)
    assert sum(1 for _ in whole) == 60 and whole.ended_early is None
    cut = tmp_path / "cut.avi"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    src = VideoFileSource(cut)
    n = sum(1 for _ in src)
    assert 0 < n < 60
    assert src.ended_early and f"{n} of the 60 frames" in src.ended_early and "cut.avi" in src.ended_early


# ---------------------------------------------------------------- credentials
def test_redact_url_examples():
    assert redact_url("rtsp://user:pw@cam:554/live") == "rtsp://***@cam:554/live"
    assert redact_url("rtsp://cam/live?password=pw&ch=1") == "rtsp://cam/live?password=***&ch=1"
    assert redact_url("rtsp://cam/live") == "rtsp://cam/live"
    assert "pw" not in redact_url("rtsp://u:pw@cam:notaport/")  # urlsplit raises on this one
    assert "s3cr" not in redact_url("u:s3cr@cam/x")  # no scheme at all


hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies
_HOST = st.from_regex(r"[a-z][a-z0-9.-]{0,15}(:[0-9]{1,5})?", fullmatch=True)
_PATH = st.from_regex(r"(/[a-z0-9_.-]{0,8}){0,3}", fullmatch=True)
_SECRET = st.text(st.characters(codec="utf-8", exclude_characters="\n\r"), min_size=1, max_size=20).map(
    lambda s: "ZQ" + s
)  # "ZQ": upper case never occurs in the generated hosts and paths
_KEYS = st.sampled_from(
    [
        "password",
        "pass",
        "pwd",
        "passwd",
        "token",
        "access_token",
        "apikey",
        "secret",
        "auth",
        "user",
        "username",
        "sig",
        "Password",
        "PWD",
    ]
)


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(
    scheme=st.sampled_from(["rtsp", "rtsps", "http", "https", "rtmp", ""]),
    user=_SECRET,
    password=_SECRET,
    host=_HOST,
    path=_PATH,
    key=_KEYS,
    form=st.integers(0, 5),
    raw=st.booleans(),
)
def test_redact_url_never_returns_a_credential(scheme, user, password, host, path, key, form, raw):
    enc_user, enc_pw = (user, password) if raw else (quote(user, safe=""), quote(password, safe=""))
    prefix = f"{scheme}://" if scheme else ""
    url = {
        0: f"{prefix}{enc_user}:{enc_pw}@{host}{path}",
        1: f"{prefix}{enc_user}@{host}{path}",
        2: f"{prefix}{host}{path}?{key}={quote(password, safe='')}&ch=1",
        3: f"{prefix}{host}{path}?ch=1;{key}={quote(password, safe='')}",
        4: f"{prefix}{host}{path}#{key}={quote(password, safe='')}",
        5: f"{prefix}{enc_user}:{enc_pw}@{host}{path}?{key}={quote(password, safe='')}",
    }[form]
    out = redact_url(url)
    secrets = {password, quote(password, safe=""), quote(password)}
    if form in (0, 1, 5):
        secrets |= {user, quote(user, safe=""), quote(user)}
    for secret in secrets:
        assert secret not in out, (url, out)


# ---------------------------------------------------------------- backend options
def test_backend_options_are_filtered_per_backend(monkeypatch):
    from scoligait_edge import runtimes
    from scoligait_edge.screener import BackendOptions, Screener

    assert BackendOptions(threads=2).for_backend("tensorrt") == {}
    assert BackendOptions(threads=2).for_backend("onnxruntime") == {"threads": 2}
    assert BackendOptions(threads=None).for_backend("torch") == {}
    with pytest.raises(ValueError):
        BackendOptions(threads=0)
    seen = {}

    class Stop(Exception):
        pass

    def fake_load_backend(bundle, backend="auto", precision="fp32", device=None, **options):
        seen[backend] = options
        raise Stop

    monkeypatch.setattr(runtimes, "load_backend", fake_load_backend)
    for backend in ("tensorrt", "onnxruntime", "auto"):
        with pytest.raises(Stop):
            Screener(None, backend=backend, threads=1)
    assert seen == {"tensorrt": {}, "onnxruntime": {"threads": 1}, "auto": {"threads": 1}}
    with pytest.raises(ValueError, match="hop"):
        Screener(None, hop=0)


def test_process_refuses_a_nan_timestamp_before_the_pose_model_sees_it(keypoint_screener):
    s = keypoint_screener
    s._reset_stream()

    class NoPose:  # process() must refuse the timestamp before calling the estimator
        def detect(self, *args):
            raise AssertionError("the pose model was called")

    s._estimator, s._tracker = NoPose(), object()
    try:
        image = np.zeros((8, 8, 3), np.uint8)
        for bad in (math.nan, math.inf, "0", None, True):
            with pytest.raises(TimestampError):
                s.process(image, bad)
        assert s.summary().frames_processed == 0
    finally:
        s._estimator = s._tracker = None
