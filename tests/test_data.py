"""Data pipeline: windows, the resumable per-clip cache, the three sources, splits, torch batching."""

from __future__ import annotations

import json
import logging
import pickle
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from scoligait_edge.core.constants import SIL_SHAPE
from scoligait_edge.core.schema import NUM_FEATURES
from scoligait_edge.errors import DatasetError, SplitLeakError
from scoligait_edge.research import data as D
from scoligait_edge.research.data.cache import ClipCache, clip_file_name, default_cache_root
from scoligait_edge.research.data.engines import ClipJob
from scoligait_edge.research.data.scoliosis1k import S1K_CLASSES, Scoliosis1K
from scoligait_edge.research.data.simulated import SimulatedWindows
from scoligait_edge.research.data.splits import assert_subject_disjoint, make_splits, ratio_split
from scoligait_edge.research.data.torch_dataset import WindowDataset, collate_windows
from scoligait_edge.research.data.videos import ScoliGaitFolder, read_labels_csv
from scoligait_edge.research.data.windows import ClipRecord, WindowSample, clip_windows, preprocess_clip
from scoligait_edge.research.sim.cohort import make_cohort
from scoligait_edge.research.sim.simulate import sample_subject, simulate_clip
from scoligait_edge.video.silhouette import crop_silhouette, nearest_frames, person_silhouette
from tests.conftest import real_video_path

# -- simulated cohort + cache ---------------------------------------------------------


@pytest.fixture(scope="module")
def cohort():
    return make_cohort(12, seed=7, clips_per_train_subject=2)


@pytest.fixture(scope="module")
def sim_source(cohort, tmp_path_factory):
    src = SimulatedWindows(cohort, cache_root=tmp_path_factory.mktemp("cache"), progress=False)
    src.prepare()
    return src


def test_simulated_windows_shapes_splits_provenance(sim_source, cohort):
    assert sim_source.last_summary.computed == len(cohort.clips) and sim_source.last_summary.failed == 0
    all_w = sim_source.windows(require_quality=False)
    assert len(all_w) == len(cohort.clips)  # 96-frame clips + lead-in: exactly one window each
    for w in all_w:
        assert isinstance(w, WindowSample)
        assert w.km.shape == (96, NUM_FEATURES) and w.km.dtype == np.float32
        assert w.km_valid.shape == (96,) and w.km_valid.dtype == bool
        assert w.silhouettes.shape == (96, *SIL_SHAPE) and w.silhouettes.dtype == np.uint8
        assert w.provenance == "simulated" and w.start == 32 and w.sex in ("F", "M")
        assert w.label == int(w.cobb_deg >= 10.0) and w.quality is not None and "ok" in w.quality
        assert not w.km.flags.writeable  # views of the cached clip
    kept = sim_source.windows(require_quality=True)
    assert kept and all(w.quality["ok"] for w in kept) and len(kept) <= len(all_w)
    splits = {s: sim_source.windows(s, require_quality=False) for s in ("train", "val", "test")}
    assert all(splits.values())
    assert_subject_disjoint(splits)
    assert {w.subject_id for w in splits["test"]} == set(cohort.subject_ids("test"))


def test_simulated_second_run_reuses_everything(sim_source, cohort):
    again = SimulatedWindows(cohort, cache_root=sim_source.cache.root.parents[1], progress=False)
    assert again.cache.root == sim_source.cache.root
    summary = again.prepare()
    assert summary.reused == len(cohort.clips) and summary.computed == 0
    a, b = sim_source.clips()[0], again.clips()[0]
    np.testing.assert_array_equal(a.km, b.km)
    np.testing.assert_array_equal(a.silhouettes, b.silhouettes)
    manifest = json.loads((again.cache.root / "manifest.json").read_text())
    assert manifest["schema_hash"] and manifest["config_hash"] == again.cache.config_hash
    assert all(e["status"] == "ok" for e in manifest["entries"].values())


def _counting(monkeypatch) -> list[str]:
    calls: list[str] = []
    from scoligait_edge.research.data import simulated

    real = simulated._simulate_clip

    def spy(cohort, spec, *args):
        calls.append(spec.clip_id)
        return real(cohort, spec, *args)

    monkeypatch.setattr(simulated, "_simulate_clip", spy)
    return calls


