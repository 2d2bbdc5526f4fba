"""PoseEstimator: strict inputs with clear errors, pixel outputs, clean shutdown."""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from scoligait_edge.errors import FrameError, NoPersonError, PoseModelError, TimestampError
from scoligait_edge.pose.estimator import PoseEstimator, PoseEstimatorOptions
from scoligait_edge.pose.frame import PersonPose, PoseFrame
from scoligait_edge.stream.video_file import iter_video_frames

BLANK = np.zeros((120, 160, 3), np.uint8)


@pytest.fixture(scope="module")
def lite_video() -> PoseEstimator:
    est = PoseEstimator(model="lite", running_mode="video")
    yield est
    est.close()


@pytest.fixture(scope="module")
def walker_frame(real_video: Path) -> np.ndarray:
    """Frame 100: the walking woman low in the frame, the other person on the box."""
    frames = list(iter_video_frames(real_video, max_frames=101))
    return frames[100].image


def test_options_validation() -> None:
    assert PoseEstimatorOptions().num_poses == 2
    with pytest.raises(ValidationError):
        PoseEstimatorOptions(num_poses=1)  # one pose: MediaPipe, not us, would pick the subject
    with pytest.raises(ValidationError):
        PoseEstimatorOptions(running_mode="stream")
    with pytest.raises(ValidationError):
        PoseEstimatorOptions(min_detection_confidence=1.5)


def test_missing_model(tmp_path: Path) -> None:
    with pytest.raises(PoseModelError, match="not found"):
        PoseEstimator(model=tmp_path / "none.task")


def test_corrupt_model(tmp_path: Path) -> None:
    bad = tmp_path / "bad.task"
    bad.write_bytes(os.urandom(2048))
    with pytest.raises(PoseModelError, match="bad.task"):
        PoseEstimator(model=bad)


@pytest.mark.parametrize(
    "frame",
    [
        None,
        np.zeros((120, 160, 3), np.float32),
        np.zeros((120, 160), np.uint8),
        np.zeros((120, 160, 4), np.uint8),
        np.zeros((0, 160, 3), np.uint8),
        [[0, 0, 0]],
    ],
    ids=["none", "float32", "gray", "bgra", "empty", "list"],
)
def test_bad_frames(lite_video: PoseEstimator, frame: object) -> None:
    with pytest.raises(FrameError) as info:
        lite_video.detect(frame, 10**9)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


def test_timestamps_must_strictly_increase() -> None:
    with PoseEstimator(model="lite") as est:
        assert est.detect(BLANK, 100) is None  # nobody in a black frame
        with pytest.raises(TimestampError, match="strictly increase.*100 ms after 100 ms"):
            est.detect(BLANK, 100)
        with pytest.raises(TimestampError, match="strictly increase"):
            est.detect(BLANK, 50)
        with pytest.raises(TimestampError, match="integer"):
            est.detect(BLANK, 133.3)
        with pytest.raises(TimestampError):
            est.detect(BLANK)  # video mode needs a timestamp
        assert est.detect(BLANK, np.int64(101)) is None
        assert est.detect(BLANK, 102.0) is None  # integral floats are fine


def test_close_is_idempotent_and_final() -> None:
    est = PoseEstimator(model="lite")
    with est:
        assert not est.closed
    assert est.closed
    est.close()  # second close: no error
    with pytest.raises(PoseModelError, match="closed"):
        est.detect(BLANK, 1)
    with pytest.raises(PoseModelError, match="closed"):
        with est:
            pass


def test_image_mode_real_frame(walker_frame: np.ndarray) -> None:
    h, w = walker_frame.shape[:2]
    with PoseEstimator(model="lite", running_mode="image") as est:
        frame = est.detect(walker_frame)
    assert isinstance(frame, PoseFrame) and frame.image_size == (w, h)
    assert 1 <= len(frame.people) <= 2
    assert frame.subject is None  # only the tracker chooses
    # Pixels, not normalised: someone's hips lie low in the frame, where the woman walks.
    hips = np.array([p.hip_center for p in frame.people])
    assert (hips[:, 1] > 600).any() and (hips[:, 0] > 1).all()
    person = frame.people[int(np.argmax(hips[:, 1]))]
    assert isinstance(person, PersonPose)
    coco = person.coco()
    assert coco.shape == (21, 3) and person.coco(with_feet=False).shape == (17, 3)
    assert np.all((coco[:, 2] >= 0) & (coco[:, 2] <= 1))
    x, y, bw, bh = person.bbox
    assert 0 < bw < w and 200 < bh < h  # a whole person, about 400 px tall
    assert person.world_landmarks is not None and person.world_landmarks.shape == (33, 4)
    assert person.mask is None


def test_masks(walker_frame: np.ndarray) -> None:
    small = cv2.resize(walker_frame, (442, 248))
    with PoseEstimator(model="lite", running_mode="image", output_masks=True) as est:
        frame = est.detect(small)
    assert frame is not None
    mask = frame.people[0].mask
    assert mask is not None and mask.shape == (248, 442) and mask.dtype == np.float32
    assert 0.0 <= float(mask.min()) and float(mask.max()) <= 1.0


def test_box_only_masks_give_the_silhouettes_of_full_masks(real_video: Path, monkeypatch) -> None:
    """The estimator copies only the person's box (+ margin) of MediaPipe's mask: every person's silhouette
    on 40 real frames is bit-identical to the one cut from the full mask copy, as before."""
    import scoligait_edge.pose.estimator as estimator
    from scoligait_edge.video.silhouette import person_silhouette

    frames = list(iter_video_frames(real_video, max_frames=140))[100:140]

    def silhouettes() -> list[tuple[np.ndarray, bool]]:
        out = []
        with PoseEstimator(
            model="lite", running_mode="video", output_masks=True, num_poses=2, max_input_side=None
        ) as est:
            for f in frames:
                pose = est.detect(f.image, int(round(f.timestamp_ms)))
                out += [person_silhouette(p.mask, p.bbox) for p in (pose.people if pose else [])]
        return out

    boxed = silhouettes()
    monkeypatch.setattr(
        estimator,
        "_person_mask",
        lambda image, lm, size, factor: np.array(image.numpy_view(), dtype=np.float32, copy=True).reshape(
            size[1], size[0]
        ),
    )
    full = silhouettes()
    assert len(boxed) == len(full) >= 40 and sum(ok for _, ok in full) >= 30
    for (a, ok_a), (b, ok_b) in zip(boxed, full, strict=True):
        assert ok_a == ok_b and np.array_equal(a, b)


def test_live_stream_returns_latest_result(real_video: Path) -> None:
    frames = [f.image for f in iter_video_frames(real_video, max_frames=110)][95:110]
    with PoseEstimator(model="lite", running_mode="live_stream") as est:
        latest = None
        deadline = time.monotonic() + 20
        ts = 0
        while latest is None and time.monotonic() < deadline:
            for img in frames:
                ts += 33
                latest = est.detect(img, ts) or latest
            time.sleep(0.05)
        assert latest is not None, "no live-stream result within 20 s"
        assert latest.timestamp_ms <= ts  # the newest *completed* result: may lag
        with pytest.raises(TimestampError):
            est.detect(frames[0], ts)


def test_extract_raises_no_person_on_empty_video(tmp_path: Path) -> None:
    from scoligait_edge.research.extract import extract_pose_sequence

    path = tmp_path / "empty_scene.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (160, 120))
    for _ in range(8):
        writer.write(np.full((120, 160, 3), 90, np.uint8))
    writer.release()
    with pytest.raises(NoPersonError, match="empty_scene.avi"):
        extract_pose_sequence(path, model="lite", progress=False)
