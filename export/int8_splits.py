"""int8 against fp32 on the training run's own validation and test windows, and the threshold re-checked.

:func:`~scoligait_edge.export.int8.int8_parity` compares the two graphs on a
few simulated windows. Before an int8 model replaces the fp32 one, a deployer
also wants to know: do the labels agree on the windows the model
was validated and tested on, and would the decision threshold chosen on
validation move if it were chosen from the int8 model's own probabilities?
This module answers both from the run that trained the bundle's model::

    python -m scoligait_edge.export.int8_splits --bundle DIR --config CONFIG --run RUN_DIR [--json OUT]

``RUN_DIR`` is the training output (its ``reference_stats.json`` turns map
statistics into the same text inputs as in training). The threshold is
re-chosen on validation only, with the config's criterion; test windows are
only scored.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel


class SplitAgreement(BaseModel):
    """fp32 vs int8 on one split, at the bundle's threshold."""

    split: str
    windows: int
    clips: int
    max_abs_prob: float
    window_label_agreement: float
    clip_label_agreement: float
    clip_auc_fp32: float | None
    clip_auc_int8: float | None


class Int8SplitCheck(BaseModel):
    """What :func:`int8_split_check` found; ``threshold_*`` are chosen on validation clips."""

    bundle_threshold: float
    criterion: str
    threshold_fp32: float
    threshold_int8: float
    test_clip_label_agreement_at_own_thresholds: float
    """Each model at the threshold chosen from its own validation probabilities."""
    splits: list[SplitAgreement]
    provenance: str


def _chunks(n: int, size: int) -> Iterator[np.ndarray]:
    for i in range(0, n, size):
        yield np.arange(i, min(i + size, n))


def _probabilities(backends: dict[str, Any], tensors: Any, cfg: Any, batch_size: int) -> dict[str, np.ndarray]:
    """Window probabilities of each backend; inputs made once per batch by the training path (uint8 video)."""
    out: dict[str, list[np.ndarray]] = {name: [] for name in backends}
    for idx in _chunks(len(tensors), batch_size):
        feeds = {
            k: v.numpy() for k, v in tensors.batch(idx, uses_video=cfg.uses_video, uses_text=cfg.uses_text).items()
        }
        for name, backend in backends.items():
            out[name].append(np.asarray(backend.infer(feeds)["prob"], dtype=np.float64))
    return {name: np.concatenate(parts) for name, parts in out.items()}


def int8_split_check(bundle: Any, config: Any, run_dir: str | Path, *, batch_size: int = 32) -> Int8SplitCheck:
    """Score the validation and test windows of ``config``'s cohort with the bundle's fp32 and int8 graphs.

    ``bundle``: a :class:`~scoligait_edge.bundle.load.Bundle` or its folder, with ``onnx`` and ``onnx-int8``;
    ``config``: the :class:`~scoligait_edge.research.training.config.TrainConfig` (or its file) that trained it.
    """
    from scoligait_edge.bundle.load import Bundle, load_bundle
    from scoligait_edge.bundle.model_config import ScreeningModelConfig
    from scoligait_edge.research.evaluation.metrics import aggregate_windows, roc_auc
    from scoligait_edge.research.evaluation.threshold import choose_threshold
    from scoligait_edge.research.training.config import TrainConfig, load_config
    from scoligait_edge.research.training.pipeline import load_window_splits, to_tensors
    from scoligait_edge.runtimes.onnxruntime_backend import OnnxRuntimeBackend
    from scoligait_edge.text.reference import ReferenceStats

    if not isinstance(bundle, Bundle):
        bundle = load_bundle(bundle, allow_unsigned=True)
    cfg = config if isinstance(config, TrainConfig) else load_config(config, TrainConfig)
    model_cfg = ScreeningModelConfig.model_validate(bundle.manifest.model)
    if model_cfg != cfg.model:
        raise ValueError("the bundle's model configuration differs from the config's: pass the config that trained it")
    for fmt in ("onnx", "onnx-int8"):
        if not bundle.has_format(fmt):
            raise ValueError(
                f"the bundle has no {fmt!r} model: python -m scoligait_edge.export --bundle {bundle.source} --formats {fmt}"
            )
    reference = None
    if model_cfg.uses_text:
        ref_path = Path(run_dir) / "reference_stats.json"
        if not ref_path.is_file():
            raise FileNotFoundError(f"{ref_path} not found: --run must be the training output folder")
        reference = ReferenceStats.load(ref_path)
    splits = load_window_splits(cfg, progress=False)
    thr = float(bundle.threshold)
    results: list[SplitAgreement] = []
    clip_probs: dict[str, dict[str, np.ndarray]] = {}
    clip_labels: dict[str, np.ndarray] = {}
    with (
        OnnxRuntimeBackend.from_bundle(bundle, model_format="onnx", device="cpu") as fp32,
        OnnxRuntimeBackend.from_bundle(bundle, model_format="onnx-int8", device="cpu") as int8,
    ):
        for split in ("val", "test"):
            tensors = to_tensors(splits.windows[split], model_cfg, reference, cfg.max_text_sentences)
            prob = _probabilities({"fp32": fp32, "int8": int8}, tensors, model_cfg, batch_size)
            labels = tensors.label.numpy().astype(int)
            clips = {k: aggregate_windows(p, tensors.clip_ids, labels=labels) for k, p in prob.items()}
            y = clips["fp32"].labels
            assert y is not None  # labels= given
            clip_probs[split] = {k: c.prob for k, c in clips.items()}
            clip_labels[split] = y
            results.append(
                SplitAgreement(
                    split=split,
                    windows=len(tensors),
                    clips=len(y),
                    max_abs_prob=float(np.max(np.abs(prob["fp32"] - prob["int8"]))),
                    window_label_agreement=float(np.mean((prob["fp32"] >= thr) == (prob["int8"] >= thr))),
                    clip_label_agreement=float(
                        np.mean((clip_probs[split]["fp32"] >= thr) == (clip_probs[split]["int8"] >= thr))
                    ),
                    clip_auc_fp32=roc_auc(y, clip_probs[split]["fp32"]),
                    clip_auc_int8=roc_auc(y, clip_probs[split]["int8"]),
                )
            )
    criterion = cfg.optim.threshold_criterion
    own = {
        k: choose_threshold(clip_labels["val"], clip_probs["val"][k], criterion=criterion, split_name="val").threshold
        for k in ("fp32", "int8")
    }
    test = clip_probs["test"]
    return Int8SplitCheck(
        bundle_threshold=thr,
        criterion=str(criterion),
        threshold_fp32=own["fp32"],
        threshold_int8=own["int8"],
        test_clip_label_agreement_at_own_thresholds=float(
            np.mean((test["fp32"] >= own["fp32"]) == (test["int8"] >= own["int8"]))
        ),
        splits=results,
        provenance=splits.provenance,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scoligait_edge.export.int8_splits", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--config", type=Path, required=True, help="the training config of the bundle's model")
    parser.add_argument("--run", type=Path, required=True, help="the training output folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = int8_split_check(args.bundle, args.config, args.run)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = result.model_dump_json(indent=2)
    if args.json is not None:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
