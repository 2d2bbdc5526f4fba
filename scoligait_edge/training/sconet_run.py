"""The ScoNet / ScoNet-MT baseline on the same silhouettes and the same subject-disjoint splits.

Per ANCHORS.md: training samples 30 unordered frames of a sequence, testing uses
all its ordered frames; ScoNet-MT adds a triplet loss; the "1:1:k" options set
the TRAINING mix positive:neutral:negative. Scored like our model: clip-level
probability of "positive", threshold chosen on validation.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from scoligait_edge.data.datasets import assert_subject_disjoint, ratio_split
from scoligait_edge.evaluation import BinaryMetrics, binary_metrics, choose_threshold, roc_auc
from scoligait_edge.models.sconet import SCONET_CLASSES, ScoNet, ScoNetConfig, ScoNetLoss
from scoligait_edge.training.config import Scoliosis1KData, SimulatedData, TrainConfig
from scoligait_edge.training.loop import seed_everything

log = logging.getLogger(__name__)
NEUTRAL_MIN_COBB = 5.0
"""Simulated subjects below 10 degrees but at or above this count as 'neutral' (mild asymmetry)."""


class ScoNetRunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "sconet-mt"
    seed: int = 0
    multi_task: bool = True
    ratio: str | None = Field(default="1:1:8", description="training mix positive:neutral:negative, or None for all")
    width: float = 0.25
    epochs: int = 8
    batch_size: int = 16
    frames_per_sample: int = 30
    lr: float = 1e-3
    data: Annotated[SimulatedData | Scoliosis1KData, Field(discriminator="kind")] = Field(default_factory=SimulatedData)
    cache_dir: Path | None = None


def sconet_class(cobb_deg: float) -> int:
    """Index in SCONET_CLASSES (positive, neutral, negative) from a Cobb angle."""
    if cobb_deg >= 10.0:
        return SCONET_CLASSES.index("positive")
    return SCONET_CLASSES.index("neutral" if cobb_deg >= NEUTRAL_MIN_COBB else "negative")


class _Seq:
    """One clip's silhouettes with its labels (what ratio_split and the loop need).

    The 3-class label is the dataset's own when it has one (Scoliosis1K), else from the Cobb angle.
    """

    def __init__(self, clip) -> None:
        rec = clip.record
        self.subject_id, self.clip_id, self.label = rec.subject_id, rec.clip_id, int(rec.binary_label)
        if rec.sconet_class is not None:
            self.sconet_class = int(rec.sconet_class)
        else:
            self.sconet_class = sconet_class(float(rec.cobb_deg or 0.0))
        valid = clip.silhouettes_valid if clip.silhouettes_valid is not None else np.ones(len(clip.silhouettes), bool)
        self.frames = np.asarray(clip.silhouettes)[np.asarray(valid, bool)]


def _load(cfg: ScoNetRunConfig, progress: bool) -> dict[str, list[_Seq]]:
    """Whole sequences per split from the same source (and so the same splits) as the screening model."""
    from scoligait_edge.data.datasets import SimulatedWindows
    from scoligait_edge.data.simulate import make_cohort

    d = cfg.data
    if isinstance(d, Scoliosis1KData):
        from scoligait_edge.training.pipeline import scoliosis1k_source

        source = scoliosis1k_source(d, cfg.cache_dir, progress=progress)
    else:
        cohort = make_cohort(d.n_subjects, prevalence=d.prevalence, clips_per_train_subject=d.clips_per_train_subject,
                             seed=d.seed, val_fraction=d.val_fraction, test_fraction=d.test_fraction,
                             n_frames=d.n_frames, camera_mix=d.camera_mix)
        source = SimulatedWindows(cohort, cache_root=cfg.cache_dir, progress=progress)
    source.prepare()
    out = {s: [q for q in (_Seq(c) for c in source.clips(s)) if len(q.frames) >= 8] for s in ("train", "val", "test")}
    assert_subject_disjoint(out)
    for s, seqs in out.items():
        if not seqs:
            raise ValueError(f"ScoNet: the {s} split has no sequence with >= 8 valid silhouettes")
    return out


@torch.no_grad()
def _scores(model: ScoNet, seqs: list[_Seq]) -> np.ndarray:
    """Probability of 'positive' per sequence from all its ordered frames."""
    model.eval()
    pos = SCONET_CLASSES.index("positive")
    out = [torch.softmax(model(torch.from_numpy(q.frames[None])).logits, dim=-1)[0, pos].item() for q in seqs]
    return np.asarray(out)


def sconet_run(cfg: ScoNetRunConfig, out_dir: str | Path, *, progress: bool = True) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gen = seed_everything(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    splits = _load(cfg, progress)
    train = splits["train"]
    if cfg.ratio:
        train, _ = ratio_split(train, cfg.ratio, seed=cfg.seed, n_train=len({q.subject_id for q in train}))
    model = ScoNet(ScoNetConfig(width=cfg.width))
    loss_fn = ScoNetLoss(multi_task=cfg.multi_task)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    steps = math.ceil(len(train) / cfg.batch_size)
    labels = torch.tensor([q.sconet_class for q in train])
    t0, seen = time.perf_counter(), 0
    for epoch in range(cfg.epochs):
        model.train()
        order = torch.randperm(len(train), generator=gen)
        for step in range(steps):
            idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            clips = [train[i].frames[rng.choice(len(train[i].frames), cfg.frames_per_sample,
                                                replace=len(train[i].frames) < cfg.frames_per_sample)] for i in idx]
            res = loss_fn(model(torch.from_numpy(np.stack(clips))), labels[idx])
            opt.zero_grad(set_to_none=True)
            res.total.backward()
            opt.step()
            seen += len(idx)
        log.info("sconet epoch %d/%d: loss %.4f", epoch + 1, cfg.epochs, float(res.total.detach()))
    seconds = time.perf_counter() - t0
    val_y = np.array([q.label for q in splits["val"]])
    test_y = np.array([q.label for q in splits["test"]])
    threshold = choose_threshold(val_y, _scores(model, splits["val"]), split_name="val")
    test_prob = _scores(model, splits["test"])
    metrics: BinaryMetrics = binary_metrics(test_y, test_prob, threshold.threshold)
    summary = {
        "name": cfg.name, "provenance": "simulated" if cfg.data.kind == "simulated" else "real",
        "ratio": cfg.ratio, "multi_task": cfg.multi_task,
        "train_clips": len(train), "train_mix": {c: sum(q.sconet_class == i for q in train) for i, c in enumerate(SCONET_CLASSES)},
        "threshold": threshold.threshold, "val_auc": roc_auc(val_y, _scores(model, splits["val"])),
        "train_seconds": round(seconds, 1), "train_clips_per_second": round(seen / seconds, 1),
        "test_clip_metrics": metrics.model_dump(),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float), encoding="utf-8")
    return summary


def sconet_config_from(train_cfg: TrainConfig, *, ratio: str | None, seed: int, epochs: int, width: float) -> ScoNetRunConfig:
    """The baseline on exactly the data of a screening-model config (same cohort or partition, same splits)."""
    if not isinstance(train_cfg.data, (SimulatedData, Scoliosis1KData)):
        raise ValueError(f"the ScoNet baseline runner needs silhouette sequences with 3-class labels "
                         f"(data.kind simulated or scoliosis1k), not {train_cfg.data.kind!r}")
    return ScoNetRunConfig(name=f"sconet-mt-{ratio or 'all'}", seed=seed, ratio=ratio, epochs=epochs, width=width,
                           data=train_cfg.data, cache_dir=train_cfg.cache_dir)
