"""Pose-sequence files: every format written here, read back, and every bad file refused."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from scoligait_edge.core.skeleton import J
from scoligait_edge.errors import KeypointError, PoseFileError, TimestampError
from scoligait_edge.pose.loaders import (
    BODY25_FOR_COCO21,
    COCO18_FOR_COCO17,
    PoseSequence,
    load_pose_sequence,
    save_pose_sequence,
)


def random_keypoints(t: int = 12, j: int = 17, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    kp = np.empty((t, j, 3))
    kp[..., 0] = rng.uniform(0, 640, (t, j))
    kp[..., 1] = rng.uniform(0, 480, (t, j))
    kp[..., 2] = rng.uniform(0.1, 1.0, (t, j))
    return kp


# -- PoseSequence itself ------------------------------------------------------------


def test_sequence_normalises_missing_joints() -> None:
    kp = random_keypoints()
    kp[2, 5, 0] = np.nan  # x missing, score says 0.x: joint is missing
    kp[3, 6, :] = (np.inf, 1.0, 0.9)
    seq = PoseSequence.from_frames(kp, fps=25)
    assert seq.layout == "coco17" and seq.num_frames == 12
    assert seq.keypoints[2, 5, 2] == 0 and np.isnan(seq.keypoints[2, 5, :2]).all()
    assert seq.keypoints[3, 6, 2] == 0 and np.isnan(seq.keypoints[3, 6, :2]).all()
    assert seq.timestamps_ms[1] == pytest.approx(40.0)
    assert np.isfinite(kp[0]).all() and kp[2, 5, 2] > 0  # the input is not modified


def test_sequence_rejects_bad_values() -> None:
    kp = random_keypoints()
    with pytest.raises(TimestampError, match="strictly increase"):
        PoseSequence(keypoints=kp, timestamps_ms=np.r_[0.0, 0.0, np.arange(2, 12)])
    with pytest.raises(TimestampError):
        PoseSequence(keypoints=kp, timestamps_ms=np.arange(11.0))
    with pytest.raises(KeypointError, match="layout"):
        PoseSequence(keypoints=kp, timestamps_ms=np.arange(12.0), layout="coco21")
    with pytest.raises(KeypointError, match=r"\[T, 17 or 21, 3\]"):
        PoseSequence.from_frames(np.zeros((5, 18, 3)))
    bad = kp.copy()
    bad[0, 0, 2] = 2.0
    with pytest.raises(KeypointError, match=r"\[0, 1\]"):
        PoseSequence.from_frames(bad)


# -- our .npz -------------------------------------------------------------------------------


@pytest.mark.parametrize("fps", [30.0, None])
def test_npz_round_trip(tmp_path: Path, fps: float | None) -> None:
    kp = random_keypoints(j=21)
    kp[4, 17] = (np.nan, np.nan, 0.0)
    seq = PoseSequence(keypoints=kp, timestamps_ms=np.arange(12) * 33.4 + 1000, fps=fps, source="cam.mp4")
    path = save_pose_sequence(tmp_path / "walk", seq)
    assert path.name == "walk.npz"
    back = load_pose_sequence(path)
    np.testing.assert_array_equal(back.keypoints, seq.keypoints)
    np.testing.assert_array_equal(back.timestamps_ms, seq.timestamps_ms)
    assert (back.layout, back.fps, back.source) == ("coco21", fps, "cam.mp4")
    with np.load(path, allow_pickle=False) as z:  # plain arrays only: loads without pickle
        assert set(z.files) >= {"keypoints", "timestamps_ms", "layout", "fps"}


def test_npz_bad_files(tmp_path: Path) -> None:
    np.savez(tmp_path / "nokeys.npz", keypoints=random_keypoints())
    with pytest.raises(PoseFileError, match=r"nokeys.npz.*timestamps_ms"):
        load_pose_sequence(tmp_path / "nokeys.npz")
    np.savez(tmp_path / "shape.npz", keypoints=np.zeros((4, 17)), timestamps_ms=np.arange(4.0))
    with pytest.raises(PoseFileError, match=r"shape.npz.*\[T, 17 or 21, 3\]"):
        load_pose_sequence(tmp_path / "shape.npz")
    np.savez(tmp_path / "obj.npz", keypoints=np.array([{"a": 1}], dtype=object), timestamps_ms=np.arange(1.0))
    with pytest.raises(PoseFileError, match="obj.npz.*pickle"):
        load_pose_sequence(tmp_path / "obj.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(PoseFileError, match="junk.npz"):
        load_pose_sequence(tmp_path / "junk.npz")
    kp = random_keypoints()
    np.savez(tmp_path / "ts.npz", keypoints=kp, timestamps_ms=np.r_[5.0, np.arange(11.0)])
    with pytest.raises(PoseFileError, match="ts.npz.*strictly increase"):
        load_pose_sequence(tmp_path / "ts.npz")


def test_missing_and_unknown(tmp_path: Path) -> None:
    with pytest.raises(PoseFileError, match="not found"):
        load_pose_sequence(tmp_path / "none.npz")
    (tmp_path / "x.csv").write_text("1,2,3")
    with pytest.raises(PoseFileError, match="unknown pose file type"):
        load_pose_sequence(tmp_path / "x.csv")


# -- Scoliosis1K-Pose arrays and pickles -------------------------------------------------


def test_npy_scoliosis1k_pose(tmp_path: Path) -> None:
    kp = random_keypoints(t=30).astype(np.float32)
    kp[7, 3] = (np.nan, np.nan, 0.5)  # NaN x/y with a score: treated as missing
    np.save(tmp_path / "seq.npy", kp)
    seq = load_pose_sequence(tmp_path / "seq.npy")
    assert seq.keypoints.dtype == np.float64 and seq.keypoints.shape == (30, 17, 3)
    assert seq.fps == 30.0 and seq.timestamps_ms[-1] == pytest.approx(29 * 1000 / 30)
    assert seq.keypoints[7, 3, 2] == 0.0
    assert load_pose_sequence(tmp_path / "seq.npy", fps=15).timestamps_ms[1] == pytest.approx(1000 / 15)


def test_npy_bad(tmp_path: Path) -> None:
    np.save(tmp_path / "shape.npy", np.zeros((30, 17, 2)))
    with pytest.raises(PoseFileError, match=r"shape.npy.*\[T, 17, 3\]"):
        load_pose_sequence(tmp_path / "shape.npy")
    kp = random_keypoints()
    kp[..., 2] *= 100  # percent, not [0, 1]
    np.save(tmp_path / "scores.npy", kp)
    with pytest.raises(PoseFileError, match=r"scores.npy.*\[0, 1\]"):
        load_pose_sequence(tmp_path / "scores.npy")


def test_pickle_needs_explicit_permission(tmp_path: Path) -> None:
    path = tmp_path / "000_180.pkl"
    kp = random_keypoints(t=20)
    path.write_bytes(pickle.dumps(kp))
    with pytest.raises(PoseFileError, match="allow_pickle=True"):
        load_pose_sequence(path)
    seq = load_pose_sequence(path, allow_pickle=True)
    np.testing.assert_allclose(seq.keypoints, kp)
    silhouettes = tmp_path / "sil.pkl"
    silhouettes.write_bytes(pickle.dumps(np.zeros((20, 64, 64), np.uint8)))
    with pytest.raises(PoseFileError, match="silhouettes"):
        load_pose_sequence(silhouettes, allow_pickle=True)
    (tmp_path / "broken.pkl").write_bytes(b"\x80\x05garbage")
    with pytest.raises(PoseFileError, match="broken.pkl"):
        load_pose_sequence(tmp_path / "broken.pkl", allow_pickle=True)


# -- OpenPose JSON ----------------------------------------------------------------------


def body25_person(hip_x: float, conf: float = 0.9) -> list[float]:
    """BODY_25 flat list: each point's x encodes its BODY_25 index, y is 10 * index."""
    pts = np.array([[hip_x + k, 10.0 * k, conf] for k in range(25)])
    pts[[9, 12], 0] = hip_x  # RHip, LHip at the hip centre
    pts[20] = 0.0  # LSmallToe missing, OpenPose style
    return pts.ravel().tolist()


