"""``python -m scoligait_edge.research.train --config CONFIG.yaml --out DIR``: train, pick the
threshold on validation, evaluate on test. Everything trained on simulated data says so.

Under ``torchrun --nproc_per_node N -m scoligait_edge.research.train ...`` it trains with
DistributedDataParallel (docs/SCALE_OUT.md); rank 0 alone logs and writes.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scoligait_edge.errors import ScoliGaitError

if TYPE_CHECKING:
    from scoligait_edge.research.training.config import TrainConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scoligait_edge.research.train", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--config", type=Path, required=True, help="YAML or JSON (see configs/)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: runs/<name>)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda", "auto"),
        default=None,
        help="override optim.device (CUDA trains with optim.precision autocast)",
    )
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16", "fp16"),
        default=None,
        help="override optim.precision (autocast dtype on CUDA)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="under torchrun: continue from <out>/checkpoints/last.pt (automatic when torchrun "
        "restarts the job after a failure)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from scoligait_edge.research.training import distributed as D

    rank = int(os.environ.get("RANK", "0")) if D.launched_by_torchrun() else 0
    logging.basicConfig(
        level=logging.INFO if rank == 0 else logging.WARNING,
        format=f"%(levelname)s {f'[rank {rank}] ' if D.launched_by_torchrun() else ''}%(name)s: %(message)s",
    )
    from scoligait_edge.research.training.pipeline import train_run

    ctx = None
    try:
        cfg = _config(args)
        out = args.out or Path("runs") / cfg.name
        resume = args.resume or int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0
        if D.launched_by_torchrun():
            ctx = D.init_distributed(cfg.optim.device)
        elif args.resume:
            raise ValueError(
                "--resume continues a torchrun job: torchrun --nproc_per_node 1 -m scoligait_edge.research.train ..."
            )
        summary = train_run(cfg, out, progress=not args.no_progress, dist=ctx, resume=resume)
        D.shutdown(ctx)
    except (ScoliGaitError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not summary:  # a rank other than 0: rank 0 reports
        return 0
    _report(cfg.name, summary, out)
    return 0


def _config(args: argparse.Namespace) -> TrainConfig:
    """The training config file with --device and --precision, when given, in place of its optim settings."""
    from scoligait_edge.research.training.config import TrainConfig, load_config

    cfg = load_config(args.config, TrainConfig)
    overrides = {k: v for k, v in (("device", args.device), ("precision", args.precision)) if v is not None}
    if overrides:
        cfg = cfg.model_copy(update={"optim": cfg.optim.model_copy(update=overrides)})
    return cfg


def _report(name: str, summary: dict[str, Any], out: Path) -> None:
    """What rank 0 prints after training: the data's provenance, skipped clips, the threshold and test metrics."""
    from scoligait_edge.research.training.pipeline import SIMULATED_NOTICE

    m = summary["test_clip_metrics"]
    print(
        f"\n{name}: trained on {summary['provenance']} data; best epoch {summary['best_epoch']}, "
        f"{summary['train_windows_per_second']} windows/s"
    )
    if summary["data_warning"]:
        print(f"  {SIMULATED_NOTICE}")
    build = summary.get("data_build") or {}
    skipped = build.get("failed", 0) + build.get("failed_before", 0)
    if skipped:
        print(f"  {skipped} clip(s)/sequence(s) skipped: see data_build.failures in {out}/summary.json")
    for note in summary.get("data_notes", []):
        print(f"  note: {note}")
    print(
        f"  threshold {summary['threshold']:.3f} (chosen on validation); test clips: acc {m['accuracy']:.3f}, "
        f"macro F1 {m['macro_f1']:.3f}, AUC {m['auc'] if m['auc'] is None else round(m['auc'], 3)}, "
        f"sensitivity {m['sensitivity']:.3f}, specificity {m['specificity']:.3f}"
    )
    print(f"  wrote {out}/ (model.safetensors, model.json, summary.json, evaluation/report.md)")
    print(f"  {summary['notice']}")


if __name__ == "__main__":
    raise SystemExit(main())
