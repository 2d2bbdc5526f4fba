"""Frame sources behind one interface: video files, image folders, cameras and RTSP streams.

Every source is an iterator of :class:`~scoligait_edge.stream.video_file.VideoFrame`
(``index``, ``timestamp_ms``, ``image`` BGR uint8) with a ``name``, ``close()``
and context-manager support, so the screener's loop does not care where
frames come from. They differ where they must:

* Files and folders give *every* frame in order with its own timestamp: an
  offline run must be reproducible, and the resampler handles rate changes.
* Cameras give the *newest* frame: a reader thread keeps one slot and
  overwrites it, so a slow consumer (pose model on a small CPU) skips frames
  instead of falling ever further behind or filling memory. Skipped frames are
  counted, and their ``index`` numbers are missing, so gaps stay visible.
  Timestamps come from ``time.monotonic()`` at grab (milliseconds since the
  source started, strictly increasing, at least 1 ms apart) because camera
  drivers' own timestamps are unreliable.
* A camera that is unplugged, or a stream that breaks, is re-opened with
  exponential backoff (:class:`RetryPolicy`); state changes go to the log and
  to an optional callback, and the session survives. A source that gives up
  raises :class:`~scoligait_edge.errors.VideoReadError`, as a corrupt file does.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from scoligait_edge.core.constants import DEFAULT_FPS
from scoligait_edge.errors import FrameError, VideoReadError
from scoligait_edge.stream.video_file import (
    VideoFrame,
    check_frame_pixels,
    ended_early_message,
    iter_video_frames,
    printable_path,
    probe_video,
)

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})


class CaptureLike(Protocol):
    """The part of ``cv2.VideoCapture`` the camera source uses (see ``fake_camera.FakeCapture``)."""

    def isOpened(self) -> bool: ...  # noqa: N802
    def read(self) -> tuple[bool, np.ndarray | None]: ...
    def release(self) -> None: ...
    def get(self, prop_id: int) -> float: ...
    def set(self, prop_id: int, value: float) -> bool: ...


CaptureFactory = Callable[[int | str], CaptureLike]


class FrameSource(ABC):
    """Base of all sources: iterate for frames; ``close()`` (or ``with``) releases the device.

    ``name`` is for messages ("camera 0", "video walk.mp4"); ``is_live`` says
    whether frames arrive in real time (and may be skipped) or are read from
    storage (every frame, as fast as consumed); ``nominal_fps`` is the rate the
    source claims, or None when it does not know.
    """

    name: str = "source"
    is_live: bool = False

    @abstractmethod
    def __iter__(self) -> Iterator[VideoFrame]: ...

    @property
    def nominal_fps(self) -> float | None:
        return None

    @property
    def status_text(self) -> str:
        """One line for the on-screen status (empty when there is nothing to say)."""
        return ""

    def frames(self, idle_s: float | None = None) -> Iterator[VideoFrame | None]:
        """Frames, plus ``None`` every ``idle_s`` seconds while a live source has none.

        Lets a UI loop redraw its status ("camera lost, retrying") while waiting;
        stored sources never yield None.
        """
        yield from self

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the underlying file or device; safe to call twice."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


# ---------------------------------------------------------------- stored sources
class VideoFileSource(FrameSource):
    """Every frame of a video file, in order, with its container timestamps (see ``iter_video_frames``).

    A missing file raises VideoReadError here; a corrupt one when iteration
    starts. Single pass: iterating again continues where the last loop stopped.
    """

    def __init__(self, path: str | Path, *, max_frames: int | None = None) -> None:
        self.path = Path(path).expanduser()
        self.name = f"video {self.path.name}"
        self._frames = iter_video_frames(self.path, max_frames=max_frames, on_end=self._on_end)  # checks the path
        self._fps: float | None | bool = False  # False: not probed yet
        self.ended_early: str | None = None
        """Set when decoding stopped well before the container's frame count (a truncated file)."""

    def _on_end(self, decoded: int, expected: int | None) -> None:
        self.ended_early = ended_early_message(self.path, decoded, expected)

    def __iter__(self) -> Iterator[VideoFrame]:
        return self._frames

    @property
    def nominal_fps(self) -> float | None:
        if self._fps is False:
            self._fps = probe_video(self.path).fps
        return self._fps

    def close(self) -> None:
        self._frames.close()  # releases the capture if iteration had started


