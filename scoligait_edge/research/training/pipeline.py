"""A whole run: data -> text -> fit -> threshold on validation -> test report -> artefacts.

``train_run`` is what ``python -m scoligait_edge.research.train`` calls; ``evaluate_run``
re-scores a finished run (``python -m scoligait_edge.research.evaluate``). Both keep the
law of this codebase: splits by subject, threshold from validation only.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scoligait_edge import SCREENING_NOTICE
from scoligait_edge.research.data.cache import BuildSummary
from scoligait_edge.research.data.splits import assert_subject_disjoint
from scoligait_edge.research.data.windows import SplitName, WindowSample
from scoligait_edge.research.evaluation.metrics import (
    CLIP_PREDICTIONS_NAME,
    aggregate_windows,
    binary_metrics,
    clip_predictions,
    cobb_mae,
    stratified_metrics,
    write_clip_predictions,
)
from scoligait_edge.research.evaluation.plots import plot_confusion, plot_roc
from scoligait_edge.research.evaluation.report import EvaluationReport, LevelResult, SplitSizes
from scoligait_edge.research.evaluation.threshold import Criterion, choose_threshold
from scoligait_edge.research.models.io import load_checkpoint, save_checkpoint
from scoligait_edge.research.models.screening import ScreeningModel
from scoligait_edge.research.training.config import FolderData, Scoliosis1KData, SimulatedData, TrainConfig
from scoligait_edge.research.training.distributed import (
    CHECKPOINT_NAME,
    DistContext,
    config_fingerprint,
    fit_distributed,
    main_first,
)
from scoligait_edge.research.training.loop import Predictions, fit, predict, seed_everything
from scoligait_edge.research.training.tensors import WindowTensors, stack_windows

log = logging.getLogger(__name__)
SPLITS: tuple[SplitName, ...] = ("train", "val", "test")
SIMULATED_NOTICE = "Trained and evaluated on SIMULATED gait: not clinical evidence, no clinical validity."


@dataclass
class SplitWindows:
    windows: dict[str, list[WindowSample]]
    provenance: str
    clips_per_split: dict[str, int]
    build: BuildSummary | None = None
    """What preprocessing did, with every skipped clip / sequence (id -> reason) in ``failures``."""
    dataset_notes: tuple[str, ...] = ()
    """Caveats about the data that travel into summary.json (e.g. Scoliosis1K's sequence ids)."""


def load_window_splits(cfg: TrainConfig, *, progress: bool = True) -> SplitWindows:
    """Windows of train/val/test from the configured source, checked subject-disjoint."""
    from scoligait_edge.research.data.scoliosis1k import S1K_SUBJECT_NOTE
    from scoligait_edge.research.data.simulated import SimulatedWindows
    from scoligait_edge.research.data.source import WindowSource
    from scoligait_edge.research.data.videos import ScoliGaitFolder

    data = cfg.data
    notes: tuple[str, ...] = ()
    source: WindowSource
    if isinstance(data, SimulatedData):
        cohort = data.make_cohort()
        source = SimulatedWindows(cohort, cache_root=cfg.cache_dir, progress=progress, workers=data.workers)
        provenance = "simulated"
    elif isinstance(data, FolderData):
        kwargs: dict[str, Any] = {"labels": data.csv} if data.csv is not None else {}
        source = ScoliGaitFolder(data.root, cache_root=cfg.cache_dir, progress=progress, **kwargs)
        provenance = "real"
    elif isinstance(data, Scoliosis1KData):
        source = scoliosis1k_source(data, cfg.cache_dir, progress=progress)
        provenance = "real"
        notes = (S1K_SUBJECT_NOTE,)
    else:  # pragma: no cover - pydantic's discriminator prevents it
        raise TypeError(f"unknown data source {type(data).__name__}")
    summary = source.prepare()
    if summary.failed:
        log.warning("%s", summary.describe())
    w = cfg.windows
    require_quality = w.require_quality
    if isinstance(data, Scoliosis1KData) and data.pose_root is None and require_quality:
        log.warning(
            "Scoliosis1K without poses: no gait-quality verdict exists, so every window is kept "
            "(windows.require_quality ignored)"
        )
        require_quality = False
    windows: dict[str, list[WindowSample]] = {
        s: source.windows(s, length=w.length, hop=w.hop, require_quality=require_quality) for s in SPLITS
    }
    assert_subject_disjoint({s: windows[s] for s in SPLITS})
    for s in SPLITS:
        if not windows[s]:
            raise ValueError(f"the {s} split has no usable windows: more subjects or longer clips are needed")
    return SplitWindows(windows, provenance, {s: len(source.clips(s)) for s in SPLITS}, summary, notes)


def scoliosis1k_source(data: Scoliosis1KData, cache_dir: Path | None, *, progress: bool = True):
    """The :class:`~scoligait_edge.research.data.Scoliosis1K` a config describes (train/val/test by sequence id:
    test = the partition's TEST_SET, val carved from its TRAIN_SET)."""
    from scoligait_edge.research.data.scoliosis1k import Scoliosis1K

    return Scoliosis1K(
        data.root,
        split_file=data.partition,
        pose_root=data.pose_root,
        fps=data.fps,
        val_fraction=data.val_fraction,
        seed=data.seed,
        cache_root=cache_dir,
        progress=progress,
        workers=data.workers,
    )


def provenance_record(data: str) -> dict[str, str]:
    """What a checkpoint (and the bundle made from it) says about its training data."""
    if data == "simulated":
        from scoligait_edge.bundle.manifest import SIMULATED_PROVENANCE

        return dict(SIMULATED_PROVENANCE)
    return {"data": data, "notice": "trained on user-supplied data; validate before any clinical use"}


def _subsample(windows: list[WindowSample], limit: int | None, seed: int) -> list[WindowSample]:
    if limit is None or len(windows) <= limit:
        return windows
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(windows), size=limit, replace=False))
    return [windows[i] for i in keep]


