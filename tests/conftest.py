"""Shared fixtures: the real walking video and its pose detections, computed once.

Running MediaPipe over the 230-frame video takes seconds, so it happens once
per test session and every real-video test reuses the cached frames.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from scoligait_edge.assets import sample_video_path

SHARED_VIDEO = Path(__file__).parents[2] / "shared/data/videos/sports2d_walk_demo.mp4"
REAL_VIDEO_MODEL = "full"  # the package default; lite tracks her as well, a little faster


def real_video_path() -> Path | None:
    """The sports2d demo video: the shared copy, else the bundled sample, else None."""
    for candidate in (SHARED_VIDEO, sample_video_path()):
        if candidate.is_file():
            return candidate
    return None


@pytest.fixture(scope="session")
def real_video() -> Path:
    path = real_video_path()
    if path is None:
        pytest.skip(f"real video absent ({SHARED_VIDEO} and the bundled sample)")
    return path


@pytest.fixture(scope="session")
def real_video_poses(real_video: Path):
    """All PoseFrames of the real video, every detected person, no subject chosen."""
    from scoligait_edge.research.extract import detect_video_poses

    frames, fps = detect_video_poses(real_video, model=REAL_VIDEO_MODEL, progress=False)
    assert fps == pytest.approx(30.0)
    return frames


@pytest.fixture(scope="session")
def real_subject_sequence(real_video_poses):
    """The walking woman's COCO-21 keypoints and timestamps, as the demo extracts them."""
    from scoligait_edge.pose.frame import subject_keypoints
    from scoligait_edge.pose.tracker import select_subject

    frames = select_subject(real_video_poses)
    timestamps = [f.timestamp_ms for f in frames]
    return subject_keypoints(frames), timestamps


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    """ONE tiny bundle (checkpoint, ONNX, fp16 ONNX, .ort) of a random model, plus its test windows (export tests)."""
    pytest.importorskip("torch")
    from tests.export_helpers import build_tiny_bundle

    return build_tiny_bundle(tmp_path_factory.mktemp("tiny_bundle"))


@pytest.fixture(scope="session")
def screening_bundle(tmp_path_factory):
    """A tiny random km+video+text model (96-frame windows) in a real bundle with genuine text
    reference statistics: what the Screener and the run CLI load. Not a trained model."""
    pytest.importorskip("torch")
    from tests.screener_helpers import build_screening_bundle

    return build_screening_bundle(tmp_path_factory.mktemp("screening_bundle"))


@pytest.fixture
def images(tmp_path) -> Path:
    """A folder of three small frames for the command line's --images source."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"f{i}.png"), np.full((32, 32, 3), 40 * i, np.uint8))
    return folder