def test_cache_resume_deleted_and_corrupt_clip(tmp_path, monkeypatch, caplog):
    co = make_cohort(4, seed=11, clips_per_train_subject=1, n_frames=40)
    SimulatedWindows(co, cache_root=tmp_path, progress=False, silhouette_scale=0.25).prepare()
    calls = _counting(monkeypatch)
    src = SimulatedWindows(co, cache_root=tmp_path, progress=False, silhouette_scale=0.25)
    files = sorted((src.cache.root / "clips").glob("*.npz"))
    assert len(files) == len(co.clips)

    deleted = co.clips[1].clip_id
    src.cache.path_for(deleted).unlink()
    s = src.prepare()
    assert calls == [deleted] and s.computed == 1 and s.reused == len(co.clips) - 1

    calls.clear()
    victim = src.cache.path_for(co.clips[2].clip_id)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\x00" * 64
    victim.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="scoligait_edge.research.data.cache"):
        s = SimulatedWindows(co, cache_root=tmp_path, progress=False, silhouette_scale=0.25).prepare()
    assert calls == [co.clips[2].clip_id] and s.computed == 1
    assert "recompute" in caplog.text

    calls.clear()  # a truncated file, and a lost manifest: files describe themselves
    victim.write_bytes(victim.read_bytes()[:100])
    (src.cache.root / "manifest.json").unlink()
    s = SimulatedWindows(co, cache_root=tmp_path, progress=False, silhouette_scale=0.25).prepare()
    assert calls == [co.clips[2].clip_id] and s.reused == len(co.clips) - 1

    calls.clear()  # other settings -> another folder, nothing reused
    other = SimulatedWindows(co, cache_root=tmp_path, progress=False, silhouette_scale=0.3)
    assert other.cache.root != src.cache.root
    other.prepare()
    assert len(calls) == len(co.clips)


def _tiny_clip(cid: str) -> D.ProcessedClip:
    rng = np.random.default_rng(0)
    subj = sample_subject(rng, "t1", cobb_deg=12.0)
    sim = simulate_clip(subj, n_frames=20, seed=1)
    rec = ClipRecord(clip_id=cid, subject_id="t1", provenance="simulated", cobb_deg=12.0, n_frames=0)
    return preprocess_clip(rec, sim.keypoints, sim.timestamps_ms)


def test_cache_failures_are_recorded_and_interruptions_resume(tmp_path):
    cache = ClipCache(tmp_path, {"kind": "unit"})

    def boom():
        raise RuntimeError("no person in this clip")

    jobs = [ClipJob("a/1", lambda: _tiny_clip("a/1")), ClipJob("b", boom), ClipJob("c", lambda: _tiny_clip("c"))]
    s = cache.build(jobs, progress=False)
    assert (s.computed, s.failed) == (2, 1) and s.by_reason == {"RuntimeError": 1}
    assert "no person" in s.failures["b"] and "1 x RuntimeError" in s.describe()
    entries = json.loads((tmp_path / "manifest.json").read_text())["entries"]
    assert entries["b"]["status"] == "failed" and "no person" in entries["b"]["error"]
    assert clip_file_name("a/1").endswith(".npz") and "/" not in clip_file_name("a/1")

    again = ClipCache(tmp_path, {"kind": "unit"}).build(jobs, progress=False)
    assert (again.reused, again.failed_before, again.computed) == (2, 1, 0)
    retried = ClipCache(tmp_path, {"kind": "unit"}).build(jobs, progress=False, retry_failed=True)
    assert retried.failed == 1

    # an interrupted run keeps what it finished; the next run does only the rest
    root2 = tmp_path / "interrupted"
    state = {"stop": True}

    def maybe_interrupt():
        if state["stop"]:
            raise KeyboardInterrupt
        return _tiny_clip("z")

    jobs2 = [ClipJob("y", lambda: _tiny_clip("y")), ClipJob("z", maybe_interrupt)]
    with pytest.raises(KeyboardInterrupt):
        ClipCache(root2, {"kind": "unit"}).build(jobs2, progress=False)
    state["stop"] = False
    s = ClipCache(root2, {"kind": "unit"}).build(jobs2, progress=False)
    assert (s.reused, s.computed) == (1, 1)


def test_default_cache_root_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SCOLIGAIT_CACHE", str(tmp_path / "c"))
    assert default_cache_root() == tmp_path / "c"
    monkeypatch.delenv("SCOLIGAIT_CACHE")
    assert default_cache_root() == Path.home() / ".cache" / "scoligait_edge"


# -- windows --------------------------------------------------------------------------------


