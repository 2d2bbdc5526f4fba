"""The ScoNet / ScoNet-MT baseline on the same silhouettes and the same subject-disjoint splits.

Per ANCHORS.md: training samples 30 unordered frames of a sequence, testing uses
all its ordered frames; ScoNet-MT adds a triplet loss; the "1:1:k" options set
the TRAINING mix positive:neutral:negative. Reported as the paper ran it: a clip
is positive when "positive" is the argmax of its three class scores (no threshold
tuning); the Youden threshold on the validation clips' probability of "positive"
is kept as a second set of metrics (``test_clip_metrics_youden``). The AUC (from
the probability of "positive") is the same for both.

Each mix keeps the ratio exactly by subsampling every class of the training
split (:func:`~scoligait_edge.research.data.ratio_split`, sized to all training
subjects and shrunk to what the scarcest class allows, usually the negatives for
1:1:16); a mix left with fewer than ``min_train_positives`` positive training
subjects is refused with the numbers, since its decision rule would be noise.
``train_positives`` instead fixes the positive (and so the neutral) subjects of
every mix and adds negatives by the ratio, as Scoliosis1K's 1:1:2 ... 1:1:16
partitions do (same positives and neutrals, more negatives), which also keeps
the runs' cost bounded.

Training follows OpenGait's ScoNet-MT (``configs/sconet/sconet_scoliosis1k.yaml`` and its
softmax loss; facts, our own code): SGD, learning rate 0.1, momentum 0.9, weight decay 5e-4;
the learning rate divided by 10 at 10k, 14k and 18k of 20k iterations (``milestones`` are
fractions of ``iterations``: 0.5 / 0.7 / 0.9); P x K = 8 x 8 batches (P identities drawn
uniformly, K sequences of each, drawn with replacement when it has fewer, as OpenGait's triplet
sampler does); 30 unordered frames a sequence; cross-entropy at scale 16 with label smoothing
0.1 and triplet margin 0.2 on identities (:mod:`~scoligait_edge.research.models.sconet`).
An identity is a subject here (a Scoliosis1K sequence id, which is all that data set has).
Every setting is in :class:`ScoNetRunConfig` and in each run's summary.json, so a reduced run
(width, iterations, positives) says how it departs from OpenGait's.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from scoligait_edge.research.data.splits import assert_subject_disjoint, ratio_split
from scoligait_edge.research.evaluation.metrics import (
    CLIP_PREDICTIONS_NAME,
    BinaryMetrics,
    binary_metrics,
    clip_predictions,
    roc_auc,
    write_clip_predictions,
)
from scoligait_edge.research.evaluation.threshold import choose_threshold
from scoligait_edge.research.models.sconet import SCONET_CLASSES, ScoNet, ScoNetConfig, ScoNetLoss
from scoligait_edge.research.training.config import Scoliosis1KData, SimulatedData, TrainConfig
from scoligait_edge.research.training.loop import seed_everything

log = logging.getLogger(__name__)
NEUTRAL_MIN_COBB = 5.0
"""Simulated subjects below 10 degrees but at or above this count as 'neutral' (mild asymmetry)."""


OPENGAIT_ITERATIONS = 20000
OPENGAIT_SCONET_MT: dict[str, object] = {
    "width": 1.0,
    "iterations": OPENGAIT_ITERATIONS,
    "milestones": (0.5, 0.7, 0.9),
    "lr": 0.1,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "p": 8,
    "k": 8,
    "frames_per_sample": 30,
    "logit_scale": 16.0,
    "label_smoothing": 0.1,
    "margin": 0.2,
    "triplet_on": "identity",
}
"""OpenGait's ScoNet-MT settings (configs/sconet/sconet_scoliosis1k.yaml); :func:`departures` compares a run with them."""