def text_inputs(windows: list[WindowSample], reference, max_sentences: int) -> tuple[np.ndarray, np.ndarray]:
    """Each window's own clinical description, embedded by table lookup (no text model at run time)."""
    from scoligait_edge.text.describe import describe_batch
    from scoligait_edge.text.embeddings import default_embedding_table

    km = np.stack([w.km for w in windows])
    valid = np.stack([w.km_valid for w in windows])
    ids, mask = describe_batch(km, valid, reference, max_sentences=max_sentences)
    return default_embedding_table().lookup(ids, mask), mask


def fit_text_reference(train: list[WindowSample], provenance: str):
    """Reference statistics from TRAINING windows only (labels are used here and nowhere else in text)."""
    from scoligait_edge.text.reference import fit_reference

    return fit_reference(
        np.stack([w.km for w in train]),
        np.stack([w.km_valid for w in train]),
        np.array([w.label for w in train]),
        provenance=provenance,
    )


def fit_window_input_reference(train: list[WindowSample], source: str):
    """The out-of-distribution reference (:mod:`scoligait_edge.bundle.input_reference`) from TRAINING windows;
    the exporter ships it in the bundle so each screened window can say when its input is unlike these."""
    from scoligait_edge.bundle.input_reference import fit_input_reference

    return fit_input_reference(np.stack([w.km for w in train]), np.stack([w.km_valid for w in train]), source=source)


def to_tensors(windows: list[WindowSample], model_cfg, reference, max_sentences: int) -> WindowTensors:
    text = mask = None
    if model_cfg.uses_text:
        text, mask = text_inputs(windows, reference, max_sentences)
    return stack_windows(
        windows, text=text, text_mask=mask, with_video=model_cfg.uses_video, window_frames=model_cfg.window_frames
    )


