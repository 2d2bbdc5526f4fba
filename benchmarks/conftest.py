"""Shared fixtures of the benchmark suites, and the machine written into every benchmark JSON.

``make bench`` runs these suites for real (``--benchmark-only``); ``make test``
runs each test body once with ``--benchmark-disable`` so the suites cannot rot:
fixtures here are sized to keep that whole folder well under a minute.

Sizes: ``SCOLIGAIT_BENCH_SCALE`` (default 1.0) multiplies the fixed round counts
of the per-frame pose/pipeline benchmarks (e.g. 0.3 for a quick look, 2 for
steadier numbers).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bench_util import FIRST_FRAME, N_FRAMES, FrameCycle
from gpu import cpu_model, nvidia_smi  # one machine-info reader for both the suites and the GPU script


# ----------------------------------------------------------------- machine info (every JSON)
def _run(args: list[str], timeout: float = 10.0) -> str | None:
    if shutil.which(args[0]) is None:
        return None
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (out.stdout or "") + (out.stderr or "")
    return text.strip() or None


def _version(module: str) -> str | None:
    try:
        mod = __import__(module)
    except Exception:  # noqa: BLE001 - absent or broken: recorded as None
        return None
    return str(getattr(mod, "__version__", "?"))


def jetson_info() -> dict[str, Any] | None:
    """Power mode (``nvpmodel -q``) and clocks (``jetson_clocks --show``) on a Jetson; None elsewhere."""
    release = Path("/etc/nv_tegra_release")
    model = Path("/proc/device-tree/model")
    if not release.is_file() and shutil.which("nvpmodel") is None:
        return None
    info: dict[str, Any] = {
        "l4t": release.read_text().splitlines()[0].strip() if release.is_file() else None,
        "model": model.read_text().strip("\x00\n ") if model.is_file() else None,
        "nvpmodel": _run(["nvpmodel", "-q"]),
    }
    clocks = _run(["jetson_clocks", "--show"])
    info["jetson_clocks_show"] = clocks
    if clocks:  # maxed when every CPU's min frequency equals its max
        cpu = [ln for ln in clocks.splitlines() if ln.strip().startswith("cpu")]
        info["jetson_clocks_on"] = bool(cpu) and all(
            (p := dict(kv.split("=", 1) for kv in ln.split() if "=" in kv)).get("MinFreq") == p.get("MaxFreq")
            for ln in cpu
        )
    return info


def machine_details() -> dict[str, Any]:
    modules = [
        ("numpy", "numpy"),
        ("torch", "torch"),
        ("onnxruntime", "onnxruntime"),
        ("mediapipe", "mediapipe"),
        ("opencv", "cv2"),
        ("scipy", "scipy"),
        ("pydantic", "pydantic"),
        ("scoligait_edge", "scoligait_edge"),
    ]
    libs = {name: _version(mod) for name, mod in modules}
    details: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "cpu_cores_logical": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "libraries": libs,
        "gpus": nvidia_smi(),
        "jetson": jetson_info(),
    }
    try:
        import onnxruntime as ort

        details["ort_providers"] = ort.get_available_providers()
    except Exception:  # noqa: BLE001
        pass
    try:
        import torch

        details["torch_threads"] = torch.get_num_threads()
        details["torch_cuda"] = torch.version.cuda if torch.cuda.is_available() else None
    except Exception:  # noqa: BLE001
        pass
    return details


def pytest_benchmark_update_machine_info(config: Any, machine_info: dict[str, Any]) -> None:
    machine_info["scoligait"] = machine_details()


# ----------------------------------------------------------------- shared fixtures
@pytest.fixture(scope="session")
def video_images() -> list[np.ndarray]:
    """N_FRAMES frames of the bundled real walking video (BGR, 1768 x 994), from FIRST_FRAME on."""
    from scoligait_edge.assets import sample_video_path
    from scoligait_edge.stream.video_file import iter_video_frames

    frames = iter_video_frames(sample_video_path(), max_frames=FIRST_FRAME + N_FRAMES)
    images = [f.image for f in frames if f.index >= FIRST_FRAME]  # from where both people are in view
    assert len(images) == N_FRAMES
    return images


@pytest.fixture
def frame_cycle(video_images) -> Callable[[], FrameCycle]:
    return lambda: FrameCycle(video_images)


@pytest.fixture(scope="session")
def screening_bundle_path(tmp_path_factory) -> Path:
    """The bundled demo model when it exists (what ships), else the small test bundle."""
    from scoligait_edge.screener import demo_bundle_path

    demo = demo_bundle_path()
    if (demo / "manifest.json").is_file():
        return demo
    from tests.screener_helpers import build_screening_bundle

    return build_screening_bundle(tmp_path_factory.mktemp("bench-bundle"))


@pytest.fixture(scope="session")
def screening_bundle(screening_bundle_path):
    from scoligait_edge.bundle.load import load_bundle

    bundle = load_bundle(screening_bundle_path)
    yield bundle
    bundle.close()


@pytest.fixture(scope="session")
def sim_knowledge_map():
    """A 96-frame knowledge map window (values, valid) of a simulated walk, plus its keypoints."""
    from scoligait_edge.kinematics.builder import build_knowledge_map
    from tests.kinematics_helpers import swaying_clip

    clip = swaying_clip(400, seed=3)
    kmap = build_knowledge_map(clip, 30.0)
    return kmap.values[200:296].astype(np.float32), kmap.valid[200:296]


@dataclass
class CachedPoses:
    raw: list[Any]
    """Untracked PoseFrames (lite model, no masks) of one ping-pong cycle over the cached frames."""
    masks: list[tuple[np.ndarray, tuple[float, float, float, float]]]
    """(soft mask [H, W] float32, landmark box) of the tracked subject on up to N_MASKS frames."""
    subject_frames: int


N_MASKS = 12


@pytest.fixture(scope="session")
def cached_poses(video_images) -> CachedPoses:
    """One lite-model pass (masks on, as the Screener runs it for a video model) over a ping-pong cycle."""
    from scoligait_edge.pose.estimator import PoseEstimator
    from scoligait_edge.pose.tracker import SubjectTracker

    cycle = FrameCycle(video_images)
    tracker = SubjectTracker()
    raw, masks, subject_frames = [], [], 0
    with PoseEstimator(model="lite", output_masks=True) as est:
        for _ in range(len(cycle.order)):
            image, ts = cycle.next()
            pose = est.detect(image, ts)
            if pose is None:
                continue
            tracked = tracker.update(pose)
            subject = tracked.subject
            if subject is not None:
                subject_frames += 1
                if len(masks) < N_MASKS and subject.mask is not None:
                    masks.append((subject.mask, subject.bbox))
            raw.append(pose.model_copy(update={"people": [p.model_copy(update={"mask": None}) for p in pose.people]}))
    assert raw and masks, "the lite model found nobody in the real video"
    return CachedPoses(raw=raw, masks=masks, subject_frames=subject_frames)
