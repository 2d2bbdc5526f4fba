"""``python -m scoligait_edge.research.evaluate --run DIR [--split test]``: re-score a trained run.

The threshold is re-derived from the run's validation split (never from the
split being scored); the report says when the data were simulated.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from scoligait_edge.errors import ScoliGaitError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scoligait_edge.research.evaluate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--run", type=Path, required=True, help="a folder written by scoligait_edge.research.train")
    parser.add_argument("--split", default="test", choices=["val", "test"])
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: RUN/evaluation)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from scoligait_edge.research.training.pipeline import evaluate_run

    if not (args.run / "train_config.json").is_file():
        print(f"error: {args.run} is not a training run folder (no train_config.json)", file=sys.stderr)
        return 2
    try:
        report = evaluate_run(args.run, args.out, split=args.split, progress=not args.no_progress)
    except (ScoliGaitError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
