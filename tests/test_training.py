"""End to end on a tiny simulated cohort: train -> threshold on validation -> test report -> re-evaluate."""

from __future__ import annotations

import json

import pytest

from scoligait_edge.research.training.config import ConfigError, TrainConfig, load_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from scoligait_edge.research.training.pipeline import train_run

    cfg = load_config("configs/tiny_ci.yaml", TrainConfig)
    cfg = cfg.model_copy(
        update={
            "cache_dir": tmp_path_factory.mktemp("cache"),
            "optim": cfg.optim.model_copy(update={"epochs": 1, "max_train_windows": 64}),
        }
    )
    out = tmp_path_factory.mktemp("run")
    summary = train_run(cfg, out, progress=False)
    return cfg, out, summary


def test_tiny_training_run_writes_everything(tiny_run):
    cfg, out, summary = tiny_run
    for name in (
        "model.safetensors",
        "model.json",
        "train_config.json",
        "summary.json",
        "reference_stats.json",
        "evaluation/report.json",
        "evaluation/report.md",
        "evaluation/roc.png",
        "evaluation/confusion.png",
    ):
        assert (out / name).is_file(), name
    assert summary["provenance"] == "simulated" and "SIMULATED" in summary["data_warning"]
    assert summary["windows"]["train_used"] == 64
    report = json.loads((out / "evaluation/report.json").read_text())
    assert report["threshold"]["source"] == "validation" and report["threshold"]["split_name"] == "val"
    assert report["evaluated_split"] == "test"
    assert "Simulated data, not clinical evidence" in (out / "evaluation/report.md").read_text()
    m = summary["test_clip_metrics"]
    assert 0 <= m["accuracy"] <= 1 and m["n"] >= 4


def test_the_run_fits_an_input_reference_that_export_ships(tiny_run, tmp_path):
    from scoligait_edge.bundle.input_reference import INPUT_REFERENCE_NAME, InputReference
    from scoligait_edge.bundle.load import load_bundle
    from scoligait_edge.export import create_bundle
    from tests.signing_helpers import fixture_signing_key

    _, out, summary = tiny_run
    ref = InputReference.model_validate_json((out / INPUT_REFERENCE_NAME).read_text())
    assert ref.n_windows == summary["windows"]["train_used"] and ref.n_columns == 238
    create_bundle(out / "model", tmp_path / "bundle", report=lambda s: None, signing_key=fixture_signing_key())
    with load_bundle(tmp_path / "bundle") as b:  # picked up beside the checkpoint
        assert b.input_reference() == ref


def test_evaluate_cli_reproduces_the_run(tiny_run, capsys):
    from scoligait_edge.research import evaluate

    cfg, out, summary = tiny_run
    assert evaluate.main(["--run", str(out), "--out", str(out / "re-eval"), "--no-progress"]) == 0
    again = json.loads((out / "re-eval/report.json").read_text())
    assert again["levels"]["clip"]["metrics"] == summary["test_clip_metrics"]
    assert "Screening aid, not a diagnosis" in capsys.readouterr().out


def test_evaluate_cli_rejects_a_folder_that_is_not_a_run(tmp_path, capsys):
    from scoligait_edge.research import evaluate

    assert evaluate.main(["--run", str(tmp_path)]) == 2
    assert "not a training run" in capsys.readouterr().err


def test_config_errors_name_the_file_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  fusion: concat_everything\n")
    with pytest.raises(ConfigError, match=r"bad.yaml.*model.fusion"):
        load_config(bad, TrainConfig)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml", TrainConfig)
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_config(tmp_path / "x.json", TrainConfig)


