"""The whole ``Screener.process`` per frame (lite pose model) against pose estimation alone on the same frames.

Both run over the same real full-size frames (1768 x 994, ping-pong replay, 30 fps timestamps), the
pose estimator configured as the Screener configures it (lite, segmentation masks on when the bundle's
model uses silhouettes, the frame scaled to ``max_input_side``). "Bare pose" is what an app gets by
handing MediaPipe lite the camera frame with no masks. Inside the Screener run the pose call is timed
too, so the SDK's share of a frame, (process - pose) / process, comes from the same calls
(``extra_info``), not from two noisy runs.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from bench_util import pose_rounds

PIPELINE_ROUNDS = 240  # 8 s of video: ~14 windows at the default hop of 16


def _percentiles(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs)
    return {
        "mean": float(a.mean()),
        "p50": float(np.percentile(a, 50)),
        "p90": float(np.percentile(a, 90)),
        "p99": float(np.percentile(a, 99)),
    }


@pytest.mark.benchmark(group="pipeline")
@pytest.mark.parametrize("threads", [None, 1], ids=["ort-default-threads", "ort-1-thread"])
def test_screener_process_per_frame(benchmark, screening_bundle_path, frame_cycle, threads):
    """Each round also runs bare lite pose (no masks, the camera frame as it is, its own estimator) on the
    same frame right after the Screener, and bare lite pose on the frame the Screener gives MediaPipe:
    ``process / bare pose`` from paired calls, which drift on a shared machine cannot skew."""
    from scoligait_edge.pose.estimator import PoseEstimator, model_frame_factor
    from scoligait_edge.screener import Screener

    cycle = frame_cycle()
    bare = PoseEstimator(model="lite", output_masks=False, max_input_side=None)
    bare_sized = PoseEstimator(model="lite", output_masks=False)
    bare_ms: list[float] = []
    bare_sized_ms: list[float] = []
    with (
        bare,
        bare_sized,
        Screener(screening_bundle_path, backend="onnxruntime", pose_model="lite", threads=threads) as screener,
    ):
        estimator = screener._estimator
        detect = estimator.detect
        pose_ms: list[float] = []
        total_ms: list[float] = []

        def timed_detect(frame, ts):
            t0 = time.perf_counter()
            try:
                return detect(frame, ts)
            finally:
                pose_ms.append((time.perf_counter() - t0) * 1e3)

        estimator.detect = timed_detect  # instance attribute: Screener.process calls it

        def process():
            image, ts = cycle.next()
            t0 = time.perf_counter()
            update = screener.process(image, float(ts))
            total_ms.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            bare.detect(image, int(ts))
            bare_ms.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            bare_sized.detect(image, int(ts))
            bare_sized_ms.append((time.perf_counter() - t0) * 1e3)
            return update

        rounds = pose_rounds(PIPELINE_ROUNDS, warmup=16)
        update = benchmark.pedantic(process, **rounds)
        n_warm = 0 if benchmark.disabled else rounds["warmup_rounds"]
        pose_ms, total_ms = pose_ms[n_warm:], total_ms[n_warm:]
        bare_ms, bare_sized_ms = bare_ms[n_warm:], bare_sized_ms[n_warm:]
        assert len(pose_ms) == len(total_ms) >= 1
        sdk_ms = [t - p for t, p in zip(total_ms, pose_ms, strict=True)]
        summary = screener.summary()
        height, width = cycle.images[0].shape[:2]
        factor = model_frame_factor(width, height, estimator.options.max_input_side)
        benchmark.extra_info.update(
            {
                "bundle": str(screening_bundle_path),
                "backend": screener.backend.name,
                "threads": threads,
                "uses_video": screener.uses_video,
                "frames": len(total_ms),
                "total_ms": _percentiles(total_ms),
                "pose_ms": _percentiles(pose_ms),
                "sdk_ms": _percentiles(sdk_ms),
                "bare_pose_ms": _percentiles(bare_ms),
                "bare_sized_pose_ms": _percentiles(bare_sized_ms),
                "frame_size": [width, height],
                "pose_input_size": [width // factor, height // factor],
                "sdk_share": float(sum(sdk_ms) / sum(total_ms)),
                "fps_sustained": float(1e3 * len(total_ms) / sum(total_ms)),
                "windows_total": summary.windows_total,
                "windows_screened": summary.windows_screened,
                "windows_skipped": summary.windows_skipped,
                "windows_failed": summary.windows_failed,
            }
        )
    assert update.index >= 0 and np.isfinite(update.timestamp_ms)
    assert 0.0 <= update.window_progress <= 1.0
    assert all(t >= p >= 0 for t, p in zip(total_ms, pose_ms, strict=True))
    assert summary.windows_failed == 0
    if not benchmark.disabled:
        assert summary.windows_total >= 1 and summary.frames_with_subject > 0


@pytest.mark.benchmark(group="pipeline")
@pytest.mark.parametrize("masks_as", ["screener", "none"], ids=["as-screener", "no-masks"])
def test_pose_alone_same_frames(benchmark, screening_bundle, frame_cycle, masks_as):
    """PoseEstimator.detect as the Screener configures it (lite, masks when the model uses video, the frame
    scaled to max_input_side), and bare lite pose: no masks, the camera frame as it is."""
    from scoligait_edge.pose.estimator import PoseEstimator

    screener_like = masks_as == "screener"
    masks = screener_like and bool(screening_bundle.manifest.model_config_object().uses_video)
    cycle = frame_cycle()
    sized = {} if screener_like else {"max_input_side": None}
    with PoseEstimator(model="lite", output_masks=masks, **sized) as est:
        for _ in range(15):  # the walker is borderline for the detector on the first frames from a cold start
            est.detect(*cycle.next())
        result = benchmark.pedantic(lambda: est.detect(*cycle.next()), **pose_rounds(PIPELINE_ROUNDS, warmup=16))
    benchmark.extra_info["output_masks"] = masks
    assert result is not None and result.people and np.isfinite(result.people[0].image_landmarks).all()
