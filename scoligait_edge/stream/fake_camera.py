"""A scriptable stand-in for a camera, for testing live sources without hardware.

:class:`FakeCamera` is the *device*: it outlives the captures opened on it, so a
scripted dropout (unplug, broken stream) can span a release and several
re-opens, exactly what :class:`~scoligait_edge.stream.sources.CameraSource`'s
reconnect logic must survive. Pass the device itself as ``capture_factory``::

    cam = FakeCamera(fps=30, dropouts=[Dropout(at_frame=60, failed_opens=2)])
    with CameraSource(0, capture_factory=cam) as src: ...

:class:`FakeCapture` mimics the part of ``cv2.VideoCapture`` the sources use
(``isOpened``, ``read``, ``grab``, ``retrieve``, ``release``, ``get``, ``set``).
It is a plain class: subclassing ``cv2.VideoCapture`` crashes this OpenCV build.
Every frame carries its device frame number in its first pixels
(:func:`fake_frame_number` reads it back), so tests can check order and drops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)


class Dropout(BaseModel):
    """One scripted failure, triggered when the device has produced ``at_frame`` frames.

    ``unplug=True``: the device disappears; the open capture reports
    ``isOpened() == False`` and every read fails; the next ``failed_opens``
    open attempts fail, the one after succeeds (the camera is "back").
    ``unplug=False``: a glitch; ``failed_reads`` reads fail while the capture
    stays open, then frames flow again (no re-open needed).
    """

    model_config = ConfigDict(frozen=True)

    at_frame: int = Field(ge=0)
    unplug: bool = True
    failed_opens: int = Field(default=2, ge=0)
    failed_reads: int = Field(default=3, ge=0)


class FakeCamera:
    """A synthetic camera device; call it like ``cv2.VideoCapture(source)`` to open a capture.

    ``realtime``: ``read()`` blocks until the next frame is due at ``fps`` (as a
    real camera does), else frames come as fast as they are read.
    ``end_after``: after this many frames the device is gone for good (opens and
    reads fail forever). Counters (``opens``, ``failed_open_attempts``,
    ``frames_produced``) let tests check what the source did.
    """

    def __init__(
        self,
        *,
        fps: float = 30.0,
        size: tuple[int, int] = (320, 240),
        realtime: bool = True,
        dropouts: Sequence[Dropout] = (),
        end_after: int | None = None,
        fail_first_opens: int = 0,
    ) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.fps = float(fps)
        self.size = (int(size[0]), int(size[1]))
        self.realtime = realtime
        self.end_after = end_after
        self._pending = sorted(dropouts, key=lambda d: d.at_frame)
        self._lock = threading.Lock()
        self.frames_produced = 0
        self.opens = 0
        self.failed_open_attempts = 0
        self.sources: list[object] = []
        self.unplugged = fail_first_opens > 0
        self._failed_opens_left = fail_first_opens
        self._failed_reads_left = 0
        self._next_due = 0.0
        self.captures: list[FakeCapture] = []

    # -- the factory -------------------------------------------------------
    def __call__(self, source: object = 0, *args: object, **kwargs: object) -> FakeCapture:
        with self._lock:
            self.opens += 1
            self.sources.append(source)
            gone = self.end_after is not None and self.frames_produced >= self.end_after
            if self.unplugged and self._failed_opens_left > 0:
                self._failed_opens_left -= 1
                opened = False
            elif gone:
                opened = False
            else:
                if self.unplugged:
                    log.debug("fake camera: back after re-open")
                self.unplugged = False
                opened = True
            if not opened:
                self.failed_open_attempts += 1
            self._next_due = time.monotonic()
        cap = FakeCapture(self, opened=opened)
        self.captures.append(cap)
        return cap

    # -- used by FakeCapture -----------------------------------------------
    def _produce(self, cap: FakeCapture) -> tuple[bool, np.ndarray | None]:
        with self._lock:
            if self._pending and self.frames_produced >= self._pending[0].at_frame:
                d = self._pending.pop(0)
                log.debug("fake camera: dropout %s at frame %d", d, self.frames_produced)
                if d.unplug:
                    self.unplugged = True
                    self._failed_opens_left = d.failed_opens
                else:
                    self._failed_reads_left = d.failed_reads
            if self.end_after is not None and self.frames_produced >= self.end_after:
                self.unplugged = True
                self._failed_opens_left = 0
            if self.unplugged:
                cap._opened = False
                return False, None
            if self._failed_reads_left > 0:
                self._failed_reads_left -= 1
                return False, None
            wait = self._next_due - time.monotonic() if self.realtime else 0.0
        if wait > 0:
            time.sleep(wait)
        with self._lock:
            n = self.frames_produced
            self.frames_produced += 1
            self._next_due = max(self._next_due + 1.0 / self.fps, time.monotonic() - 1.0 / self.fps)
        return True, make_fake_frame(n, self.size)


class FakeCapture:
    """A ``cv2.VideoCapture``-like handle on a :class:`FakeCamera` (plain class, see module doc)."""

    def __init__(self, device: FakeCamera, *, opened: bool = True) -> None:
        self._device = device
        self._opened = opened
        self._released = False
        self._grabbed: np.ndarray | None = None
        self.props: dict[int, float] = {}

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return self._opened and not self._released

    def read(self, image: np.ndarray | None = None) -> tuple[bool, np.ndarray | None]:
        if not self.isOpened():
            return False, None
        return self._device._produce(self)

    def grab(self) -> bool:
        ok, self._grabbed = self.read()
        return ok

    def retrieve(self, image: np.ndarray | None = None, flag: int = 0) -> tuple[bool, np.ndarray | None]:
        img, self._grabbed = self._grabbed, None
        return img is not None, img

    def release(self) -> None:
        self._released = True

    def get(self, prop_id: int) -> float:
        if prop_id in self.props:
            return self.props[prop_id]
        w, h = self._device.size
        return {
            cv2.CAP_PROP_FPS: self._device.fps,
            cv2.CAP_PROP_FRAME_WIDTH: float(w),
            cv2.CAP_PROP_FRAME_HEIGHT: float(h),
        }.get(prop_id, 0.0)

    def set(self, prop_id: int, value: float) -> bool:
        self.props[prop_id] = float(value)
        return True


def make_fake_frame(number: int, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """A BGR frame with a moving bar; pixels [0, 0:3] hold ``number`` (24-bit, little-endian)."""
    w, h = size
    img = np.full((h, w, 3), 40, np.uint8)
    x = (number * 4) % max(w - 8, 1)
    img[:, x : x + 8] = (0, 200, 255)
    img[0, 0:3, :] = 0
    for i in range(3):
        img[0, i, 0] = (number >> (8 * i)) & 0xFF
    return img


def fake_frame_number(image: np.ndarray) -> int:
    """The device frame number stored by :func:`make_fake_frame`."""
    return int(image[0, 0, 0]) | int(image[0, 1, 0]) << 8 | int(image[0, 2, 0]) << 16
