"""``python -m scoligait_edge.research.preprocess``: Ray with 2 workers fills the same cache as one process."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from tests.test_data import _trimmed_walk

CLIPS = {"walk_a": 60, "walk_b": 90, "walk_c": 120}  # start frames of three 40-frame cuts of the sample walk


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("cohort")
    lines = ["clip_id,subject_id,cobb_deg,sex,age,split"]
    for i, (cid, start) in enumerate(CLIPS.items()):
        _trimmed_walk(root / f"{cid}.mp4", start=start, n=40)
        lines.append(f"{cid},p{i},{12 + 5 * i},F,13,{('train', 'val', 'test')[i]}")
    (root / "broken.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    lines.append("broken,p9,4,M,,test")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root


def _run(folder, cache_root, *extra: str) -> dict:
    from scoligait_edge.research.preprocess import main

    out = cache_root / "result.json"
    assert (
        main(
            [
                str(folder),
                "--cache-root",
                str(cache_root),
                "--pose-model",
                "lite",
                "--no-progress",
                "--summary-json",
                str(out),
                *extra,
            ]
        )
        == 0
    )
    return json.loads(out.read_text())


def _arrays(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.slow
def test_ray_cache_equals_the_serial_cache(clip_folder, tmp_path):
    pytest.importorskip("ray")
    t0 = time.perf_counter()
    serial = _run(clip_folder, tmp_path / "serial", "--engine", "local", "--workers", "1")
    t_serial = time.perf_counter() - t0
    ray_res = _run(clip_folder, tmp_path / "ray", "--engine", "ray", "--workers", "2")
    t_ray = time.perf_counter() - t0 - t_serial
    print(f"serial {t_serial:.1f} s, ray (2 workers, incl. start) {t_ray:.1f} s")
    for res in (serial, ray_res):
        s = res["summary"]
        assert (s["computed"], s["failed"], s["lost"]) == (3, 1, 0)
        assert s["by_reason"] == {"VideoReadError": 1} and "broken" in s["failures"]

    from pathlib import Path

    a_dir, b_dir = Path(serial["cache_dir"]), Path(ray_res["cache_dir"])
    a_files = sorted(p.name for p in (a_dir / "clips").iterdir())
    b_files = sorted(p.name for p in (b_dir / "clips").iterdir())
    assert a_files == b_files and len(a_files) == 3  # no temporary or half-written file left, no broken entry
    for name in a_files:
        a, b = _arrays(a_dir / "clips" / name), _arrays(b_dir / "clips" / name)
        assert sorted(a) == sorted(b)
        for key in a:
            if a[key].dtype.kind in "fc":
                np.testing.assert_allclose(a[key], b[key], atol=1e-6, rtol=0, equal_nan=True, err_msg=key)
            else:
                np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    ma = json.loads((a_dir / "manifest.json").read_text())["entries"]
    mb = json.loads((b_dir / "manifest.json").read_text())["entries"]
    assert {k: v["status"] for k, v in ma.items()} == {k: v["status"] for k, v in mb.items()}
    assert mb["broken"]["error_type"] == "VideoReadError"

    # resumable: a second Ray run finds everything cached (and starts no Ray at all)
    again = _run(clip_folder, tmp_path / "ray", "--engine", "ray", "--workers", "2")["summary"]
    assert (again["reused"], again["computed"], again["failed_before"]) == (3, 0, 1)


def test_video_list_and_missing_ray_message(clip_folder, tmp_path, monkeypatch):
    """Unlabelled videos go through the same per-clip function; without ray the error names the pip command."""
    import builtins

    from scoligait_edge.research.preprocess import PreprocessOptions, make_engine, preprocess

    res = preprocess(
        PreprocessOptions(videos=[clip_folder / "walk_a.mp4"], cache_root=tmp_path, pose_model="lite", progress=False)
    )
    assert res.summary.computed == 1 and "/videos/" in res.cache_dir

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    from scoligait_edge.errors import OptionalDependencyError

    with pytest.raises(OptionalDependencyError, match=r"pip install 'scoligait-edge\[scale\]'"):
        make_engine(PreprocessOptions(videos=[clip_folder / "walk_a.mp4"], engine="ray"))


def test_a_lost_worker_is_not_recorded_as_a_failure(tmp_path):
    """An engine that loses a clip's worker: the clip is counted as lost, not failed, and the next run computes it."""
    from functools import partial

    from scoligait_edge.research.data.cache import ClipCache
    from scoligait_edge.research.data.engines import ClipJob, ClipOutcome, run_remote
    from tests.test_data import _tiny_clip as make

    class Flaky:
        def __init__(self, lose: set[str]) -> None:
            self.lose = lose

        def run(self, jobs):
            for job in jobs:
                yield (
                    job,
                    (ClipOutcome(lost="WorkerCrashedError") if job.clip_id in self.lose else run_remote(job.compute)),
                )

    jobs = [ClipJob(clip_id=c, compute=partial(make, c)) for c in ("a", "b")]
    cache = ClipCache(tmp_path, {"k": 1})
    s = cache.build(jobs, progress=False, engine=Flaky({"b"}))
    assert (s.computed, s.failed, s.lost) == (1, 0, 1) and "b" in s.lost_clips
    s2 = ClipCache(tmp_path, {"k": 1}).build(jobs, progress=False, engine=Flaky(set()))
    assert (s2.reused, s2.computed, s2.lost) == (1, 1, 0)


