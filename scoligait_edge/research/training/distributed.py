"""Training under ``torchrun``: DistributedDataParallel, one process per device.

Kept apart from :mod:`scoligait_edge.research.training.loop` (the single-process loop,
unchanged) so each can change without the other. What this loop guarantees:

- **Same global batch, same result.** ``optim.batch_size`` is the *global*
  batch; each of the N ranks takes ``batch_size / N`` windows from a
  :class:`~torch.utils.data.DistributedSampler` (seeded with ``seed``,
  ``set_epoch`` every epoch). Its interleaving makes the union of the ranks'
  step-``s`` batches exactly the slice ``[s*B, (s+1)*B)`` of the epoch's
  permutation, whatever N is; each rank's loss is weighted by its share of the
  real windows of that step (the sampler's padding weighs 0), so DDP's
  gradient average is the global-batch mean gradient. N = 1 and N = 2 thus
  differ by floating-point summation order only (tests/test_distributed_training.py),
  when nothing is random inside a step: dropout and augmentation draw from
  per-rank seeds, so with them the runs agree in distribution, not in value.
- **Metrics are global.** Validation is sharded across ranks and the
  predictions gathered, so every rank computes the *same* clip AUC and BCE on
  the whole validation split; the training loss is all-reduced.
- **Decisions are taken once.** Rank 0 decides early stopping and broadcasts it.
- **Rank 0 writes.** Checkpoints (``<out>/checkpoints/last.pt``, atomic) and
  logs come from rank 0; ``resume`` continues from the last checkpoint (after a
  crash, or automatically when torchrun's ``--max-restarts`` restarts the job).

Backend: NCCL on CUDA (one GPU per rank, ``LOCAL_RANK``), gloo on CPU.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from scoligait_edge.research.data.cache import stable_hash
from scoligait_edge.research.models.screening import ScreeningModel, ScreeningModelConfig
from scoligait_edge.research.training.config import OptimConfig
from scoligait_edge.research.training.loop import (
    FitResult,
    Predictions,
    TrainingParts,
    epoch_record,
    resolve_device,
    training_parts,
)
from scoligait_edge.research.training.tensors import WindowTensors

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoints/last.pt"


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job (from torchrun's environment)."""

    rank: int
    world_size: int
    local_rank: int
    backend: str
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    """True under torchrun (or any launcher that sets RANK and WORLD_SIZE), even with one process."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init_distributed(device_name: str) -> DistContext:
    """Join the process group torchrun describes; CUDA ranks each take GPU ``LOCAL_RANK``."""
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name)
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    log.info("rank %d/%d (local %d) on %s, backend %s", rank, world, local_rank, device, backend)
    return DistContext(rank, world, local_rank, backend, device)


def shutdown(ctx: DistContext | None) -> None:
    """Wait for every rank, then leave the process group."""
    if ctx is not None and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


@contextlib.contextmanager
def main_first(ctx: DistContext | None) -> Iterator[None]:
    """Rank 0 runs the block first (e.g. fills the preprocessing cache), the others then reuse its work."""
    if ctx is not None and not ctx.is_main:
        dist.barrier()
    yield
    if ctx is not None and ctx.is_main:
        dist.barrier()


def _broadcast(obj: Any) -> Any:
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@torch.no_grad()
def predict_sharded(model: ScreeningModel, data: WindowTensors, ctx: DistContext, batch_size: int = 64) -> Predictions:
    """Every window's scores, each rank scoring every ``world_size``-th one; all ranks get all of them."""
    model.eval()
    cfg = model.config
    mine = torch.arange(ctx.rank, len(data), ctx.world_size)
    probs, cobbs, logits = [], [], []
    for start in range(0, len(mine), batch_size):
        idx = mine[start : start + batch_size]
        out = model(**data.batch(idx, uses_video=cfg.uses_video, uses_text=cfg.uses_text, device=ctx.device))
        probs.append(out.prob.float().cpu().numpy())
        cobbs.append(out.cobb.float().cpu().numpy())
        logits.append(out.logit.float().cpu().numpy())
    empty = np.zeros(0, np.float32)
    local = (mine.numpy(), *(np.concatenate(x) if x else empty for x in (probs, cobbs, logits)))
    parts: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(parts, local)
    order = np.concatenate([p[0] for p in parts])
    full = [np.empty(len(data), np.float32) for _ in range(3)]
    for k in range(3):
        full[k][order] = np.concatenate([p[k + 1] for p in parts])
    return Predictions(*full)