def test_ablation_cli_runs_rows_and_the_sconet_baseline(tiny_run, tmp_path):
    """One row and ScoNet-MT on the tiny cohort (cached by the fixture): the table is written and labelled."""
    from scoligait_edge.research.ablate import run_ablation

    cfg, _, _ = tiny_run
    res = run_ablation(
        cfg.model_copy(update={"optim": cfg.optim.model_copy(update={"epochs": 1, "max_train_windows": 32})}),
        ["km"],
        [0],
        ["1:1:2"],
        tmp_path,
        sconet_epochs=1,
        sconet_width=0.125,
        sconet_min_positives=1,
        baselines=False,
        n_boot=200,
    )
    table = (tmp_path / "ablation.md").read_text()
    assert "| km | 1 |" in table and "sconet_mt_1:1:2" in table and "simulated" in table.lower()
    assert set(res["results"]) == {"km", "sconet_mt_1:1:2", "sconet_mt_1:1:2 (Youden)"}
    sc = json.loads((tmp_path / "runs/sconet_mt_1:1:2/seed0/summary.json").read_text())
    assert "argmax" in sc["decision"] and sc["test_clip_metrics"]["auc"] == sc["test_clip_metrics_youden"]["auc"]
    clips = json.loads((tmp_path / "runs/km/seed0/evaluation/test_clip_predictions.json").read_text())["clips"]
    assert len(clips) == res["results"]["km"][0].n and set(clips[0]) == {"clip_id", "subject_id", "label", "prob"}
    with pytest.raises(ValueError, match=r"ScoNet-MT mix 1:1:2: only \d+ positive training subjects.*need >= 500"):
        run_ablation(cfg, [], [0], ["1:1:2"], tmp_path / "refused", sconet_epochs=1, sconet_min_positives=500)
    mix = json.loads((tmp_path / "runs/sconet_mt_1:1:2/seed0/summary.json").read_text())["train_mix"]
    assert mix["negative"] == 2 * mix["positive"] == 2 * mix["neutral"]  # the 1:1:2 training mix


def test_training_is_deterministic_with_a_seed():
    import torch

    from scoligait_edge.research.models.screening import ScreeningModel, ScreeningModelConfig
    from scoligait_edge.research.training.config import OptimConfig
    from scoligait_edge.research.training.loop import fit, seed_everything
    from tests.training_helpers import separable_windows

    def once() -> tuple[list, torch.Tensor]:
        gen = seed_everything(123)
        model = ScreeningModel(
            ScreeningModelConfig(
                modalities="km", fusion="cat", dim=16, heads=2, depth=1, window_frames=32, km_patch_frames=16
            )
        )
        res = fit(
            model,
            separable_windows(24, 0),
            separable_windows(12, 1),
            OptimConfig(epochs=2, batch_size=8, patience=5),
            gen,
            progress=False,
        )
        return res.history, next(model.parameters()).detach().clone()

    (h1, w1), (h2, w2) = once(), once()
    assert [r["train_loss"] for r in h1] == [r["train_loss"] for r in h2]
    assert torch.equal(w1, w2)


# -- Scoliosis1K (OpenGait layout, written by tests/s1k_helpers.py) ------------------------------


@pytest.fixture(scope="module")
def s1k_run(tmp_path_factory):
    """`python -m scoligait_edge.research.train` on a tiny Scoliosis1K-layout folder with one YAML config."""
    import yaml

    from scoligait_edge.research import train
    from tests.s1k_helpers import write_scoliosis1k

    tmp = tmp_path_factory.mktemp("s1k")
    fx = write_scoliosis1k(tmp)
    base = yaml.safe_load(open("configs/tiny_ci.yaml"))
    cfg = {
        "name": "tiny-s1k",
        "seed": 0,
        "model": base["model"],
        "data": {
            "kind": "scoliosis1k",
            "root": str(fx.root),
            "pose_root": str(fx.pose_root),
            "partition": str(fx.partition),
            "val_fraction": 0.34,
        },
        "windows": {"length": 96, "hop": 16, "require_quality": False},
        "optim": {"epochs": 1, "batch_size": 16, "lr": 0.001, "patience": 1, "threads": 1},
        "cache_dir": str(tmp / "cache"),
    }
    path = tmp / "s1k.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp / "run"
    assert train.main(["--config", str(path), "--out", str(out), "--no-progress"]) == 0
    return fx, path, out, json.loads((out / "summary.json").read_text())


def test_train_cli_runs_on_scoliosis1k(s1k_run):
    fx, _, out, summary = s1k_run
    assert summary["provenance"] == "real" and summary["data_warning"] is None
    assert summary["windows"] == {"train": 30, "val": 12, "test": 21, "train_used": 30}
    assert summary["clips"] == {"train": 10, "val": 4, "test": 7}  # the older-layout sequence loads too
    build = summary["data_build"]
    assert build["failed"] + build["failed_before"] == len(fx.expect_failed) == 4
    assert set(build["failures"]) == set(fx.expect_failed)
    assert any("not person ids" in n for n in summary["data_notes"])
    report = json.loads((out / "evaluation/report.json").read_text())
    assert report["threshold"]["split_name"] == "val" and report["provenance"] == "real"
    assert report["splits"]["test"]["positives"] == 3 and report["splits"]["test"]["subjects"] == 7
    assert "not person ids" in (out / "evaluation/report.md").read_text()