def test_clip_windows_quality_and_preprocessing_at_other_rates():
    rng = np.random.default_rng(3)
    subj = sample_subject(rng, "w1", cobb_deg=4.0)
    sim = simulate_clip(
        subj,
        n_frames=120,
        fps=25.0,
        camera="side",
        seed=2,
        with_silhouettes=True,
        silhouette_scale=0.25,
        drop_rate=0.05,
    )
    rec = ClipRecord(clip_id="w1-c0", subject_id="w1", provenance="simulated", cobb_deg=4.0, n_frames=0)
    clip = preprocess_clip(rec, sim.keypoints, sim.timestamps_ms, silhouettes=crop_silhouette(sim.silhouettes))
    n30 = clip.record.n_frames
    assert abs(n30 - (sim.timestamps_ms[-1] - sim.timestamps_ms[0]) * 0.03) < 2
    assert clip.silhouettes.shape == (n30, *SIL_SHAPE) and clip.km.shape == (n30, NUM_FEATURES)
    assert clip.record.events is not None and clip.record.events.n_steps > 0
    every = clip_windows(clip, length=48, hop=8, require_quality=False)
    assert [w.start for w in every] == list(range(0, n30 - 48 + 1, 8))
    assert all(w.label == 0 and w.quality is not None for w in every)
    good = clip_windows(clip, length=48, hop=8, require_quality=True)
    assert [w.start for w in good] == [w.start for w in every if w.quality["ok"]]
    no_pose = preprocess_clip(rec, None, sim.timestamps_ms, silhouettes=crop_silhouette(sim.silhouettes))
    assert not no_pose.km_valid.any() and no_pose.record.events is None
    with pytest.raises(ValueError, match="no pose"):
        clip_windows(no_pose, length=48)
    assert all(w.quality is None for w in clip_windows(no_pose, length=48, require_quality=False))


def test_silhouette_helpers():
    sil, ok = person_silhouette(None)
    assert not ok and sil.shape == SIL_SHAPE and not sil.any()
    mask = np.zeros((200, 300), np.float32)
    mask[40:180, 100:150] = 0.9  # the person
    mask[0:10, 0:10] = 1.0  # a stray blob outside the person's box
    sil, ok = person_silhouette(mask, (100.0, 40.0, 50.0, 140.0))
    assert ok and sil.dtype == np.uint8 and sil.shape == SIL_SHAPE
    rows = np.flatnonzero(sil.max(axis=1) > 0)
    assert rows[0] == 0 and rows[-1] == 63  # height-normalised: the body fills the rows
    idx, close = nearest_frames(np.array([0.0, 33.3, 100.0]), np.array([0.0, 33.3, 66.7, 100.0]))
    assert idx.tolist() == [0, 1, 2, 2]
    assert close.tolist() == [True, True, False, True]


# -- a folder of videos ------------------------------------------------------------------------


def _trimmed_walk(dst: Path, start: int = 70, n: int = 40, scale: float = 0.5) -> None:
    src = real_video_path()
    if src is None:
        pytest.skip("real walking video absent")
    cap = cv2.VideoCapture(str(src))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    writer = None
    try:
        for _ in range(n):
            ok, frame = cap.read()
            assert ok
            frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            if writer is None:
                writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, frame.shape[1::-1])
            writer.write(frame)
    finally:
        cap.release()
        if writer is not None:
            writer.release()


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    (root / "clips").mkdir()
    _trimmed_walk(root / "clips" / "walk.mp4")
    (root / "broken.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (root / "labels.csv").write_text(
        "clip_id,subject_id,cobb_deg,sex,age,split,video\n"
        "walk,p1,23.5,F,13,train,clips/walk.mp4\n"
        "broken,p2,4,M,,test,\n"
    )
    cache_root = tmp_path_factory.mktemp("folder-cache")
    src = ScoliGaitFolder(root, cache_root=cache_root, pose_model="lite", progress=False)
    src.prepare()
    return src