def config_fingerprint(*parts: Any) -> str:
    """What a checkpoint must match to be resumed (model, optimisation, data, seed; not the world size)."""
    return stable_hash([p.model_dump(mode="json") if hasattr(p, "model_dump") else p for p in parts])


def _save_atomic(state: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


@dataclass
class _RunState:
    """What a resumed run must carry over besides the weights: early stopping, progress, elapsed time."""

    best_state: dict[str, torch.Tensor] | None = None
    best_key: tuple[float, float] = (-math.inf, -math.inf)
    stale: int = 0
    start_epoch: int = 0
    done: bool = False
    seconds_before: float = 0.0


def _resume(
    checkpoint: Path | None,
    fingerprint: str,
    model: ScreeningModel,
    parts: TrainingParts,
    result: FitResult,
    ctx: DistContext,
) -> _RunState:
    """Rank 0 reads the checkpoint and broadcasts it (other nodes need not share the run folder); every rank
    restores the weights, optimiser, scheduler, scaler, history and early-stopping state from it."""
    state = None
    if checkpoint is not None and ctx.is_main and checkpoint.is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    state = _broadcast(state)
    if state is None:
        return _RunState()
    if state.get("fingerprint") != fingerprint:
        raise ValueError(f"{checkpoint} was written by another configuration; remove it or use another --out")
    model.load_state_dict(state["model"])
    parts.opt.load_state_dict(state["opt"])
    parts.sched.load_state_dict(state["sched"])
    parts.scaler.load_state_dict(state["scaler"])
    result.history, result.best_epoch, result.best_val_auc = (
        state["history"],
        state["best_epoch"],
        state["best_val_auc"],
    )
    result.windows_seen = state["windows_seen"]
    run = _RunState(
        state["best_state"],
        tuple(state["best_key"]),
        state["stale"],
        state["epoch"],
        state["done"],
        state["train_seconds"],
    )
    log.info("resumed from %s after epoch %d%s", checkpoint, run.start_epoch, " (finished)" if run.done else "")
    return run


def _train_epoch(
    ddp: torch.nn.Module,
    cfg: ScreeningModelConfig,
    train: WindowTensors,
    parts: TrainingParts,
    optim: OptimConfig,
    ctx: DistContext,
    local: torch.Tensor,
    gen: torch.Generator,
    bar: Any,
) -> torch.Tensor:
    """One epoch over this rank's share of the padded permutation ``local``; ``[sum of window losses, windows]``
    over all ranks. Padding windows repeat real ones: they are run (every rank must step) but weigh nothing."""
    world, device, n = ctx.world_size, ctx.device, len(train)
    local_b = optim.batch_size // world
    # position p of this rank's list is position rank + world * p of the padded global permutation
    real = (ctx.rank + world * torch.arange(len(local))) < n
    loss_sum = torch.zeros(2, dtype=torch.float64)
    for step in bar:
        sl = slice(step * local_b, (step + 1) * local_b)
        idx, keep = local[sl], real[sl]
        global_real = min(optim.batch_size, n - step * optim.batch_size)
        n_real = int(keep.sum())
        used = idx[keep] if n_real else idx[:1]
        batch = parts.prepare(train.batch(used, uses_video=cfg.uses_video, uses_text=cfg.uses_text), optim, device, gen)
        weight = n_real * world / global_real  # DDP averages over ranks: this makes it the global-batch mean
        losses = parts.step(ddp, batch, (train.label[used], train.cobb[used]), optim, device, weight)
        loss_sum += torch.tensor([float(losses.total.detach()) * n_real, n_real], dtype=torch.float64)
    dist.all_reduce(loss_sum)
    return loss_sum


def _checkpoint_state(
    model: ScreeningModel,
    parts: TrainingParts,
    run: _RunState,
    result: FitResult,
    epoch: int,
    fingerprint: str,
    seconds: float,
) -> dict[str, Any]:
    """Everything :func:`_resume` needs to continue after ``epoch`` exactly as if the run had not stopped."""
    return {
        "fingerprint": fingerprint,
        "epoch": epoch + 1,
        "done": run.done,
        "model": model.state_dict(),
        "opt": parts.opt.state_dict(),
        "sched": parts.sched.state_dict(),
        "scaler": parts.scaler.state_dict(),
        "best_state": run.best_state,
        "best_key": list(run.best_key),
        "stale": run.stale,
        "history": result.history,
        "best_epoch": result.best_epoch,
        "best_val_auc": result.best_val_auc,
        "windows_seen": result.windows_seen,
        "train_seconds": seconds,
    }


def fit_distributed(
    model: ScreeningModel,
    train: WindowTensors,
    val: WindowTensors,
    optim: OptimConfig,
    seed: int,
    ctx: DistContext,
    *,
    checkpoint: Path | None = None,
    fingerprint: str = "",
    resume: bool = False,
    progress: bool = True,
) -> FitResult:
    """:func:`~scoligait_edge.research.training.loop.fit` for N ranks (see the module docstring); leaves the best
    weights in ``model`` (on the CPU) on every rank. History rows: ``train_loss`` is the epoch's mean
    over all ranks' windows (the single-process loop logs a running average instead)."""
    from torch.nn.parallel import DistributedDataParallel as DDP
    from torch.utils.data import DistributedSampler

    world, device = ctx.world_size, ctx.device
    if optim.batch_size % world:
        raise ValueError(
            f"optim.batch_size={optim.batch_size} (the global batch) must be divisible by the {world} processes"
        )
    model.to(device)
    ddp = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    parts = training_parts(model, ddp.parameters(), train, optim, device)
    # the sampler only needs len(): it hands out window indices, the windows stay in WindowTensors
    indices: Any = range(len(train))  # a Dataset to the sampler's annotation; it only calls len()
    sampler: DistributedSampler[int] = DistributedSampler(
        indices, num_replicas=world, rank=ctx.rank, shuffle=True, seed=seed, drop_last=False
    )
    result = FitResult(best_epoch=-1, best_val_auc=None)
    run = _resume(checkpoint, fingerprint, model, parts, result, ctx) if resume else _RunState()
    t0 = time.perf_counter()
    for epoch in range(run.start_epoch, optim.epochs):
        if run.done:
            break
        ddp.train()
        sampler.set_epoch(epoch)
        local = torch.tensor(list(iter(sampler)), dtype=torch.long)
        # dropout and augmentation draw from per-(epoch, rank) seeds: a resumed epoch redraws them exactly
        epoch_seed = seed * 1_000_003 + epoch * 1_009 + ctx.rank
        torch.manual_seed(epoch_seed)
        gen = torch.Generator().manual_seed(epoch_seed)
        bar = tqdm(
            range(parts.steps_per_epoch),
            desc=f"epoch {epoch + 1}/{optim.epochs}",
            disable=not (progress and ctx.is_main),
            leave=False,
        )
        loss_sum = _train_epoch(ddp, model.config, train, parts, optim, ctx, local, gen, bar)
        result.windows_seen += int(loss_sum[1])
        row, key = epoch_record(
            epoch, float(loss_sum[0] / loss_sum[1]), val, predict_sharded(model, val, ctx), parts, announce=ctx.is_main
        )
        result.history.append(row)
        if _broadcast(key > run.best_key if ctx.is_main else None):  # one decision, rank 0's
            run.best_key, run.stale = key, 0
            run.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            result.best_epoch, result.best_val_auc = epoch + 1, row["val_clip_auc"]
        else:
            run.stale += 1
        run.done = _broadcast(run.stale >= optim.patience if ctx.is_main else None)
        if run.done and ctx.is_main:
            log.info("early stopping after epoch %d (best epoch %d)", epoch + 1, result.best_epoch)
        if ctx.is_main and checkpoint is not None:
            seconds = run.seconds_before + time.perf_counter() - t0
            finished = _RunState(run.best_state, run.best_key, run.stale, 0, run.done or epoch + 1 == optim.epochs)
            _save_atomic(_checkpoint_state(model, parts, finished, result, epoch, fingerprint, seconds), checkpoint)
        dist.barrier()  # nobody runs ahead of the checkpoint
    result.train_seconds = run.seconds_before + time.perf_counter() - t0  # windows/s stays right after a resume
    if run.best_state is not None:
        model.load_state_dict(run.best_state)
    model.cpu()
    return result


__all__ = [
    "CHECKPOINT_NAME",
    "DistContext",
    "config_fingerprint",
    "fit_distributed",
    "init_distributed",
    "launched_by_torchrun",
    "main_first",
    "predict_sharded",
    "shutdown",
]
