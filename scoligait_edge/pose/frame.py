"""Per-frame pose results: the people MediaPipe found and which one is the subject.

These are plain containers, independent of MediaPipe, so trackers, loaders and
tests can build them from arrays.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from scoligait_edge.core.skeleton import NUM_COCO_FEET, mediapipe_to_coco
from scoligait_edge.errors import KeypointError

NUM_MEDIAPIPE = 33
MP_L_SHOULDER, MP_R_SHOULDER, MP_L_HIP, MP_R_HIP = 11, 12, 23, 24
MP_L_KNEE, MP_R_KNEE, MP_L_ANKLE, MP_R_ANKLE = 25, 26, 27, 28


def _landmark_array(value: object, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (NUM_MEDIAPIPE, 4):
        raise KeypointError(f"{name} must be [33, 4], got {arr.shape}")
    return arr


def landmark_box(image_landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """(x, y, w, h) in pixels around all landmarks ``[N, >=2]`` (x px, y px, ...)."""
    xy = np.asarray(image_landmarks)[:, :2]
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


class PersonPose(BaseModel):
    """One detected person.

    ``image_landmarks``: MediaPipe's 33 landmarks ``[33, 4]`` as (x px, y px, z,
    visibility); z is MediaPipe's relative depth (same scale as x, hips ~0).
    ``presence``: ``[33]`` MediaPipe's per-landmark presence (in the image at all),
    or None when the source has none.
    ``world_landmarks``: ``[33, 4]`` (x, y, z metres from the hip centre,
    visibility) or None. ``mask``: float32 ``[H, W]`` segmentation in [0, 1] or None; from
    :class:`~scoligait_edge.pose.estimator.PoseEstimator` it holds MediaPipe's values inside the
    person's landmark box grown by ``MASK_BOX_MARGIN`` (what the silhouette reads) and 0 elsewhere.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    image_landmarks: np.ndarray
    world_landmarks: np.ndarray | None = None
    presence: np.ndarray | None = None
    mask: np.ndarray | None = None

    @field_validator("image_landmarks", mode="before")
    @classmethod
    def _check_image(cls, v: object) -> np.ndarray:
        return _landmark_array(v, "image_landmarks")

    @field_validator("world_landmarks", mode="before")
    @classmethod
    def _check_world(cls, v: object) -> np.ndarray | None:
        return None if v is None else _landmark_array(v, "world_landmarks")

    @field_validator("presence", mode="before")
    @classmethod
    def _check_presence(cls, v: object) -> np.ndarray | None:
        if v is None:
            return None
        arr = np.asarray(v, dtype=np.float64)
        if arr.shape != (NUM_MEDIAPIPE,):
            raise KeypointError(f"presence must be [33], got {arr.shape}")
        return arr

    @field_validator("mask", mode="before")
    @classmethod
    def _check_mask(cls, v: object) -> np.ndarray | None:
        if v is None:
            return None
        arr = np.asarray(v, dtype=np.float32)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if arr.ndim != 2:
            raise KeypointError(f"mask must be [H, W], got {arr.shape}")
        return arr

    def coco(self, with_feet: bool = True) -> np.ndarray:
        """COCO-21 (or COCO-17) ``[J, 3]`` (x px, y px, score) for gait code; see
        :func:`mediapipe_to_coco` for how occluded joints are scored."""
        lm = self.image_landmarks
        return mediapipe_to_coco(lm[:, :2], lm[:, 3], presence=self.presence, with_feet=with_feet)

    # Cached: the tracker asks for these several times per frame.
    @cached_property
    def hip_center(self) -> np.ndarray:
        """Mid-point of the two hips in pixels, ``[2]`` (read-only): the most stable point."""
        hip: np.ndarray = self.image_landmarks[[MP_L_HIP, MP_R_HIP], :2].mean(axis=0)
        hip.flags.writeable = False
        return hip

    @cached_property
    def bbox(self) -> tuple[float, float, float, float]:
        """(x, y, w, h) in pixels around all 33 landmarks (may extend past the image)."""
        return landmark_box(self.image_landmarks)

    @cached_property
    def body_size(self) -> float:
        """Torso + thigh + shank length in pixels (~0.8 of standing height).

        Segment lengths barely change with posture (crouching, stepping), so this
        normalises distances better than the bounding box does.
        """
        xy = self.image_landmarks[:, :2]
        shoulder = xy[[MP_L_SHOULDER, MP_R_SHOULDER]].mean(axis=0)
        hip = xy[[MP_L_HIP, MP_R_HIP]].mean(axis=0)
        thigh = np.linalg.norm(xy[[MP_L_KNEE, MP_R_KNEE]] - xy[[MP_L_HIP, MP_R_HIP]], axis=1)
        shank = np.linalg.norm(xy[[MP_L_ANKLE, MP_R_ANKLE]] - xy[[MP_L_KNEE, MP_R_KNEE]], axis=1)
        return float(np.linalg.norm(shoulder - hip) + thigh.mean() + shank.mean())


class PoseFrame(BaseModel):
    """Everyone detected in one frame; the tracker sets ``subject_index`` and ``track_ids``.

    ``track_ids[i]`` is the tracker's id for ``people[i]`` (None when the person
    was ignored, e.g. outside the region of interest).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    timestamp_ms: float
    image_size: tuple[int, int]
    """(width, height) in pixels, the order of OpenCV's sizes and of the landmarks' (x, y)."""
    people: list[PersonPose]
    subject_index: int | None = None
    track_ids: list[int | None] | None = None

    @model_validator(mode="after")
    def _check_indices(self) -> PoseFrame:
        if self.subject_index is not None and not 0 <= self.subject_index < len(self.people):
            raise ValueError(f"subject_index {self.subject_index} out of range for {len(self.people)} people")
        if self.track_ids is not None and len(self.track_ids) != len(self.people):
            raise ValueError(f"{len(self.track_ids)} track ids for {len(self.people)} people")
        return self

    @property
    def subject(self) -> PersonPose | None:
        """The tracked subject in this frame, or None (not tracked yet, or not seen)."""
        return None if self.subject_index is None else self.people[self.subject_index]

    @property
    def subject_track_id(self) -> int | None:
        """The tracker's id of the subject, when both are set."""
        if self.subject_index is None or self.track_ids is None:
            return None
        return self.track_ids[self.subject_index]


def frame_subject_keypoints(frame: PoseFrame | None) -> np.ndarray:
    """COCO-21 ``[21, 3]`` of one frame's subject; NaN / score 0 where none.

    Joints MediaPipe places outside the image are guesses, so they count as missing.
    """
    kp = np.full((NUM_COCO_FEET, 3), np.nan)
    kp[:, 2] = 0.0
    if frame is None or frame.subject is None:
        return kp
    kp[:] = frame.subject.coco(with_feet=True)
    w, h = frame.image_size
    outside = (kp[:, 0] < 0) | (kp[:, 0] >= w) | (kp[:, 1] < 0) | (kp[:, 1] >= h)
    kp[outside] = (np.nan, np.nan, 0.0)
    return kp


def subject_keypoints(frames: list[PoseFrame]) -> np.ndarray:
    """COCO-21 ``[T, 21, 3]`` of each frame's subject (see :func:`frame_subject_keypoints`)."""
    if not frames:
        return np.zeros((0, NUM_COCO_FEET, 3))
    return np.stack([frame_subject_keypoints(f) for f in frames])
