"""``python -m scoligait_edge.research.ablate --config configs/ablation.yaml --seeds 0,1 --out DIR``

Runs the rows of the paper's Table 2 (video, km, km+video, km+video+text) and
Table 3 (cat, cat_att, cat_latent; aligned vs non-aligned positions) plus the
ScoNet-MT baseline (mixes 1:1:2 to 1:1:16, argmax decisions as the paper) and
scikit-learn baselines, all on the same subject-disjoint data, and writes one
markdown table of mean +- std over seeds (clip level, threshold from validation)
with a bootstrap interval of each row's AUC, and the paper's claims as paired
bootstrap comparisons with a verdict. ``--doc docs/ABLATION.md`` writes the
whole document. On simulated data everything says so.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scoligait_edge.errors import ScoliGaitError

log = logging.getLogger("scoligait_edge.research.ablate")

# (row key as in the paper's tables, overrides of the base model config)
MODEL_ROWS: dict[str, dict] = {
    "video": {"modalities": "video", "fusion": "cat_latent"},
    "km": {"modalities": "km", "fusion": "cat_latent"},
    "km+video": {"modalities": "km+video", "fusion": "cat_latent"},
    "km+video+text": {"modalities": "km+video+text", "fusion": "cat_latent"},
    "cat": {"modalities": "km+video", "fusion": "cat"},
    "cat_att": {"modalities": "km+video", "fusion": "cat_att"},
    "cat_latent_non_aligned": {"modalities": "km+video", "fusion": "cat_latent", "rope": "non_aligned"},
    # the paper's sentence ("a latent dictionary to query the input sequence") read literally: learned
    # queries over the tokens (Perceiver / PMA), the inverse of NV-Embed's orientation that cat_latent runs
    "cat_pma": {"modalities": "km+video", "fusion": "cat_pma"},
}
SAME_AS = {"cat_latent": "km+video"}  # Table 3's Cat+Latent (aligned) is Table 2's km+video row


# The paper's claims as paired comparisons "a beats b" (claim, a, b).
CLAIMS: tuple[tuple[str, str, str], ...] = (
    ("km > video", "km", "video"),
    ("km+video > km", "km+video", "km"),
    ("km+video+text > km+video", "km+video+text", "km+video"),
    ("cat_att > cat", "cat_att", "cat"),
    ("cat_latent > cat_att", "cat_latent", "cat_att"),
    ("aligned > non-aligned", "cat_latent", "cat_latent_non_aligned"),
)
FUSED = "km+video+text"
DEFAULT_SCONET_RATIOS = ("1:1:2", "1:1:4", "1:1:8", "1:1:16")
YOUDEN_SUFFIX = " (Youden)"
DONE_MARGIN = 0.02
"""Issue 11's done-criterion: the fused model's test AUC >= the best baseline's - 0.02."""


def _seed_mean(per_seed: list[list]) -> list:
    """Each clip's probability averaged over seeds (clips present in every seed)."""
    from scoligait_edge.research.evaluation.metrics import ClipPrediction

    by_clip: dict[str, list] = {}
    for preds in per_seed:
        for c in preds:
            by_clip.setdefault(c.clip_id, []).append(c)
    return [
        ClipPrediction(
            clip_id=k, subject_id=v[0].subject_id, label=v[0].label, prob=float(sum(c.prob for c in v) / len(v))
        )
        for k, v in by_clip.items()
        if len(v) == len(per_seed)
    ]


def _paired(a: list, b: list, *, n_boot: int, seed: int):
    """Paired bootstrap of AUC(a) - AUC(b) on the clips both rows scored."""
    from scoligait_edge.research.evaluation.metrics import paired_bootstrap_auc_diff

    pb = {c.clip_id: c for c in b}
    common = [c for c in a if c.clip_id in pb]
    if not common:
        raise ValueError("the two rows share no test clip")
    return paired_bootstrap_auc_diff(
        [c.label for c in common],
        [c.prob for c in common],
        [pb[c.clip_id].prob for c in common],
        [c.subject_id for c in common],
        n_boot=n_boot,
        seed=seed,
    )


