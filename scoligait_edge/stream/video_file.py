"""Read frames from a video file with trustworthy timestamps.

The pose model in VIDEO mode needs strictly increasing timestamps, and some
containers report nonsense (0, negative, NaN, going backwards) for
``CAP_PROP_POS_MSEC``; this module detects that and falls back to
``index / fps`` so everything downstream can rely on the timestamps.
"""

from __future__ import annotations

import logging
import math
import os
import stat
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from scoligait_edge.core.constants import DEFAULT_FPS, MAX_FRAME_PIXELS
from scoligait_edge.errors import FrameError, VideoReadError

log = logging.getLogger(__name__)


_MAX_SANE_FPS = 1000.0


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One decoded frame: ``image`` is BGR uint8 ``[H, W, 3]`` (OpenCV's order)."""

    index: int
    timestamp_ms: float
    image: np.ndarray


class VideoInfo(BaseModel):
    """What a video file holds, read from its container (``fps`` None when unknown)."""

    model_config = ConfigDict(frozen=True)

    width: int = Field(gt=0)
    height: int = Field(gt=0)
    fps: float | None = Field(default=None, gt=0)
    frame_count: int = Field(gt=0)

    @property
    def duration_s(self) -> float | None:
        """Length in seconds, when the frame rate is known."""
        return None if self.fps is None else self.frame_count / self.fps


def _sane_fps(value: float) -> float | None:
    return value if math.isfinite(value) and 0.0 < value <= _MAX_SANE_FPS else None


def printable_path(path: str | Path) -> str:
    """``path`` for a message: bytes that are not UTF-8 and control characters escaped, never raw."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def opencv_path(path: str | Path) -> str:
    """``path`` as the ``str`` OpenCV takes; VideoReadError when its name is not valid UTF-8.

    OpenCV converts the name to UTF-8 in C++ and crashes the process (SIGSEGV) on the surrogates
    Python uses for undecodable bytes, so such a name must never reach it."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise VideoReadError(
            f"cannot open {printable_path(path)}: its name is not valid UTF-8, which OpenCV cannot open; rename it"
        ) from None
    return text


