"""``python -m scoligait_edge.ablate --config configs/ablation.yaml --seeds 0,1 --out DIR``

Runs the rows of the paper's Table 2 (video, km, km+video, km+video+text) and
Table 3 (cat, cat_att, cat_latent; aligned vs non-aligned positions) plus the
ScoNet-MT baseline, several seeds each, all on the same subject-disjoint data,
and writes one markdown table of mean +- std (clip level, threshold from
validation). On simulated data the table says so.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from scoligait_edge.errors import ScoliGaitError

log = logging.getLogger("scoligait_edge.ablate")

# (row key as in the paper's tables, overrides of the base model config)
MODEL_ROWS: dict[str, dict] = {
    "video": {"modalities": "video", "fusion": "cat_latent"},
    "km": {"modalities": "km", "fusion": "cat_latent"},
    "km+video": {"modalities": "km+video", "fusion": "cat_latent"},
    "km+video+text": {"modalities": "km+video+text", "fusion": "cat_latent"},
    "cat": {"modalities": "km+video", "fusion": "cat"},
    "cat_att": {"modalities": "km+video", "fusion": "cat_att"},
    "cat_latent_non_aligned": {"modalities": "km+video", "fusion": "cat_latent", "rope": "non_aligned"},
}
SAME_AS = {"cat_latent": "km+video"}  # Table 3's Cat+Latent (aligned) is Table 2's km+video row


def run_ablation(base, rows: list[str], seeds: list[int], sconet_ratios: list[str], out: Path,
                 *, sconet_epochs: int = 8, sconet_width: float = 0.25, progress: bool = False) -> dict:
    from scoligait_edge.evaluation import BinaryMetrics, ablation_table
    from scoligait_edge.models import ScreeningModelConfig
    from scoligait_edge.training.pipeline import train_run
    from scoligait_edge.training.sconet_run import sconet_config_from, sconet_run

    results: dict[str, list[BinaryMetrics]] = {}
    timings: dict[str, list[float]] = {}
    for row in rows:
        key = SAME_AS.get(row, row)
        if key in results:
            results[row] = results[key]
            continue
        overrides = MODEL_ROWS[key]
        for seed in seeds:
            model_cfg = ScreeningModelConfig.model_validate(
                {k: v for k, v in base.model.model_dump().items() if k not in ("depth", "fusion_blocks")}
                | overrides | _fusion_blocks(base.model, overrides)
            )
            cfg = base.model_copy(update={"name": f"{key}-seed{seed}", "seed": seed, "model": model_cfg})
            t0 = time.perf_counter()
            summary = train_run(cfg, out / "runs" / key / f"seed{seed}", progress=progress)
            timings.setdefault(key, []).append(time.perf_counter() - t0)
            results.setdefault(key, []).append(BinaryMetrics.model_validate(summary["test_clip_metrics"]))
            log.info("%s seed %d: test clip acc %.3f, macro F1 %.3f", key, seed,
                     results[key][-1].accuracy, results[key][-1].macro_f1 or 0.0)
    for ratio in sconet_ratios:
        key = f"sconet_mt_{ratio}"
        for seed in seeds:
            t0 = time.perf_counter()
            cfg = sconet_config_from(base, ratio=ratio, seed=seed, epochs=sconet_epochs, width=sconet_width)
            summary = sconet_run(cfg, out / "runs" / key / f"seed{seed}", progress=progress)
            timings.setdefault(key, []).append(time.perf_counter() - t0)
            results.setdefault(key, []).append(BinaryMetrics.model_validate(summary["test_clip_metrics"]))
    provenance = "simulated" if base.data.kind == "simulated" else "real"
    table = ablation_table(list(results.items()), provenance=provenance, title="Ablation (test clips, threshold from validation)")
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.md").write_text(table, encoding="utf-8")
    (out / "ablation.json").write_text(json.dumps(
        {"provenance": provenance, "seeds": seeds, "rows": {k: [m.model_dump() for m in v] for k, v in results.items()},
         "seconds_per_run": {k: round(sum(v) / len(v), 1) for k, v in timings.items()},
         "base_config": base.model_dump(mode="json")}, indent=2, default=float), encoding="utf-8")
    return {"table": table, "results": results}


def _fusion_blocks(base_model, overrides: dict) -> dict:
    """Keep the base's joint fusion block count for cat_latent rows; cat has none, cat_att needs one."""
    fusion = overrides.get("fusion", base_model.fusion)
    if fusion == "cat":
        return {"fusion_blocks": 0}
    if fusion == "cat_att":
        return {"fusion_blocks": max(base_model.fusion_blocks or 1, 1)}
    return {"fusion_blocks": base_model.fusion_blocks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scoligait_edge.ablate", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="base training config (YAML/JSON)")
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds")
    parser.add_argument("--rows", default=",".join([*MODEL_ROWS, "cat_latent"]), help="comma-separated row keys")
    parser.add_argument("--sconet-ratios", default="1:1:8", help="training mixes for ScoNet-MT ('' for none)")
    parser.add_argument("--sconet-epochs", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("runs/ablation"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from scoligait_edge.training.config import TrainConfig, load_config

    try:
        base = load_config(args.config, TrainConfig)
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        rows = [r.strip() for r in args.rows.split(",") if r.strip()]
        unknown = [r for r in rows if r not in MODEL_ROWS and r not in SAME_AS]
        if unknown:
            parser.error(f"unknown rows {unknown}; choose from {[*MODEL_ROWS, *SAME_AS]}")
        ratios = [r.strip() for r in args.sconet_ratios.split(",") if r.strip()]
        res = run_ablation(base, rows, seeds, ratios, args.out, sconet_epochs=args.sconet_epochs)
    except (ScoliGaitError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(res["table"])
    print(f"wrote {args.out}/ablation.md and ablation.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