def _sconet_configs(base, ratios: list[str], seeds: list[int], sconet: dict[str, Any]) -> list[tuple[str, int, Any]]:
    """``(ratio, seed, config)`` of every ScoNet-MT run; ``sconet`` holds the shared settings (epochs, width...)."""
    from scoligait_edge.research.training.sconet_run import sconet_config_from

    return [(r, s, sconet_config_from(base, ratio=r, seed=s, **sconet)) for r in ratios for s in seeds]


def _plan_tasks(
    base, rows: list[str], seeds: list[int], sconet_runs: list[tuple[str, int, Any]], out: Path
) -> list[_Task]:
    """One task per model row and seed (rows that are another row's second name run once), then ScoNet-MT."""
    from scoligait_edge.research.models.screening import ScreeningModelConfig

    tasks: list[_Task] = []
    for key in dict.fromkeys(SAME_AS.get(r, r) for r in rows):
        overrides = MODEL_ROWS[key]
        for seed in seeds:
            model_cfg = ScreeningModelConfig.model_validate(
                {k: v for k, v in base.model.model_dump().items() if k not in ("depth", "fusion_blocks")}
                | overrides
                | _fusion_blocks(base.model, overrides)
            )
            cfg = base.model_copy(update={"name": f"{key}-seed{seed}", "seed": seed, "model": model_cfg})
            tasks.append(_Task("model", key, seed, cfg, out / "runs" / key / f"seed{seed}"))
    for ratio, seed, cfg in sconet_runs:
        key = f"sconet_mt_{ratio}"
        tasks.append(_Task("sconet", key, seed, cfg, out / "runs" / key / f"seed{seed}"))
    return tasks


@dataclass
class _Collected:
    """Per row: test metrics, clip predictions and run seconds of each seed; ScoNet-MT's settings."""

    results: dict[str, list[Any]] = field(default_factory=dict)
    preds: dict[str, list[list]] = field(default_factory=dict)
    timings: dict[str, list[float]] = field(default_factory=dict)
    sconet_settings: dict[str, dict] = field(default_factory=dict)


def _collect(tasks: list[_Task], done: dict, rows: list[str], youden_ratio: str | None) -> _Collected:
    """The finished runs in table order, whatever finished first: model rows, their second names (Table 3's
    cat_latent), then ScoNet-MT (with the Youden-threshold row of one mix)."""
    from scoligait_edge.research.evaluation.metrics import CLIP_PREDICTIONS_NAME, BinaryMetrics, read_clip_predictions

    got = _Collected()

    def add(task: _Task) -> None:
        summary, seconds = done[task.run_dir]
        if task.kind == "sconet":  # what each ScoNet-MT row ran with where it differs from OpenGait's
            got.sconet_settings.setdefault(
                task.key,
                {
                    "departures_from_opengait": summary.get("departures_from_opengait"),
                    "train_mix": summary.get("train_mix"),
                    "train_available_subjects": summary.get("train_available_subjects"),
                },
            )
        got.timings.setdefault(task.key, []).append(seconds)
        got.results.setdefault(task.key, []).append(BinaryMetrics.model_validate(summary["test_clip_metrics"]))
        pred_file = task.run_dir / ("evaluation" if task.kind == "model" else "") / CLIP_PREDICTIONS_NAME
        got.preds.setdefault(task.key, []).append(read_clip_predictions(pred_file))
        if task.kind == "sconet" and task.key == f"sconet_mt_{youden_ratio}":
            yk = task.key + YOUDEN_SUFFIX
            got.results.setdefault(yk, []).append(BinaryMetrics.model_validate(summary["test_clip_metrics_youden"]))
            got.preds.setdefault(yk, []).append(got.preds[task.key][-1])

    for task in (t for t in tasks if t.kind == "model"):
        add(task)
    for row in rows:
        key = SAME_AS.get(row, row)
        if row != key and key in got.results:
            got.results[row], got.preds[row] = got.results[key], got.preds[key]
    for task in (t for t in tasks if t.kind == "sconet"):
        add(task)
    return got