def file_kind(path: Path) -> str | None:
    """What ``path`` is when it is not a regular file ('a folder', 'a FIFO (named pipe)', ...), or None."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "not found"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    for test, kind in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def check_video_path(path: Path) -> None:
    """VideoReadError unless ``path`` is a regular file OpenCV can be given; the message says what it is."""
    kind = file_kind(path)
    if kind == "not found":
        raise VideoReadError(f"Video file not found: {printable_path(path)}")
    if kind is not None:
        raise VideoReadError(f"Not a video file: {printable_path(path)} is {kind}")
    opencv_path(path)


def check_frame_pixels(width: int, height: int, what: str) -> None:
    """FrameError when a ``width`` x ``height`` frame exceeds MAX_FRAME_PIXELS (before it is decoded, where possible)."""
    if width * height > MAX_FRAME_PIXELS:
        raise FrameError(
            f"{what} is {width} x {height} pixels ({width * height / 1e6:.0f} MP), more than the "
            f"{MAX_FRAME_PIXELS / 1e6:.0f} MP a frame may have: scale it down"
        )


@contextmanager
def _open_capture(path: str | Path) -> Iterator[cv2.VideoCapture]:
    """Open a capture or raise VideoReadError; always release it afterwards."""
    p = Path(path).expanduser()
    check_video_path(p)
    if p.stat().st_size == 0:
        raise VideoReadError(f"Video file is empty (0 bytes): {printable_path(p)}")
    cap = cv2.VideoCapture(opencv_path(p))
    try:
        if not cap.isOpened():
            raise VideoReadError(
                f"Cannot open video {p}: OpenCV could not read the container "
                "(corrupt, truncated or an unsupported codec?)"
            )
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        try:
            check_frame_pixels(width, height, f"Video {printable_path(p)}")
        except FrameError as exc:
            raise VideoReadError(str(exc)) from None
        yield cap
    finally:
        cap.release()


def _check_image(image: np.ndarray | None, path: str | Path, index: int) -> np.ndarray:
    if image is None or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        got = None if image is None else (image.dtype, image.shape)
        raise VideoReadError(f"Video {path}: frame {index} decoded to {got}, not BGR uint8")
    return image


def probe_video(path: str | Path) -> VideoInfo:
    """Size, frame rate and frame count of a video, checking that a frame decodes.

    Raises VideoReadError when the file is missing, unreadable or has no frames:
    better to fail here than after a long pose run.
    """
    with _open_capture(path) as cap:
        ok, first = cap.read()
        if not ok:
            raise VideoReadError(f"Video {path} has no decodable frames (empty or corrupt)")
        _check_image(first, path, 0)
        height, width = first.shape[:2]
        fps = _sane_fps(float(cap.get(cv2.CAP_PROP_FPS)))
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if count <= 0:
            # Some containers (streams, some webm) do not store a count: decode to count.
            count = 1
            while cap.grab():
                count += 1
    return VideoInfo(width=width, height=height, fps=fps, frame_count=count)


def iter_video_frames(
    path: str | Path, *, max_frames: int | None = None, on_end: Callable[[int, int | None], None] | None = None
) -> Generator[VideoFrame, None, None]:
    """Yield the frames of a video file in order, with strictly increasing timestamps.

    A missing file raises VideoReadError at once; a corrupt file or one with no
    frames raises it when iteration starts. The capture is released when the
    iteration ends, fails or the generator is closed (``break`` included).
    When decoding stops on its own (not at ``max_frames``), ``on_end(decoded,
    container_count)`` is called (count None when the container has none) and
    a decode that stopped well short of the container's count is logged: a
    truncated file otherwise looks like a short one.
    """
    p = Path(path).expanduser()
    check_video_path(p)
    if max_frames is not None and max_frames < 0:
        raise ValueError(f"max_frames must be >= 0, got {max_frames}")
    return _iter_frames(p, max_frames, on_end)


def ended_early_message(path: str | Path, decoded: int, expected: int | None) -> str | None:
    """Words for a decode that stopped short of the container's frame count (None if it did not).

    Containers may overstate their count by a frame or two, so up to 1 % (at
    least 2 frames) short counts as complete.
    """
    if expected is None or expected <= 0 or expected - decoded <= max(2, round(0.01 * expected)):
        return None
    return (
        f"the video {Path(path).name} ended early: {decoded} of the {expected} frames its container "
        "lists could be decoded (truncated or damaged file?)"
    )


def _iter_frames(
    path: Path, max_frames: int | None, on_end: Callable[[int, int | None], None] | None = None
) -> Generator[VideoFrame, None, None]:
    with _open_capture(path) as cap:
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        fps = _sane_fps(float(cap.get(cv2.CAP_PROP_FPS)))
        if fps is None:
            log.warning("Video %s reports no usable frame rate; assuming %.0f fps", path, DEFAULT_FPS)
            fps = DEFAULT_FPS
        frame_ms = 1000.0 / fps
        use_container_time = True
        prev_ts = -math.inf
        index = 0
        while max_frames is None or index < max_frames:
            ok, image = cap.read()
            if not ok:
                message = ended_early_message(path, index, count if count > 0 else None)
                if message:
                    log.warning("%s", message)
                if on_end is not None:
                    on_end(index, count if count > 0 else None)
                break
            _check_image(image, path, index)
            ts = float(cap.get(cv2.CAP_PROP_POS_MSEC)) if use_container_time else math.nan
            if use_container_time and not (
                math.isfinite(ts) and ts >= 0.0 and ts > prev_ts and (index == 0 or ts > 0.0)
            ):
                log.warning(
                    "Video %s: container timestamp %r at frame %d is unusable; "
                    "using frame index / %.3f fps from here on",
                    path,
                    ts,
                    index,
                    fps,
                )
                use_container_time = False
            if not use_container_time:
                ts = index * frame_ms
                if ts <= prev_ts:  # container time ran ahead of index time
                    ts = prev_ts + frame_ms
            prev_ts = ts
            yield VideoFrame(index=index, timestamp_ms=ts, image=image)
            index += 1
        if index == 0 and max_frames != 0:
            raise VideoReadError(f"Video {path} has no decodable frames (empty or corrupt)")
