"""The optimisation loop: class weighting, warm-up + cosine schedule, early stopping
on validation, best weights kept. Knows nothing about where windows come from."""

from __future__ import annotations

import contextlib
import logging
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from scoligait_edge.research.evaluation.metrics import aggregate_windows, roc_auc
from scoligait_edge.research.models.screening import ScreeningLoss, ScreeningModel
from scoligait_edge.research.training.augment import augment_batch
from scoligait_edge.research.training.config import OptimConfig
from scoligait_edge.research.training.tensors import WindowTensors, to_device

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> torch.Generator:
    """Same seed, same run: python, numpy and torch RNGs, deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


@dataclass
class Predictions:
    prob: np.ndarray  # [N]
    cobb: np.ndarray  # [N]
    logit: np.ndarray  # [N]


@dataclass
class FitResult:
    best_epoch: int
    best_val_auc: float | None
    history: list[dict] = field(default_factory=list)
    train_seconds: float = 0.0
    windows_seen: int = 0

    @property
    def windows_per_second(self) -> float:
        return self.windows_seen / self.train_seconds if self.train_seconds else 0.0


def resolve_device(name: str) -> torch.device:
    """'cpu', 'cuda' or 'auto' -> a device; asking for CUDA without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("optim.device is 'cuda' but torch sees no GPU (use 'cpu' or 'auto')")
    return torch.device(name)


def autocast_context(device: torch.device, precision: str):
    """bf16/fp16 autocast on CUDA; fp32 (a no-op context) everywhere else."""
    if device.type != "cuda" or precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


@torch.no_grad()
def predict(model: ScreeningModel, data: WindowTensors, batch_size: int = 64) -> Predictions:
    """Scores of every window, on whatever device the model is on (results on the CPU, float32)."""
    model.eval()
    cfg = model.config
    device = next(model.parameters()).device
    probs, cobbs, logits = [], [], []
    for start in range(0, len(data), batch_size):
        idx = torch.arange(start, min(start + batch_size, len(data)))
        out = model(**data.batch(idx, uses_video=cfg.uses_video, uses_text=cfg.uses_text, device=device))
        probs.append(out.prob.float().cpu().numpy())
        cobbs.append(out.cobb.float().cpu().numpy())
        logits.append(out.logit.float().cpu().numpy())
    return Predictions(np.concatenate(probs), np.concatenate(cobbs), np.concatenate(logits))


def clip_auc(data: WindowTensors, pred: Predictions) -> float | None:
    """Validation AUC at the clip level (windows averaged per clip), as the paper scores."""
    clips = aggregate_windows(pred.prob, data.clip_ids, labels=data.label.numpy().astype(int))
    assert clips.labels is not None  # labels= given
    return roc_auc(clips.labels, clips.prob)


@dataclass
class TrainingParts:
    """What both training loops (``fit`` and ``distributed.fit_distributed``) build the same way."""

    loss_fn: ScreeningLoss  # on the training device
    val_loss_fn: ScreeningLoss  # on CPU predictions
    scaler: torch.amp.GradScaler
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LambdaLR
    steps_per_epoch: int
    km_std: torch.Tensor | None  # the model's map standardisation, for pose jitter
    augmenting: bool

    def prepare(self, batch: dict[str, Any], optim: OptimConfig, device: torch.device, generator: torch.Generator):
        """Augment on the CPU with the seeded generator (when the config augments), then move to ``device``."""
        if self.augmenting:
            batch = augment_batch(
                batch, km_std=self.km_std, km_noise=optim.km_noise, frame_drop=optim.frame_drop, generator=generator
            )
        return to_device(batch, device)

    def step(
        self,
        module: torch.nn.Module,
        batch: dict[str, Any],
        labels: tuple[torch.Tensor, torch.Tensor],
        optim: OptimConfig,
        device: torch.device,
        weight: float = 1.0,
    ):
        """One optimiser step (autocast forward, scaled backward, clipped gradients, scheduler); the losses.

        ``labels`` are the batch's (label, cobb); ``weight`` scales the loss (DDP: the share of the global batch).
        """
        with autocast_context(device, optim.precision):
            losses = self.loss_fn(module(**batch), labels[0].to(device), labels[1].to(device))
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(losses.total * weight).backward()
        self.scaler.unscale_(self.opt)
        torch.nn.utils.clip_grad_norm_(module.parameters(), optim.grad_clip)
        self.scaler.step(self.opt)
        self.scaler.update()
        self.sched.step()
        return losses


def make_optimizer(params: Any, optim: OptimConfig) -> torch.optim.AdamW:
    """AdamW with the fused kernel (one pass over all parameters instead of a loop of small ops: about 3 vs 17 ms
    a step for the demo model on one CPU thread); plain AdamW where a parameter's device has no fused kernel."""
    params = list(params)
    fused = all(p.dtype.is_floating_point and p.device.type in ("cpu", "cuda") for p in params)
    return torch.optim.AdamW(params, lr=optim.lr, weight_decay=optim.weight_decay, fused=fused or None)


