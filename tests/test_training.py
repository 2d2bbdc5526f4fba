"""End to end on a tiny simulated cohort: train -> threshold on validation -> test report -> re-evaluate."""

from __future__ import annotations

import json

import pytest

from scoligait_edge.training.config import ConfigError, TrainConfig, load_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from scoligait_edge.training.pipeline import train_run

    cfg = load_config("configs/tiny_ci.yaml", TrainConfig)
    cfg = cfg.model_copy(update={"cache_dir": tmp_path_factory.mktemp("cache"),
                                 "optim": cfg.optim.model_copy(update={"epochs": 1, "max_train_windows": 64})})
    out = tmp_path_factory.mktemp("run")
    summary = train_run(cfg, out, progress=False)
    return cfg, out, summary


def test_tiny_training_run_writes_everything(tiny_run):
    cfg, out, summary = tiny_run
    for name in ("model.safetensors", "model.json", "train_config.json", "summary.json", "reference_stats.json",
                 "evaluation/report.json", "evaluation/report.md", "evaluation/roc.png", "evaluation/confusion.png"):
        assert (out / name).is_file(), name
    assert summary["provenance"] == "simulated" and "SIMULATED" in summary["data_warning"]
    assert summary["windows"]["train_used"] == 64
    report = json.loads((out / "evaluation/report.json").read_text())
    assert report["threshold"]["source"] == "validation" and report["threshold"]["split_name"] == "val"
    assert report["evaluated_split"] == "test"
    assert "Simulated data, not clinical evidence" in (out / "evaluation/report.md").read_text()
    m = summary["test_clip_metrics"]
    assert 0 <= m["accuracy"] <= 1 and m["n"] >= 4


def test_evaluate_cli_reproduces_the_run(tiny_run, capsys):
    from scoligait_edge import evaluate

    cfg, out, summary = tiny_run
    assert evaluate.main(["--run", str(out), "--out", str(out / "re-eval"), "--no-progress"]) == 0
    again = json.loads((out / "re-eval/report.json").read_text())
    assert again["levels"]["clip"]["metrics"] == summary["test_clip_metrics"]
    assert "Screening aid, not a diagnosis" in capsys.readouterr().out


def test_evaluate_cli_rejects_a_folder_that_is_not_a_run(tmp_path, capsys):
    from scoligait_edge import evaluate

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
    from scoligait_edge.ablate import run_ablation

    cfg, _, _ = tiny_run
    res = run_ablation(cfg.model_copy(update={"optim": cfg.optim.model_copy(update={"epochs": 1, "max_train_windows": 32})}),
                       ["km"], [0], ["1:1:2"], tmp_path, sconet_epochs=1, sconet_width=0.125)
    table = (tmp_path / "ablation.md").read_text()
    assert "| km | 1 |" in table and "sconet_mt_1:1:2" in table and "simulated" in table.lower()
    assert set(res["results"]) == {"km", "sconet_mt_1:1:2"}
    mix = json.loads((tmp_path / "runs/sconet_mt_1:1:2/seed0/summary.json").read_text())["train_mix"]
    assert mix["negative"] == 2 * mix["positive"] == 2 * mix["neutral"]  # the 1:1:2 training mix


def test_training_is_deterministic_with_a_seed():
    import torch

    from scoligait_edge.models import ScreeningModel, ScreeningModelConfig
    from scoligait_edge.training.config import OptimConfig
    from scoligait_edge.training.loop import fit, seed_everything
    from scoligait_edge.training.tensors import WindowTensors

    def data(n: int, seed: int) -> WindowTensors:
        g = torch.Generator().manual_seed(seed)
        label = (torch.arange(n) % 2).float()
        km = torch.randn(n, 32, 238, generator=g) + label[:, None, None] * 0.5
        return WindowTensors(km=km, km_mask=torch.ones(n, 32, dtype=torch.bool), label=label, cobb=label * 20,
                             video=None, text=None, text_mask=None, clip_ids=[f"c{i}" for i in range(n)],
                             subject_ids=[f"s{i}" for i in range(n)], sexes=[None] * n, starts=[0] * n)

    def once() -> tuple[list, torch.Tensor]:
        gen = seed_everything(123)
        model = ScreeningModel(ScreeningModelConfig(modalities="km", fusion="cat", dim=16, heads=2, depth=1,
                                                    window_frames=32, km_patch_frames=16))
        res = fit(model, data(24, 0), data(12, 1), OptimConfig(epochs=2, batch_size=8, patience=5), gen, progress=False)
        return res.history, next(model.parameters()).detach().clone()

    (h1, w1), (h2, w2) = once(), once()
    assert [r["train_loss"] for r in h1] == [r["train_loss"] for r in h2]
    assert torch.equal(w1, w2)