def test_evaluate_cli_reproduces_the_scoliosis1k_run(s1k_run):
    from scoligait_edge.research import evaluate

    _, _, out, summary = s1k_run
    assert evaluate.main(["--run", str(out), "--out", str(out / "re-eval"), "--no-progress"]) == 0
    again = json.loads((out / "re-eval/report.json").read_text())
    assert again["levels"]["clip"]["metrics"] == summary["test_clip_metrics"]


def test_ablation_and_sconet_mt_run_on_scoliosis1k(s1k_run, tmp_path):
    """A screening row and ScoNet-MT on the same partition; ScoNet keeps Scoliosis1K's own 3 classes."""
    from scoligait_edge.research.ablate import run_ablation

    _, path, _, _ = s1k_run
    base = load_config(path, TrainConfig)
    res = run_ablation(
        base,
        ["video"],
        [0],
        ["1:1:1"],
        tmp_path,
        sconet_epochs=1,
        sconet_width=0.125,
        sconet_min_positives=1,
        n_boot=200,
    )
    assert {"video", "sconet_mt_1:1:1", "sconet_mt_1:1:1 (Youden)"} <= set(res["results"])
    table = (tmp_path / "ablation.md").read_text()
    from scoligait_edge.research.evaluation.report import SIMULATED_DATA_LINE

    assert "| video | 1 |" in table and "(real data;" in table and SIMULATED_DATA_LINE not in table
    sc = json.loads((tmp_path / "runs/sconet_mt_1:1:1/seed0/summary.json").read_text())
    assert sc["provenance"] == "real" and sc["train_mix"] == {"positive": 3, "neutral": 3, "negative": 3}
    assert sc["test_clip_metrics"]["n"] == 7  # the fixture's TEST_SET sequences that pass the checks


def test_scoliosis1k_config_is_validated(tmp_path):
    from scoligait_edge.research.training.config import Scoliosis1KData

    (tmp_path / "c.yaml").write_text("data:\n  kind: scoliosis1k\n  root: /x\n")
    with pytest.raises(ConfigError, match=r"data.scoliosis1k.partition: Field required"):
        load_config(tmp_path / "c.yaml", TrainConfig)
    (tmp_path / "c.yaml").write_text("data:\n  kind: scoliosis1k\n  root: /x\n  partition: /p.json\n")
    with pytest.raises(ConfigError, match=r"knowledge map.*pose_root"):
        load_config(tmp_path / "c.yaml", TrainConfig)
    (tmp_path / "c.yaml").write_text(
        "model:\n  modalities: video\ndata:\n  kind: scoliosis1k\n  root: /x\n  partition: /p.json\n  val_fraction: 0\n"
    )
    with pytest.raises(ConfigError, match=r"data.scoliosis1k.val_fraction"):
        load_config(tmp_path / "c.yaml", TrainConfig)
    (tmp_path / "c.yaml").write_text(
        "model:\n  modalities: video\ndata:\n  kind: scoliosis1k\n  root: /x\n  partition: /p.json\n"
    )
    cfg = load_config(tmp_path / "c.yaml", TrainConfig)
    assert isinstance(cfg.data, Scoliosis1KData) and cfg.data.pose_root is None and cfg.data.val_fraction == 0.15
    shipped = load_config("configs/scoliosis1k.yaml", TrainConfig)
    assert isinstance(shipped.data, Scoliosis1KData) and shipped.data.partition.name == "Scoliosis1K_118.json"


def test_screening_loss_ignores_unknown_cobb_angles():
    import torch

    from scoligait_edge.research.models.screening import ScreeningLoss, ScreeningOutput

    logit = torch.zeros(3, requires_grad=True)
    cobb_pred = torch.tensor([10.0, 0.0, 5.0], requires_grad=True)
    out = ScreeningOutput(
        logit=logit,
        prob=torch.sigmoid(logit),
        cobb=cobb_pred,
        token_saliency=torch.zeros(3, 1),
        km_attention_map=torch.zeros(3, 1, 1),
    )
    loss = ScreeningLoss(cobb_weight=1.0)(out, torch.tensor([1.0, 0.0, 0.0]), torch.tensor([10.0, float("nan"), 25.0]))
    loss.total.backward()
    assert torch.isfinite(loss.total) and torch.isfinite(cobb_pred.grad).all() and cobb_pred.grad[1] == 0
    assert loss.cobb.item() > 0  # the known angles still count
    none = ScreeningLoss(cobb_weight=1.0)(out, torch.tensor([1.0, 0.0, 0.0]), torch.full((3,), float("nan")))
    assert none.cobb.item() == 0 and torch.isfinite(none.total)


