"""Write one split of a config's SIMULATED cohort as pose files for ``python -m scoligait_edge.validate --keypoints``.

    python tools/sim_split_to_npz.py --config configs/demo_model.yaml --split test --out out/sim_test_npz

Each clip -> ``<clip_id>.npz`` (keypoints [T, 21, 3], timestamps_ms [T], silhouettes [T, 64, 44], rendered at
the cohort source's scale 0.4) and ``labels.csv`` (clip_id, subject_id, label), so the same test subjects the
research path scores (``evaluate``) also go through the runtime path (the Screener). SIMULATED data.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from scoligait_edge.research.training.config import SimulatedData, TrainConfig, load_config
from scoligait_edge.video.silhouette import crop_silhouette


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--limit", type=int, default=None, help="first N clips of the split only")
    args = p.parse_args()
    cfg = load_config(args.config, TrainConfig)
    d = cfg.data
    if not isinstance(d, SimulatedData):
        raise SystemExit("the config's data must be kind: simulated")
    cohort = d.make_cohort()
    specs = [c for c in cohort.clips if c.split == args.split][: args.limit]
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "labels.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["clip_id", "subject_id", "label", "cobb_deg"])
        for spec in tqdm(specs, desc="simulate", unit="clip"):
            sim = cohort.simulate(spec, with_silhouettes=True, silhouette_scale=0.4)
            assert sim.silhouettes is not None
            np.savez_compressed(
                args.out / f"{spec.clip_id}.npz",
                keypoints=sim.keypoints,
                timestamps_ms=sim.timestamps_ms,
                silhouettes=crop_silhouette(sim.silhouettes),
            )
            w.writerow([spec.clip_id, spec.subject_id, spec.label, spec.cobb_deg])
    print(f"{len(specs)} {args.split} clips -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