def km_normalisation(train: WindowTensors) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature mean/std over the valid rows of the training windows."""
    rows = train.km[train.km_mask]
    return rows.mean(dim=0), rows.std(dim=0).clamp(min=1e-3)


def validation_threshold(model: ScreeningModel, val: WindowTensors, criterion: Criterion):
    """The decision threshold, from validation clips only (windows averaged per clip)."""
    pred = predict(model, val)
    clips = aggregate_windows(pred.prob, val.clip_ids, labels=val.label.numpy().astype(int))
    assert clips.labels is not None  # labels= given
    return choose_threshold(clips.labels, clips.prob, criterion=criterion, split_name="val")


def train_run(
    cfg: TrainConfig,
    out_dir: str | Path,
    *,
    progress: bool = True,
    dist: DistContext | None = None,
    resume: bool = False,
) -> dict:
    """Train, choose the threshold on validation, evaluate on test, write everything to ``out_dir``.

    ``dist`` (under torchrun): every rank trains (:mod:`~scoligait_edge.research.training.distributed`), rank 0
    alone writes files and evaluates; the other ranks return ``{}`` after training. ``resume``
    continues from ``<out_dir>/checkpoints/last.pt`` (distributed runs only)."""
    out = Path(out_dir)
    main = dist is None or dist.is_main
    if main:
        out.mkdir(parents=True, exist_ok=True)
    if cfg.optim.threads:
        torch.set_num_threads(cfg.optim.threads)
    if main:
        (out / "train_config.json").write_text(cfg.model_dump_json(indent=2), encoding="utf-8")
    gen = seed_everything(cfg.seed)
    t_data = time.perf_counter()
    with main_first(dist):  # rank 0 fills the preprocessing cache, the others load it
        splits = load_window_splits(cfg, progress=progress and main)
    train_windows = _subsample(splits.windows["train"], cfg.optim.max_train_windows, cfg.seed)
    reference = fit_text_reference(train_windows, splits.provenance) if cfg.model.uses_text else None
    if reference is not None and main:
        reference.save(out / "reference_stats.json")
    from scoligait_edge.bundle.input_reference import INPUT_REFERENCE_NAME

    input_ref = fit_window_input_reference(
        train_windows, f"{cfg.name}: {len(train_windows)} training windows ({splits.provenance})"
    )
    if main:
        (out / INPUT_REFERENCE_NAME).write_text(input_ref.model_dump_json(indent=1) + "\n", encoding="utf-8")
    tensors = {
        "train": to_tensors(train_windows, cfg.model, reference, cfg.max_text_sentences),
        "val": to_tensors(splits.windows["val"], cfg.model, reference, cfg.max_text_sentences),
    }
    data_seconds = time.perf_counter() - t_data

    model = ScreeningModel(cfg.model)
    if cfg.model.uses_km:
        assert model.km_encoder is not None  # uses_km
        model.km_encoder.patch_embed.set_normalization(*km_normalisation(tensors["train"]))
    if dist is None:
        result = fit(model, tensors["train"], tensors["val"], cfg.optim, gen, progress=progress)
    else:
        result = fit_distributed(
            model,
            tensors["train"],
            tensors["val"],
            cfg.optim,
            cfg.seed,
            dist,
            checkpoint=out / CHECKPOINT_NAME,
            resume=resume,
            progress=progress,
            fingerprint=config_fingerprint(cfg.model, cfg.optim, cfg.data, cfg.windows, cfg.seed),
        )
        if not dist.is_main:
            return {}

    threshold = validation_threshold(model, tensors["val"], cfg.optim.threshold_criterion)
    extra = {
        "threshold": threshold.threshold,
        "threshold_source": f"validation split, {threshold.criterion}, clip level (n = {threshold.n})",
        "threshold_choice": threshold.model_dump(),
        "provenance": provenance_record(splits.provenance),
        "train_config": cfg.model_dump(mode="json"),
    }
    save_checkpoint(model, out / "model", extra=extra)

    report = evaluate_model(model, splits, reference, threshold, cfg, out / "evaluation", split="test")
    summary = {
        "name": cfg.name,
        "provenance": splits.provenance,
        "notice": SCREENING_NOTICE,
        "data_warning": SIMULATED_NOTICE if splits.provenance == "simulated" else None,
        "windows": {s: len(splits.windows[s]) for s in SPLITS} | {"train_used": len(train_windows)},
        "clips": splits.clips_per_split,
        "data_build": None if splits.build is None else splits.build.model_dump(),
        "data_notes": list(splits.dataset_notes),
        "parameters": sum(p.numel() for p in model.parameters()),
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "val_clip_auc": result.best_val_auc,
        "threshold": threshold.threshold,
        "data_seconds": round(data_seconds, 1),
        "train_seconds": round(result.train_seconds, 1),
        "train_windows_per_second": round(result.windows_per_second, 1),
        "world_size": 1 if dist is None else dist.world_size,
        "test_clip_metrics": report.levels["clip"].metrics.model_dump(),
        "history": result.history,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float), encoding="utf-8")
    return summary


def evaluate_model(
    model: ScreeningModel,
    splits: SplitWindows,
    reference,
    threshold,
    cfg: TrainConfig,
    out_dir: Path,
    *,
    split: str = "test",
) -> EvaluationReport:
    """Score ``split`` at a threshold that came from validation and write the report + figures."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = to_tensors(splits.windows[split], cfg.model, reference, cfg.max_text_sentences)
    pred: Predictions = predict(model, data)
    labels = data.label.numpy().astype(int)
    sexes = np.array([s or "unknown" for s in data.sexes])
    cobb = data.cobb.numpy()
    known = np.isfinite(cobb)  # Scoliosis1K publishes no Cobb angles: no Cobb error where none is known
    all_known = bool(known.all())
    clips = aggregate_windows(
        pred.prob,
        data.clip_ids,
        labels=labels,
        groups=sexes,
        cobb_true=cobb if all_known else None,
        cobb_pred=pred.cobb if all_known else None,
    )
    assert clips.labels is not None and clips.groups is not None  # labels= and groups= given
    thr = threshold.threshold
    clip_level = LevelResult(
        metrics=binary_metrics(clips.labels, clips.prob, thr),
        stratified=stratified_metrics(clips.labels, clips.prob, thr, clips.groups, expected_groups=("F", "M")),
        cobb_mae_deg=(
            cobb_mae(clips.cobb_true, clips.cobb_pred)
            if clips.cobb_true is not None and clips.cobb_pred is not None
            else None
        ),
    )
    window_level = LevelResult(
        metrics=binary_metrics(labels, pred.prob, thr),
        cobb_mae_deg=cobb_mae(cobb[known], pred.cobb[known]) if known.any() else None,
    )
    figures = {
        "confusion": str(
            plot_confusion(clip_level.metrics, out_dir / "confusion.png", title=f"{cfg.name}: {split} clips")
        ),
        "roc": str(
            plot_roc(clips.labels, clips.prob, out_dir / "roc.png", title=f"{cfg.name}: {split} clips", threshold=thr)
        ),
    }
    notes = list(splits.dataset_notes)
    if cfg.model.uses_km:
        notes += explain_top_windows(model, data, pred, out_dir, figures)
    sizes = {}
    for s in SPLITS:
        ws = splits.windows[s]
        subj = {w.subject_id: w.label for w in ws}
        sizes[s] = SplitSizes(
            subjects=len(subj),
            clips=len({w.clip_id for w in ws}),
            windows=len(ws),
            positives=int(sum(subj.values())),
            positive_clips=len({w.clip_id for w in ws if w.label}),
        )
    report = EvaluationReport(
        model_name=cfg.name,
        config_summary={
            "modalities": cfg.model.modalities,
            "fusion": cfg.model.fusion,
            "rope": cfg.model.rope,
            "depth": cfg.model.depth,
            "dim": cfg.model.dim,
            "seed": cfg.seed,
        },
        provenance=splits.provenance,
        evaluated_split=split,
        splits=sizes,
        threshold=threshold,
        levels={"clip": clip_level, "window": window_level},
        figures=figures,
        notes=notes,
    )
    report.to_json(out_dir / "report.json")
    report.to_markdown(out_dir / "report.md")
    subject_of = dict(zip(data.clip_ids, data.subject_ids, strict=True))
    write_clip_predictions(
        out_dir / CLIP_PREDICTIONS_NAME.replace("test", split, 1),
        clip_predictions(list(clips.clip_ids), [subject_of[c] for c in clips.clip_ids], clips.labels, clips.prob),
        split=split,
        model=cfg.name,
        provenance=splits.provenance,
        threshold=thr,
        prob="mean window probability of Cobb >= 10 degrees",
    )
    return report