class ScoNetRunConfig(BaseModel):
    """One ScoNet-MT run. Defaults are OpenGait's (:data:`OPENGAIT_SCONET_MT`): on a CPU, reduce
    ``width`` and ``iterations`` (``epochs`` sets iterations from the training size instead)."""

    model_config = ConfigDict(extra="forbid")
    name: str = "sconet-mt"
    seed: int = 0
    multi_task: bool = True
    ratio: str | None = Field(default="1:1:8", description="training mix positive:neutral:negative, or None for all")
    width: float = Field(default=1.0, gt=0, description="channel multiplier (OpenGait: 1.0 = 64/128/256/512)")
    iterations: int = Field(default=20000, ge=1, description="SGD steps (OpenGait: 20000)")
    epochs: float | None = Field(
        default=None, gt=0, description="if set: iterations = epochs x ceil(training sequences / (p x k))"
    )
    milestones: tuple[float, ...] = Field(
        default=(0.5, 0.7, 0.9), description="learning rate x gamma at these fractions of iterations (10k/14k/18k)"
    )
    gamma: float = Field(default=0.1, gt=0, le=1)
    lr: float = Field(default=0.1, gt=0)
    momentum: float = Field(default=0.9, ge=0, lt=1)
    weight_decay: float = Field(default=5e-4, ge=0)
    p: int = Field(default=8, ge=2, description="identities per batch")
    k: int = Field(default=8, ge=1, description="sequences per identity per batch")
    frames_per_sample: int = 30
    logit_scale: float = Field(default=16.0, gt=0)
    label_smoothing: float = Field(default=0.1, ge=0, lt=1)
    margin: float = Field(default=0.2, ge=0)
    min_train_positives: int = Field(default=10, ge=1, description="refuse a mix with fewer positive training subjects")
    train_positives: int | None = Field(
        default=None,
        ge=1,
        description="positive training subjects in every mix (negatives follow the ratio); "
        "None: as many as the training split allows",
    )
    device: str | None = Field(default=None, description="'cuda', 'cpu', ...; None: CUDA when present")
    data: Annotated[SimulatedData | Scoliosis1KData, Field(discriminator="kind")] = Field(default_factory=SimulatedData)
    cache_dir: Path | None = None

    def total_iterations(self, n_train: int) -> int:
        """``iterations``, or ``epochs`` passes over ``n_train`` sequences in P x K batches."""
        if self.epochs is None:
            return self.iterations
        return max(1, math.ceil(self.epochs * math.ceil(n_train / (self.p * self.k))))


def departures(cfg: ScoNetRunConfig, iterations: int | None = None) -> dict[str, tuple[object, object]]:
    """Settings of ``cfg`` that differ from OpenGait's ScoNet-MT: name -> (ours, OpenGait's)."""
    ours = {
        "width": cfg.width,
        "iterations": cfg.iterations if iterations is None else iterations,
        "milestones": tuple(cfg.milestones),
        "lr": cfg.lr,
        "momentum": cfg.momentum,
        "weight_decay": cfg.weight_decay,
        "p": cfg.p,
        "k": cfg.k,
        "frames_per_sample": cfg.frames_per_sample,
        "logit_scale": cfg.logit_scale,
        "label_smoothing": cfg.label_smoothing,
        "margin": cfg.margin,
        "triplet_on": "identity" if cfg.multi_task else "none (ScoNet)",
    }
    return {k: (v, OPENGAIT_SCONET_MT[k]) for k, v in ours.items() if v != OPENGAIT_SCONET_MT[k]}


def pk_batches(ids: list[str], p: int, k: int, rng: np.random.Generator):
    """OpenGait's triplet sampler, endless: P identities uniformly without replacement, K indices of each
    (without replacement when it has K, else with), as one flat list of P x K indices."""
    members: dict[str, list[int]] = {}
    for i, who in enumerate(ids):
        members.setdefault(who, []).append(i)
    names = sorted(members)
    if len(names) < 2:
        raise ValueError(f"P x K sampling needs at least 2 identities, got {len(names)}")
    p = min(p, len(names))
    while True:
        batch: list[int] = []
        for j in rng.choice(len(names), p, replace=False):
            m = members[names[j]]
            batch += [m[x] for x in rng.choice(len(m), k, replace=len(m) < k)]
        yield batch


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
    from scoligait_edge.research.data.simulated import SimulatedWindows

    d = cfg.data
    if isinstance(d, Scoliosis1KData):
        from scoligait_edge.research.training.pipeline import scoliosis1k_source

        source = scoliosis1k_source(d, cfg.cache_dir, progress=progress)
    else:
        cohort = d.make_cohort()
        source = SimulatedWindows(cohort, cache_root=cfg.cache_dir, progress=progress)
    source.prepare()
    out = {s: [q for q in (_Seq(c) for c in source.clips(s)) if len(q.frames) >= 8] for s in ("train", "val", "test")}
    assert_subject_disjoint(out)
    for s, seqs in out.items():
        if not seqs:
            raise ValueError(f"ScoNet: the {s} split has no sequence with >= 8 valid silhouettes")
    return out


@torch.no_grad()
def _class_probs(model: ScoNet, seqs: list[_Seq]) -> np.ndarray:
    """Softmax over SCONET_CLASSES per sequence from all its ordered frames, ``[N, 3]``."""
    model.eval()
    dev = next(model.parameters()).device
    return np.stack(
        [torch.softmax(model(torch.from_numpy(q.frames[None]).to(dev)).logits, dim=-1)[0].cpu().numpy() for q in seqs]
    )