def test_folder_preprocesses_good_clip_and_reports_corrupt_one(video_folder):
    s = video_folder.last_summary
    assert (s.computed, s.failed) == (1, 1) and "broken" in s.failures and s.by_reason == {"VideoReadError": 1}
    [clip] = video_folder.clips()
    r = clip.record
    assert (r.clip_id, r.subject_id, r.split, r.sex, r.age, r.provenance) == (
        "walk",
        "p1",
        "train",
        "F",
        13.0,
        "ScoliGait",
    )
    assert r.binary_label == 1 and r.n_frames == 40 and r.has_silhouettes
    sil, ok = clip.silhouettes, clip.silhouettes_valid
    assert sil.shape == (40, *SIL_SHAPE) and sil.dtype == np.uint8
    assert ok.sum() >= 30  # the subject is tracked in most frames
    area = (sil > 127).reshape(40, -1).mean(axis=1)
    assert np.all(area[ok] > 0.1) and not sil[~ok].any()
    assert clip.km_valid.any() and clip.keypoints.shape == (40, 21, 3)
    w = video_folder.windows(length=32, hop=8, require_quality=False)
    assert [x.start for x in w] == [0, 8] and w[0].silhouettes.shape == (32, *SIL_SHAPE)
    manifest = json.loads((video_folder.cache.root / "manifest.json").read_text())
    assert manifest["entries"]["broken"]["status"] == "failed"
    assert "broken.mp4" in manifest["entries"]["broken"]["error"]

    again = ScoliGaitFolder(
        video_folder.root, cache_root=video_folder.cache.root.parents[1], pose_model="lite", progress=False
    )
    s2 = again.prepare()
    assert (s2.reused, s2.computed, s2.failed_before) == (1, 0, 1)


def test_a_96_frame_video_in_the_folder_path_gives_a_screenable_window(tmp_path):
    """ScoliGait-style clips are short: 96 frames of the real walk (whole body in view) give a window that
    passes the quality rule, with no lead-in."""
    root = tmp_path / "videos"
    (root / "clips").mkdir(parents=True)
    _trimmed_walk(root / "clips" / "walk.mp4", start=60, n=96)
    (root / "labels.csv").write_text(
        "clip_id,subject_id,cobb_deg,sex,age,split,video\nwalk,p1,23.5,F,13,train,clips/walk.mp4\n"
    )
    src = ScoliGaitFolder(root, cache_root=tmp_path / "cache", pose_model="lite", progress=False)
    src.prepare()
    windows = src.windows(length=96, hop=16, require_quality=True)
    assert [w.start for w in windows] == [0] and windows[0].quality["ok"]


_HEADER = "clip_id,subject_id,cobb_deg,sex,age,split\n"


@pytest.mark.parametrize(
    "body,pattern,error",
    [
        (
            "clip_id,subject_id,cobb_deg,sex,age,split,notes\na,s1,3,F,12,train,x\n",
            r"line 1.*unknown column.*notes",
            DatasetError,
        ),
        ("clip_id,subject_id,cobb_deg,sex,split\na,s1,3,F,train\n", r"missing required column.*age", DatasetError),
        (_HEADER + "a,s1,3,F,12,train\nb,s2,5,M,12,train\nc,s3,7,X,12,test\n", r"row 3 \(line 4\).*sex", DatasetError),
        (_HEADER + "a,s1,3,F,12,train\na,s2,5,M,12,test\n", r"row 2 .*duplicate clip_id 'a'.*row 1", DatasetError),
        (_HEADER + "a,s1,3,F,12,train\nb,s1,5,F,12,test\n", r"row 2 .*subject 's1'.*row 1", SplitLeakError),
        (_HEADER + "a,s1,ten,F,12,train\n", r"row 1 .*cobb_deg must be a number", DatasetError),
        (_HEADER + "a,s1,3,F,12,holdout\n", r"row 1 .*split", DatasetError),
        (_HEADER + "a,s1,3,F,-2,train\n", r"row 1 .*age", DatasetError),
        (_HEADER + "a,s1,3,F,12,train,extra\n", r"row 1 .*more fields", DatasetError),
    ],
)
def test_labels_csv_errors_name_file_and_row(tmp_path, body, pattern, error):
    path = tmp_path / "my_labels.csv"
    path.write_text(body)
    with pytest.raises(error) as ei:
        read_labels_csv(path)
    msg = str(ei.value)
    assert "my_labels.csv" in msg and re.search(pattern, msg), msg
    assert isinstance(ei.value, ValueError)


