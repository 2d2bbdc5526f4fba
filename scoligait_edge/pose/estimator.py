"""MediaPipe Tasks PoseLandmarker behind a small, strict interface.

Why a wrapper: MediaPipe's errors are opaque (a bad timestamp or a closed task
fails deep in C++), the legacy ``mp.solutions`` API is gone, and the landmarker
must be closed explicitly. Here the bundled ``.task`` model is loaded from disk
(never downloaded), inputs are checked with clear messages, and results come
back as :class:`PoseFrame` in pixels.
"""

from __future__ import annotations

import logging
import numbers
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, SupportsInt, cast

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from scoligait_edge.assets import pose_model_path
from scoligait_edge.core.constants import MAX_FRAME_PIXELS, POSE_INPUT_MAX_SIDE
from scoligait_edge.errors import FrameError, PoseModelError, TimestampError
from scoligait_edge.pose.frame import PersonPose, PoseFrame, landmark_box
from scoligait_edge.video.silhouette import MASK_BOX_MARGIN, box_region

log = logging.getLogger(__name__)

RunningMode = Literal["video", "live_stream", "image"]


class PoseEstimatorOptions(BaseModel):
    """Settings of the pose landmarker.

    ``num_poses`` defaults to 2 (and must be >= 2): with one pose allowed,
    MediaPipe locks on whoever it saw first, and the subject tracker can no
    longer choose the person who walks.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str | Path = "full"
    """'lite', 'full' (bundled) or the path of a pose landmarker .task bundle."""
    running_mode: RunningMode = "video"
    num_poses: int = Field(default=2, ge=2, le=10)
    min_detection_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    min_presence_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    min_tracking_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    output_masks: bool = False
    max_input_side: int | None = Field(default=POSE_INPUT_MAX_SIDE, ge=64, le=8192)
    """Most pixels on the longer side of the frame MediaPipe is given: a larger camera frame is scaled down
    by the smallest power of two that fits (a box filter, :func:`model_frame`; 1920 x 1080 -> 960 x 540)
    and results are mapped back to camera pixels. None gives MediaPipe the camera frame as it is (slower;
    what changes: docs/RUNTIME.md)."""


def options_for_bundle(options: PoseEstimatorOptions, pose_input: int | str | None) -> PoseEstimatorOptions:
    """``options`` with the frame size a bundle's manifest names (its ``pose_input``: 'camera' or a longer
    side in px; None keeps ``options``). The bundle wins: its model learnt from silhouettes made that way."""
    if pose_input is None:
        return options
    side = None if pose_input == "camera" else int(pose_input)
    if side != options.max_input_side:
        explicit = "max_input_side" in options.model_fields_set
        log.log(
            logging.WARNING if explicit else logging.INFO,
            "pose input: the bundle's silhouettes were made with max_input_side=%s, so it is used instead of %s",
            side,
            options.max_input_side,
        )
    return options.model_copy(update={"max_input_side": side})


def _check_frame(frame_bgr: Any) -> np.ndarray:
    if frame_bgr is None:
        raise FrameError("frame is None (did the camera or video read fail?)")
    if not isinstance(frame_bgr, np.ndarray):
        raise FrameError(f"frame must be a numpy array, got {type(frame_bgr).__name__}")
    if frame_bgr.dtype != np.uint8:
        raise FrameError(f"frame must be uint8 BGR, got dtype {frame_bgr.dtype}")
    if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or 0 in frame_bgr.shape:
        raise FrameError(f"frame must be H x W x 3 (BGR), got shape {frame_bgr.shape}")
    if frame_bgr.shape[0] * frame_bgr.shape[1] > MAX_FRAME_PIXELS:
        raise FrameError(
            f"frame is {frame_bgr.shape[1]} x {frame_bgr.shape[0]} pixels, more than the "
            f"{MAX_FRAME_PIXELS / 1e6:.0f} MP a frame may have: scale it down"
        )
    return frame_bgr


def _check_timestamp(timestamp_ms: Any) -> int:
    if isinstance(timestamp_ms, bool) or timestamp_ms is None:
        raise TimestampError(f"timestamp_ms must be an integer number of ms, got {timestamp_ms!r}")
    if isinstance(timestamp_ms, numbers.Integral):
        return int(timestamp_ms)
    if isinstance(timestamp_ms, numbers.Real) and float(timestamp_ms).is_integer():
        # typeshed's numbers.Real has no __int__, but every concrete Real (float, np.floating, Fraction) has one
        return int(cast(SupportsInt, timestamp_ms))
    raise TimestampError(
        f"timestamp_ms must be an integer number of ms, got {timestamp_ms!r} "
        "(round it, e.g. int(round(t)), keeping the sequence strictly increasing)"
    )


def model_frame_factor(width: int, height: int, max_side: int | None) -> int:
    """The smallest power of two that brings the frame's longer side to at most ``max_side`` (1: as it is).

    Powers of two keep the resize an exact box filter on OpenCV's vectorised path: ``INTER_AREA`` by
    exactly 2 costs ~0.6 ms on a 1768 x 994 frame here, by a fractional factor (to 640 x 360) 15-30 ms,
    more than it saves."""
    factor = 1
    if max_side is not None:
        while max(width, height) > max_side * factor and min(width, height) >= 2 * factor:
            factor *= 2
    return factor


def model_frame(image: np.ndarray, factor: int) -> np.ndarray:
    """``image`` scaled down by ``factor`` (a power of two): a box filter (``cv2.INTER_AREA`` in exact 2x
    steps, the same filter as one box of the whole factor). The last ``factor - 1`` rows and columns at
    most are left out so the steps stay exact; :func:`_to_pose_frame` maps back with the same factor."""
    if factor == 1:
        return image
    height, width = image.shape[0] // factor, image.shape[1] // factor
    small = image[: height * factor, : width * factor]
    while factor > 1:
        small = cv2.resize(small, (small.shape[1] // 2, small.shape[0] // 2), interpolation=cv2.INTER_AREA)
        factor //= 2
    return small


def _person_mask(image: Any, image_landmarks: np.ndarray, camera_size: tuple[int, int], factor: int) -> np.ndarray:
    """MediaPipe's soft mask in camera pixels inside the person's landmark box (grown by ``MASK_BOX_MARGIN``),
    zeros elsewhere.

    The silhouette reads only that region, so only it is copied (a whole float mask is 7 MB a frame at
    1768 x 994; ``np.zeros`` pages never written cost no memory). When MediaPipe saw a frame scaled down
    by ``factor``, the region is resampled (bilinear) from its mask, so callers keep working in camera
    pixels. The copy is needed either way: MediaPipe's buffer dies with its result."""
    width, height = camera_size
    view = image.numpy_view().reshape(image.height, image.width)
    out = np.zeros((height, width), np.float32)
    region = box_region((height, width), landmark_box(image_landmarks), MASK_BOX_MARGIN)
    if region is None:
        return out
    if factor == 1:
        out[region] = view[region]
        return out
    rows, cols = region
    # camera pixel centre x + 0.5 lies at (x + 0.5) / factor in the model frame, whose pixel centres are at i + 0.5
    a = 1.0 / factor
    to_model = np.array([[a, 0.0, (cols.start + 0.5) * a - 0.5], [0.0, a, (rows.start + 0.5) * a - 0.5]])
    out[region] = cv2.warpAffine(
        np.asarray(view),
        to_model,
        (cols.stop - cols.start, rows.stop - rows.start),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return out


def _to_pose_frame(result: Any, camera_size: tuple[int, int], factor: int, timestamp_ms: int) -> PoseFrame | None:
    """MediaPipe result (coordinates normalised to the frame it saw) -> PoseFrame in camera pixels; None if
    nobody. The model frame is the camera frame's first ``factor`` x its size in pixels, scaled down by
    ``factor``, so normalised coordinates times that span are camera pixels."""
    if not result.pose_landmarks:
        return None
    width, height = camera_size
    span_w, span_h = (width // factor) * factor, (height // factor) * factor
    scale = np.array([span_w, span_h, span_w, 1.0])
    masks = result.segmentation_masks or []
    worlds = result.pose_world_landmarks or []
    people = []
    for i, landmarks in enumerate(result.pose_landmarks):
        image_lm = (
            np.array(
                [(lm.x, lm.y, lm.z, lm.visibility if lm.visibility is not None else 0.0) for lm in landmarks],
                dtype=np.float64,
            )
            * scale
        )
        world_lm = None
        if i < len(worlds):
            world_lm = np.array(
                [(lm.x, lm.y, lm.z, lm.visibility if lm.visibility is not None else 0.0) for lm in worlds[i]],
                dtype=np.float64,
            )
        presence = np.array([lm.presence if lm.presence is not None else 1.0 for lm in landmarks])
        mask = None
        if i < len(masks):
            mask = _person_mask(masks[i], image_lm, camera_size, factor)
        people.append(PersonPose(image_landmarks=image_lm, world_landmarks=world_lm, presence=presence, mask=mask))
    return PoseFrame(timestamp_ms=float(timestamp_ms), image_size=(width, height), people=people)


class PoseEstimator:
    """Context manager over MediaPipe's PoseLandmarker.

    ``PoseEstimator("lite")``, ``PoseEstimator(PoseEstimatorOptions(...))`` or
    ``PoseEstimator(model="full", running_mode="image")``.

    In ``live_stream`` mode frames go through ``detect_async`` and MediaPipe may
    drop frames to keep latency low: :meth:`detect` then returns the latest
    *completed* result, which can be from an earlier frame (check its
    ``timestamp_ms``), or None until a first result arrives.
    """

    def __init__(self, options: PoseEstimatorOptions | str | Path | None = None, **kwargs: Any) -> None:
        if isinstance(options, (str, Path)):
            kwargs.setdefault("model", options)
            options = None
        if options is None:
            options = PoseEstimatorOptions(**kwargs)
        elif kwargs:
            options = PoseEstimatorOptions(**{**options.model_dump(), **kwargs})
        self.options: PoseEstimatorOptions = options
        self.model_path: Path = pose_model_path(options.model)
        self._last_ts: int | None = None
        self._lock = threading.Lock()
        self._latest: PoseFrame | None = None
        self._camera_sizes: dict[int, tuple[tuple[int, int], int]] = {}  # live_stream: ts -> (camera size, factor)
        self._landmarker: Any = None
        self._closed = False
        self._landmarker = self._create()

    def _create(self) -> Any:
        from scoligait_edge.pose.mp_import import import_mediapipe_vision

        vision = import_mediapipe_vision()  # first: keeps matplotlib.pyplot out of start-up
        from mediapipe.tasks.python import BaseOptions

        modes = {
            "video": vision.RunningMode.VIDEO,
            "live_stream": vision.RunningMode.LIVE_STREAM,
            "image": vision.RunningMode.IMAGE,
        }
        o = self.options
        mp_options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=modes[o.running_mode],
            num_poses=o.num_poses,
            min_pose_detection_confidence=o.min_detection_confidence,
            min_pose_presence_confidence=o.min_presence_confidence,
            min_tracking_confidence=o.min_tracking_confidence,
            output_segmentation_masks=o.output_masks,
            result_callback=self._on_result if o.running_mode == "live_stream" else None,
        )
        try:
            landmarker = vision.PoseLandmarker.create_from_options(mp_options)
        except Exception as exc:  # MediaPipe raises ValueError/RuntimeError with C++ text
            raise PoseModelError(
                f"Cannot load pose model {self.model_path}: {exc}. Is it a MediaPipe pose "
                "landmarker .task bundle (lite/full/heavy)?"
            ) from exc
        log.debug("Loaded pose model %s (%s mode)", self.model_path.name, o.running_mode)
        return landmarker

    def _on_result(self, result: Any, image: Any, timestamp_ms: int) -> None:
        try:
            with self._lock:
                camera_size, factor = self._camera_sizes.pop(timestamp_ms, ((image.width, image.height), 1))
                for ts in [t for t in self._camera_sizes if t < timestamp_ms]:  # frames MediaPipe dropped
                    del self._camera_sizes[ts]
            frame = _to_pose_frame(result, camera_size, factor, timestamp_ms)
        except Exception:  # runs on MediaPipe's thread: log, never raise into C++
            log.exception("Converting a live-stream pose result failed")
            return
        with self._lock:
            if frame is None:
                # Keep "nobody" as a result too, so a person leaving is not shown forever.
                self._latest = None
            elif self._latest is None or frame.timestamp_ms >= self._latest.timestamp_ms:
                self._latest = frame

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def detect(self, frame_bgr: np.ndarray, timestamp_ms: int | None = None) -> PoseFrame | None:
        """Detect people in one BGR uint8 frame; None when nobody is found.

        ``timestamp_ms`` is required in ``video``/``live_stream`` mode and must be
        an integer that strictly increases from call to call; it is ignored in
        ``image`` mode.
        """
        if self._closed:
            raise PoseModelError("PoseEstimator is closed; create a new one to detect again")
        image = _check_frame(frame_bgr)
        mode = self.options.running_mode
        ts = 0
        if mode != "image":
            ts = _check_timestamp(timestamp_ms)
            if self._last_ts is not None and ts <= self._last_ts:
                raise TimestampError(
                    f"timestamps must strictly increase in {mode} mode: got {ts} ms after {self._last_ts} ms"
                )
        from mediapipe.tasks.python.vision.core.image import Image, ImageFormat

        height, width = image.shape[:2]
        camera_size = (width, height)
        factor = model_frame_factor(width, height, self.options.max_input_side)
        # scaled first, so the colour conversion runs on the small frame
        rgb = cv2.cvtColor(model_frame(image, factor), cv2.COLOR_BGR2RGB)  # new contiguous array
        mp_image = Image(image_format=ImageFormat.SRGB, data=rgb)
        if mode == "image":
            return _to_pose_frame(self._landmarker.detect(mp_image), camera_size, factor, ts)
        self._last_ts = ts
        if mode == "video":
            result = self._landmarker.detect_for_video(mp_image, ts)
            return _to_pose_frame(result, camera_size, factor, ts)
        with self._lock:
            self._camera_sizes[ts] = (camera_size, factor)
        self._landmarker.detect_async(mp_image, ts)
        with self._lock:
            return self._latest

    def close(self) -> None:
        """Release the MediaPipe task (safe to call more than once)."""
        if self._closed:
            return
        self._closed = True
        if self._landmarker is None:
            return
        try:
            self._landmarker.close()
        except Exception:  # closing must not mask the error that led here
            log.warning("Closing the pose landmarker failed", exc_info=True)

    def __enter__(self) -> PoseEstimator:
        if self._closed:
            raise PoseModelError("PoseEstimator is closed; create a new one")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"PoseEstimator({self.model_path.name}, {self.options.running_mode}, {state})"
