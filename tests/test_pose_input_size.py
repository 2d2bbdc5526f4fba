"""The frame given to MediaPipe is scaled down to the model's needs, and results come back in camera pixels."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from scoligait_edge.core.constants import POSE_INPUT_MAX_SIDE
from scoligait_edge.pose.estimator import (
    PoseEstimator,
    PoseEstimatorOptions,
    _person_mask,
    _to_pose_frame,
    model_frame,
    model_frame_factor,
    options_for_bundle,
)
from scoligait_edge.stream.video_file import iter_video_frames
from scoligait_edge.video.silhouette import person_silhouette


@pytest.mark.parametrize(
    "size,max_side,factor",
    [
        ((1768, 994), 960, 2),  # the sample video -> 884 x 497
        ((1920, 1080), 960, 2),  # 1080p -> 960 x 540
        ((1080, 1920), 960, 2),  # portrait
        ((3840, 2160), 960, 4),
        ((1280, 720), 960, 2),
        ((960, 540), 960, 1),  # fits: never scaled up, never touched
        ((640, 480), 960, 1),
        ((1920, 1080), None, 1),  # None: the camera frame as it is
        ((1920, 1080), 480, 4),
    ],
)
def test_factor_is_the_smallest_power_of_two_that_fits(size, max_side, factor) -> None:
    assert model_frame_factor(*size, max_side) == factor
    if max_side is not None:
        assert max(size) // factor <= max_side


def test_default_size_is_the_documented_constant() -> None:
    assert PoseEstimatorOptions().max_input_side == POSE_INPUT_MAX_SIDE == 960


@pytest.mark.parametrize("factor", [2, 4])
def test_model_frame_is_a_box_filter_of_the_whole_factor(factor: int) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (99, 161, 3), dtype=np.uint8)  # odd sizes: the last rows/columns are left out
    small = model_frame(image, factor)
    h, w = 99 // factor, 161 // factor
    assert small.shape == (h, w, 3) and small.dtype == np.uint8
    box = image[: h * factor, : w * factor].astype(np.float64).reshape(h, factor, w, factor, 3).mean(axis=(1, 3))
    assert np.abs(small.astype(np.float64) - box).max() <= 1.0  # rounding of each 2x step
    assert model_frame(image, 1) is image


def _landmark(x: float, y: float) -> SimpleNamespace:
    return SimpleNamespace(x=x, y=y, z=0.1, visibility=0.9, presence=0.95)


class _MpImage:
    """The part of MediaPipe's Image the estimator reads."""

    def __init__(self, array: np.ndarray) -> None:
        self.height, self.width = array.shape
        self._array = array

    def numpy_view(self) -> np.ndarray:
        return self._array