# ----------------------------------------------------------------- augmentation and devices
def test_augmentation_jitters_and_drops_frames_without_mirroring():
    import torch

    from scoligait_edge.research.training.augment import augment_batch

    g = torch.Generator().manual_seed(0)
    km = torch.arange(238, dtype=torch.float32).expand(2, 96, 238).clone()  # column i holds i
    batch = {"km": km, "km_mask": torch.ones(2, 96, dtype=torch.bool), "video": torch.ones(2, 96, 1, 64, 44)}
    std = torch.full((238,), 0.5)
    out = augment_batch(batch, km_std=std, km_noise=0.1, frame_drop=0.2, generator=g)
    dropped = ~out["km_mask"]
    assert 0.1 < dropped.float().mean() < 0.3  # about the asked share
    assert (out["video"][dropped] == 0).all() and (out["video"][~dropped] == 1).all()
    noise = out["km"] - km
    assert 0.04 < float(noise.std()) < 0.06  # 0.1 x the feature SD (0.5)
    # no mirroring: every column keeps its own content (a left/right swap would move column means by >= 1)
    assert float(noise.mean(dim=(0, 1)).abs().max()) < 0.05
    assert torch.equal(batch["km"], km)  # the input batch is not modified in place


def test_cuda_without_a_gpu_is_a_clear_error(monkeypatch):
    import torch

    from scoligait_edge.research.training.loop import autocast_context, resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no GPU"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"
    with autocast_context(torch.device("cpu"), "bf16"):  # CPU always trains in fp32
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.float32


def test_sconet_mixes_keep_positives_fixed_and_add_negatives():
    from types import SimpleNamespace

    from scoligait_edge.research.training.sconet_run import ScoNetRunConfig, _mix_size

    train = [SimpleNamespace(subject_id=f"s{i}") for i in range(500)]
    sizes = {r: _mix_size(ScoNetRunConfig(ratio=r, train_positives=19), train) for r in ("1:1:2", "1:1:4", "1:1:16")}
    assert sizes == {"1:1:2": 76, "1:1:4": 114, "1:1:16": 342}  # 19 positives and 19 neutrals each time
    assert _mix_size(ScoNetRunConfig(ratio="1:1:8"), train) == 500  # default: all the split allows


def test_int8_split_check_scores_the_runs_own_validation_and_test_windows(tiny_run, tmp_path):
    """fp32 ONNX on the run's windows reproduces the run's own threshold and test AUC (so the inputs are built as
    in training); int8 is compared against it on the same windows."""
    from scoligait_edge.export import create_bundle
    from scoligait_edge.export.int8_splits import int8_split_check
    from tests.signing_helpers import fixture_signing_key

    cfg, out, summary = tiny_run
    bundle = tmp_path / "bundle"
    create_bundle(
        out / "model", bundle, formats=["onnx", "onnx-int8"], report=lambda s: None, signing_key=fixture_signing_key()
    )
    r = int8_split_check(bundle, cfg, out)
    by = {s.split: s for s in r.splits}
    assert by["val"].windows == summary["windows"]["val"] and by["test"].windows == summary["windows"]["test"]
    assert r.bundle_threshold == pytest.approx(summary["threshold"])
    assert r.threshold_fp32 == pytest.approx(summary["threshold"], abs=1e-4)
    assert by["test"].clip_auc_fp32 == pytest.approx(summary["test_clip_metrics"]["auc"], abs=1e-6)
    assert by["test"].max_abs_prob < 0.1 and 0.0 <= by["test"].window_label_agreement <= 1.0

    other = cfg.model_copy(update={"model": cfg.model.model_copy(update={"dim": 16})})
    with pytest.raises(ValueError, match="differs from the config"):
        int8_split_check(bundle, other, out)
    fp32_only = tmp_path / "fp32_only"
    create_bundle(out / "model", fp32_only, formats=["onnx"], report=lambda s: None, signing_key=fixture_signing_key())
    with pytest.raises(ValueError, match="no 'onnx-int8' model: python -m scoligait_edge.export --bundle"):
        int8_split_check(fp32_only, cfg, out)