def test_labels_csv_good(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(_HEADER + "a,s1,12.5,f,,train\nb,s1,9,F,13,train\nc,s2,0,,,test\n")
    rows = read_labels_csv(path)
    assert [r.label for r in rows] == [1, 0, 0] and rows[0].sex == "F" and rows[2].sex is None
    assert rows[0].video == "a.mp4" and rows[1].age == 13.0


# -- Scoliosis1K -----------------------------------------------------------------------------------


def _write_s1k(root: Path, pose_root: Path | None, n_frames: int = 40) -> dict[str, str]:
    classes = {"001": "positive", "002": "neutral", "003": "negative", "004": "negative"}
    from tests.s1k_helpers import _walk

    for i, (sid, cls) in enumerate(classes.items()):
        d = root / sid / cls / "000_180"
        d.mkdir(parents=True)
        sil, kp = _walk(sid, cls, n_frames, i)  # silhouettes and poses of one walk: the alignment check passes
        with (d / "000_180.pkl").open("wb") as f:
            pickle.dump(sil, f)
        if pose_root is not None:
            pd = pose_root / sid / cls / "000_180"
            pd.mkdir(parents=True)
            with (pd / "000_180.pkl").open("wb") as f:
                pickle.dump(kp, f)
    return classes


def test_scoliosis1k_layout_loads(tmp_path):
    root, pose_root = tmp_path / "s1k", tmp_path / "s1k_pose"
    classes = _write_s1k(root, pose_root)
    split = tmp_path / "Scoliosis1K_118.json"
    split.write_text(json.dumps({"TRAIN_SET": ["001", "002", "003"], "TEST_SET": ["004"]}))
    ds = Scoliosis1K(root, split_file=split, pose_root=pose_root, cache_root=tmp_path / "cache", progress=False)
    seqs = {s.seq_id: s for s in ds.sequences()}
    assert set(seqs) == set(classes)
    for sid, cls in classes.items():
        s = seqs[sid]
        assert s.class_name == cls and S1K_CLASSES[s.sconet_class] == cls
        assert s.label == (1 if cls == "positive" else 0) and s.subject_id == sid
        assert s.silhouettes.shape == (40, 64, 44) and s.keypoints.shape == (40, 17, 3)
    assert {s.seq_id for s in ds.sequences("test")} == {"004"}
    w = ds.windows("train", length=32, hop=8, require_quality=False)
    assert len(w) == 3 * 2 and all(x.provenance == "Scoliosis1K" and np.isnan(x.cobb_deg) for x in w)
    assert w[0].km_valid.any() and w[0].sconet_class is not None
    silhouettes_only = Scoliosis1K(root, split_file=split, cache_root=tmp_path / "cache", progress=False)
    w2 = silhouettes_only.windows("train", length=32, hop=8)  # no poses: no quality rule, empty map
    assert len(w2) == 6 and all(x.quality is None and not x.km_valid.any() for x in w2)


def test_scoliosis1k_errors_name_the_path(tmp_path):
    """Layout and file problems skip that sequence with a reason naming the path; only a split
    file that leaks, or a root with nothing usable, stops the dataset."""
    root = tmp_path / "s1k"
    _write_s1k(root, None)
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"TRAIN_SET": ["001", "999"], "TEST_SET": ["004"]}))
    ds = Scoliosis1K(root, split_file=split, cache_root=tmp_path / "c", progress=False)
    assert set(ds.index_failures) == {"999"} and re.search(r"999.*not on disk", ds.index_failures["999"])
    assert set(ds.sequence_index) == {"001", "004"}
    (root / "005").mkdir()
    ds = Scoliosis1K(root, cache_root=tmp_path / "c", progress=False)
    assert re.search(r"005: no class folder", ds.index_failures["005"])
    (root / "005").rmdir()
    leak = tmp_path / "leak.json"
    leak.write_text(json.dumps({"TRAIN_SET": ["001", "004"], "TEST_SET": ["004"]}))
    with pytest.raises(SplitLeakError, match="004"):
        Scoliosis1K(root, split_file=leak, cache_root=tmp_path / "c", progress=False)
    nothing = tmp_path / "nothing.json"
    nothing.write_text(json.dumps({"TRAIN_SET": ["998"], "TEST_SET": ["999"]}))
    with pytest.raises(DatasetError, match="no usable sequence"):
        Scoliosis1K(root, split_file=nothing, cache_root=tmp_path / "c", progress=False)
    bad = root / "003" / "negative" / "000_180" / "000_180.pkl"
    with bad.open("wb") as f:
        pickle.dump(np.zeros((10, 64, 48), np.uint8), f)
    ds = Scoliosis1K(root, cache_root=tmp_path / "c", progress=False)
    summary = ds.prepare()
    assert summary.failed == 1 and set(summary.failures) == {"003"}
    assert re.search(r"003/negative/000_180/000_180.pkl.*\[10, 64, 48\]", summary.failures["003"])
    assert {s.seq_id for s in ds.sequences()} == {"001", "002", "004"}