def check_fps(fps: object) -> float:
    """:func:`scoligait_edge.kinematics.resample.check_fps`, imported when needed (a camera that fails to
    open should not wait for the kinematics package)."""
    from scoligait_edge.core.constants import check_fps as check

    return check(fps)


MAX_IMAGE_FILE_BYTES = 256 * 1024 * 1024
"""An image file larger than this is not read (a frame is a few MB at most)."""


def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from an encoded image's header, without decoding it; None when the header is unknown."""
    import io

    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # we apply our own cap, with our own message
    try:
        with Image.open(io.BytesIO(data)) as im:
            return int(im.width), int(im.height)
    except Exception:  # noqa: BLE001 - an unknown or broken header: OpenCV decides below
        return None


def read_image(path: Path) -> np.ndarray | None:
    """A BGR uint8 image from ``path`` (any file name), None when it does not decode.

    The bytes are read by Python and decoded from memory (OpenCV crashes on file names that are not
    UTF-8), and the header's size is checked first: FrameError above MAX_FRAME_PIXELS, before the
    decoder allocates it."""
    size = path.stat().st_size
    if size > MAX_IMAGE_FILE_BYTES:
        raise FrameError(f"the file is {size / 2**20:.0f} MB, more than an image frame may be")
    data = path.read_bytes()
    dims = _image_size(data)
    if dims is not None:
        check_frame_pixels(*dims, "the image")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if image is not None:
        check_frame_pixels(image.shape[1], image.shape[0], "the image")
    return image