def write_openpose(folder: Path, frames: dict[str, list[list[float]]]) -> Path:
    folder.mkdir()
    for name, people in frames.items():
        data = {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": p} for p in people]}
        (folder / name).write_text(json.dumps(data))
    return folder


def test_openpose_body25_directory(tmp_path: Path) -> None:
    folder = write_openpose(
        tmp_path / "op",
        {
            # Numbering out of lexical order; two people; a frame with nobody.
            "clip_000000000010_keypoints.json": [body25_person(120.0), body25_person(500.0)],
            "clip_000000000002_keypoints.json": [body25_person(505.0, 0.5), body25_person(100.0, 0.9)],
            "clip_000000000001_keypoints.json": [body25_person(500.0, 0.6), body25_person(110.0, 0.95)],
            "clip_000000000003_keypoints.json": [],
        },
    )
    seq = load_pose_sequence(folder, fps=20)
    assert seq.layout == "coco21" and seq.keypoints.shape == (4, 21, 3)
    assert seq.timestamps_ms.tolist() == [0.0, 50.0, 100.0, 450.0]  # frame numbers 1, 2, 3, 10
    hips = seq.keypoints[:, [J["left_hip"], J["right_hip"]], 0].mean(axis=1)
    # First frame: the most confident person (x 110); then always the one nearest her hips.
    assert hips[0] == 110 and hips[1] == 100 and np.isnan(hips[2]) and hips[3] == 120
    assert (seq.keypoints[2, :, 2] == 0).all()
    # Joint mapping: y = 10 * BODY_25 index.
    frame0 = seq.keypoints[0]
    for coco_j, body25_j in enumerate(BODY25_FOR_COCO21):
        if body25_j != 20:
            assert frame0[coco_j, 1] == 10.0 * body25_j
    assert frame0[J["left_heel"], 1] == 210 and frame0[J["right_toe"], 1] == 220


def test_openpose_coco18_directory(tmp_path: Path) -> None:
    pts = np.array([[100.0 + k, 10.0 * k, 0.8] for k in range(18)])
    person = pts.ravel().tolist()
    folder = write_openpose(tmp_path / "op18", {"f_0.json": [person], "f_1.json": [person]})
    seq = load_pose_sequence(folder)
    assert seq.layout == "coco17" and seq.keypoints.shape == (2, 17, 3)
    np.testing.assert_array_equal(seq.keypoints[0, :, 1], 10.0 * np.array(COCO18_FOR_COCO17))
    assert seq.keypoints[0, J["left_shoulder"], 1] == 50 and seq.keypoints[0, J["right_hip"], 1] == 80


def test_openpose_bad_directories(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(PoseFileError, match="no .json"):
        load_pose_sequence(tmp_path / "empty")
    folder = write_openpose(tmp_path / "n20", {"f_0.json": [[1.0, 2.0, 0.5] * 20]})
    with pytest.raises(PoseFileError, match="20 keypoints"):
        load_pose_sequence(folder)
    folder = write_openpose(tmp_path / "bad", {"f_0.json": [body25_person(0.0)]})
    (folder / "f_1.json").write_text("{not json")
    with pytest.raises(PoseFileError, match="f_1.json.*JSON"):
        load_pose_sequence(folder)
    folder = write_openpose(tmp_path / "nonum", {"keypoints.json": [body25_person(0.0)]})
    with pytest.raises(PoseFileError, match="frame number"):
        load_pose_sequence(folder)
    folder = write_openpose(tmp_path / "nobody", {"f_0.json": [], "f_1.json": []})
    with pytest.raises(PoseFileError, match="no person"):
        load_pose_sequence(folder)
    folder = write_openpose(tmp_path / "conf", {"f_0.json": [[1.0, 2.0, 1.7] * 25]})
    with pytest.raises(PoseFileError, match=r"\[0, 1\]"):
        load_pose_sequence(folder)