def test_scoliosis1k_real_layout_survives_bad_sequences(tmp_path, caplog):
    """OpenGait layout with skipped pose frames, scores > 1, a corrupt pickle, a missing sequence and
    upper-case class folders: the good ones load, the bad ones are recorded with their reason."""
    from collections import Counter

    from tests.s1k_helpers import N_FRAMES, write_scoliosis1k

    fx = write_scoliosis1k(tmp_path)
    with caplog.at_level(logging.INFO, logger="scoligait_edge.research.data.scoliosis1k"):
        ds = Scoliosis1K(
            fx.root,
            split_file=fx.partition,
            pose_root=fx.pose_root,
            val_fraction=0.34,
            cache_root=tmp_path / "cache",
            progress=False,
        )
        summary = ds.prepare()
    assert summary.failed == 4 and set(summary.failures) == set(fx.expect_failed) == set(ds.failures)
    for sid, pattern in fx.expect_failed.items():
        assert re.search(pattern, summary.failures[sid]), (sid, summary.failures[sid])
    assert summary.by_reason == {"SequenceAlignmentError": 2, "DatasetError": 1, "layout": 1}
    assert "4 skipped" in caplog.text and "not person ids" in caplog.text
    # the alignment check (beyond equal counts) and the frame-rate check, printed and in the summary
    audit = summary.audit
    assert audit is not None and audit == ds.audit.model_dump()
    assert (audit["kept"], audit["kept_by_index"], audit["repaired"], audit["dropped"]) == (20, 1, 1, 2)
    assert audit["dropped_ids"] == ["00014", "00019"] and audit["failed_other"] == 2
    assert audit["share_kept"] + audit["share_repaired"] + audit["share_dropped"] == pytest.approx(1.0)
    assert audit["fps_plausible"] and 90 <= audit["median_cadence_spm"] <= 140
    assert "kept 20" in caplog.text and "repaired 1" in caplog.text and "dropped 2" in caplog.text
    assert re.search(r"00015.*scores up to 1.2 > 1.*clipped", caplog.text)

    seqs = {q.seq_id: q for q in ds.sequences()}
    assert set(seqs) == fx.expect_loaded
    for sid, q in seqs.items():  # labels: 3-class kept, binary = positive vs neutral + negative
        assert q.class_name == fx.classes[sid] and q.label == int(fx.classes[sid] == "positive")
    assert seqs["00011"].class_name == "positive" and seqs["00012"].class_name == "negative"  # 'Positive', 'NEGATIVE'
    kp = seqs["00013"].keypoints  # skipped frames 20, 21, 60-62, 100 stay in place, as missing
    assert kp.shape == (N_FRAMES, 17, 3) and seqs["00013"].silhouettes.shape == (N_FRAMES, 64, 44)
    assert np.isnan(kp[[20, 21, 60, 61, 62, 100], :, :2]).all() and (kp[[20, 100], :, 2] == 0).all()
    assert np.isfinite(kp[[19, 22, 63, 99, 101], :, :2]).any(axis=(1, 2)).all()
    assert seqs["00015"].keypoints[..., 2].max() <= 1.0
    rep = seqs["00018"].keypoints  # pose frames 0-4 and 127-129 were missing: re-matched at offset +5
    assert np.isnan(rep[[0, 4, 127, 129], :, :2]).all() and np.isfinite(rep[5:127, :, :2]).any(axis=(1, 2)).all()
    assert seqs["00020"].silhouettes.shape == (N_FRAMES, 64, 44)  # the older layout 000-180/000.pkl

    # splits: test = TEST_SET; val carved from TRAIN_SET only, after failures, stratified by class
    official = json.loads(fx.partition.read_text())
    by_split = {s: {q.seq_id for q in ds.sequences(s)} for s in ("train", "val", "test")}
    assert by_split["test"] == set(official["TEST_SET"]) & fx.expect_loaded
    assert by_split["val"] and by_split["val"] | by_split["train"] == set(official["TRAIN_SET"]) & fx.expect_loaded
    assert {seqs[s].class_name for s in by_split["val"]} == set(S1K_CLASSES)
    assert_subject_disjoint({s: sorted(v) for s, v in by_split.items()})

    per_class = {
        s: Counter(S1K_CLASSES[w.sconet_class] for w in ds.windows(s, require_quality=False))
        for s in ("train", "val", "test")
    }
    assert per_class == {
        "train": {"positive": 9, "neutral": 9, "negative": 12},
        "val": {"positive": 3, "neutral": 3, "negative": 6},
        "test": {"positive": 9, "neutral": 6, "negative": 6},
    }

    again = Scoliosis1K(
        fx.root,
        split_file=fx.partition,
        pose_root=fx.pose_root,
        val_fraction=0.34,
        cache_root=tmp_path / "cache",
        progress=False,
    )
    s2 = again.prepare()  # the cache remembers the failures; the same split comes back
    assert s2.failed + s2.failed_before == 4 and set(s2.failures) == set(fx.expect_failed)
    assert {q.seq_id for q in again.sequences("val")} == by_split["val"]