def _scores(model: ScoNet, seqs: list[_Seq]) -> np.ndarray:
    """Probability of 'positive' per sequence from all its ordered frames."""
    return _class_probs(model, seqs)[:, SCONET_CLASSES.index("positive")].astype(np.float64)


def argmax_metrics(y: np.ndarray, class_probs: np.ndarray) -> BinaryMetrics:
    """Binary metrics of the paper's decision (positive when 'positive' is the top class); AUC from P(positive)."""
    pos = SCONET_CLASSES.index("positive")
    decided = (class_probs.argmax(axis=1) == pos).astype(np.float64)
    m = binary_metrics(y, decided, 0.5)
    return m.model_copy(
        update={
            "auc": roc_auc(y, class_probs[:, pos].astype(np.float64)),
            "notes": [*m.notes, "decision: argmax of the 3 class scores (no threshold); AUC from P(positive)"],
        }
    )


def check_mix(train: list[_Seq], ratio: str | None, minimum: int, available: dict[str, int]) -> None:
    """Refuse a training mix with fewer than ``minimum`` positive subjects."""
    pos = len({q.subject_id for q in train if q.sconet_class == SCONET_CLASSES.index("positive")})
    if pos < minimum:
        have = ", ".join(f"{n} {c}" for c, n in available.items())
        raise ValueError(
            f"ScoNet-MT mix {ratio or 'all'}: only {pos} positive training subjects after subsampling "
            f"(need >= {minimum}); the training split has {have} subjects, and the mix shrinks every class to "
            f"what the scarcest one allows. Use a cohort with more negative subjects (data.n_subjects, "
            f"data.prevalence) or fewer mixes (--sconet-ratios)."
        )


def _mix_size(cfg: ScoNetRunConfig, train: list) -> int:
    """Training subjects of a mix: all the split allows, or ``train_positives`` x (sum of the ratio's parts)."""
    n_all = len({q.subject_id for q in train})
    if cfg.train_positives is None or not cfg.ratio:
        return n_all
    parts = [float(x) for x in cfg.ratio.split(":")]
    return min(n_all, int(round(cfg.train_positives * sum(parts) / parts[0])))


def check_mixes(cfgs: list[ScoNetRunConfig], *, progress: bool = False) -> None:
    """Fail fast (before any training) when a mix would have too few positive training subjects."""
    loaded: dict[str, list] = {}  # one load per data source, not per mix and seed
    for cfg in cfgs:
        key = cfg.data.model_dump_json() + str(cfg.cache_dir)
        if key not in loaded:
            loaded[key] = _load(cfg, progress)["train"]
        train = loaded[key]
        available = {c: len({q.subject_id for q in train if q.sconet_class == i}) for i, c in enumerate(SCONET_CLASSES)}
        if cfg.ratio:
            train, _ = ratio_split(train, cfg.ratio, seed=cfg.seed, n_train=_mix_size(cfg, train))
        check_mix(train, cfg.ratio, cfg.min_train_positives, available)