def _add_baselines(base, splits, got: _Collected, n_boot: int) -> list[str]:
    """The scikit-learn baselines on the same splits, added as rows; their keys."""
    from scoligait_edge.research.evaluation.baselines import run_baselines

    t0 = time.perf_counter()
    res_b = run_baselines(
        splits.windows,
        provenance=splits.provenance,
        name=base.name,
        seed=base.seed,
        n_boot=n_boot,
        criterion=base.optim.threshold_criterion,
    )
    got.timings["baselines (all)"] = [time.perf_counter() - t0]
    for r in res_b.rows:
        got.results[r.key], got.preds[r.key] = [r.test], [list(r.test_clips)]
    return [r.key for r in res_b.rows]


def _comparisons(mean_preds: dict[str, list], base_rows: list[str], n_boot: int, boot_seed: int):
    """Bootstrap AUC intervals of the seed-mean probabilities, the paper's claims, and fused vs best baseline."""
    from scoligait_edge.research.evaluation.metrics import bootstrap_auc_ci
    from scoligait_edge.research.evaluation.report import Claim

    auc_ci = {
        k: bootstrap_auc_ci(
            [c.label for c in v], [c.prob for c in v], [c.subject_id for c in v], n_boot=n_boot, seed=boot_seed
        )
        for k, v in mean_preds.items()
        if v
    }
    claims = [
        Claim(claim=text, a=a, b=b, result=_paired(mean_preds[a], mean_preds[b], n_boot=n_boot, seed=boot_seed))
        for text, a, b in CLAIMS
        if a in mean_preds and b in mean_preds
    ]
    versus = None
    if FUSED in mean_preds and base_rows:
        best = max(base_rows, key=lambda k: -1.0 if (auc := auc_ci[k].auc) is None else auc)
        versus = Claim(
            claim=f"{FUSED} vs best baseline",
            a=FUSED,
            b=best,
            result=_paired(mean_preds[FUSED], mean_preds[best], n_boot=n_boot, seed=boot_seed),
        )
    return auc_ci, claims, versus


