"""A small Scoliosis1K in the real OpenGait layout, written to a temporary folder.

``<root>/<seq id>/<class>/000_180/000_180.pkl`` holds uint8 ``[T, 64, 64]``
silhouettes; ``<pose_root>`` mirrors it with ``[T, 17, 3]`` (x, y, score)
keypoints, as Scoliosis1K-Pose does. Besides clean sequences it holds the
cases the loader must survive: skipped pose frames with and without a frame
index, ViTPose scores > 1, a corrupt pickle, a listed sequence that is not on
disk, class folders in upper / mixed case, pose frames missing at both ends (re-matched:
'repaired'), another walker's poses with the same frame count (dropped by the alignment
check) and the older layout ``<seq>/<class>/000-180/000.pkl``. Silhouettes are rendered
from the same simulated walk as the poses (side-on), so their shapes agree frame by frame.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scoligait_edge.research.sim.simulate import sample_subject, simulate_clip
from scoligait_edge.video.silhouette import crop_silhouette

N_FRAMES = 130  # 3 windows of 96 frames at hop 16


@dataclass
class S1KFixture:
    root: Path
    pose_root: Path
    partition: Path
    classes: dict[str, str] = field(default_factory=dict)  # seq id -> class (lowercase), every listed sequence
    expect_loaded: set[str] = field(default_factory=set)
    expect_failed: dict[str, str] = field(default_factory=dict)  # seq id -> regex of the reason


def _dump(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        pickle.dump(obj, f)


def _walk(seq_id: str, cls: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One simulated side-on walk: uint8 [n, 64, 64] silhouettes (OpenGait's crop) and its [n, 17, 3] poses."""
    subj = sample_subject(np.random.default_rng(seed), seq_id, cobb_deg=25.0 if cls == "positive" else 2.0)
    clip = simulate_clip(subj, n_frames=n, camera="side", seed=seed, with_silhouettes=True, silhouette_scale=0.25)
    assert clip.silhouettes is not None
    return crop_silhouette(clip.silhouettes, cut=0), clip.keypoints[:, :17].copy()


def write_scoliosis1k(tmp: Path) -> S1KFixture:
    """Write the fixture; returns where it is and what the loader should make of it."""
    fx = S1KFixture(tmp / "Scoliosis1K-sil-pkl", tmp / "Scoliosis1K-pose-pkl", tmp / "Scoliosis1K_112.json")
    train = {
        "00001": "positive",
        "00002": "positive",
        "00003": "positive",
        "00004": "neutral",
        "00005": "neutral",
        "00006": "neutral",
        "00007": "negative",
        "00008": "negative",
        "00009": "negative",
        "00010": "negative",
    }
    test = {"00101": "positive", "00102": "positive", "00103": "neutral", "00104": "negative", "00105": "negative"}
    special = {
        "00011": "positive",  # silhouettes under 'Positive', poses under 'POSITIVE'
        "00012": "negative",  # 'NEGATIVE' in both roots
        "00013": "neutral",  # pose frames skipped, WITH a frame index: aligned and kept
        "00014": "negative",  # pose frames skipped, no frame index: dropped
        "00015": "positive",  # ViTPose scores up to 1.2: clipped, kept
        "00016": "neutral",  # corrupt silhouette pickle: failed
        "00017": "negative",  # listed, not on disk: failed (layout)
        "00018": "negative",  # pose frames missing at both ends, no index: re-matched at offset 5 (repaired)
        "00019": "positive",  # another walker's poses, same frame count: dropped by the alignment check
        "00020": "neutral",  # the older layout 000-180/000.pkl: kept
    }
    folder = {"00011": ("Positive", "POSITIVE"), "00012": ("NEGATIVE", "NEGATIVE")}
    for i, (sid, cls) in enumerate({**train, **test, **special}.items()):
        fx.classes[sid] = cls
        if sid == "00017":
            continue
        sil_cls, pose_cls = folder.get(sid, (cls, cls))
        view, name = ("000-180", "000.pkl") if sid == "00020" else ("000_180", "000_180.pkl")
        sil_path = fx.root / sid / sil_cls / view / name
        pose_path = fx.pose_root / sid / pose_cls / view / name
        sil, kp = _walk(sid, cls, N_FRAMES, i)
        if sid == "00016":
            sil_path.parent.mkdir(parents=True)
            sil_path.write_bytes(b"\x80\x05 not a pickle")
        else:
            _dump(sil_path, sil)
        if sid == "00018":
            pose: object = kp[5:-3]
        elif sid == "00019":
            pose = _walk("other", "negative", N_FRAMES, 1000 + i)[1]
        elif sid in ("00013", "00014"):
            keep = np.ones(N_FRAMES, bool)
            keep[[20, 21, 60, 61, 62, 100]] = False  # no detection on these frames: absent from the file
            pose = {"keypoints": kp[keep], "frame_index": np.flatnonzero(keep)} if sid == "00013" else kp[keep]
        elif sid == "00015":
            kp[..., 2] = np.where(kp[..., 2] > 0, kp[..., 2] * 1.25, 0.0).clip(max=1.2)
            pose = kp
        else:
            pose = kp
        _dump(pose_path, pose)
    fx.partition.write_text(
        json.dumps(
            {
                "TRAIN_SET": [*train, "00011", "00012", "00013", "00014", "00016", "00018", "00019"],
                "TEST_SET": [*test, "00015", "00017", "00020"],
            }
        )
    )
    fx.expect_failed = {
        "00014": r"124 pose frames vs 130 silhouettes.*cannot be matched with confidence",
        "00019": r"130 pose frames vs 130 silhouettes.*cannot be matched with confidence",
        "00016": r"00016/neutral/000_180/000_180.pkl.*cannot unpickle",
        "00017": r"00017.*not on disk",
    }
    fx.expect_loaded = set(fx.classes) - set(fx.expect_failed)
    return fx