def sconet_run(cfg: ScoNetRunConfig, out_dir: str | Path, *, progress: bool = True) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    splits = _load(cfg, progress)
    train = splits["train"]
    available = {c: len({q.subject_id for q in train if q.sconet_class == i}) for i, c in enumerate(SCONET_CLASSES)}
    if cfg.ratio:
        train, _ = ratio_split(train, cfg.ratio, seed=cfg.seed, n_train=_mix_size(cfg, train))
    check_mix(train, cfg.ratio, cfg.min_train_positives, available)
    device = torch.device(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = ScoNet(ScoNetConfig(width=cfg.width, logit_scale=cfg.logit_scale)).to(device)
    loss_fn = ScoNetLoss(multi_task=cfg.multi_task, margin=cfg.margin, label_smoothing=cfg.label_smoothing)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    n_iter = cfg.total_iterations(len(train))
    sched = torch.optim.lr_scheduler.MultiStepLR(
        opt, milestones=sorted({max(1, round(f * n_iter)) for f in cfg.milestones}), gamma=cfg.gamma
    )
    labels = torch.tensor([q.sconet_class for q in train])
    ids_of = {who: i for i, who in enumerate(sorted({q.subject_id for q in train}))}
    ids = torch.tensor([ids_of[q.subject_id] for q in train])
    batches = pk_batches([q.subject_id for q in train], cfg.p, cfg.k, rng)
    t0, seen = time.perf_counter(), 0
    model.train()
    every = max(1, n_iter // 20)
    for it in range(n_iter):
        idx = torch.tensor(next(batches))
        clips = [
            train[i].frames[
                rng.choice(
                    len(train[i].frames),
                    cfg.frames_per_sample,
                    replace=len(train[i].frames) < cfg.frames_per_sample,
                )
            ]
            for i in idx.tolist()
        ]
        res = loss_fn(model(torch.from_numpy(np.stack(clips)).to(device)), labels[idx].to(device), ids[idx].to(device))
        opt.zero_grad(set_to_none=True)
        res.total.backward()
        opt.step()
        sched.step()
        seen += len(idx)
        if (it + 1) % every == 0 or it + 1 == n_iter:
            log.info(
                "sconet iteration %d/%d: loss %.4f (ce %.4f, triplet %.4f), lr %.4g",
                it + 1,
                n_iter,
                float(res.total.detach()),
                float(res.ce.detach()),
                float(res.triplet.detach()),
                sched.get_last_lr()[0],
            )
    seconds = time.perf_counter() - t0
    val_y = np.array([q.label for q in splits["val"]])
    test_y = np.array([q.label for q in splits["test"]])
    val_prob = _scores(model, splits["val"])
    threshold = choose_threshold(val_y, val_prob, split_name="val")
    test_classes = _class_probs(model, splits["test"])
    test_prob = test_classes[:, SCONET_CLASSES.index("positive")].astype(np.float64)
    metrics: BinaryMetrics = argmax_metrics(test_y, test_classes)
    youden: BinaryMetrics = binary_metrics(test_y, test_prob, threshold.threshold)
    provenance = "simulated" if cfg.data.kind == "simulated" else "real"
    write_clip_predictions(
        out / CLIP_PREDICTIONS_NAME,
        clip_predictions(
            [q.clip_id for q in splits["test"]], [q.subject_id for q in splits["test"]], test_y, test_prob
        ),
        split="test",
        model=cfg.name,
        provenance=provenance,
        threshold=threshold.threshold,
        prob="softmax probability of 'positive' from all ordered frames",
        decision="argmax of the 3 class scores",
        argmax_positive=[bool(c.argmax() == SCONET_CLASSES.index("positive")) for c in test_classes],
    )
    summary = {
        "name": cfg.name,
        "provenance": provenance,
        "ratio": cfg.ratio,
        "multi_task": cfg.multi_task,
        "train_available_subjects": available,
        "train_clips": len(train),
        "train_mix": {c: sum(q.sconet_class == i for q in train) for i, c in enumerate(SCONET_CLASSES)},
        "threshold": threshold.threshold,
        "val_auc": roc_auc(val_y, val_prob),
        "iterations": n_iter,
        "settings": cfg.model_dump(mode="json", exclude={"data", "cache_dir", "device"}),
        "device": str(device),
        "departures_from_opengait": {k: {"ours": a, "opengait": b} for k, (a, b) in departures(cfg, n_iter).items()},
        "train_seconds": round(seconds, 1),
        "train_clips_per_second": round(seen / seconds, 1),
        "decision": "argmax of the 3 class scores (as the paper); test_clip_metrics_youden: Youden threshold from val",
        "test_clip_metrics": metrics.model_dump(),
        "test_clip_metrics_youden": youden.model_dump(),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float), encoding="utf-8")
    return summary


def sconet_config_from(
    train_cfg: TrainConfig,
    *,
    ratio: str | None,
    seed: int,
    epochs: float | None = None,
    width: float = 1.0,
    min_train_positives: int = 10,
    train_positives: int | None = None,
    iterations: int | None = None,
) -> ScoNetRunConfig:
    """The baseline on exactly the data of a screening-model config (same cohort or partition, same splits)."""
    if not isinstance(train_cfg.data, (SimulatedData, Scoliosis1KData)):
        raise ValueError(
            f"the ScoNet baseline runner needs silhouette sequences with 3-class labels "
            f"(data.kind simulated or scoliosis1k), not {train_cfg.data.kind!r}"
        )
    return ScoNetRunConfig(
        name=f"sconet-mt-{ratio or 'all'}",
        seed=seed,
        ratio=ratio,
        epochs=epochs,
        iterations=OPENGAIT_ITERATIONS if iterations is None else iterations,
        width=width,
        min_train_positives=min_train_positives,
        train_positives=train_positives,
        data=train_cfg.data,
        cache_dir=train_cfg.cache_dir,
    )