@pytest.mark.slow
def test_ray_retries_a_clip_whose_worker_died(tmp_path):
    """A worker that dies mid-clip (os._exit: a segfault, the OOM killer) is retried by Ray; with no retries
    left the clip is lost (not failed) and the next run computes it."""
    ray = pytest.importorskip("ray")
    from scoligait_edge.research.data.cache import ClipCache
    from scoligait_edge.research.data.engines import ClipJob
    from scoligait_edge.research.data.ray_engine import RayEngine

    def clip_or_die(cid: str, marker: str):  # a closure: Ray pickles it by value, workers need no tests package
        import os
        from pathlib import Path

        import numpy as np

        from scoligait_edge.research.data.windows import ClipRecord, preprocess_clip
        from scoligait_edge.research.sim.simulate import sample_subject, simulate_clip

        if marker and not Path(marker).exists():
            Path(marker).touch()
            os._exit(1)  # the worker process dies without a word
        subj = sample_subject(np.random.default_rng(0), "t1", cobb_deg=12.0)
        sim = simulate_clip(subj, n_frames=20, seed=1)
        rec = ClipRecord(clip_id=cid, subject_id="t1", provenance="simulated", cobb_deg=12.0, n_frames=0)
        return preprocess_clip(rec, sim.keypoints, sim.timestamps_ms)

    from functools import partial

    def jobs(marker: Path) -> list[ClipJob]:
        return [
            ClipJob("ok", partial(clip_or_die, "ok", "")),
            ClipJob("dies", partial(clip_or_die, "dies", str(marker))),
        ]

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        s = ClipCache(tmp_path / "a", {"k": 1}).build(
            jobs(tmp_path / "m1"), progress=False, engine=RayEngine(max_retries=2)
        )
        assert (s.computed, s.failed, s.lost) == (2, 0, 0)  # the dead worker's clip was run again
        s = ClipCache(tmp_path / "b", {"k": 1}).build(
            jobs(tmp_path / "m2"), progress=False, engine=RayEngine(max_retries=0)
        )
        assert (s.computed, s.failed, s.lost) == (1, 0, 1) and "WorkerCrashedError" in s.lost_clips["dies"]
        s = ClipCache(tmp_path / "b", {"k": 1}).build(
            jobs(tmp_path / "m2"), progress=False, engine=RayEngine(max_retries=0)
        )
        assert (s.reused, s.computed, s.lost) == (1, 1, 0)
    finally:
        ray.shutdown()