def test_scoliosis1k_fps_is_checked_against_the_data(tmp_path, caplog):
    """A frame rate that makes the walkers' cadence implausible is flagged (printed and in the audit)."""
    from tests.s1k_helpers import write_scoliosis1k

    fx = write_scoliosis1k(tmp_path)
    with caplog.at_level(logging.WARNING, logger="scoligait_edge.research.data.scoliosis1k"):
        ds = Scoliosis1K(fx.root, split_file=fx.partition, fps=12.0, cache_root=tmp_path / "c", progress=False)
        audit = ds.prepare().audit
    assert audit is not None and not audit["fps_plausible"] and audit["cadence_source"] == "silhouette width period"
    assert audit["median_cadence_spm"] < 70 and 24 <= audit["fps_at_115_spm"] <= 36
    assert "the fps setting is probably wrong" in caplog.text


def test_scoliosis1k_pose_alignment_and_scores(tmp_path, caplog):
    kp = np.random.default_rng(0).uniform(1, 100, (5, 17, 3))
    kp[..., 2] = 0.5
    with pytest.raises(D.SequenceAlignmentError, match="5 pose frames vs 7 silhouettes"):
        D.align_pose_to_silhouettes(kp, None, 7)
    assert D.align_pose_to_silhouettes(kp, None, 5) is kp
    out = D.align_pose_to_silhouettes(kp, np.array([0, 2, 3, 5, 6]), 7)
    assert np.isnan(out[[1, 4], :, 0]).all() and (out[[1, 4], :, 2] == 0).all() and np.array_equal(out[6], kp[4])
    with pytest.raises(D.SequenceAlignmentError, match="beyond the 6 silhouettes"):
        D.align_pose_to_silhouettes(kp, np.array([0, 2, 3, 5, 6]), 6)
    bad_index = tmp_path / "idx.pkl"
    bad_index.write_bytes(pickle.dumps({"keypoints": kp, "frame_index": np.array([0, 2, 2, 3, 4])}))
    with pytest.raises(D.SequenceAlignmentError, match="strictly increasing"):
        D.load_scoliosis1k_pose_frames(bad_index)
    percent = tmp_path / "percent.pkl"
    kp2 = kp.copy()
    kp2[..., 2] = np.linspace(10, 90, 17)
    percent.write_bytes(pickle.dumps(kp2))
    with caplog.at_level(logging.WARNING, logger="scoligait_edge.research.data.scoliosis1k"):
        got, index = D.load_scoliosis1k_pose_frames(percent)
    assert index is None and got[..., 2].max() == pytest.approx(1.0)
    assert got[0, 0, 2] == pytest.approx(10 / 90) and "divided by the sequence's max" in caplog.text


# -- splits ---------------------------------------------------------------------------------------


def _fake(sid: str, cls: int, n: int = 1) -> list[WindowSample]:
    km = np.zeros((8, NUM_FEATURES), np.float32)
    return [
        WindowSample(
            km=km,
            km_valid=np.ones(8, bool),
            silhouettes=None,
            label=int(cls == 0),
            cobb_deg=float("nan"),
            subject_id=sid,
            clip_id=f"{sid}-{i}",
            start=0,
            sex=None,
            age=None,
            provenance="test",
            quality=None,
            sconet_class=cls,
        )
        for i in range(n)
    ]


