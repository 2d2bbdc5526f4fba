"""Baselines: planted signal is found, noise is not, thresholds come from validation, splits stay disjoint."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("sklearn")

from scoligait_edge.core.schema import NUM_FEATURES
from scoligait_edge.errors import SplitLeakError  # noqa: E402
from scoligait_edge.research.data.windows import WindowSample  # noqa: E402
from scoligait_edge.research.evaluation.baselines import (  # noqa: E402
    BaselineResults,
    bootstrap_auc,
    clip_features,
    run_baselines,
    silhouette_feature_names,
)

SIGNAL_COL = 7
N_SUBJECTS = {"train": 60, "val": 30, "test": 40}


def _window(split: str, sid: str, label: int, start: int, km: np.ndarray, sil: np.ndarray | None) -> WindowSample:
    return WindowSample(
        km=km,
        km_valid=np.ones(km.shape[0], bool),
        silhouettes=sil,
        label=label,
        cobb_deg=20.0 if label else 3.0,
        subject_id=sid,
        clip_id=f"{sid}_c0",
        start=start,
        sex="F",
        age=None,
        provenance="simulated",
        quality=None,
        silhouettes_valid=None if sil is None else np.ones(km.shape[0], bool),
        split=split,
    )


def _silhouette(rng: np.random.Generator, shift: int, frames: int) -> np.ndarray:
    """A 'body': a 20-pixel-wide block, its trunk (rows 16-40) shifted by ``shift`` columns."""
    sil = np.zeros((frames, 64, 44), np.uint8)
    sil[:, 4:60, 12:32] = 255
    sil[:, 16:40, :] = 0
    sil[:, 16:40, 12 + shift : 32 + shift] = 255
    jitter = rng.integers(-1, 2, frames)
    return np.stack([np.roll(s, j, axis=1) for s, j in zip(sil, jitter, strict=True)])


def make_windows(
    *, effect: float = 1.5, seed: int = 0, silhouettes: bool = False, shuffle: bool = False, n_train: int | None = None
) -> dict[str, list[WindowSample]]:
    """One clip per subject, two overlapping 32-frame windows; positives have map column SIGNAL_COL
    raised by ``effect`` (and the silhouette trunk shifted); ``shuffle`` draws labels independently."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[WindowSample]] = {}
    for split, n in N_SUBJECTS.items():
        n = n_train if split == "train" and n_train else n
        ws = []
        for i in range(n):
            label = int(i % 2)
            clip = rng.normal(size=(48, NUM_FEATURES)).astype(np.float32)
            clip[:, SIGNAL_COL] += effect * label
            sil = _silhouette(rng, 4 * label, 48) if silhouettes else None
            shown = int(rng.integers(0, 2)) if shuffle else label
            sid = f"{split}{i:03d}"
            for start in (0, 16):
                ws.append(
                    _window(
                        split,
                        sid,
                        shown,
                        start,
                        clip[start : start + 32],
                        None if sil is None else sil[start : start + 32],
                    )
                )
        out[split] = ws
    return out


def test_planted_map_column_is_found():
    """One separating column among 476 standardised features needs hundreds of training clips for an
    L2 logistic regression to single it out (at 60 it scores ~0.6): a reminder of what tiny cohorts allow."""
    res = run_baselines(make_windows(n_train=400), feature_sets=("km",), models=("logreg",), n_boot=200)
    row = res.rows[0]
    assert row.features == "km" and row.n_features == 2 * NUM_FEATURES
    assert row.test.auc > 0.9
    lo, hi = row.test_auc_ci
    assert lo <= row.test.auc <= hi
    assert res.data_warning and "SIMULATED" in res.data_warning


def test_shuffled_labels_stay_near_chance():
    res = run_baselines(make_windows(shuffle=True, seed=1), feature_sets=("km",), models=("logreg", "hgb"), n_boot=100)
    for row in res.rows:
        assert abs(row.test.auc - 0.5) < 0.25, row.model


def test_planted_silhouette_shift_is_found():
    res = run_baselines(
        make_windows(effect=0.0, silhouettes=True), feature_sets=("silhouette",), models=("logreg",), n_boot=100
    )
    assert res.rows[0].n_features == len(silhouette_feature_names()) == 66
    assert res.rows[0].test.auc > 0.9