def _natural_key(path: Path) -> list[Any]:
    """``frame2.png`` before ``frame10.png``: exporters rarely zero-pad."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


class ImageFolderSource(FrameSource):
    """The images of a folder in natural order, as frames ``fps`` apart.

    An image that cannot be decoded is skipped with a warning and leaves a gap
    in ``index`` and time, as a dropped frame would. A folder without images
    raises VideoReadError at once; one where no image decodes raises it at the end.
    """

    def __init__(self, directory: str | Path, fps: float = DEFAULT_FPS) -> None:
        self.directory = Path(directory).expanduser()
        if not self.directory.is_dir():
            raise VideoReadError(f"Image folder not found (or not a folder): {printable_path(self.directory)}")
        self.fps = check_fps(fps)
        self.name = f"images {printable_path(self.directory.name or self.directory)}"
        self.paths = sorted(
            (p for p in self.directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
            key=_natural_key,
        )
        if not self.paths:
            raise VideoReadError(f"No images in {self.directory} (looked for {', '.join(sorted(IMAGE_EXTENSIONS))})")
        self.skipped: list[Path] = []
        self._iter = self._generate()

    @property
    def nominal_fps(self) -> float | None:
        return self.fps

    def __iter__(self) -> Iterator[VideoFrame]:
        return self._iter

    def _generate(self) -> Generator[VideoFrame, None, None]:
        delivered = 0
        size: tuple[int, ...] | None = None
        first_problem = ""
        for index, path in enumerate(self.paths):
            why = "cannot decode it"
            try:
                image = read_image(path)
            except (FrameError, OSError) as exc:
                image, why = None, str(exc)
                first_problem = first_problem or f" ({printable_path(path.name)}: {why})"
            if image is None or image.size == 0:
                log.warning("%s: skipping %s: %s", self.name, printable_path(path.name), why)
                self.skipped.append(path)
                continue
            if size is not None and image.shape != size:
                log.warning("%s: %s is %s, earlier images were %s", self.name, path.name, image.shape[:2], size[:2])
            size = image.shape
            delivered += 1
            yield VideoFrame(index=index, timestamp_ms=index * 1000.0 / self.fps, image=image)
        if delivered == 0:
            raise VideoReadError(
                f"None of the {len(self.paths)} images in {printable_path(self.directory)} could be decoded{first_problem}"
            )

    def close(self) -> None:
        self._iter.close()


# ---------------------------------------------------------------- live sources
class RetryPolicy(BaseModel):
    """How a live source reconnects: delay ``base_delay_s * factor**(attempt-1)``, capped at ``max_delay_s``.

    ``max_attempts`` None retries forever (a kiosk should outlive a loose
    cable). ``max_read_failures`` consecutive failed reads on an open capture
    count as a lost stream (one bad read is often a driver hiccup).
    ``retry_on_start`` False: a camera that cannot be opened at all fails at
    once with a clear message (a wrong index is more likely than a glitch).
    """

    model_config = ConfigDict(frozen=True)

    base_delay_s: float = Field(default=0.5, gt=0)
    max_delay_s: float = Field(default=10.0, gt=0)
    factor: float = Field(default=2.0, ge=1.0)
    max_attempts: int | None = Field(default=None, ge=1)
    max_read_failures: int = Field(default=5, ge=1)
    read_failure_sleep_s: float = Field(default=0.01, ge=0)
    retry_on_start: bool = False

    def delay(self, attempt: int) -> float:
        """Seconds to wait before re-open attempt ``attempt`` (1-based)."""
        return min(self.max_delay_s, self.base_delay_s * self.factor ** max(attempt - 1, 0))


class SourceState(StrEnum):
    OPENING = "opening"
    LIVE = "live"
    LOST = "lost"
    """The stream broke; a re-open is scheduled in ``retry_in_s``."""
    RETRYING = "retrying"
    """A re-open attempt failed; the next one is in ``retry_in_s``."""
    FAILED = "failed"
    """Gave up (``max_attempts`` reached, or the first open failed)."""
    STOPPED = "stopped"


class SourceEvent(BaseModel):
    """A state change of a live source, as passed to ``on_state`` and logged."""

    model_config = ConfigDict(frozen=True)

    source: str
    state: SourceState
    message: str
    attempt: int = 0
    retry_in_s: float | None = None
    monotonic_s: float


class SourceStats(BaseModel):
    """Counters of a live source: ``grabbed == delivered + dropped (+1 if a frame is waiting)``."""

    grabbed: int
    delivered: int
    dropped: int
    reconnects: int
    state: SourceState


_SECRET_KEYS = re.compile(r"(pass|pw|secret|token|key|auth|sig|cred|session|cookie|user|login|account)", re.IGNORECASE)
"""Parameter names whose values are hidden (matched anywhere in the decoded name)..."""
_SECRET_NAMES = frozenset({"p", "u"})
"""... and these short ones, matched whole (``?p=secret``; a substring match would hide ``profile``)."""
_SEPARATORS = frozenset("/?#&;")


def _is_secret(name: str) -> bool:
    name = unquote(name).strip()
    return bool(_SECRET_KEYS.search(name)) or name.lower() in _SECRET_NAMES


def _redact_rest(rest: str) -> str:
    """Host, path, parameters, query and fragment with every credential-looking ``name=value`` hidden.

    Cameras put credentials anywhere: ``/user=admin&password=x&channel=1`` in the path, ``;password=x``
    parameters, ``?p=x`` queries. A secret value is hidden up to the next ``&``, ``;``, ``?`` or ``#``
    (a ``/`` inside it is hidden too, so an unencoded one cannot leak the rest). In the query and
    fragment a bare secret-looking name (``?token``) is hidden as well.
    """
    out: list[str] = []
    hiding = in_query = False
    for token in re.split(r"([/?#&;])", rest):
        if token in _SEPARATORS:
            if hiding and token == "/":
                continue
            hiding = False
            in_query = in_query or token in "?#"
            out.append(token)
            continue
        if hiding:
            continue
        decoded = unquote(token)
        name, eq, _value = decoded.partition("=")
        if eq and _is_secret(name):
            out.append(f"{token.partition('=')[0] if '=' in token else name}=***")
            hiding = True
        elif not eq and in_query and _is_secret(name):
            out.append("***")
        else:
            out.append(token)
    return "".join(out)


def _redact_params(text: str) -> str:
    """``a=1&password=x;token=y`` -> ``a=1&password=***;token=***`` (a query or fragment alone)."""
    return _redact_rest("?" + text)[1:]


def redact_url(url: str) -> str:
    """A URL safe for logs, messages and reports: no user name, password or secret value in any form.

    ``rtsp://user:pw@host/x`` -> ``rtsp://***@host/x``; ``?password=pw&a=1`` ->
    ``?password=***&a=1``; ``/user=admin&password=pw&channel=1`` ->
    ``/user=***&password=***&channel=1``; ``/live;password=pw`` -> ``/live;password=***``.
    It parses nothing it can fail on: everything before the last ``@`` (after
    the scheme) is user information and is replaced, so an unencoded ``/``,
    ``?``, ``#`` or ``@`` inside a password cannot leak it (the price: a path
    containing ``@`` is hidden up to that ``@``). Not a URL at all (not a
    string) gives ``<redacted>``.
    """
    if not isinstance(url, str):
        return "<redacted>"
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    return f"{scheme}{sep}{_redact_rest(rest)}"


def default_capture_factory(source: int | str) -> cv2.VideoCapture:
    """``cv2.VideoCapture``; network streams get 5 s open/read timeouts so a dead stream
    is noticed (FFmpeg's default read timeout is 30 s)."""
    if isinstance(source, str) and "://" in source:
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 5000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 5000]
        return cv2.VideoCapture(source, cv2.CAP_FFMPEG, params)
    return cv2.VideoCapture(source)


