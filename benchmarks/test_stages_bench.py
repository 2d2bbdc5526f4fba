"""Per-frame / per-window cost of each stage of the pipeline, each in its own pytest-benchmark group.

Real video frames (the bundled 1768 x 994 walk), VIDEO running mode with
strictly increasing timestamps; see conftest.py for the shared fixtures.
"""

from __future__ import annotations

import numpy as np
import pytest
from bench_util import FRAME_MS, cycle_forever, pose_rounds, scaled


# ----------------------------------------------------------------- video decode
@pytest.mark.benchmark(group="decode")
def test_video_decode_per_frame(benchmark):
    """cv2 decode + the timestamp checks of iter_video_frames, reopening the file at its end."""
    from scoligait_edge.assets import sample_video_path
    from scoligait_edge.stream.video_file import iter_video_frames

    path = sample_video_path()
    state = {"it": iter_video_frames(path)}

    def next_frame():
        try:
            return next(state["it"])
        except StopIteration:
            state["it"] = iter_video_frames(path)
            return next(state["it"])

    frame = benchmark(next_frame)
    state["it"].close()
    assert frame.image.dtype == np.uint8 and frame.image.shape == (994, 1768, 3)
    assert np.isfinite(frame.timestamp_ms)


# ----------------------------------------------------------------- pose estimation
@pytest.mark.benchmark(group="pose")
@pytest.mark.parametrize(
    "variant,masks,sized",
    [("lite", False, False), ("full", False, False), ("lite", True, False), ("lite", True, True)],
    ids=["lite", "full", "lite-masks", "lite-masks-sized"],
)
def test_pose_estimation_per_frame(benchmark, frame_cycle, variant, masks, sized):
    """PoseEstimator.detect (MediaPipe PoseLandmarker, VIDEO mode, 2 poses) on the camera frame as it is
    (1768 x 994); lite-masks-sized = as the Screener runs it for a model that uses silhouettes (the frame
    scaled to max_input_side: 884 x 497)."""
    from scoligait_edge.pose.estimator import PoseEstimator

    cycle = frame_cycle()
    with PoseEstimator(model=variant, output_masks=masks, **({} if sized else {"max_input_side": None})) as est:
        for _ in range(15):  # the walker is borderline for the detector on the first frames from a cold start
            est.detect(*cycle.next())
        result = benchmark.pedantic(lambda: est.detect(*cycle.next()), **pose_rounds())
    assert result is not None and len(result.people) >= 1
    lm = result.people[0].image_landmarks
    assert lm.shape == (33, 4) and np.isfinite(lm).all()
    assert (result.people[0].mask is not None) == masks


# ----------------------------------------------------------------- subject tracking
@pytest.mark.benchmark(group="tracking")
def test_subject_tracking_per_frame(benchmark, cached_poses):
    """SubjectTracker.update on cached PoseFrames, timestamps kept increasing across replays."""
    from scoligait_edge.pose.tracker import SubjectTracker

    tracker = SubjectTracker()
    frames = cycle_forever(cached_poses.raw)
    clock = {"t": 0.0}

    def next_frame():
        clock["t"] += FRAME_MS
        return (next(frames).model_copy(update={"timestamp_ms": clock["t"]}),), {}

    for _ in range(len(cached_poses.raw)):  # let it lock on the subject first (the steady state)
        tracker.update(next_frame()[0][0])
    out = benchmark.pedantic(tracker.update, setup=next_frame, rounds=scaled(600), warmup_rounds=5)
    assert out.track_ids is not None and len(out.track_ids) == len(out.people)
    assert tracker.state in ("locked", "lost", "searching")


# ----------------------------------------------------------------- silhouette
@pytest.mark.benchmark(group="silhouette")
def test_silhouette_crop_per_frame(benchmark, cached_poses):
    """person_silhouette: binarise the subject's full-frame soft mask inside its box, crop to 64 x 44."""
    from scoligait_edge.core.constants import SIL_SHAPE
    from scoligait_edge.video.silhouette import person_silhouette

    masks = cycle_forever(cached_poses.masks)
    sil, ok = benchmark.pedantic(
        person_silhouette, setup=lambda: (next(masks), {}), rounds=scaled(150), warmup_rounds=3
    )
    assert sil.shape == SIL_SHAPE and sil.dtype == np.uint8
    assert ok and sil.any()


# ----------------------------------------------------------------- text
@pytest.mark.benchmark(group="text")
def test_text_lookup_per_window(benchmark, screening_bundle, sim_knowledge_map):
    """describe_window (z-scores against the bundle's reference statistics) + sentence-embedding lookup."""
    from scoligait_edge.text.describe import describe_window
    from scoligait_edge.text.embeddings import default_embedding_table
    from scoligait_edge.text.reference import ReferenceStats

    text = screening_bundle.manifest.text
    assert text is not None and text.reference_statistics
    reference = ReferenceStats.load(screening_bundle.path(text.reference_statistics))
    table = default_embedding_table()
    km, valid = sim_knowledge_map

    def describe_and_embed():
        desc = describe_window(km, valid, reference)
        ids = np.asarray(desc.sentence_ids, dtype=np.int64)[None]
        mask = np.ones_like(ids, dtype=bool)
        return desc, table.lookup(ids, mask)

    desc, emb = benchmark(describe_and_embed)
    assert 1 <= len(desc.sentence_ids) <= 4
    assert emb.shape == (1, len(desc.sentence_ids), table.dim) and np.isfinite(emb).all()
