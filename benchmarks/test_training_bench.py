"""Training throughput of the demo-size model: today's configuration against the one it replaced.

Each benchmark is one optimiser step on a batch of windows through the real
data path (``WindowTensors.batch`` from uint8 silhouettes, augmentation, forward,
backward, AdamW), so windows/s = batch size / step time. ``current`` is
``configs/demo_model.yaml`` on today's code. Two baselines:

- ``legacy-config``: the configuration the demo model was trained with before
  issue 11 (16-frame knowledge-map patches and video tubelets, element-wise
  dropout 0.1 also on attention weights, explicit attention, batch 16) on
  today's code paths otherwise;
- ``legacy``: the same configuration with the code paths it ran on, where they
  still exist: tubelets through the ``Conv3d`` kernel (``conv3d_tubelets``),
  silhouettes scaled to float on the host before the model, AdamW's
  per-parameter loop instead of its fused kernel.

The ratio ``current / legacy`` (``summarize.py``) is the issue's ">= 5x" target
("against the current configuration", i.e. what ran then); ``current /
legacy-config`` is reported beside it: the share that comes from the
configuration alone. All three are measured in one run with 2 threads.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
LEGACY_MODEL = {
    "km_patch_frames": 16,
    "video_tubelet_frames": 16,
    "dropout": 0.1,
    "attention_dropout": 0.1,
    "drop_path": 0.0,
}
LEGACY_OPTIM = {"batch_size": 16, "km_noise": 0.0, "frame_drop": 0.0}
N_WINDOWS = 64


def _config(kind: str):
    from scoligait_edge.research.training.config import TrainConfig, load_config

    cfg = load_config(ROOT / "configs" / "demo_model.yaml", TrainConfig)
    if kind.startswith("legacy"):
        model = cfg.model.model_copy(update=LEGACY_MODEL)
        cfg = cfg.model_copy(
            update={
                "model": type(cfg.model).model_validate(model.model_dump()),
                "optim": cfg.optim.model_copy(update=LEGACY_OPTIM),
            }
        )
    return cfg


@pytest.fixture(scope="module")
def windows():
    """Synthetic windows of the real shapes: a map, uint8 silhouettes, four sentence embeddings each."""
    from scoligait_edge.research.training.tensors import WindowTensors

    rng = np.random.default_rng(0)
    t = 96
    return WindowTensors(
        km=torch.from_numpy(rng.normal(size=(N_WINDOWS, t, 238)).astype(np.float32)),
        km_mask=torch.ones(N_WINDOWS, t, dtype=torch.bool),
        label=torch.from_numpy((np.arange(N_WINDOWS) % 2).astype(np.float32)),
        cobb=torch.zeros(N_WINDOWS),
        video=torch.from_numpy((rng.random((N_WINDOWS, t, 1, 64, 44)) > 0.7).astype(np.uint8) * 255),
        text=torch.from_numpy(rng.normal(size=(N_WINDOWS, 4, 384)).astype(np.float32)),
        text_mask=torch.ones(N_WINDOWS, 4, dtype=torch.bool),
        clip_ids=[f"c{i}" for i in range(N_WINDOWS)],
        subject_ids=[f"s{i}" for i in range(N_WINDOWS)],
        sexes=[None] * N_WINDOWS,
        starts=[0] * N_WINDOWS,
    )


class TrainingStep:
    """One optimiser step of configuration ``kind`` through the real data path; callable, returns the loss.

    The legacy code paths (explicit attention, ``Conv3d`` tubelets) are switched on around its own steps only.
    """

    def __init__(self, kind: str, windows) -> None:
        from scoligait_edge.research.models.screening import ScreeningLoss, ScreeningModel
        from scoligait_edge.research.training.loop import make_optimizer

        self.kind, self.windows, self.cfg = kind, windows, _config(kind)
        torch.manual_seed(0)
        self.model = ScreeningModel(self.cfg.model).train()
        if kind == "legacy":  # the per-parameter loop of small ops it ran with
            self.opt = torch.optim.AdamW(
                self.model.parameters(), lr=self.cfg.optim.lr, weight_decay=self.cfg.optim.weight_decay
            )
        else:
            self.opt = make_optimizer(self.model.parameters(), self.cfg.optim)
        self.loss_fn = ScreeningLoss()
        self.gen = torch.Generator().manual_seed(0)
        self.batch_size = self.cfg.optim.batch_size
        self.tokens = self.model.num_km_tokens + self.model.num_video_tokens + 4
        self._std, self._next = torch.ones(238), 0

    def _code_paths(self) -> contextlib.ExitStack:
        from scoligait_edge.research.models.layers.attention import explicit_attention
        from scoligait_edge.research.models.layers.patch import conv3d_tubelets

        ctx = contextlib.ExitStack()
        if self.kind.startswith("legacy"):
            ctx.enter_context(explicit_attention())
        if self.kind == "legacy":
            ctx.enter_context(conv3d_tubelets())
        return ctx

    def __call__(self) -> float:
        from scoligait_edge.research.training.augment import augment_batch

        b, optim, w = self.batch_size, self.cfg.optim, self.windows
        start = self._next % (N_WINDOWS - b + 1)
        self._next += b
        idx = torch.arange(start, start + b)
        with self._code_paths():
            batch = w.batch(idx, uses_video=True, uses_text=True)
            if self.kind == "legacy":  # silhouettes were scaled to float32 on the host
                batch["video"] = batch["video"].float() / 255.0
            batch = augment_batch(
                batch, km_std=self._std, km_noise=optim.km_noise, frame_drop=optim.frame_drop, generator=self.gen
            )
            loss = self.loss_fn(self.model(**batch), w.label[idx], w.cobb[idx]).total
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        return float(loss)


@contextlib.contextmanager
def _threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.mark.benchmark(group="training")
@pytest.mark.parametrize("kind", ["legacy", "legacy-config", "current"])
def test_training_step(benchmark, windows, kind):
    with _threads(2):
        step = TrainingStep(kind, windows)
        step()  # warm-up
        loss = benchmark.pedantic(step, rounds=5, iterations=1)
    benchmark.extra_info.update(
        {"batch": step.batch_size, "windows_per_step": step.batch_size, "config": kind, "tokens": step.tokens}
    )
    assert np.isfinite(loss)