def run_ablation(
    base,
    rows: list[str],
    seeds: list[int],
    sconet_ratios: list[str],
    out: Path,
    *,
    sconet_epochs: float | None = None,
    sconet_width: float = 0.25,
    sconet_min_positives: int = 10,
    sconet_positives: int | None = None,
    sconet_iterations: int | None = None,
    baselines: bool = True,
    n_boot: int = 2000,
    boot_seed: int = 0,
    progress: bool = False,
    jobs: int = 1,
) -> dict:
    """Every row x seed, the ScoNet-MT mixes, the scikit-learn baselines on the same splits, then the table
    (mean ± std over seeds and a bootstrap AUC interval of the seed-mean probabilities) and the claims.

    ``ablation.md`` / ``ablation.json`` go to ``out``; the returned dict also carries what
    :func:`ablation_document` needs. ``jobs`` > 1 trains that many runs at once, one thread each
    (on a 2-core machine two single-thread runs beat one two-thread run: no barrier waits). A run
    whose folder already holds a summary for the same config is reused, so an interrupted
    ablation resumes where it stopped.
    """
    from scoligait_edge.research.evaluation.report import ablation_table, claims_table
    from scoligait_edge.research.training.pipeline import load_window_splits
    from scoligait_edge.research.training.sconet_run import check_mixes

    sconet = dict(
        epochs=sconet_epochs,
        iterations=sconet_iterations,
        width=sconet_width,
        min_train_positives=sconet_min_positives,
        train_positives=sconet_positives,
    )
    sconet_runs = _sconet_configs(base, sconet_ratios, seeds, sconet)
    check_mixes([cfg for _, _, cfg in sconet_runs], progress=progress)
    tasks = _plan_tasks(base, rows, seeds, sconet_runs, out)
    done = _run_tasks(tasks, jobs=jobs, progress=progress)
    run_time = {
        "runs": len(tasks),
        "reused": sum(bool(done[t.run_dir][0].get("ablation_reused")) for t in tasks),
        "sum_run_seconds": round(sum(done[t.run_dir][1] for t in tasks), 1),
        "jobs": jobs,
    }
    youden_ratio = "1:1:8" if "1:1:8" in sconet_ratios else (sconet_ratios[0] if sconet_ratios else None)
    got = _collect(tasks, done, rows, youden_ratio)
    splits = load_window_splits(base, progress=progress)
    cohort = _cohort(splits)
    base_rows = _add_baselines(base, splits, got, n_boot) if baselines else []
    mean_preds = {k: _seed_mean(v) for k, v in got.preds.items()}
    auc_ci, claims, versus = _comparisons(mean_preds, base_rows, n_boot, boot_seed)

    provenance = "simulated" if base.data.kind == "simulated" else "real"
    results = got.results
    table = ablation_table(
        list(results.items()),
        provenance=provenance,
        auc_ci=auc_ci,
        title="Ablation (test clips, threshold from validation)",
    )
    claims_md = claims_table(claims) + ("\n" + _versus_line(versus) if versus is not None else "")
    seconds = {k: round(sum(v) / len(v), 1) for k, v in got.timings.items()}
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.md").write_text(table + "\n" + claims_md, encoding="utf-8")
    (out / "ablation.json").write_text(
        json.dumps(
            {
                "provenance": provenance,
                "seeds": seeds,
                "rows": {k: [m.model_dump() for m in v] for k, v in results.items()},
                "auc_seed_mean_ci": {k: v.model_dump() for k, v in auc_ci.items()},
                "claims": [c.model_dump() | {"verdict": c.verdict} for c in claims],
                "fused_vs_best_baseline": None if versus is None else versus.model_dump() | {"verdict": versus.verdict},
                "cohort": cohort,
                "seconds_per_run": seconds,
                "sconet_decision": "argmax of the 3 class scores",
                "sconet_settings": got.sconet_settings,
                "base_config": base.model_dump(mode="json"),
            },
            indent=2,
            default=float,
        ),
        encoding="utf-8",
    )
    return {
        "table": table,
        "claims_md": claims_md,
        "results": results,
        "auc_ci": auc_ci,
        "claims": claims,
        "versus": versus,
        "cohort": cohort,
        "seconds": seconds,
        "provenance": provenance,
        "run_time": run_time,
        "sconet_settings": got.sconet_settings,
    }


def _sconet_settings_md(settings: dict[str, dict]) -> list[str]:
    """One line per ScoNet-MT row: the settings it ran with where they differ from OpenGait's
    (``configs/sconet/sconet_scoliosis1k.yaml``), and its positive training sequences of those available."""
    if not settings:
        return []
    out = [
        "ScoNet-MT rows against OpenGait's settings (SGD 0.1, momentum 0.9, weight decay 5e-4, x0.1 at 10k/14k/18k "
        "of 20k iterations, P x K 8 x 8, 30 unordered frames, width 1.0, cross-entropy x16 with label smoothing "
        "0.1, triplet margin 0.2 on identities):",
        "",
    ]
    for key, s in settings.items():
        dep = s.get("departures_from_opengait") or {}
        diff = ", ".join(f"{k} {v['ours']} (OpenGait {v['opengait']})" for k, v in dep.items()) or "none"
        mix, avail = s.get("train_mix") or {}, s.get("train_available_subjects") or {}
        out.append(
            f"- `{key}`: {diff}; positive training sequences {mix.get('positive', '?')} "
            f"(of {avail.get('positive', '?')} positive subjects available)"
        )
    return [*out, ""]


@dataclass(frozen=True)
class _Task:
    kind: str  # "model" | "sconet"
    key: str
    seed: int
    cfg: Any
    run_dir: Path


