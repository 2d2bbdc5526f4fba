"""Video reading: error paths name the file; timestamps are always usable."""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from scoligait_edge.errors import VideoReadError
from scoligait_edge.stream.video_file import VideoInfo, iter_video_frames, probe_video


def _write_video(path: Path, n: int, size: tuple[int, int] = (64, 48), fps: float = 25.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(n):
        img = np.full((size[1], size[0], 3), (i * 20) % 255, np.uint8)
        writer.write(img)
    writer.release()
    return path


_RealCapture = cv2.VideoCapture


class _CaptureProxy:
    """Wraps a real capture (subclassing cv2.VideoCapture crashes OpenCV 5 at exit)."""

    def __init__(self, *args: object) -> None:
        self._cap = _RealCapture(*args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._cap, name)


def test_reads_frames_with_increasing_timestamps(tmp_path: Path) -> None:
    path = _write_video(tmp_path / "ok.avi", 10)
    frames = list(iter_video_frames(path))
    assert [f.index for f in frames] == list(range(10))
    assert all(f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8 for f in frames)
    ts = np.array([f.timestamp_ms for f in frames])
    assert np.all(np.diff(ts) > 0)
    assert np.diff(ts) == pytest.approx(40.0, abs=1.0)  # 25 fps


def test_max_frames(tmp_path: Path) -> None:
    path = _write_video(tmp_path / "ok.avi", 10)
    assert len(list(iter_video_frames(path, max_frames=3))) == 3
    assert list(iter_video_frames(path, max_frames=0)) == []


def test_probe(tmp_path: Path) -> None:
    info = probe_video(_write_video(tmp_path / "ok.avi", 7, size=(80, 60), fps=15))
    assert info == VideoInfo(width=80, height=60, fps=15.0, frame_count=7)
    assert info.duration_s == pytest.approx(7 / 15)


def test_missing_file_fails_at_call(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    with pytest.raises(VideoReadError, match="not found.*nope.mp4"):
        iter_video_frames(missing)  # eager: no need to start iterating
    with pytest.raises(VideoReadError, match="nope.mp4"):
        probe_video(missing)


def test_directory_is_not_a_video(tmp_path: Path) -> None:
    with pytest.raises(VideoReadError):
        probe_video(tmp_path)


@pytest.mark.parametrize("content", [b"", os.urandom(4096)], ids=["empty", "random-bytes"])
def test_corrupt_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(content)
    with pytest.raises(VideoReadError, match="broken.mp4"):
        list(iter_video_frames(path))
    with pytest.raises(VideoReadError, match="broken.mp4"):
        probe_video(path)


def test_zero_frame_video(tmp_path: Path) -> None:
    path = _write_video(tmp_path / "zero.avi", 0)
    cap = cv2.VideoCapture(str(path))
    opened = cap.isOpened()
    cap.release()
    assert opened, "the container itself must open, so this tests the zero-frame path"
    with pytest.raises(VideoReadError, match=r"zero\.avi has no decodable frames"):
        list(iter_video_frames(path))
    with pytest.raises(VideoReadError, match="zero.avi"):
        probe_video(path)


def test_nonsense_container_timestamps_fall_back_to_index(tmp_path: Path, monkeypatch) -> None:
    """A container reporting 0 ms for every frame must not break monotonic time."""
    path = _write_video(tmp_path / "ok.avi", 6, fps=20)

    class ZeroClock(_CaptureProxy):
        def get(self, prop: int) -> float:
            return 0.0 if prop == cv2.CAP_PROP_POS_MSEC else self._cap.get(prop)

    monkeypatch.setattr(cv2, "VideoCapture", ZeroClock)
    ts = [f.timestamp_ms for f in iter_video_frames(path)]
    assert ts == pytest.approx([0, 50, 100, 150, 200, 250])


def test_capture_released_on_early_break(tmp_path: Path, monkeypatch) -> None:
    path = _write_video(tmp_path / "ok.avi", 10)
    released = []

    class Spy(_CaptureProxy):
        def release(self) -> None:
            released.append(True)
            self._cap.release()

    monkeypatch.setattr(cv2, "VideoCapture", Spy)
    gen = iter_video_frames(path)
    next(gen)
    gen.close()  # what a `break` in a for loop leads to
    assert released == [True]


def test_real_video(real_video: Path) -> None:
    info = probe_video(real_video)
    assert (info.width, info.height, info.frame_count) == (1768, 994, 230)
    assert info.fps is not None and math.isclose(info.fps, 30.0)
    frames = list(iter_video_frames(real_video, max_frames=5))
    assert [round(f.timestamp_ms, 1) for f in frames] == [0.0, 33.3, 66.7, 100.0, 133.3]
