"""``torchrun -m scoligait_edge.research.train``: 2 CPU processes give 1 process's validation metrics; resume is exact.

Tolerance: the two runs differ only in floating-point summation order (DDP's
gradient all-reduce, the per-rank loss split), so per-epoch validation BCE and
the training loss agree to 1e-5 absolute, the validation clip AUC and the
threshold chosen on validation to 1e-6 (measured: ~6e-8 on the tiny config).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.training_helpers import separable_windows

REPO = Path(__file__).resolve().parents[1]
LOSS_TOL = 1e-5
AUC_TOL = 1e-6


def _torchrun(nproc: int, config: Path, out: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        str(nproc),
        "-m",
        "scoligait_edge.research.train",
        "--config",
        str(config),
        "--out",
        str(out),
        "--no-progress",
    ]
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return json.loads((out / "summary.json").read_text())


@pytest.mark.slow
def test_two_cpu_processes_match_one(tmp_path):
    cfg = yaml.safe_load((REPO / "configs/tiny_ci.yaml").read_text())
    cfg["cache_dir"] = str(tmp_path / "cache")
    cfg["data"].update(n_subjects=24, clips_per_train_subject=1)  # a smaller cohort: the test stays under a minute
    cfg["optim"]["max_train_windows"] = 61  # 61 = 3 x 16 + 13: an uneven last batch, and the sampler pads rank 1
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(cfg))
    one = _torchrun(1, config, tmp_path / "one")  # also fills the simulated cache the second run reuses
    two = _torchrun(2, config, tmp_path / "two")
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert len(one["history"]) == len(two["history"]) == cfg["optim"]["epochs"]
    for a, b in zip(one["history"], two["history"], strict=True):
        assert abs(a["val_bce"] - b["val_bce"]) <= LOSS_TOL, (a, b)
        assert abs(a["train_loss"] - b["train_loss"]) <= LOSS_TOL, (a, b)
        assert abs(a["val_clip_auc"] - b["val_clip_auc"]) <= AUC_TOL, (a, b)
    assert one["best_epoch"] == two["best_epoch"]
    assert abs(one["threshold"] - two["threshold"]) <= AUC_TOL
    # rank 0 alone wrote: one run folder each, one checkpoint, no stray temporary files
    assert (tmp_path / "two/checkpoints/last.pt").is_file()
    assert not list((tmp_path / "two").rglob("*.tmp"))


@pytest.fixture
def one_rank(tmp_path, monkeypatch):
    """A one-process gloo group in this process (what torchrun --nproc_per_node 1 sets up)."""
    import torch.distributed as dist

    from scoligait_edge.research.training.distributed import init_distributed, shutdown

    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("LOCAL_RANK", "0")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    ctx = init_distributed("cpu")
    yield ctx
    shutdown(ctx)


def test_resume_after_a_crash_continues_exactly(one_rank, tmp_path, monkeypatch):
    import torch

    from scoligait_edge.research.models.screening import ScreeningModel, ScreeningModelConfig
    from scoligait_edge.research.training import distributed as D
    from scoligait_edge.research.training.config import OptimConfig
    from scoligait_edge.research.training.loop import seed_everything

    optim = OptimConfig(epochs=3, batch_size=8, patience=5)
    train, val = separable_windows(20, 0), separable_windows(10, 1)

    def model() -> ScreeningModel:
        seed_everything(5)
        return ScreeningModel(
            ScreeningModelConfig(
                modalities="km", fusion="cat", dim=16, heads=2, depth=1, window_frames=32, km_patch_frames=16
            )
        )

    def fit(ckpt: Path, resume: bool = False):
        m = model()
        r = D.fit_distributed(
            m, train, val, optim, 5, one_rank, checkpoint=ckpt, fingerprint="f", resume=resume, progress=False
        )
        return r, next(m.parameters()).detach().clone()

    straight, w_straight = fit(tmp_path / "a" / "last.pt")

    real_predict, calls = D.predict_sharded, []

    def crash_in_epoch_2(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("node lost")
        return real_predict(*a, **k)

    monkeypatch.setattr(D, "predict_sharded", crash_in_epoch_2)
    with pytest.raises(RuntimeError, match="node lost"):
        fit(tmp_path / "b" / "last.pt")
    monkeypatch.setattr(D, "predict_sharded", real_predict)
    assert torch.load(tmp_path / "b" / "last.pt", weights_only=False)["epoch"] == 1
    resumed, w_resumed = fit(tmp_path / "b" / "last.pt", resume=True)
    assert [h["val_bce"] for h in resumed.history] == [h["val_bce"] for h in straight.history]
    assert torch.equal(w_straight, w_resumed)
    with pytest.raises(ValueError, match="another configuration"):
        D.fit_distributed(
            model(),
            train,
            val,
            optim,
            5,
            one_rank,
            checkpoint=tmp_path / "b" / "last.pt",
            fingerprint="other",
            resume=True,
            progress=False,
        )


def test_global_batch_must_split_evenly(one_rank, monkeypatch):
    from scoligait_edge.research.models.screening import ScreeningModel, ScreeningModelConfig
    from scoligait_edge.research.training import distributed as D
    from scoligait_edge.research.training.config import OptimConfig

    ctx = D.DistContext(0, 3, 0, "gloo", one_rank.device)
    m = ScreeningModel(
        ScreeningModelConfig(
            modalities="km", fusion="cat", dim=16, heads=2, depth=1, window_frames=32, km_patch_frames=16
        )
    )
    with pytest.raises(ValueError, match="divisible"):
        D.fit_distributed(
            m, separable_windows(8, 0), separable_windows(4, 1), OptimConfig(batch_size=8), 0, ctx, progress=False
        )