@pytest.mark.parametrize("camera,factor", [((1768, 994), 2), ((1767, 993), 2), ((1920, 1080), 4)])
def test_landmarks_come_back_in_camera_pixels(camera: tuple[int, int], factor: int) -> None:
    """Normalised coordinates span the part of the camera frame the model frame covers (all but the
    ``factor - 1`` rows/columns at most that the exact box filter leaves out)."""
    w, h = camera
    span_w, span_h = (w // factor) * factor, (h // factor) * factor
    lms = [_landmark(0.25 + 0.01 * i, 0.5) for i in range(33)]
    result = SimpleNamespace(pose_landmarks=[lms], pose_world_landmarks=[], segmentation_masks=None)
    frame = _to_pose_frame(result, camera, factor, 40)
    assert frame is not None and frame.image_size == camera
    lm = frame.people[0].image_landmarks
    assert lm[0, 0] == pytest.approx(0.25 * span_w) and lm[0, 1] == pytest.approx(0.5 * span_h)
    assert lm[0, 2] == pytest.approx(0.1 * span_w)  # z on the scale of x, as MediaPipe defines it
    assert frame.people[0].mask is None


def test_mask_box_is_resampled_into_camera_pixels() -> None:
    """A rectangle in the model frame's mask lands, scaled by the factor, where it is in the camera frame."""
    factor, camera = 2, (160, 100)
    small = np.zeros((50, 80), np.float32)
    small[10:30, 20:40] = 1.0  # model px: rows 10-29, cols 20-39 -> camera rows 20-59, cols 40-79
    lm = np.zeros((33, 4))
    lm[:, 0] = np.linspace(40, 80, 33)
    lm[:, 1] = np.linspace(20, 60, 33)
    mask = _person_mask(_MpImage(small), lm, camera, factor)
    assert mask.shape == (100, 160) and mask.dtype == np.float32
    fg = mask >= 0.5
    rows, cols = np.flatnonzero(fg.any(axis=1)), np.flatnonzero(fg.any(axis=0))
    assert (rows[0], rows[-1], cols[0], cols[-1]) == (20, 59, 40, 79)
    assert fg[20:60, 40:80].all() and fg.sum() == 40 * 40
    # nothing outside the landmark box grown by the margin is copied
    assert not mask[:10].any() and not mask[:, :30].any()


@pytest.fixture(scope="module")
def real_frames(real_video: Path) -> list:
    return list(iter_video_frames(real_video, max_frames=160))[40:160]


def _subject(frame):
    """The walking woman: the person lowest in the frame (the other stands on a box)."""
    if frame is None or not frame.people:
        return None
    return max(frame.people, key=lambda p: p.hip_center[1])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    fa, fb = a >= 128, b >= 128
    return float((fa & fb).sum() / max((fa | fb).sum(), 1))


def test_sized_frames_track_the_camera_frame_path(real_frames) -> None:
    """On real 1768 x 994 frames (VIDEO mode, scored after 20 frames of MediaPipe's tracking and mask
    smoothing settling), MediaPipe given 884 x 497 finds the walker where it does at full size: landmarks
    within ~1 % of her height, masks in camera pixels, and silhouettes that differ from the full-size path's
    no more than those of the full-size path with the camera moved by one pixel (the control)."""
    full = PoseEstimator(model="lite", output_masks=True, max_input_side=None)
    sized = PoseEstimator(model="lite", output_masks=True)
    moved = PoseEstimator(model="lite", output_masks=True, max_input_side=None)
    shares, ious, control = [], [], []
    with full, sized, moved:
        for i, f in enumerate(real_frames):
            ts = int(round(f.timestamp_ms))
            shifted = np.ascontiguousarray(np.concatenate([f.image[:, 1:], f.image[:, -1:]], axis=1))
            a, b = _subject(full.detect(f.image, ts)), _subject(sized.detect(f.image, ts))
            c = _subject(moved.detect(shifted, ts))
            if i < 20 or a is None or b is None or c is None:
                continue
            assert b.mask is not None and b.mask.shape == f.image.shape[:2]
            d = np.linalg.norm(a.image_landmarks[:, :2] - b.image_landmarks[:, :2], axis=1)
            shares.append(float(np.median(d)) / a.bbox[3])
            (sa, ok_a), (sb, ok_b), (sc, ok_c) = (person_silhouette(p.mask, p.bbox) for p in (a, b, c))
            if ok_a and ok_b and ok_c:
                ious.append(_iou(sa, sb))
                control.append(_iou(sa, sc))
    assert len(shares) >= 90 and len(ious) >= 90
    assert np.median(shares) < 0.015
    assert np.mean(ious) >= 0.85
    assert np.mean(ious) >= np.mean(control) - 0.03


def test_image_mode_maps_to_camera_pixels(real_frames) -> None:
    image = real_frames[60].image  # frame 100: both people in view
    with PoseEstimator(model="lite", running_mode="image", max_input_side=480) as est:
        frame = est.detect(image)
    assert frame is not None and frame.image_size == (1768, 994)
    hips = np.array([p.hip_center for p in frame.people])
    assert (hips[:, 1] > 600).any()  # camera pixels: the walker's hips lie low in the 994-row frame


def test_live_stream_maps_with_the_frame_it_was_given(real_frames) -> None:
    import time

    with PoseEstimator(model="lite", running_mode="live_stream") as est:
        latest, deadline, ts = None, time.monotonic() + 20, 0
        while latest is None and time.monotonic() < deadline:
            for f in real_frames[60:70]:
                ts += 33
                latest = est.detect(f.image, ts) or latest
                time.sleep(0.03)
    assert latest is not None and latest.image_size == (1768, 994)
    assert max(p.hip_center[1] for p in latest.people) > 600


# ----------------------------------------------------------------- the bundle's say
def test_bundle_pose_input_wins_over_the_default(caplog) -> None:
    opts = PoseEstimatorOptions()
    assert options_for_bundle(opts, None) is opts
    assert options_for_bundle(opts, "camera").max_input_side is None
    assert options_for_bundle(opts, 480).max_input_side == 480
    with caplog.at_level("WARNING"):
        assert options_for_bundle(PoseEstimatorOptions(max_input_side=640), "camera").max_input_side is None
    assert "max_input_side=None" in caplog.text


def test_manifest_pose_input_is_optional_and_omitted_when_unset() -> None:
    from pydantic import ValidationError

    from scoligait_edge.bundle.load import load_bundle
    from scoligait_edge.bundle.manifest import BundleManifest
    from scoligait_edge.screener import demo_bundle_path

    bundle = load_bundle(demo_bundle_path())  # signed before the field existed: still verifies
    try:
        manifest = bundle.manifest
        assert manifest.pose_input is None
        assert "pose_input" not in manifest.model_dump() and "pose_input" not in manifest.model_dump_json()
        data = manifest.model_dump(mode="json")
        for value in ("camera", 960):
            assert BundleManifest.model_validate({**data, "pose_input": value}).model_dump()["pose_input"] == value
        for bad in ("960", 32, True, "full"):
            with pytest.raises(ValidationError):
                BundleManifest.model_validate({**data, "pose_input": bad})
    finally:
        bundle.close()


def test_screener_uses_the_bundle_pose_input(tmp_path: Path) -> None:
    from scoligait_edge.bundle.load import load_bundle
    from scoligait_edge.screener import Screener, demo_bundle_path

    with Screener(backend="onnxruntime") as screener:  # the demo bundle: the runtime's default
        assert screener._estimator is not None
        assert screener._estimator.options.max_input_side == POSE_INPUT_MAX_SIDE
    copy = tmp_path / "bundle"
    shutil.copytree(demo_bundle_path(), copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["pose_input"] = "camera"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    (copy / "manifest.json.sig").unlink()
    with Screener(load_bundle(copy, allow_unsigned=True), backend="onnxruntime") as screener:
        assert screener._estimator is not None
        assert screener._estimator.options.max_input_side is None


def test_resize_uses_cv2_box_filter_path() -> None:
    """The 2x step is the one OpenCV runs vectorised: INTER_AREA by exactly 2 (guards the size rule)."""
    image = np.zeros((994, 1768, 3), np.uint8)
    small = model_frame(image, model_frame_factor(1768, 994, POSE_INPUT_MAX_SIDE))
    assert small.shape == (497, 884, 3)
    assert cv2.resize(image, (884, 497), interpolation=cv2.INTER_AREA).shape == small.shape
