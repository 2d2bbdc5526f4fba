"""``python -m scoligait_edge.research.run_baselines --config CONFIG.yaml --out DIR``: logistic regression and
gradient boosting on clip-aggregated features, on the same splits as ``python -m scoligait_edge.research.train``.

The config's data and windows sections build the cohort and splits exactly as
training does (:func:`~scoligait_edge.research.training.pipeline.load_window_splits`);
its model and optim sections are ignored. Writes ``baselines.json`` and
``baselines.md``; results on simulated data say so.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from scoligait_edge.errors import ScoliGaitError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scoligait_edge.research.run_baselines", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--config", type=Path, required=True, help="a training config (YAML or JSON, see configs/)")
    parser.add_argument("--out", type=Path, default=Path("runs/baselines"), help="output folder")
    parser.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples of test subjects")
    parser.add_argument("--features", nargs="+", default=["km", "silhouette"], choices=["km", "silhouette"])
    parser.add_argument("--threads", type=int, default=1, help="scikit-learn threads (1 is fastest at this size)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from scoligait_edge.research.evaluation.baselines import run_baselines
    from scoligait_edge.research.training.config import TrainConfig, load_config
    from scoligait_edge.research.training.pipeline import load_window_splits

    t0 = time.perf_counter()
    try:
        cfg = load_config(args.config, TrainConfig)
        splits = load_window_splits(cfg, progress=not args.no_progress)
        t_data = time.perf_counter() - t0
        res = run_baselines(
            splits.windows,
            provenance=splits.provenance,
            name=cfg.name,
            seed=cfg.seed,
            n_boot=args.n_boot,
            criterion=cfg.optim.threshold_criterion,
            feature_sets=args.features,
            threads=args.threads,
        )
    except (ScoliGaitError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    notes = [
        *res.notes,
        *splits.dataset_notes,
        f"config {args.config}; data loading {t_data:.0f} s, baselines {res.seconds:.0f} s",
    ]
    res = res.model_copy(update={"notes": notes})
    args.out.mkdir(parents=True, exist_ok=True)
    res.to_json(args.out / "baselines.json")
    md = res.markdown()
    (args.out / "baselines.md").write_text(md, encoding="utf-8")
    print(md)
    print(f"wrote {args.out}/baselines.json and baselines.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