@torch.no_grad()
def explain_top_windows(
    model: ScreeningModel, data: WindowTensors, pred: Predictions, out_dir: Path, figures: dict[str, str], *, n: int = 2
) -> list[str]:
    """Interpretation of the windows the model is most sure should be referred: the
    evidence remapped onto the knowledge map, the top feature per domain, boxed."""
    from scoligait_edge.interpret import top_features
    from scoligait_edge.viz.attention import plot_attention_on_map

    model.eval()
    order = np.argsort(-pred.prob)[:n]
    idx = torch.as_tensor(order.copy())
    out = model(**data.batch(idx, uses_video=model.config.uses_video, uses_text=model.config.uses_text))
    notes = []
    for k, i in enumerate(order):
        km, valid = data.km[i].numpy(), data.km_mask[i].numpy()
        attention = out.km_attention_map[k].float().numpy()
        salient = top_features(attention, valid, window_start_frame=data.starts[i])
        path = plot_attention_on_map(
            km,
            attention,
            valid,
            out_dir / f"interpretation_{k + 1}.png",
            salient=salient,
            window_start_frame=data.starts[i],
            title=f"clip {data.clip_ids[i]} from frame {data.starts[i]}: p = {pred.prob[i]:.2f}",
        )
        figures[f"interpretation_{k + 1}"] = str(path)
        notes.append(
            f"Window {k + 1} (clip {data.clip_ids[i]}, p = {pred.prob[i]:.2f}): "
            + "; ".join(f.describe() for f in salient)
        )
    return notes


def evaluate_run(
    run_dir: str | Path, out_dir: str | Path | None = None, *, split: str = "test", progress: bool = True
) -> EvaluationReport:
    """Re-score a finished run: same data (from its config), threshold re-derived from validation."""
    from scoligait_edge.text.reference import ReferenceStats

    run = Path(run_dir)
    cfg = TrainConfig.model_validate_json((run / "train_config.json").read_text(encoding="utf-8"))
    model = load_checkpoint(run / "model", expected_config=cfg.model)
    assert isinstance(model, ScreeningModel)  # expected_config is a ScreeningModelConfig
    splits = load_window_splits(cfg, progress=progress)
    reference = ReferenceStats.load(run / "reference_stats.json") if cfg.model.uses_text else None
    val = to_tensors(splits.windows["val"], cfg.model, reference, cfg.max_text_sentences)
    threshold = validation_threshold(model, val, cfg.optim.threshold_criterion)
    return evaluate_model(model, splits, reference, threshold, cfg, Path(out_dir or run / "evaluation"), split=split)
