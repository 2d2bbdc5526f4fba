"""Video file -> the walking subject's COCO-21 pose sequence.

The one call most users need: decode, run MediaPipe on every frame, pick the
person who walks (not the biggest or first one) and return their keypoints.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from scoligait_edge.errors import NoPersonError
from scoligait_edge.pose.estimator import PoseEstimator, PoseEstimatorOptions
from scoligait_edge.pose.frame import PoseFrame
from scoligait_edge.pose.loaders import PoseSequence
from scoligait_edge.pose.skeleton import NUM_COCO_FEET
from scoligait_edge.pose.tracker import TrackerOptions, select_subject
from scoligait_edge.stream.video_file import iter_video_frames, probe_video

log = logging.getLogger(__name__)


def detect_video_poses(
    video_path: str | Path, *, model: str | Path = "full", progress: bool = True,
    max_frames: int | None = None,
) -> tuple[list[PoseFrame], float | None]:
    """Every frame's detections (all people, no subject chosen) and the video's fps.

    Frames where nobody is found are kept as empty PoseFrames so indices match
    the video's frames.
    """
    info = probe_video(video_path)
    total = info.frame_count if max_frames is None else min(max_frames, info.frame_count)
    frames: list[PoseFrame] = []
    last_ts = -1
    start = time.perf_counter()
    with PoseEstimator(PoseEstimatorOptions(model=model, running_mode="video")) as estimator:
        bar = tqdm(total=total, unit="frame", desc="pose", disable=not progress, leave=False)
        try:
            for vf in iter_video_frames(video_path, max_frames=max_frames):
                ts = max(int(round(vf.timestamp_ms)), last_ts + 1)  # MediaPipe wants int ms
                last_ts = ts
                pf = estimator.detect(vf.image, ts)
                if pf is None:
                    h, w = vf.image.shape[:2]
                    pf = PoseFrame(timestamp_ms=float(ts), image_size=(w, h), people=[])
                frames.append(pf)
                bar.update(1)
        finally:
            bar.close()
    elapsed = time.perf_counter() - start
    log.info("Pose on %d frames of %s: %.1f ms/frame", len(frames), video_path,
             1000.0 * elapsed / max(len(frames), 1))
    return frames, info.fps


def subject_keypoints(frames: list[PoseFrame]) -> np.ndarray:
    """COCO-21 ``[T, 21, 3]`` of each frame's subject; NaN / score 0 where none.

    Joints MediaPipe places outside the image are guesses, so they count as missing.
    """
    kp = np.full((len(frames), NUM_COCO_FEET, 3), np.nan)
    kp[..., 2] = 0.0
    for i, f in enumerate(frames):
        if f.subject is not None:
            kp[i] = f.subject.coco(with_feet=True)
            w, h = f.image_size
            outside = (kp[i, :, 0] < 0) | (kp[i, :, 0] >= w) | (kp[i, :, 1] < 0) | (kp[i, :, 1] >= h)
            kp[i, outside] = (np.nan, np.nan, 0.0)
    return kp


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
    options = tracker_options or TrackerOptions()
    if roi is not None:
        options = TrackerOptions(**{**options.model_dump(), "roi": roi})
    tracked = select_subject(frames, options)
    found = sum(f.subject is not None for f in tracked)
    if found == 0:
        anyone = sum(bool(f.people) for f in frames)
        raise NoPersonError(
            f"No walking subject found in {video_path}: people detected in {anyone} of "
            f"{len(frames)} frames, but none walked" + (" inside the ROI" if roi else "")
            + ". The subject should walk across or towards the camera, fully in view."
        )
    log.info("Subject found in %d of %d frames", found, len(frames))
    return PoseSequence(
        keypoints=subject_keypoints(tracked),
        timestamps_ms=np.array([f.timestamp_ms for f in tracked], dtype=np.float64),
        fps=fps,
        source=str(video_path),
        layout="coco21",
    )