def test_deliberate_leak_raises(sim_source):
    train = sim_source.windows("train", require_quality=False)
    test = sim_source.windows("test", require_quality=False)
    with pytest.raises(SplitLeakError):
        assert_subject_disjoint({"train": train, "test": test + train[:1]})
    with pytest.raises(SplitLeakError):
        assert_subject_disjoint({"train": WindowDataset(train), "val": WindowDataset(train[1:2])})


def test_make_splits_by_subject_stratified():
    items = [w for i in range(40) for w in _fake(f"s{i:02d}", 0 if i < 10 else 2, n=3)]
    parts = make_splits(items, seed=1)
    assert sum(len(v) for v in parts.values()) == len(items)
    assert_subject_disjoint(parts)
    subj = {k: {w.subject_id for w in v} for k, v in parts.items()}
    assert len(subj["train"]) == 28 and len(subj["val"]) == 6 and len(subj["test"]) == 6
    pos = {k: sum(w.label for w in v) // 3 for k, v in parts.items()}
    assert pos == {"train": 7, "val": 1, "test": 2}
    assert make_splits(items, seed=1) == parts  # deterministic


def test_ratio_split_training_mix():
    items = [w for i in range(60) for w in _fake(f"q{i:02d}", 0 if i < 15 else (1 if i < 30 else 2))]
    train, test = ratio_split(items, "1:1:2", seed=0, n_train=20)
    cls = [w.sconet_class for w in train]
    assert (cls.count(0), cls.count(1), cls.count(2)) == (5, 5, 10)
    assert len(test) == 40
    assert_subject_disjoint({"train": train, "test": test})
    train8, _ = ratio_split(items, "1:1:8", seed=0)  # default size: half the subjects
    c8 = [w.sconet_class for w in train8]
    assert (c8.count(0), c8.count(1), c8.count(2)) == (3, 3, 24)
    train16, _ = ratio_split(items, "1:1:16", seed=0, n_train=54)  # too few negatives: shrinks, keeps the ratio
    c16 = [w.sconet_class for w in train16]
    assert (c16.count(0), c16.count(1), c16.count(2)) == (2, 2, 30)
    with pytest.raises(ValueError):
        ratio_split(items, "1:1", seed=0)


# -- torch ---------------------------------------------------------------------------------------


def test_window_dataset_and_loader(sim_source):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    ws = sim_source.windows("train", require_quality=False)
    ds = WindowDataset(ws)
    batch = next(iter(DataLoader(ds, batch_size=4, shuffle=False, collate_fn=collate_windows)))
    assert batch["km"].shape == (4, 96, NUM_FEATURES) and batch["km"].dtype == torch.float32
    assert batch["km_mask"].shape == (4, 96) and batch["km_mask"].dtype == torch.bool
    assert batch["video"].shape == (4, 96, 1, 64, 44) and batch["video"].dtype == torch.uint8
    assert batch["video_mask"].shape == (4, 96)
    assert batch["label"].dtype == torch.float32 and batch["cobb"].shape == (4,)
    assert batch["subject_id"] == [w.subject_id for w in ws[:4]] and batch["start"] == [32] * 4
    assert batch["sex"] == [w.sex for w in ws[:4]]
    again = next(iter(DataLoader(ds, batch_size=4, shuffle=False, collate_fn=collate_windows)))
    assert torch.equal(batch["km"], again["km"]) and torch.equal(batch["video"], again["video"])
    no_video = collate_windows([WindowDataset(ws, with_video=False)[0]])
    assert "video" not in no_video and no_video["km"].shape == (1, 96, NUM_FEATURES)
    with pytest.raises(DatasetError, match="silhouettes"):
        WindowDataset(_fake("x", 0))
    sets = sim_source.datasets(require_quality=False)
    assert set(sets) == {"train", "val", "test"} and all(len(v) for v in sets.values())


def test_parallel_build_matches_serial(tmp_path):
    co = make_cohort(3, seed=21, clips_per_train_subject=1, n_frames=40)
    serial = SimulatedWindows(co, cache_root=tmp_path / "a", progress=False, silhouette_scale=0.25)
    parallel = SimulatedWindows(co, cache_root=tmp_path / "b", progress=False, silhouette_scale=0.25, workers=2)
    assert parallel.prepare().computed == len(co.clips)
    for a, b in zip(serial.clips(), parallel.clips(), strict=True):
        assert a.record == b.record
        np.testing.assert_array_equal(a.km, b.km)
        np.testing.assert_array_equal(a.silhouettes, b.silhouettes)
        assert not b.km.flags.writeable