TASK_CONFIG_NAME = "ablation_task.json"


def _execute(task: _Task, threads: int | None, progress: bool) -> tuple[dict, float]:
    """One training run (in a worker process when jobs > 1); reuses a finished run of the same config."""
    import torch

    from scoligait_edge.research.training.pipeline import train_run
    from scoligait_edge.research.training.sconet_run import sconet_run

    stamp = task.run_dir / TASK_CONFIG_NAME
    summary_path = task.run_dir / "summary.json"
    config_json = task.cfg.model_dump_json()
    if summary_path.is_file() and stamp.is_file() and stamp.read_text(encoding="utf-8") == config_json:
        record = json.loads(summary_path.read_text(encoding="utf-8"))
        log.info("%s seed %d: reusing the finished run in %s", task.key, task.seed, task.run_dir)
        return record | {"ablation_reused": True}, float(record.get("ablation_wall_seconds", 0.0))
    if threads:
        torch.set_num_threads(threads)
    if task.kind == "model" and threads:
        task = replace(
            task, cfg=task.cfg.model_copy(update={"optim": task.cfg.optim.model_copy(update={"threads": threads})})
        )
    t0 = time.perf_counter()
    run = train_run if task.kind == "model" else sconet_run
    summary = run(task.cfg, task.run_dir, progress=progress)
    seconds = time.perf_counter() - t0
    summary["ablation_wall_seconds"] = round(seconds, 1)
    summary_path.write_text(json.dumps(summary, indent=2, default=float), encoding="utf-8")
    stamp.write_text(config_json, encoding="utf-8")
    log.info(
        "%s seed %d: test clip AUC %s (%.0f s)", task.key, task.seed, summary["test_clip_metrics"].get("auc"), seconds
    )
    return summary, seconds


def _run_tasks(tasks: list[_Task], *, jobs: int, progress: bool) -> dict[Path, tuple[dict, float]]:
    """Every task, ``jobs`` at a time; failures are collected, the others still finish, then one error names them."""
    from tqdm.auto import tqdm

    done: dict[Path, tuple[dict, float]] = {}
    failed: list[str] = []
    bar = tqdm(total=len(tasks), desc="ablation runs", disable=not progress)
    if jobs <= 1:
        for task in tasks:
            try:
                done[task.run_dir] = _execute(task, None, False)
            except Exception as exc:  # noqa: BLE001 - recorded, the other runs go on
                failed.append(f"{task.key} seed {task.seed}: {type(exc).__name__}: {exc}")
            bar.update()
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_execute, task, 1, False): task for task in tasks}
            for fut in as_completed(futures):
                task = futures[fut]
                try:
                    done[task.run_dir] = fut.result()
                except Exception as exc:  # noqa: BLE001 - recorded, the other runs go on
                    failed.append(f"{task.key} seed {task.seed}: {type(exc).__name__}: {exc}")
                bar.update()
    bar.close()
    if failed:
        raise ValueError(
            f"{len(failed)} of {len(tasks)} ablation runs failed (finished runs are kept and reused "
            "on the next call): " + "; ".join(failed)
        )
    return done


def _cohort(splits) -> dict[str, dict[str, int]]:
    out = {}
    for s, ws in splits.windows.items():
        subj = {w.subject_id: w.label for w in ws}
        out[s] = {
            "subjects": len(subj),
            "positive_subjects": int(sum(subj.values())),
            "clips": len({w.clip_id for w in ws}),
            "windows": len(ws),
        }
    return out


def _versus_line(v) -> str:
    if v is None:
        return ""
    r = v.result
    met = r.diff is not None and r.diff >= -DONE_MARGIN
    return (
        f"**{FUSED} vs the best baseline** ({v.b}, best by test AUC, which favours the baseline): "
        f"AUC {r.auc_a:.3f} vs {r.auc_b:.3f}, difference {r.diff:+.3f}, 95% CI [{r.lo:+.3f}, {r.hi:+.3f}], "
        f"p = {r.p_le_0:.3f} (paired bootstrap, {r.n} clips). Issue 11's criterion (fused AUC >= best "
        f"baseline - {DONE_MARGIN}): **{'met' if met else 'not met'}** on the point estimate; the interval's "
        f"lower end {'is' if r.lo >= -DONE_MARGIN else 'is not'} above -{DONE_MARGIN}.\n"
    )