def test_threshold_and_model_choice_ignore_test_labels():
    windows = make_windows(effect=0.8)
    flipped = dict(windows)
    flipped["test"] = [_window("test", w.subject_id, 1 - w.label, w.start, w.km, None) for w in windows["test"]]
    a = run_baselines(windows, feature_sets=("km",), models=("logreg", "hgb"), n_boot=50)
    b = run_baselines(flipped, feature_sets=("km",), models=("logreg", "hgb"), n_boot=50)
    for ra, rb in zip(a.rows, b.rows, strict=True):
        assert ra.threshold == rb.threshold and ra.params == rb.params
        assert ra.threshold.split_name == "val" and ra.threshold.source == "validation"
        assert ra.test.auc == pytest.approx(1 - rb.test.auc)


def test_a_subject_on_two_sides_is_refused():
    windows = make_windows()
    windows["test"] = windows["test"] + windows["train"][:2]
    with pytest.raises(SplitLeakError):
        run_baselines(windows, feature_sets=("km",), models=("logreg",), n_boot=10)


def test_overlapping_windows_count_each_frame_once():
    windows = make_windows()["train"][:2]  # one clip: frames 0-31 and 16-47
    feats = clip_features(windows, "km")
    frames = np.concatenate([windows[0].km, windows[1].km[16:]])
    assert len(feats) == 1 and feats.subject_ids == [windows[0].subject_id]
    np.testing.assert_allclose(feats.X[0, :NUM_FEATURES], frames.mean(0), rtol=1e-5)
    np.testing.assert_allclose(feats.X[0, NUM_FEATURES:], frames.std(0), rtol=1e-4)


def test_bootstrap_resamples_subjects_and_is_reproducible():
    y = np.array([0, 1] * 10)
    s = np.linspace(0, 1, 20)
    subjects = [f"s{i // 2}" for i in range(20)]
    assert bootstrap_auc(y, s, subjects, n_boot=100, seed=3) == bootstrap_auc(y, s, subjects, n_boot=100, seed=3)


def test_results_json_round_trip(tmp_path):
    res = run_baselines(make_windows(), feature_sets=("km",), models=("logreg",), n_boot=20)
    path = res.to_json(tmp_path / "baselines.json")
    again = BaselineResults.from_json(path)
    assert again == res
    assert json.loads(path.read_text())["provenance"] == "simulated"
    assert "SIMULATED" in again.markdown() and "| km (476) | logreg |" in again.markdown()


def test_cli_uses_the_training_splits(tmp_path, capsys):
    """The CLI's splits are the training pipeline's (same subjects per split), on a tiny simulated cohort."""
    from scoligait_edge.research import run_baselines as baselines
    from scoligait_edge.research.training.config import TrainConfig, load_config
    from scoligait_edge.research.training.pipeline import load_window_splits

    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(
        f"name: tiny-baselines\ncache_dir: {tmp_path / 'cache'}\n"
        "data:\n  kind: simulated\n  n_subjects: 20\n  clips_per_train_subject: 1\n  n_frames: 96\n"
    )
    out = tmp_path / "out"
    assert baselines.main(["--config", str(cfg_path), "--out", str(out), "--n-boot", "50", "--no-progress"]) == 0
    res = BaselineResults.from_json(out / "baselines.json")
    assert res.provenance == "simulated" and "SIMULATED" in (out / "baselines.md").read_text()
    assert {(r.features, r.model) for r in res.rows} == {
        (f, m) for f in ("km", "silhouette") for m in ("logreg", "hgb")
    }
    splits = load_window_splits(load_config(cfg_path, TrainConfig), progress=False)
    for s, ws in splits.windows.items():
        assert res.splits[s].subjects == len({w.subject_id for w in ws})
        assert res.splits[s].clips == len({w.clip_id for w in ws})
    assert "SIMULATED" in capsys.readouterr().out


def test_a_window_source_is_cut_into_the_same_splits():
    from scoligait_edge.research.data.source import WindowSource

    windows = make_windows()

    class Fixed(WindowSource):
        provenance = "simulated"

        def __init__(self) -> None:
            self.asked: list[tuple] = []

        def windows(self, split=None, **kw):  # noqa: ANN001, ANN003, ANN201
            self.asked.append((split, kw))
            return windows[split]

    src = Fixed()
    res = run_baselines(src, feature_sets=("km",), models=("logreg",), n_boot=10, hop=8)
    assert [s for s, _ in src.asked] == ["train", "val", "test"] and src.asked[0][1]["hop"] == 8
    assert res.splits["test"].subjects == N_SUBJECTS["test"] and res.provenance == "simulated"
