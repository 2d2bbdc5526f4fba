"""Video file -> the walking subject's COCO-21 pose sequence.

The one call most users need: decode, run MediaPipe on every frame, pick the
person who walks (not the biggest or first one) and return their keypoints.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

from scoligait_edge.errors import NoPersonError
from scoligait_edge.pose.estimator import PoseEstimator, PoseEstimatorOptions
from scoligait_edge.pose.frame import PoseFrame, subject_keypoints
from scoligait_edge.pose.loaders import PoseSequence
from scoligait_edge.pose.tracker import TrackerOptions, select_subject
from scoligait_edge.stream.video_file import iter_video_frames, probe_video

log = logging.getLogger(__name__)


def detect_video_poses(
    video_path: str | Path,
    *,
    model: str | Path = "full",
    progress: bool = True,
    max_frames: int | None = None,
) -> tuple[list[PoseFrame], float | None]:
    """Every frame's detections (all people, no subject chosen) and the video's fps.

    Frames where nobody is found are kept as empty PoseFrames so indices match
    the video's frames.
    """
    return _detect_frames(video_path, model=model, progress=progress, max_frames=max_frames)


def _detect_frames(
    video_path: str | Path,
    *,
    model: str | Path,
    progress: bool,
    max_frames: int | None,
    output_masks: bool = False,
    on_frame: Callable[[PoseFrame], PoseFrame] | None = None,
) -> tuple[list[PoseFrame], float | None]:
    """Decode + pose every frame; ``on_frame`` may replace each frame's result as it
    arrives (e.g. to turn full-frame masks into small silhouettes and drop them)."""
    info = probe_video(video_path)
    total = info.frame_count if max_frames is None else min(max_frames, info.frame_count)
    frames: list[PoseFrame] = []
    last_ts = -1
    start = time.perf_counter()
    options = PoseEstimatorOptions(model=model, running_mode="video", output_masks=output_masks)
    with PoseEstimator(options) as estimator:
        bar = tqdm(total=total, unit="frame", desc="pose", disable=not progress, leave=False)
        try:
            for vf in iter_video_frames(video_path, max_frames=max_frames):
                ts = max(int(round(vf.timestamp_ms)), last_ts + 1)  # MediaPipe wants int ms
                last_ts = ts
                pf = estimator.detect(vf.image, ts)
                if pf is None:
                    h, w = vf.image.shape[:2]
                    pf = PoseFrame(timestamp_ms=float(ts), image_size=(w, h), people=[])
                frames.append(pf if on_frame is None else on_frame(pf))
                bar.update(1)
        finally:
            bar.close()
    elapsed = time.perf_counter() - start
    log.info("Pose on %d frames of %s: %.1f ms/frame", len(frames), video_path, 1000.0 * elapsed / max(len(frames), 1))
    return frames, info.fps


def extract_pose_sequence(
    video_path: str | Path,
    *,
    model: str | Path = "full",
    roi: tuple[float, float, float, float] | None = None,
    progress: bool = True,
    tracker_options: TrackerOptions | None = None,
) -> PoseSequence:
    """Run pose estimation on a video and return the walking subject's keypoints.

    ``roi`` (x, y, w, h pixels) restricts the subject to people whose hip centre
    lies inside it. Raises VideoReadError for unreadable videos, PoseModelError
    for a bad model and NoPersonError when nobody walks in the video.
    """
    frames, fps = detect_video_poses(video_path, model=model, progress=progress)
    tracked = select_subject(frames, _with_roi(tracker_options, roi))
    found = sum(f.subject is not None for f in tracked)
    if found == 0:
        raise _no_subject(video_path, frames, roi)
    log.info("Subject found in %d of %d frames", found, len(frames))
    return _subject_sequence(tracked, fps, video_path)


def _with_roi(options: TrackerOptions | None, roi: tuple[float, float, float, float] | None) -> TrackerOptions:
    """The tracker options (defaults when None) with ``roi`` in place of theirs when one is given."""
    options = options or TrackerOptions()
    if roi is not None:
        options = TrackerOptions(**{**options.model_dump(), "roi": roi})
    return options


def _subject_sequence(tracked: list[PoseFrame], fps: float | None, video_path: str | Path) -> PoseSequence:
    """The chosen subject's keypoints over every decoded frame, in the COCO-21 layout."""
    return PoseSequence(
        keypoints=subject_keypoints(tracked),
        timestamps_ms=np.array([f.timestamp_ms for f in tracked], dtype=np.float64),
        fps=fps,
        source=str(video_path),
        layout="coco21",
    )


def _no_subject(video_path: str | Path, frames: list[PoseFrame], roi: object) -> NoPersonError:
    anyone = sum(bool(f.people) for f in frames)
    return NoPersonError(
        f"No walking subject found in {video_path}: people detected in {anyone} of "
        f"{len(frames)} frames, but none walked"
        + (" inside the ROI" if roi else "")
        + ". The subject should walk across or towards the camera, fully in view."
    )


class SubjectSilhouettes(NamedTuple):
    """The walking subject's pose and per-frame 64 x 44 silhouettes (one row per decoded frame)."""

    pose: PoseSequence
    silhouettes: np.ndarray
    """uint8 ``[T, 64, 44]``; zeros where the subject is not tracked or has no mask."""
    silhouette_valid: np.ndarray
    """bool ``[T]``: the subject was tracked and their mask gave a silhouette."""


def extract_subject_silhouettes(
    video_path: str | Path,
    *,
    model: str | Path = "full",
    roi: tuple[float, float, float, float] | None = None,
    progress: bool = True,
    tracker_options: TrackerOptions | None = None,
    max_frames: int | None = None,
) -> SubjectSilhouettes:
    """Like :func:`extract_pose_sequence`, plus the subject's silhouettes from
    MediaPipe's per-person segmentation masks.

    Masks are full-frame float images (megabytes each), so every detected
    person's mask is cropped to a 64 x 44 silhouette as soon as the frame is
    decoded and the mask dropped; once the tracker has chosen the subject, their
    silhouette is kept for each frame. Raises like :func:`extract_pose_sequence`.
    """
    from scoligait_edge.core.constants import SIL_SHAPE
    from scoligait_edge.video.silhouette import person_silhouette

    sils: list[list[tuple[np.ndarray, bool]]] = []

    def shrink(pf: PoseFrame) -> PoseFrame:
        sils.append([person_silhouette(p.mask, p.bbox) for p in pf.people])
        if not any(p.mask is not None for p in pf.people):
            return pf
        return pf.model_copy(update={"people": [p.model_copy(update={"mask": None}) for p in pf.people]})

    frames, fps = _detect_frames(
        video_path, model=model, progress=progress, max_frames=max_frames, output_masks=True, on_frame=shrink
    )
    tracked = select_subject(frames, _with_roi(tracker_options, roi))
    if not any(f.subject is not None for f in tracked):
        raise _no_subject(video_path, frames, roi)
    out = np.zeros((len(tracked),) + SIL_SHAPE, np.uint8)
    valid = np.zeros(len(tracked), bool)
    for i, f in enumerate(tracked):
        if f.subject_index is not None:
            out[i], valid[i] = sils[i][f.subject_index]
    log.info("Subject silhouettes in %d of %d frames", int(valid.sum()), len(tracked))
    pose = _subject_sequence(tracked, fps, video_path)
    return SubjectSilhouettes(pose=pose, silhouettes=out, silhouette_valid=valid)