def ablation_document(res: dict, *, command: str, wall_seconds: float, seeds: list[int]) -> str:
    """The whole docs/ABLATION.md: notice, command, wall time, cohort, table with baselines, claims, timings."""
    from scoligait_edge.research.evaluation.report import PAPER_TEST_CLIPS  # noqa: F401 - the paper's table is in res["table"]

    sim = res["provenance"] == "simulated"
    out = ["# Ablation: the paper's Tables 2 and 3" + (" on simulated gait" if sim else ""), ""]
    if sim:
        out += [
            "> **SIMULATED data, not clinical evidence.** Every row below was trained and tested on a simulated "
            "cohort (docs/SIMULATION.md): a test of the machinery, not evidence about patients. It checks that "
            "every configuration of the paper runs on subject-disjoint splits with thresholds from validation "
            "and how far apart rows are on this data; it is not a replication of the paper's numbers.",
            "",
        ]
    out += [
        "Generated by this command (the whole file; edits by hand are overwritten):",
        "",
        "```sh",
        command,
        "```",
        "",
        f"Wall time of this call: **{wall_seconds / 60:.1f} min** ({wall_seconds:.0f} s) on the machine that "
        f"ran it; seeds {', '.join(map(str, seeds))}. {_run_time_note(res.get('run_time'))}",
        "",
        "## Cohort",
        "",
        "| split | subjects | positive subjects | clips | windows |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s, c in res["cohort"].items():
        out.append(f"| {s} | {c['subjects']} | {c['positive_subjects']} | {c['clips']} | {c['windows']} |")
    test = res["cohort"].get("test", {})
    out += [
        "",
        f"Test: {test.get('subjects')} subjects, {test.get('clips')} clips. Rows are scored per clip "
        "(mean window probability). ScoNet-MT rows decide by the argmax of their three class scores, as the "
        f"paper ran it; `...{YOUDEN_SUFFIX}` is the same model at the Youden threshold from validation. Baseline "
        "rows (scikit-learn, docs/BASELINES.md) are fitted once on the same windows and splits, thresholds "
        "from validation. The last column is the AUC of each row's probabilities averaged over seeds per clip, "
        "with a 95% percentile bootstrap over test subjects.",
        "",
        *_sconet_settings_md(res.get("sconet_settings") or {}),
        res["table"],
        res["claims_md"],
        "## Seconds per run",
        "",
        ", ".join(f"{k} {v:.0f}" for k, v in res["seconds"].items()) + " (mean wall seconds per seed, "
        "including data loading from the cache; cat_latent is the km+video run).",
        "",
    ]
    return "\n".join(out)


def _run_time_note(rt: dict | None) -> str:
    """What the whole table cost when some runs were reused from an earlier (interrupted) call."""
    if not rt:
        return ""
    note = (
        f"{rt['runs']} training runs took {rt['sum_run_seconds'] / 60:.1f} min of run time in all "
        f"({rt['jobs']} at a time, so about {rt['sum_run_seconds'] / max(rt['jobs'], 1) / 60:.1f} min of wall "
        "time, plus data loading, baselines and bootstrap)"
    )
    if rt["reused"]:
        note += (
            f"; {rt['reused']} of them were finished by an earlier call of the same command and reused "
            "(their own run time is included)"
        )
    return note + "."


def _fusion_blocks(base_model, overrides: dict) -> dict:
    """Keep the base's joint fusion block count for cat_latent rows; cat has none, cat_att needs one."""
    fusion = overrides.get("fusion", base_model.fusion)
    if fusion == "cat":
        return {"fusion_blocks": 0}
    if fusion == "cat_att":
        return {"fusion_blocks": max(base_model.fusion_blocks or 1, 1)}
    return {"fusion_blocks": base_model.fusion_blocks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scoligait_edge.research.ablate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--config", type=Path, required=True, help="base training config (YAML/JSON)")
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds")
    parser.add_argument("--rows", default=",".join([*MODEL_ROWS, "cat_latent"]), help="comma-separated row keys")
    parser.add_argument(
        "--sconet-ratios", default=",".join(DEFAULT_SCONET_RATIOS), help="training mixes for ScoNet-MT ('' for none)"
    )
    parser.add_argument(
        "--sconet-iterations",
        type=int,
        default=None,
        help="ScoNet-MT SGD iterations (default: OpenGait's 20000; the learning-rate steps stay at 50/70/90 %%)",
    )
    parser.add_argument(
        "--sconet-epochs",
        type=float,
        default=None,
        help="instead of --sconet-iterations: passes over the mix's training sequences in P x K batches",
    )
    parser.add_argument(
        "--sconet-width", type=float, default=0.25, help="ScoNet channel width multiplier (OpenGait: 1.0)"
    )
    parser.add_argument(
        "--sconet-min-positives",
        type=int,
        default=10,
        help="refuse a ScoNet-MT mix with fewer positive training subjects",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="training runs at once, one thread each (2 on a 2-core machine)"
    )
    parser.add_argument(
        "--sconet-positives",
        type=int,
        default=None,
        help="positive training subjects in every ScoNet-MT mix, negatives added by the ratio "
        "(Scoliosis1K's design); default: as many as the training split allows",
    )
    parser.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples of test subjects")
    parser.add_argument("--no-baselines", action="store_true", help="skip the scikit-learn baselines")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="machinery check: seed 0, ScoNet-MT 1:1:2 only (1 epoch, width 0.125, >= 1 positive), 500 resamples; "
        "use with configs/ablation_ci.yaml",
    )
    parser.add_argument("--doc", type=Path, default=None, help="also write the whole document (docs/ABLATION.md)")
    parser.add_argument("--out", type=Path, default=Path("runs/ablation"))
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(raw)
    if args.quick:
        args.seeds, args.sconet_ratios, args.sconet_epochs, args.sconet_min_positives, args.n_boot = (
            "0",
            "1:1:2",
            1,
            1,
            500,
        )
        args.sconet_width = 0.125
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from scoligait_edge.research.training.config import TrainConfig, load_config

    try:
        base = load_config(args.config, TrainConfig)
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        rows = [r.strip() for r in args.rows.split(",") if r.strip()]
        unknown = [r for r in rows if r not in MODEL_ROWS and r not in SAME_AS]
        if unknown:
            parser.error(f"unknown rows {unknown}; choose from {[*MODEL_ROWS, *SAME_AS]}")
        ratios = [r.strip() for r in args.sconet_ratios.split(",") if r.strip()]
        t0 = time.perf_counter()
        res = run_ablation(
            base,
            rows,
            seeds,
            ratios,
            args.out,
            sconet_epochs=args.sconet_epochs,
            sconet_iterations=args.sconet_iterations,
            sconet_width=args.sconet_width,
            sconet_min_positives=args.sconet_min_positives,
            sconet_positives=args.sconet_positives,
            baselines=not args.no_baselines,
            n_boot=args.n_boot,
            jobs=max(args.jobs, 1),
            progress=not args.quick,
        )
        wall = time.perf_counter() - t0
    except (ScoliGaitError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(res["table"])
    print(res["claims_md"])
    print(f"wrote {args.out}/ablation.md and ablation.json ({wall:.0f} s)")
    if args.doc is not None:
        command = "python -m scoligait_edge.research.ablate " + shlex.join(raw)
        args.doc.parent.mkdir(parents=True, exist_ok=True)
        args.doc.write_text(ablation_document(res, command=command, wall_seconds=wall, seeds=seeds), encoding="utf-8")
        print(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