def training_parts(
    model: ScreeningModel, params: Any, train: WindowTensors, optim: OptimConfig, device: torch.device
) -> TrainingParts:
    """Class-weighted losses, AdamW over ``params`` (the model's, or its DDP wrapper's) with linear warm-up and
    cosine decay, the fp16 grad scaler; refuses a training split without both classes."""
    n = len(train)
    n_pos = float(train.label.sum())
    if n_pos == 0 or n_pos == n:
        raise ValueError(
            f"the training split has {int(n_pos)} positive and {int(n - n_pos)} negative windows: need both"
        )
    pos_weight = (n - n_pos) / n_pos if optim.class_weighting else None
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and optim.precision == "fp16")
    opt = make_optimizer(params, optim)
    steps_per_epoch = math.ceil(n / optim.batch_size)  # with N ranks: == ceil(per-rank samples / local batch)
    total = steps_per_epoch * optim.epochs
    warmup = int(total * optim.warmup_fraction)

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(total - warmup, 1)))

    return TrainingParts(
        loss_fn=ScreeningLoss(cobb_weight=optim.cobb_weight, pos_weight=pos_weight).to(device),
        val_loss_fn=ScreeningLoss(cobb_weight=optim.cobb_weight, pos_weight=pos_weight),
        scaler=scaler,
        opt=opt,
        sched=torch.optim.lr_scheduler.LambdaLR(opt, lr_at),
        steps_per_epoch=steps_per_epoch,
        km_std=model.km_encoder.patch_embed.std.detach().cpu().clone() if model.km_encoder is not None else None,
        augmenting=optim.km_noise > 0 or optim.frame_drop > 0,
    )


def epoch_record(
    epoch: int,
    train_loss: float,
    val: WindowTensors,
    val_pred: Predictions,
    parts: TrainingParts,
    *,
    announce: bool = True,
) -> tuple[dict[str, Any], tuple[float, float]]:
    """The epoch's history row (logged when ``announce``) and its early-stopping key: validation clip AUC,
    then lower BCE."""
    auc = clip_auc(val, val_pred)
    val_loss = float(parts.val_loss_fn(_as_output(val_pred), val.label, val.cobb).bce)
    row = {
        "epoch": epoch + 1,
        "train_loss": train_loss,
        "val_bce": val_loss,
        "val_clip_auc": auc,
        "lr": parts.sched.get_last_lr()[0],
    }
    if announce:
        log.info(
            "epoch %d: train loss %.4f, val bce %.4f, val clip AUC %s",
            epoch + 1,
            train_loss,
            val_loss,
            "n/a" if auc is None else f"{auc:.3f}",
        )
    return row, (auc if auc is not None else -math.inf, -val_loss)


def fit(
    model: ScreeningModel,
    train: WindowTensors,
    val: WindowTensors,
    optim: OptimConfig,
    generator: torch.Generator,
    *,
    progress: bool = True,
) -> FitResult:
    """Train with early stopping on validation clip AUC; leaves the best weights in ``model`` (on the CPU).

    ``optim.device`` picks the device (``optim.precision``: autocast dtype on CUDA).
    """
    cfg = model.config
    device = resolve_device(optim.device)
    model.to(device)
    parts = training_parts(model, model.parameters(), train, optim, device)
    result = FitResult(best_epoch=-1, best_val_auc=None)
    best_state, best_key, stale = None, (-math.inf, -math.inf), 0
    t0 = time.perf_counter()
    for epoch in range(optim.epochs):
        model.train()
        order = torch.randperm(len(train), generator=generator)
        bar = tqdm(
            range(parts.steps_per_epoch), desc=f"epoch {epoch + 1}/{optim.epochs}", disable=not progress, leave=False
        )
        running = 0.0
        for step in bar:
            idx = order[step * optim.batch_size : (step + 1) * optim.batch_size]
            batch = parts.prepare(
                train.batch(idx, uses_video=cfg.uses_video, uses_text=cfg.uses_text), optim, device, generator
            )
            losses = parts.step(model, batch, (train.label[idx], train.cobb[idx]), optim, device)
            result.windows_seen += len(idx)
            loss_value = float(losses.total.detach())
            running = 0.9 * running + 0.1 * loss_value if step else loss_value
            bar.set_postfix(loss=f"{running:.3f}", bce=f"{float(losses.bce.detach()):.3f}")
        val_pred = predict(model, val)
        row, key = epoch_record(epoch, running, val, val_pred, parts)
        result.history.append(row)
        auc, val_loss = row["val_clip_auc"], row["val_bce"]
        if progress:
            tqdm.write(
                f"epoch {epoch + 1}: train loss {running:.4f}  val bce {val_loss:.4f}  "
                f"val clip AUC {'n/a' if auc is None else f'{auc:.3f}'}"
            )
        if key > best_key:
            best_key, stale = key, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            result.best_epoch, result.best_val_auc = epoch + 1, auc
        else:
            stale += 1
            if stale >= optim.patience:
                log.info("early stopping after epoch %d (best epoch %d)", epoch + 1, result.best_epoch)
                break
    result.train_seconds = time.perf_counter() - t0
    if best_state is not None:
        model.load_state_dict(best_state)
    model.cpu()
    return result


def _as_output(pred: Predictions):
    """Minimal stand-in for ScreeningOutput so the loss can score stored predictions."""
    from types import SimpleNamespace

    return SimpleNamespace(logit=torch.from_numpy(pred.logit), cobb=torch.from_numpy(pred.cobb))