def _secs(s: float) -> str:
    return f"{s:.1f}" if s >= 0.1 else f"{s:.3f}"


class _Stopped(Exception):
    """Internal: stop() was called while reconnecting."""


def _as_bgr(image: np.ndarray | None) -> np.ndarray | None:
    if image is None or not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.size == 0:
        return None
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return None


class CameraSource(FrameSource):
    """A webcam (``int`` index) or network stream (``rtsp://...`` URL), newest frame first.

    With ``reader_thread`` (default) a daemon thread reads the device
    continuously into a one-frame slot; ``read()``/iteration take the newest
    frame, and frames overwritten unread are counted in ``stats.dropped``.
    Without it, each ``read()`` reads the device in the caller's thread (no
    drops; the device buffers or skips on its own).

    ``capture_factory(index_or_url)`` opens the device (default:
    :func:`default_capture_factory`; tests pass a ``FakeCamera``).
    ``on_state`` is called with a :class:`SourceEvent` on every state change,
    from the reader thread: keep it short and thread-safe. ``width``,
    ``height``, ``fps`` are requested from the device (drivers may ignore them).
    Opening happens in ``start()`` (called by ``__iter__``/``read()``/``with``),
    which raises VideoReadError if the camera cannot be opened and
    ``retry.retry_on_start`` is False.
    """

    is_live = True

    def __init__(
        self,
        index_or_url: int | str,
        *,
        reader_thread: bool = True,
        retry: RetryPolicy | None = None,
        capture_factory: CaptureFactory | None = None,
        on_state: Callable[[SourceEvent], None] | None = None,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(index_or_url, str) and index_or_url.strip().isdigit():
            index_or_url = int(index_or_url)
        self.target = index_or_url
        self.name = f"camera {index_or_url}" if isinstance(index_or_url, int) else f"stream {redact_url(index_or_url)}"
        self.reader_thread = reader_thread
        self.retry = retry or RetryPolicy()
        # Resolved here, not in the signature, so tests can monkeypatch ``sources.default_capture_factory``.
        self._factory = capture_factory or default_capture_factory
        self._on_state = on_state
        fps = None if fps is None else check_fps(fps)
        self._requested = {cv2.CAP_PROP_FRAME_WIDTH: width, cv2.CAP_PROP_FRAME_HEIGHT: height, cv2.CAP_PROP_FPS: fps}
        self._clock = clock

        self._cap: CaptureLike | None = None
        self._cap_fps: float | None = None
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._slot: VideoFrame | None = None
        self._thread: threading.Thread | None = None
        self._started = False
        self._ever_live = False
        self._ended = False
        self._error: VideoReadError | None = None
        self._t0 = 0.0
        self._last_ts = -math.inf
        self._grabbed = self._delivered = self._dropped = self._reconnects = 0
        self._event = SourceEvent(
            source=self.name, state=SourceState.OPENING, message=f"{self.name}: not started", monotonic_s=clock()
        )
        self.events: list[SourceEvent] = []
        """Every state change so far (bounded: the last 1000)."""

    # -- public state ----------------------------------------------------------
    @property
    def state(self) -> SourceState:
        return self._event.state

    @property
    def last_event(self) -> SourceEvent:
        return self._event

    @property
    def status_text(self) -> str:
        return self._event.message

    @property
    def nominal_fps(self) -> float | None:
        return self._cap_fps

    @property
    def stats(self) -> SourceStats:
        with self._cond:
            return SourceStats(
                grabbed=self._grabbed,
                delivered=self._delivered,
                dropped=self._dropped,
                reconnects=self._reconnects,
                state=self.state,
            )

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> CameraSource:
        """Open the device (and start the reader thread); idempotent."""
        if self._started:
            return self
        self._started = True
        self._t0 = self._clock()
        self._emit(SourceState.OPENING, f"opening {self.name}")
        if not self._try_open():
            if not self.retry.retry_on_start:
                self._fail(
                    f"Cannot open {self.name}: is it connected, the index/URL right, and no other program using it?",
                    level=logging.INFO,
                )  # raised to the caller: logged there, once
                raise self._error  # type: ignore[misc]
            if not self.reader_thread:
                try:
                    self._reconnect(f"{self.name} not available")
                except _Stopped:
                    return self
            # else: the reader thread retries (start() returns, so a UI can show the retries)
        if self.reader_thread:
            self._thread = threading.Thread(target=self._reader_loop, name=f"reader[{self.name}]", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop reading, join the reader thread and release the device; safe to call twice."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
            if thread.is_alive():
                # It releases the capture itself when read() returns; releasing here would race it.
                log.warning(
                    "%s: reader thread still blocked in read() after %.1f s; leaving it (daemon)", self.name, timeout_s
                )
            else:
                self._release()
        else:
            self._release()
        if self._started and self.state not in (SourceState.STOPPED, SourceState.FAILED):
            self._emit(SourceState.STOPPED, f"{self.name} stopped")
        with self._cond:
            self._ended = True
            self._slot = None  # a frame grabbed after stop() is not handed out
            self._cond.notify_all()

    close = stop

    def __enter__(self) -> CameraSource:
        return self.start()

    # -- consuming ---------------------------------------------------------------
    def read(self, timeout: float | None = None) -> VideoFrame | None:
        """The newest frame, waiting up to ``timeout`` s (None: until one comes).

        Returns None on timeout or once ``stop()`` was called; raises
        VideoReadError if it gave up reconnecting. Without a reader thread the
        device is read here and ``timeout`` is not applied.
        """
        self.start()
        if not self.reader_thread:
            if self._error is not None:
                raise self._error
            if self._stop.is_set():
                return None
            try:
                frame = self._grab()
            except _Stopped:
                return None
            self._delivered += 1
            return frame
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            if self._stop.is_set():
                return None
            while self._slot is None:
                if self._ended or self._stop.is_set():
                    if self._error is not None:
                        raise self._error
                    return None
                remaining = None if deadline is None else deadline - self._clock()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            frame, self._slot = self._slot, None
            self._delivered += 1
            return frame

    def __iter__(self) -> Iterator[VideoFrame]:
        for frame in self.frames():
            if frame is not None:
                yield frame

    def frames(self, idle_s: float | None = None) -> Iterator[VideoFrame | None]:
        self.start()
        while True:
            frame = self.read(timeout=idle_s)
            if frame is None:
                if self._ended or self._stop.is_set():
                    return
                if idle_s is None:
                    continue
            yield frame

    # -- internals -------------------------------------------------------------
    def _emit(
        self,
        state: SourceState,
        message: str,
        *,
        attempt: int = 0,
        retry_in_s: float | None = None,
        level: int = logging.INFO,
    ) -> None:
        event = SourceEvent(
            source=self.name,
            state=state,
            message=message,
            attempt=attempt,
            retry_in_s=retry_in_s,
            monotonic_s=self._clock(),
        )
        self._event = event
        self.events.append(event)
        del self.events[:-1000]
        log.log(level, "%s", message)
        if self._on_state is not None:
            try:
                self._on_state(event)
            except Exception:  # a broken UI callback must not kill the camera
                log.exception("%s: on_state callback failed", self.name)

    def _fail(self, message: str, *, level: int = logging.ERROR) -> None:
        self._error = VideoReadError(message)
        self._emit(SourceState.FAILED, message, level=level)
        with self._cond:
            self._ended = True  # readers raise the error instead of waiting forever
            self._cond.notify_all()

    def _try_open(self, *, announce: bool = True) -> bool:
        """One open attempt; on success the capture is configured and kept (LIVE announced unless a
        reconnect announces "back" itself)."""
        try:
            cap = self._factory(self.target)
        except Exception as exc:  # backends raise on bad URLs
            log.debug("%s: open raised %r", self.name, exc)
            return False
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            return False
        for prop, value in self._requested.items():
            if value is not None:
                cap.set(prop, float(value))
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1.0)  # drivers that honour it hand over fresher frames
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._cap_fps = fps if math.isfinite(fps) and 0 < fps <= 1000 else None
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        self._cap = cap
        self._ever_live = True
        if announce:
            fps_txt = f" @ {self._cap_fps:g} fps" if self._cap_fps else ""
            self._emit(SourceState.LIVE, f"{self.name} open ({w}x{h}{fps_txt})")
        return True

    def _release(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            try:
                cap.release()
            except Exception:  # noqa: BLE001 - releasing a dead device may throw; nothing to do
                log.debug("%s: release failed", self.name, exc_info=True)

    def _reconnect(self, first_message: str) -> None:
        """Re-open with backoff until it works (returns), stop() (raises _Stopped) or give-up (VideoReadError)."""
        self._release()
        lost_at = self._clock()
        attempt = 1
        delay = self.retry.delay(attempt)
        self._emit(
            SourceState.LOST,
            f"{first_message}, retrying in {_secs(delay)} s",
            attempt=attempt,
            retry_in_s=delay,
            level=logging.WARNING,
        )
        while True:
            if self._stop.wait(delay):
                raise _Stopped
            if self._try_open(announce=False):
                self._reconnects += 1
                self._emit(
                    SourceState.LIVE,
                    f"{self.name} back after {attempt} attempt(s), {self._clock() - lost_at:.1f} s",
                    attempt=attempt,
                    level=logging.WARNING,
                )
                return
            if self.retry.max_attempts is not None and attempt >= self.retry.max_attempts:
                self._fail(
                    f"{self.name} lost: gave up after {attempt} re-open attempt(s) over {self._clock() - lost_at:.1f} s"
                )
                raise self._error  # type: ignore[misc]
            attempt += 1
            delay = self.retry.delay(attempt)
            self._emit(
                SourceState.RETRYING,
                f"{self.name} still unavailable (attempt {attempt - 1} failed), retrying in {_secs(delay)} s",
                attempt=attempt,
                retry_in_s=delay,
            )

    def _grab(self) -> VideoFrame:
        """Read one frame, reconnecting as needed. Raises _Stopped or VideoReadError."""
        failures = 0
        while True:
            if self._stop.is_set():
                raise _Stopped
            cap = self._cap
            if cap is None:
                self._reconnect(f"{self.name} lost" if self._ever_live else f"{self.name} not available")
                failures = 0
                continue
            try:
                ok, raw = cap.read()
            except Exception as exc:  # noqa: BLE001 - a broken backend counts as a failed read
                log.debug("%s: read raised %r", self.name, exc)
                ok, raw = False, None
            image = _as_bgr(raw) if ok else None
            if image is not None:
                ts = (self._clock() - self._t0) * 1000.0
                ts = max(ts, self._last_ts + 1.0)  # integer-ms consumers (MediaPipe) must never see a repeat
                self._last_ts = ts
                with self._cond:
                    index = self._grabbed
                    self._grabbed += 1
                return VideoFrame(index=index, timestamp_ms=ts, image=image)
            if ok:
                log.warning(
                    "%s: frame of unexpected type/shape %s, skipping",
                    self.name,
                    getattr(raw, "shape", type(raw).__name__),
                )
            failures += 1
            if failures >= self.retry.max_read_failures or not cap.isOpened():
                self._reconnect(f"{self.name} lost")
                failures = 0
            elif self._stop.wait(self.retry.read_failure_sleep_s):
                raise _Stopped

    def _reader_loop(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self._grab()
                with self._cond:
                    if self._slot is not None:
                        self._dropped += 1
                    self._slot = frame  # newest wins: one slot, never a queue
                    self._cond.notify_all()
        except _Stopped:
            pass
        except VideoReadError:
            pass  # already recorded in self._error and emitted as FAILED
        except Exception:
            log.exception("%s: reader thread crashed", self.name)
            self._fail(f"{self.name}: reader thread crashed (see log)")
        finally:
            self._release()
            with self._cond:
                self._ended = True
                self._cond.notify_all()


# ---------------------------------------------------------------- factory
def open_source(
    *,
    camera: int | str | None = None,
    video: str | Path | None = None,
    rtsp: str | None = None,
    images: str | Path | None = None,
    fps: float = DEFAULT_FPS,
    max_frames: int | None = None,
    reader_thread: bool = True,
    retry: RetryPolicy | None = None,
    capture_factory: CaptureFactory | None = None,
    on_state: Callable[[SourceEvent], None] | None = None,
) -> FrameSource:
    """The source for exactly one of ``camera`` / ``video`` / ``rtsp`` / ``images`` (the CLI's flags).

    ``fps`` is the frame rate of an image folder; ``max_frames`` limits a
    video file; the rest configure camera and RTSP sources. Camera sources are
    not started yet (``with``, iteration or ``start()`` opens them).
    """
    fps = check_fps(fps)
    given = {
        k: v for k, v in {"camera": camera, "video": video, "rtsp": rtsp, "images": images}.items() if v is not None
    }
    if len(given) != 1:
        raise ValueError(f"give exactly one of camera, video, rtsp, images; got {sorted(given) or 'none'}")
    if video is not None:
        return VideoFileSource(video, max_frames=max_frames)
    if images is not None:
        return ImageFolderSource(images, fps=fps)
    target = camera if camera is not None else rtsp
    assert target is not None
    if rtsp is not None and "://" not in rtsp:
        raise ValueError(f"--rtsp expects a URL such as rtsp://host:554/stream, got {redact_url(rtsp)!r}")
    return CameraSource(
        target, reader_thread=reader_thread, retry=retry, capture_factory=capture_factory, on_state=on_state
    )
