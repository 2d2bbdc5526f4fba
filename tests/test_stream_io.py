"""Live I/O pieces: frame sources (file, folder, camera with dropouts), the overlay, the JSONL log.

Cameras are played by ``FakeCamera`` (a scripted ``cv2.VideoCapture``-like
device) with tiny delays, so reconnect logic is tested in milliseconds.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import BaseModel

from scoligait_edge.errors import VideoReadError, VideoWriteError
from scoligait_edge.pose.frame import PersonPose, PoseFrame
from scoligait_edge.stream.fake_camera import Dropout, FakeCamera, fake_frame_number, make_fake_frame
from scoligait_edge.stream.results_log import JsonlWriter, read_jsonl
from scoligait_edge.stream.sources import (
    CameraSource,
    ImageFolderSource,
    RetryPolicy,
    SourceState,
    VideoFileSource,
    open_source,
    redact_url,
)
from scoligait_edge.viz.overlay import LEFT_COLOR, OTHER_COLOR, RIGHT_COLOR, OverlayVideoWriter, draw_overlay, to_ascii

FAST = RetryPolicy(base_delay_s=0.01, factor=2.0, max_delay_s=0.05, read_failure_sleep_s=0.001)


# ---------------------------------------------------------------- stored sources
def _write_video(path: Path, n: int, size: tuple[int, int] = (64, 48), fps: float = 25.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(n):
        writer.write(np.full((size[1], size[0], 3), (i * 20) % 255, np.uint8))
    writer.release()
    return path


def test_video_file_source_gives_every_frame_with_increasing_timestamps(tmp_path: Path) -> None:
    path = _write_video(tmp_path / "clip.avi", 12)
    with VideoFileSource(path) as src:
        assert src.name == "video clip.avi" and not src.is_live
        assert src.nominal_fps == pytest.approx(25.0)
        frames = list(src)
    assert [f.index for f in frames] == list(range(12))
    ts = np.array([f.timestamp_ms for f in frames])
    assert np.all(np.diff(ts) > 0) and ts[1] - ts[0] == pytest.approx(40.0, abs=1.0)
    assert frames[0].image.shape == (48, 64, 3) and frames[0].image.dtype == np.uint8


def test_video_file_source_errors_and_early_close(tmp_path: Path) -> None:
    with pytest.raises(VideoReadError, match="not found"):
        VideoFileSource(tmp_path / "missing.mp4")
    src = VideoFileSource(_write_video(tmp_path / "clip.avi", 5))
    it = iter(src)
    next(it)
    src.close()  # releases the capture mid-iteration
    assert list(it) == []


def test_image_folder_empty_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(VideoReadError, match="No images"):
        ImageFolderSource(tmp_path)
    with pytest.raises(VideoReadError, match="not found"):
        ImageFolderSource(tmp_path / "nope")


def test_image_folder_natural_order_and_corrupt_image_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    for i in (1, 2, 10):
        cv2.imwrite(str(tmp_path / f"frame{i}.png"), np.full((20, 30, 3), i, np.uint8))
    (tmp_path / "frame3.png").write_bytes(b"\x89PNG garbage")
    with caplog.at_level(logging.WARNING), ImageFolderSource(tmp_path, fps=10) as src:
        frames = list(src)
    assert [int(f.image[0, 0, 0]) for f in frames] == [1, 2, 10]  # frame10 after frame2
    assert [f.index for f in frames] == [0, 1, 3]  # the corrupt frame3 leaves a gap
    assert [f.timestamp_ms for f in frames] == [0.0, 100.0, 300.0]
    assert [p.name for p in src.skipped] == ["frame3.png"]
    assert "frame3.png" in caplog.text


def test_image_folder_with_no_decodable_image_fails(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"nope")
    with pytest.raises(VideoReadError, match="could be decoded"):
        list(ImageFolderSource(tmp_path))


def test_open_source_picks_exactly_one(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        open_source()
    with pytest.raises(ValueError, match="exactly one"):
        open_source(camera=0, video=tmp_path / "x.mp4")
    assert isinstance(open_source(video=_write_video(tmp_path / "c.avi", 3)), VideoFileSource)
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((4, 4, 3), np.uint8))
    assert isinstance(open_source(images=tmp_path, fps=15), ImageFolderSource)
    cam = open_source(camera="0", capture_factory=FakeCamera())
    assert isinstance(cam, CameraSource) and cam.target == 0 and cam.name == "camera 0" and cam.is_live
    rtsp = open_source(rtsp="rtsp://user:secret@10.0.0.5:554/live", capture_factory=FakeCamera())
    assert "secret" not in rtsp.name and "10.0.0.5:554" in rtsp.name
    with pytest.raises(ValueError, match="URL"):
        open_source(rtsp="10.0.0.5")


def test_default_factory_can_be_monkeypatched_for_cli_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    import scoligait_edge.stream.sources as sources

    cam = FakeCamera(fps=300)
    monkeypatch.setattr(sources, "default_capture_factory", cam)
    with open_source(camera=2) as src:
        assert len(_take(src, 3)) == 3
    assert cam.sources == [2]


def test_redact_url() -> None:
    assert redact_url("rtsp://a:b@host:554/x?y=1") == "rtsp://***@host:554/x?y=1"
    assert redact_url("rtsp://host/x") == "rtsp://host/x"


# ---------------------------------------------------------------- camera source
def _take(src: CameraSource, n: int, delay_s: float = 0.0) -> list:
    frames = []
    for f in src:
        frames.append(f)
        if len(frames) >= n:
            break
        if delay_s:
            time.sleep(delay_s)
    return frames


def test_camera_frames_flow_and_stop_joins_the_thread() -> None:
    cam = FakeCamera(fps=300)
    src = CameraSource(0, capture_factory=cam, retry=FAST)
    with src:
        frames = _take(src, 10)
        thread = src._thread
        assert thread is not None and thread.is_alive()
    assert not thread.is_alive() and src.state is SourceState.STOPPED
    assert all(c._released for c in cam.captures)
    ts = np.array([f.timestamp_ms for f in frames])
    assert np.all(np.diff(ts) >= 1.0)  # integer-ms consumers never see a repeat
    assert all(f.index == fake_frame_number(f.image) for f in frames)
    assert frames[0].image.shape == (240, 320, 3)
    assert src.nominal_fps == pytest.approx(300)
    assert src.read(timeout=0.01) is None  # stopped: nothing more, no hang


def test_newest_frame_wins_for_a_slow_consumer_and_memory_stays_bounded() -> None:
    cam = FakeCamera(fps=500, size=(160, 120))
    with CameraSource(0, capture_factory=cam, retry=FAST) as src:
        frames = []
        for _ in range(8):
            time.sleep(0.02)  # a slow pose model
            produced = cam.frames_produced
            f = src.read(timeout=1.0)
            assert f is not None
            assert fake_frame_number(f.image) >= produced - 2  # the newest, not the oldest waiting
            frames.append(f)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        time.sleep(0.2)  # ~100 frames produced, none consumed
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        stats = src.stats
    assert grown < 5 * 160 * 120 * 3  # one slot, not a queue
    assert stats.dropped > 20
    assert stats.grabbed - stats.delivered - stats.dropped in (0, 1)  # the last may still wait in the slot
    idx = [f.index for f in frames]
    assert idx == sorted(idx) and len(set(np.diff(idx))) > 0 and max(np.diff(idx)) > 1  # gaps show the drops


def test_unplugged_camera_retries_with_backoff_and_comes_back(caplog: pytest.LogCaptureFixture) -> None:
    cam = FakeCamera(fps=300, dropouts=[Dropout(at_frame=10, failed_opens=2)])
    events = []
    with caplog.at_level(logging.INFO, logger="scoligait_edge.stream.sources"):
        src = CameraSource(0, capture_factory=cam, retry=FAST, on_state=events.append)
        with src:
            frames = _take(src, 20)
    states = [e.state for e in events]
    assert states == [
        SourceState.OPENING,
        SourceState.LIVE,
        SourceState.LOST,
        SourceState.RETRYING,
        SourceState.RETRYING,
        SourceState.LIVE,
        SourceState.STOPPED,
    ]
    assert [e.retry_in_s for e in events[2:5]] == pytest.approx([0.01, 0.02, 0.04])  # exponential backoff
    assert cam.opens == 4 and cam.failed_open_attempts == 2 and src.stats.reconnects == 1
    assert "camera 0 lost, retrying in" in caplog.text and "camera 0 back" in caplog.text
    ts = np.array([f.timestamp_ms for f in frames])
    assert np.all(np.diff(ts) > 0) and np.diff(ts).max() >= 60.0  # the outage shows as a time gap
    nums = [fake_frame_number(f.image) for f in frames]
    assert nums == sorted(nums) and nums[-1] >= 19


def test_short_read_glitch_does_not_reconnect_but_a_long_one_does() -> None:
    cam = FakeCamera(fps=300, dropouts=[Dropout(at_frame=5, unplug=False, failed_reads=2)])
    with CameraSource(0, capture_factory=cam, retry=FAST.model_copy(update={"max_read_failures": 5})) as src:
        _take(src, 12)
    assert cam.opens == 1 and src.stats.reconnects == 0
    cam = FakeCamera(fps=300, dropouts=[Dropout(at_frame=5, unplug=False, failed_reads=10)])
    with CameraSource(0, capture_factory=cam, retry=FAST.model_copy(update={"max_read_failures": 3})) as src:
        _take(src, 12)
    assert cam.opens >= 2 and src.stats.reconnects >= 1


def test_camera_that_never_comes_back_gives_up_with_a_clear_error() -> None:
    cam = FakeCamera(fps=300, end_after=5)
    events = []
    src = CameraSource(
        0, capture_factory=cam, retry=FAST.model_copy(update={"max_attempts": 3}), on_state=events.append
    )
    with pytest.raises(VideoReadError, match="gave up after 3"), src:
        _take(src, 100)
    assert src.state is SourceState.FAILED and events[-1].state is SourceState.FAILED
    assert cam.opens == 4


def test_camera_missing_at_start_fails_fast_or_waits_when_asked() -> None:
    src = CameraSource(3, capture_factory=FakeCamera(fail_first_opens=1), retry=FAST)
    with pytest.raises(VideoReadError, match="Cannot open camera 3"):
        src.start()
    with pytest.raises(VideoReadError, match="Cannot open camera 3"):
        src.read(timeout=None)  # a second try raises too, never blocks
    events = []
    cam = FakeCamera(fps=300, fail_first_opens=2)
    src = CameraSource(
        3, capture_factory=cam, retry=FAST.model_copy(update={"retry_on_start": True}), on_state=events.append
    )
    with src:
        assert len(_take(src, 3)) == 3
    assert [e.state for e in events][:3] == [SourceState.OPENING, SourceState.LOST, SourceState.RETRYING]
    assert "not available" in events[1].message and src.stats.reconnects == 1


def test_without_reader_thread_every_frame_is_delivered_in_order() -> None:
    cam = FakeCamera(fps=1000, realtime=False, dropouts=[Dropout(at_frame=4, failed_opens=1)])
    with CameraSource(0, capture_factory=cam, retry=FAST, reader_thread=False) as src:
        frames = _take(src, 10, delay_s=0.002)
        assert src._thread is None
    assert [fake_frame_number(f.image) for f in frames] == list(range(10))
    assert src.stats.dropped == 0 and src.stats.reconnects == 1


def test_idle_ticks_let_a_ui_show_the_outage_and_stop_interrupts_backoff() -> None:
    cam = FakeCamera(fps=300, dropouts=[Dropout(at_frame=3, failed_opens=1000)])
    src = CameraSource(0, capture_factory=cam, retry=RetryPolicy(base_delay_s=10.0, read_failure_sleep_s=0.001))
    statuses = []
    with src:
        for f in src.frames(idle_s=0.02):
            if f is None:
                statuses.append(src.status_text)
                if len(statuses) >= 3:
                    break
        t0 = time.monotonic()
    assert time.monotonic() - t0 < 1.0  # stop() did not wait out the 10 s backoff
    assert "camera 0 lost, retrying in 10.0 s" in statuses[-1]
    assert not src._thread.is_alive()


def test_stop_from_another_thread_ends_a_blocked_iteration() -> None:
    cam = FakeCamera(fps=5)
    src = CameraSource(0, capture_factory=cam, retry=FAST).start()
    threading.Timer(0.3, src.stop).start()
    t0 = time.monotonic()
    n = sum(1 for _ in src)
    assert time.monotonic() - t0 < 2.0 and 1 <= n <= 4


def test_real_opencv_capture_in_the_reader_thread(tmp_path: Path) -> None:
    """The default factory with a real cv2.VideoCapture: a file played as a stream ends, is
    "lost" and re-opened, i.e. it loops; the thread and the release are safe with real OpenCV."""
    path = _write_video(tmp_path / "loop.avi", 6)
    for threaded in (False, True):
        with CameraSource(str(path), retry=FAST, reader_thread=threaded) as src:
            frames = _take(src, 14, delay_s=0.001)
        assert len(frames) == 14 and src.stats.reconnects >= 1 and src.state is SourceState.STOPPED
        assert frames[0].image.shape == (48, 64, 3)


def test_fake_camera_behaves_like_a_capture() -> None:
    cam = FakeCamera(fps=30, size=(64, 32), realtime=False)
    cap = cam(0)
    assert cap.isOpened() and cap.get(cv2.CAP_PROP_FRAME_WIDTH) == 64 and cap.get(cv2.CAP_PROP_FPS) == 30
    assert cap.set(cv2.CAP_PROP_BUFFERSIZE, 1) and cap.get(cv2.CAP_PROP_BUFFERSIZE) == 1
    ok, img = cap.read()
    assert ok and img.shape == (32, 64, 3) and fake_frame_number(img) == 0
    assert cap.grab() and fake_frame_number(cap.retrieve()[1]) == 1
    cap.release()
    assert not cap.isOpened() and cap.read() == (False, None)
    assert fake_frame_number(make_fake_frame(70000)) == 70000


# ---------------------------------------------------------------- overlay
W, H = 1280, 720


def frontal(cx: float, hip_y: float, height: float = 400.0) -> PersonPose:
    """A person facing the camera (their left on the image's right), MediaPipe's 33 landmarks."""
    lm = np.zeros((33, 4))
    lm[:, 3] = 0.95
    torso, leg = 0.3 * height, 0.25 * height
    sy = hip_y - torso
    lm[:11, :2] = (cx, sy - 0.12 * height)
    for l_idx, r_idx, dx, y in (
        (2, 5, 0.03 * height, sy - 0.14 * height),
        (7, 8, 0.06 * height, sy - 0.13 * height),
        (11, 12, 0.12 * height, sy),
        (13, 14, 0.14 * height, sy + 0.5 * torso),
        (15, 16, 0.15 * height, hip_y),
        (23, 24, 0.08 * height, hip_y),
        (25, 26, 0.08 * height, hip_y + leg),
        (27, 28, 0.08 * height, hip_y + 2 * leg),
        (29, 30, 0.1 * height, hip_y + 2 * leg + 12),
        (31, 32, 0.13 * height, hip_y + 2 * leg + 20),
    ):
        lm[l_idx, :2] = (cx + dx, y)
        lm[r_idx, :2] = (cx - dx, y)
    return PersonPose(image_landmarks=lm)


def _shin_mid(cx: float, hip_y: float, height: float, side: int, scale: float = 1.0) -> tuple[int, int]:
    """Pixel (x, y) half-way down a shin (vertical bone): side +1 = the person's left."""
    return round((cx + side * 0.08 * height) * scale), round((hip_y + 0.375 * height) * scale)


def _near(pixel: np.ndarray, color: tuple[int, int, int], tol: int = 12) -> bool:
    return bool(np.abs(pixel.astype(int) - np.array(color)).max() <= tol)


KW = dict(
    progress=0.4,
    probability=0.62,
    top_features=["angle:shoulder_tilt — shoulder tilt"],
    status="tracking",
    notices=["Demo model trained on simulated gait", "Screening aid, not a diagnosis"],
)


def test_overlay_colours_the_subject_and_greys_the_others() -> None:
    img = np.full((H, W, 3), 90, np.uint8)
    pf = PoseFrame(
        timestamp_ms=0.0,
        image_size=(W, H),
        people=[frontal(400, 380), frontal(900, 380)],
        subject_index=1,
        track_ids=[4, 7],
    )
    out = draw_overlay(img, pf, **KW)
    assert out is not img and np.all(img == 90)  # the camera frame is left alone
    lx, ly = _shin_mid(900, 380, 400, +1)
    rx, ry = _shin_mid(900, 380, 400, -1)
    assert _near(out[ly, lx], LEFT_COLOR) and _near(out[ry, rx], RIGHT_COLOR)
    gx, gy = _shin_mid(400, 380, 400, +1)
    assert _near(out[gy, gx], OTHER_COLOR)
    assert not np.array_equal(out[:200, :400], img[:200, :400])  # the panel is drawn
    assert not np.array_equal(out[-30:], img[-30:])  # the notices strip too


def test_overlay_scales_pose_coordinates_and_draws_in_place() -> None:
    img = np.full((H, W, 3), 90, np.uint8)
    pf = PoseFrame(timestamp_ms=0.0, image_size=(W // 2, H // 2), people=[frontal(450, 190, 200)], subject_index=0)
    out = draw_overlay(img, pf, in_place=True, **KW)
    assert out is img
    x, y = _shin_mid(450, 190, 200, +1, scale=2.0)
    assert _near(out[y, x], LEFT_COLOR)


def test_overlay_never_crashes_on_missing_or_broken_input() -> None:
    img = np.zeros((H, W, 3), np.uint8)
    broken = frontal(600, 380).image_landmarks.copy()
    broken[25:29, :2] = np.nan
    broken[11, :2] = (1e12, -1e12)
    all_nan = np.full((33, 4), np.nan)
    pf = PoseFrame(
        timestamp_ms=0.0,
        image_size=(W, H),
        people=[PersonPose(image_landmarks=broken), PersonPose(image_landmarks=all_nan)],
        subject_index=1,
    )
    for frame in (pf, None, PoseFrame(timestamp_ms=0.0, image_size=(W, H), people=[])):
        out = draw_overlay(img, frame, progress=math.nan, probability=math.nan, top_features=[], status="", notices=[])
        assert out.shape == img.shape
    draw_overlay(
        img,
        pf,
        progress=7.0,
        probability=None,
        top_features=["x" * 500] * 9,
        status="é — ≥ ok",
        notices=["n" * 900],
        threshold=0.5,
        alert=True,
    )
    small = draw_overlay(np.zeros((120, 160, 3), np.uint8), pf, **KW)
    assert small.shape == (120, 160, 3)
    with pytest.raises(ValueError, match="uint8"):
        draw_overlay(np.zeros((10, 10), np.uint8), None, **KW)
    assert to_ascii("collecting… — P ≥ 0.5, 10°") == "collecting... - P >= 0.5, 10 deg"


def test_overlay_costs_a_few_ms_at_720p() -> None:
    img = np.full((H, W, 3), 90, np.uint8)
    pf = PoseFrame(
        timestamp_ms=0.0,
        image_size=(W, H),
        people=[frontal(400, 380), frontal(900, 380)],
        subject_index=1,
        track_ids=[4, 7],
    )
    kw = dict(KW, top_features=["a", "b", "c"], threshold=0.5)
    for _ in range(5):
        draw_overlay(img, pf, **kw)
    times = []
    for _ in range(40):
        t0 = time.perf_counter()
        draw_overlay(img, pf, **kw)
        times.append(time.perf_counter() - t0)
    # ~1.3 ms on the dev machine; the bound leaves room for a busy CI box.
    assert float(np.median(times)) < 0.010


def test_overlay_video_writer(tmp_path: Path) -> None:
    path = tmp_path / "out" / "overlay.mp4"
    with OverlayVideoWriter(path, fps=20) as writer:
        assert not path.exists()  # created lazily
        for i in range(5):
            writer.write(np.full((120, 160, 3), 40 * i, np.uint8))
        writer.write(np.zeros((60, 80, 3), np.uint8))  # another size: resized
    assert writer.frames_written == 6
    cap = cv2.VideoCapture(str(path))
    n, size = 0, None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        n, size = n + 1, frame.shape
    cap.release()
    assert n == 6 and size == (120, 160, 3)
    empty = OverlayVideoWriter(tmp_path / "never.mp4", fps=30)
    empty.close()
    assert not (tmp_path / "never.mp4").exists()
    (tmp_path / "afile").write_text("x")
    with pytest.raises((VideoWriteError, OSError)):
        OverlayVideoWriter(tmp_path / "afile" / "v.mp4", fps=30).write(np.zeros((8, 8, 3), np.uint8))


# ---------------------------------------------------------------- JSONL
class _Result(BaseModel):
    window: int
    probability: float | None
    decision: str


def test_jsonl_lines_are_on_disk_while_the_writer_is_open(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "results.jsonl"
    w = JsonlWriter(path, fsync=True)
    w.write(_Result(window=0, probability=0.25, decision="no refer"))
    w.write({"window": np.int64(1), "probability": np.float32(0.5), "km": np.arange(3), "p": path, "bad": math.nan})
    lines = path.read_text(encoding="utf-8").splitlines()  # still open: flushed already
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first == {"window": 0, "probability": 0.25, "decision": "no refer"}
    assert second["window"] == 1 and second["km"] == [0, 1, 2] and second["bad"] is None
    with pytest.raises(TypeError):
        w.write({"x": object()})
    assert len(path.read_text().splitlines()) == 2  # a bad record writes nothing
    w.close()
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.write({"a": 1})
    with JsonlWriter(path) as w2:  # appends
        w2.write({"window": 2, "text": "é\nnew line"})
    recs = read_jsonl(path)
    assert [r["window"] for r in recs] == [0, 1, 2] and recs[2]["text"] == "é\nnew line"
    with path.open("a") as fh:
        fh.write('{"window": 3, "trunc')  # a crash mid-line by some other writer
    assert len(read_jsonl(path)) == 3
