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


def _check_frame(frame_bgr: Any) -> np.ndarray:
    if frame_bgr is None:
        raise FrameError("frame is None (did the camera or video read fail?)")
    if not isinstance(frame_bgr, np.ndarray):
        raise FrameError(f"frame must be a numpy array, got {type(frame_bgr).__name__}")
    if frame_bgr.dtype != np.uint8:
        raise FrameError(f"frame must be uint8 BGR, got dtype {frame_bgr.dtype}")
    if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or 0 in frame_bgr.shape:
        raise FrameError(f"frame must be H x W x 3 (BGR), got shape {frame_bgr.shape}")
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


def _person_mask(image: Any, image_landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """MediaPipe's soft mask inside the person's landmark box (grown by ``MASK_BOX_MARGIN``), zeros elsewhere.

    The silhouette reads only that region, so copying the whole float mask (7 MB a frame at 1768 x 994)
    was wasted work; ``np.zeros`` pages that are never written cost no memory either. The copy is needed:
    MediaPipe's buffer dies with its result."""
    view = image.numpy_view().reshape(height, width)
    out = np.zeros((height, width), np.float32)
    region = box_region((height, width), landmark_box(image_landmarks), MASK_BOX_MARGIN)
    if region is not None:
        out[region] = view[region]
    return out


def _to_pose_frame(result: Any, width: int, height: int, timestamp_ms: int) -> PoseFrame | None:
    """MediaPipe result (normalised coordinates) -> PoseFrame in pixels; None if nobody."""
    if not result.pose_landmarks:
        return None
    scale = np.array([width, height, width, 1.0])
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
            mask = _person_mask(masks[i], image_lm, width, height)
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
            frame = _to_pose_frame(result, image.width, image.height, timestamp_ms)
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
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)  # new contiguous array
        mp_image = Image(image_format=ImageFormat.SRGB, data=rgb)
        if mode == "image":
            return _to_pose_frame(self._landmarker.detect(mp_image), width, height, ts)
        self._last_ts = ts
        if mode == "video":
            result = self._landmarker.detect_for_video(mp_image, ts)
            return _to_pose_frame(result, width, height, ts)
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
