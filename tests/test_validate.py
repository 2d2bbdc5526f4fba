"""``python -m scoligait_edge.validate``: the runtime path (Screener) over a folder, labels, metrics, resume."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scoligait_edge import validate as V


def _sim_npz(folder: Path, n: int = 6) -> dict[str, int]:
    """Simulated pose files (keypoints, timestamps, silhouettes) of ``n`` walkers, half with a large curve."""
    from scoligait_edge.research.sim.simulate import sample_subject, simulate_clip
    from scoligait_edge.video.silhouette import crop_silhouette

    folder.mkdir(parents=True)
    labels = {}
    for i in range(n):
        cobb = 35.0 if i % 2 else 0.0
        subj = sample_subject(np.random.default_rng(i), f"s{i}", cobb_deg=cobb)
        c = simulate_clip(subj, n_frames=200, camera="frontal", seed=i, with_silhouettes=True, silhouette_scale=0.25)
        assert c.silhouettes is not None
        np.savez(
            folder / f"clip{i}.npz",
            keypoints=c.keypoints,
            timestamps_ms=c.timestamps_ms,
            silhouettes=crop_silhouette(c.silhouettes),
        )
        labels[f"clip{i}"] = int(cobb >= 10)
    return labels


def test_keypoint_folder_through_the_screener(tmp_path, monkeypatch):
    labels = _sim_npz(tmp_path / "kp")
    csv_path = tmp_path / "labels.csv"
    rows = [("clip_id", "subject_id", "label")] + [(c, f"p{c}", str(y)) for c, y in labels.items()]
    rows[-1] = (rows[-1][0], rows[-1][1], "control")  # an unlabelled control
    csv_path.write_text("\n".join(",".join(r) for r in rows) + "\n")
    out = tmp_path / "out"
    assert V.main(["--keypoints", str(tmp_path / "kp"), "--labels", str(csv_path), "--out", str(out),
                   "--no-progress", "--n-boot", "200"]) == 0  # fmt: skip
    m = json.loads((out / "metrics.json").read_text())
    assert m["videos"] == 6 and m["decided"] + m["no_decision"] == 6 and m["decided"] >= 4
    assert m["table2"]["n"] == m["labelled_decided"] == m["positives"] + m["negatives"]
    assert m["auc"] is None or m["auc"]["lo"] <= m["auc"]["auc"] <= m["auc"]["hi"]
    assert m["sensitivity"]["n"] == m["positives"] and m["specificity"]["n"] == m["negatives"]
    table = list(csv.DictReader((out / "per_video.csv").read_text().splitlines()))
    assert {r["clip_id"] for r in table} == set(labels)
    decided = [r for r in table if r["decision"]]
    assert all(int(r["windows_screened"]) >= 1 and float(r["cadence_spm"]) > 60 for r in decided)
    assert all(r["reason"] for r in table if not r["decision"])  # no decision always says why
    for name in ("report.md", "report.html", "calibration.png"):
        assert (out / name).stat().st_size > 0
    assert "Screening aid, not a diagnosis" in (out / "report.md").read_text()

    def boom(*a, **k):
        raise AssertionError("a finished clip was screened again")

    monkeypatch.setattr(V, "screen_one", boom)  # resumable: every row is on disk with this bundle's key
    assert V.main(["--keypoints", str(tmp_path / "kp"), "--labels", str(csv_path), "--out", str(out),
                   "--no-progress", "--n-boot", "200"]) == 0  # fmt: skip
    assert json.loads((out / "metrics.json").read_text())["table2"] == m["table2"]


def test_labels_are_checked(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("clip_id,label\na,1\nb,maybe\n")
    with pytest.raises(V.ValidateError, match="line 3: label 'maybe' must be 1, 0 or control"):
        V.read_labels(p)
    p.write_text("clip_id,cobb_deg,subject_id\na,12.5,x\nb,4,x\nc,,y\n")
    assert V.read_labels(p) == {"a": ("x", 1), "b": ("x", 0), "c": ("y", None)}
    p.write_text("clip_id,label\na,1\na,0\n")
    with pytest.raises(V.ValidateError, match="listed twice"):
        V.read_labels(p)
    with pytest.raises(V.ValidateError, match="no .mp4"):
        V.find_inputs(tmp_path, "video")
    bad = tmp_path / "kp"
    bad.mkdir()
    np.savez(bad / "x.npz", keypoints=np.zeros((3, 17, 3)), timestamps_ms=np.arange(3.0))
    with pytest.raises(V.ValidateError, match=r"keypoints must be \[T, 21, 3\]"):
        V.load_keypoint_file(bad / "x.npz")
    assert V.main(["--keypoints", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2


def test_validate_is_registered_and_torch_free():
    from scoligait_edge.cli import SUBCOMMANDS

    assert SUBCOMMANDS["validate"].module == "scoligait_edge.validate"
    code = "import sys, scoligait_edge.validate, scoligait_edge.metrics; sys.exit('torch' in sys.modules or 'scipy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.slow
def test_clips_cut_from_the_sample_video(tmp_path):
    """Two clips of the bundled walker (no known scoliosis): one long enough to screen, one too short.

    The long one is 5 s: rows count only once the tracker has locked onto the walker, which from a cold
    start takes a few frames, and a window needs 96 tracked rows."""
    import cv2

    from scoligait_edge.assets import sample_video_path

    cap = cv2.VideoCapture(str(sample_video_path()))
    frames = []
    while (got := cap.read())[0]:
        frames.append(got[1])
    h, w = frames[0].shape[:2]
    folder = tmp_path / "clips"
    folder.mkdir()
    for name, part in {"walk": frames[:150], "short": frames[:45]}.items():
        out = cv2.VideoWriter(str(folder / f"{name}.mp4"), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (w, h))
        for f in part:
            out.write(f)
        out.release()
    (tmp_path / "labels.csv").write_text("clip_id,subject_id,label\nwalk,walker,control\nshort,walker,control\n")
    assert V.main(["--videos", str(folder), "--labels", str(tmp_path / "labels.csv"), "--out",
                   str(tmp_path / "out"), "--no-progress", "--n-boot", "200"]) == 0  # fmt: skip
    rows = {r["clip_id"]: r for r in csv.DictReader((tmp_path / "out/per_video.csv").read_text().splitlines())}
    assert rows["walk"]["decision"] in ("refer", "no_referral") and int(rows["walk"]["windows_screened"]) >= 1
    assert rows["short"]["decision"] == "" and "not followed long enough" in rows["short"]["reason"]
    m = json.loads((tmp_path / "out/metrics.json").read_text())
    assert m["controls"] == 1 and m["control_referral_rate"]["n"] == 1 and m["auc"] is None
