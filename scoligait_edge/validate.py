"""``python -m scoligait_edge.validate``: check a bundle on a folder of labelled walking videos (external validation).

    python -m scoligait_edge.validate --videos DIR [--labels labels.csv] --out DIR [--bundle B]
    python -m scoligait_edge.validate --keypoints DIR [--labels labels.csv] --out DIR   # pose files
    ... --jobs 2 | --engine ray [--address auto]                                       # in parallel

Every video goes through the same runtime path as an app (a :class:`~scoligait_edge.screener.Screener`:
pose, tracker, knowledge map, quality rule, the bundle's model and threshold), never the training
path, so the figures are what a station would have said. ``--keypoints`` takes ``.npz`` files with
``keypoints`` ``[T, 21, 3]`` (x px, y px, score), ``timestamps_ms`` ``[T]`` and optionally
``silhouettes`` ``[T, 64, 44]`` (uint8), fed through ``Screener.process_keypoints`` (e.g. simulated
test clips). Each finished video is saved under ``OUT/rows/`` at once, so a rerun resumes.

Labels CSV: ``clip_id`` (the file's stem), optional ``subject_id`` (default: the clip id; the
bootstrap resamples subjects with all their clips), and ``label`` (1 = scoliosis, Cobb >= 10
degrees; 0 = none) or ``cobb_deg``. ``label`` = ``control`` (or no row at all) marks an unlabelled
control: someone with no known scoliosis and no radiograph, counted in the referral-rate line only.
Videos with no decision (nothing screened) are reported and left out of the metrics; their share is
the first thing to read. Writes ``per_video.csv``, ``metrics.json``, ``report.md``, ``report.html``
and ``calibration.png``. A screening aid, never a diagnosis; figures on a small folder are wide.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import json
import logging
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from scoligait_edge import SCREENING_NOTICE
from scoligait_edge.core.constants import COBB_THRESHOLD_DEG
from scoligait_edge.errors import ScoliGaitError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm")
KEYPOINT_SUFFIX = ".npz"
Label = Literal[0, 1] | None


class ValidateError(ScoliGaitError, ValueError):
    """Bad input to ``validate`` (missing folder, unreadable labels, a label that is not 0/1/control)."""


class ValidateOptions(BaseModel):
    """What one validation run does (the CLI's arguments)."""

    bundle: str | None = None
    allow_unsigned_bundle: bool = False
    pose_model: str = "full"
    hop: int = Field(default=16, ge=1)
    jobs: int = Field(default=1, ge=1)
    engine: Literal["local", "ray"] = "local"
    address: str | None = None
    n_boot: int = Field(default=2000, ge=100)
    seed: int = 0


class VideoRow(BaseModel):
    """One video's result through the runtime path."""

    clip_id: str
    path: str
    kind: Literal["video", "keypoints"]
    subject_id: str
    label: Label = None
    decision: str | None = None
    probability_mean: float | None = None
    probability_sd: float | None = None
    threshold: float | None = None
    windows_total: int = 0
    windows_screened: int = 0
    windows_skipped: int = 0
    windows_failed: int = 0
    skip_reasons: dict[str, int] = Field(default_factory=dict)
    input_unusual_share: float | None = None
    cadence_spm: float | None = None
    frames: int = 0
    duration_s: float = 0.0
    reason: str | None = None
    error: str | None = None
    seconds: float = 0.0
    provenance: str | None = None
    key: str = Field(default="", description="bundle and settings this row was made with (resume check)")


# ------------------------------------------------------------------ one video through the Screener
def _screener(opts: ValidateOptions, run_pose: bool) -> Any:
    from scoligait_edge.pose.estimator import PoseEstimatorOptions
    from scoligait_edge.screener import Screener, ScreenerOptions, demo_bundle_path

    bundle: Any = opts.bundle
    if opts.allow_unsigned_bundle:
        from scoligait_edge.bundle.load import load_bundle

        bundle = load_bundle(opts.bundle or demo_bundle_path(), allow_unsigned=True)
    options = ScreenerOptions(pose=PoseEstimatorOptions(model=opts.pose_model), hop=opts.hop, run_pose=run_pose)
    return Screener(bundle, options=options)


def _feed_video(screener: Any, path: Path) -> list[Any]:
    from scoligait_edge.stream.sources import open_source

    results: list[Any] = []
    source = open_source(video=path)
    try:
        for frame in source:
            results += screener.process(frame.image, frame.timestamp_ms).results
    finally:
        source.close()
    return results


def load_keypoint_file(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A ``.npz`` pose file -> (keypoints ``[T, 21, 3]``, timestamps ms ``[T]``, silhouettes ``[T, 64, 44]`` or None)."""
    try:
        with np.load(path) as z:
            kp = np.asarray(z["keypoints"], np.float64)
            ts = np.asarray(z["timestamps_ms"], np.float64)
            sil = np.asarray(z["silhouettes"], np.uint8) if "silhouettes" in z.files else None
    except KeyError as exc:
        raise ValidateError(f"{path}: needs arrays 'keypoints' and 'timestamps_ms' ({exc} missing)") from None
    except (OSError, ValueError) as exc:
        raise ValidateError(f"{path}: not a readable .npz file ({exc})") from None
    if kp.ndim != 3 or kp.shape[1:] != (21, 3) or ts.shape != (kp.shape[0],):
        raise ValidateError(f"{path}: keypoints must be [T, 21, 3] with T timestamps, got {kp.shape} and {ts.shape}")
    if sil is not None and sil.shape[0] != kp.shape[0]:
        raise ValidateError(f"{path}: {sil.shape[0]} silhouettes for {kp.shape[0]} pose frames")
    return kp, ts, sil


def _feed_keypoints(screener: Any, path: Path) -> list[Any]:
    kp, ts, sil = load_keypoint_file(path)
    results: list[Any] = []
    for i in range(kp.shape[0]):
        results += screener.process_keypoints(kp[i], float(ts[i]), silhouette=None if sil is None else sil[i]).results
    return results


def screen_one(path: str, kind: str, clip_id: str, subject_id: str, label: Label, opts: ValidateOptions) -> VideoRow:
    """Run one video (or pose file) through a fresh Screener; failures become a row with ``error``."""
    t0 = time.perf_counter()
    row = VideoRow.model_validate(
        {"clip_id": clip_id, "path": path, "kind": kind, "subject_id": subject_id, "label": label}
    )
    try:
        with _screener(opts, run_pose=kind == "video") as screener:
            feed = _feed_video if kind == "video" else _feed_keypoints
            results = feed(screener, Path(path))
            results += screener.finish()
            s = screener.summary()
    except (ScoliGaitError, OSError, ValueError) as exc:
        return row.model_copy(update={"error": f"{type(exc).__name__}: {exc}", "seconds": time.perf_counter() - t0})
    screened = [r for r in results if r.status == "screened"]
    cadences = [r.cadence_spm for r in screened if r.cadence_spm is not None]
    unusual = [r.input_unusual for r in screened if r.input_unusual is not None]
    return row.model_copy(
        update={
            "decision": s.decision,
            "probability_mean": s.probability_mean,
            "probability_sd": s.probability_sd,
            "threshold": s.threshold,
            "windows_total": s.windows_total,
            "windows_screened": s.windows_screened,
            "windows_skipped": s.windows_skipped,
            "windows_failed": s.windows_failed,
            "skip_reasons": dict(s.quality_flags),
            "input_unusual_share": float(np.mean(unusual)) if unusual else None,
            "cadence_spm": float(np.median(cadences)) if cadences else None,
            "frames": s.frames_processed,
            "duration_s": s.duration_s,
            "reason": s.reason,
            "provenance": s.provenance,
            "seconds": time.perf_counter() - t0,
        }
    )


# ------------------------------------------------------------------ inputs, labels, resume
def read_labels(path: Path) -> dict[str, tuple[str, Label]]:
    """``clip_id -> (subject_id, label)``; label None = unlabelled control. ValidateError on anything unclear."""
    try:
        rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    except OSError as exc:
        raise ValidateError(f"cannot read --labels {path}: {exc}") from None
    if not rows or "clip_id" not in rows[0]:
        raise ValidateError(f"{path}: needs a header with clip_id and label (or cobb_deg)")
    if "label" not in rows[0] and "cobb_deg" not in rows[0]:
        raise ValidateError(f"{path}: needs a 'label' (1 / 0 / control) or a 'cobb_deg' column")
    out: dict[str, tuple[str, Label]] = {}
    for n, r in enumerate(rows, start=2):
        cid = (r.get("clip_id") or "").strip()
        if not cid:
            raise ValidateError(f"{path} line {n}: empty clip_id")
        if cid in out:
            raise ValidateError(f"{path} line {n}: clip {cid!r} listed twice")
        subject = (r.get("subject_id") or "").strip() or cid
        raw = (r.get("label") or "").strip().lower()
        cobb = (r.get("cobb_deg") or "").strip()
        label: Label
        if raw in ("1", "0"):
            label = int(raw)  # type: ignore[assignment]
        elif raw in ("", "control") and cobb:
            try:
                label = int(float(cobb) >= COBB_THRESHOLD_DEG)  # type: ignore[assignment]
            except ValueError:
                raise ValidateError(f"{path} line {n}: cobb_deg {cobb!r} is not a number") from None
        elif raw in ("", "control"):
            label = None
        else:
            raise ValidateError(f"{path} line {n}: label {raw!r} must be 1, 0 or control")
        out[cid] = (subject, label)
    return out


def find_inputs(folder: Path, kind: str) -> list[Path]:
    if not folder.is_dir():
        raise ValidateError(f"--{'videos' if kind == 'video' else 'keypoints'} {folder} is not a folder")
    suffixes = VIDEO_SUFFIXES if kind == "video" else (KEYPOINT_SUFFIX,)
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if not found:
        raise ValidateError(f"{folder}: no {' / '.join(suffixes)} files")
    stems = Counter(p.stem for p in found)
    if dup := [s for s, k in stems.items() if k > 1]:
        raise ValidateError(f"{folder}: several files share the clip id(s) {dup[:5]} (the file stem)")
    return found


def _bundle_key(opts: ValidateOptions) -> str:
    from scoligait_edge.screener import demo_bundle_path

    root = Path(opts.bundle) if opts.bundle else demo_bundle_path()
    h = hashlib.sha256(opts.model_dump_json(include={"pose_model", "hop"}).encode())
    files = sorted(root.rglob("*")) if root.is_dir() else [root]
    for f in files:
        if f.is_file() and f.suffix in (".json", ".onnx", ".sig", ".zip"):
            h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


Job = tuple[str, str, str, str, Label]


def _run_all(jobs: list[Job], opts: ValidateOptions, on_done: Callable[[VideoRow], None]) -> None:
    if opts.engine == "ray":
        import ray  # the scale extra (docs/SCALE_OUT.md); only here

        if not ray.is_initialized():
            ray.init(address=opts.address, num_cpus=None if opts.address else opts.jobs, log_to_driver=False)
        remote = ray.remote(num_cpus=1)(screen_one)
        pending = [remote.remote(*j, opts) for j in jobs]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            on_done(ray.get(done[0]))
        return
    if opts.jobs == 1:
        for j in jobs:
            on_done(screen_one(*j, opts))
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(opts.jobs, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(screen_one, *j, opts) for j in jobs]
        for f in as_completed(futures):
            on_done(f.result())


def validate(
    inputs: Sequence[Path],
    kind: Literal["video", "keypoints"],
    labels: dict[str, tuple[str, Label]] | None,
    out: Path,
    opts: ValidateOptions,
    *,
    progress: bool = True,
) -> list[VideoRow]:
    """Screen every input not already in ``out/rows`` with the same bundle and settings; returns all rows."""
    from tqdm.auto import tqdm

    rows_dir = out / "rows"
    rows_dir.mkdir(parents=True, exist_ok=True)
    key = _bundle_key(opts)
    labels = labels or {}
    if unknown := sorted(set(labels) - {p.stem for p in inputs}):
        log.warning("%d labelled clip(s) have no file: %s", len(unknown), unknown[:5])
    rows: dict[str, VideoRow] = {}
    todo: list[Job] = []
    for p in inputs:
        subject, label = labels.get(p.stem, (p.stem, None))
        saved = rows_dir / f"{p.stem}.json"
        if saved.is_file():
            try:
                old = VideoRow.model_validate_json(saved.read_text(encoding="utf-8"))
                if old.key == key and old.error is None:
                    rows[p.stem] = old.model_copy(update={"subject_id": subject, "label": label})
                    continue
            except ValueError:
                pass
        todo.append((str(p), kind, p.stem, subject, label))
    if len(rows):
        log.info("resuming: %d of %d already screened with this bundle", len(rows), len(inputs))
    bar = tqdm(total=len(todo), desc="validate", unit="clip", disable=not progress)

    def done(row: VideoRow) -> None:
        row = row.model_copy(update={"key": key})
        (rows_dir / f"{row.clip_id}.json").write_text(row.model_dump_json(indent=1), encoding="utf-8")
        rows[row.clip_id] = row
        bar.update(1)

    try:
        _run_all(todo, opts, done)
    finally:
        bar.close()
    return [rows[p.stem] for p in inputs if p.stem in rows]


# ------------------------------------------------------------------ figures and reports
class ValidationMetrics(BaseModel):
    """The labelled videos' figures at the bundle's threshold, and the controls' referral rate."""

    videos: int
    decided: int
    no_decision: int
    errors: int
    labelled_decided: int
    positives: int
    negatives: int
    table2: dict[str, Any] | None = Field(description="the paper's Table 2 columns (BinaryMetrics)")
    auc: dict[str, Any] | None
    sensitivity: dict[str, Any] | None
    specificity: dict[str, Any] | None
    controls: int
    control_referral_rate: dict[str, Any] | None
    threshold: float | None
    calibration: list[dict[str, float]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    notice: str = SCREENING_NOTICE


def compute_metrics(rows: Sequence[VideoRow], *, n_boot: int = 2000, seed: int = 0) -> ValidationMetrics:
    from scoligait_edge.metrics import binary_metrics, bootstrap_auc_ci, bootstrap_rate_ci

    decided = [r for r in rows if r.decision is not None and r.probability_mean is not None]
    lab = [r for r in decided if r.label is not None]
    ctrl = [r for r in decided if r.label is None]
    thresholds = {r.threshold for r in decided if r.threshold is not None}
    threshold = thresholds.pop() if len(thresholds) == 1 else None
    notes = []
    if len(rows) - len(decided):
        notes.append(
            f"{len(rows) - len(decided)} of {len(rows)} videos gave no decision (nothing screened or an error); "
            "they are left out of every figure below"
        )
    y = np.array([r.label for r in lab], dtype=np.int64)
    p = np.array([r.probability_mean for r in lab], dtype=np.float64)
    subj = [r.subject_id for r in lab]
    table2 = auc = sens = spec = None
    calib: list[dict[str, float]] = []
    if lab and threshold is not None:
        m = binary_metrics(y, p, threshold)
        table2 = m.model_dump()
        called = p >= threshold
        if y.min() != y.max():
            auc = bootstrap_auc_ci(y, p, subj, n_boot=n_boot, seed=seed).model_dump()
        else:
            notes.append("the labelled videos hold one class only: no AUC")
        sens = bootstrap_rate_ci(called[y == 1], np.asarray(subj)[y == 1], n_boot=n_boot, seed=seed).model_dump()
        spec = bootstrap_rate_ci(~called[y == 0], np.asarray(subj)[y == 0], n_boot=n_boot, seed=seed).model_dump()
        edges = np.linspace(0, 1, 6)
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            inside = (p >= lo) & ((p < hi) | (hi == 1.0))
            if inside.any():
                calib.append(
                    {"lo": lo, "hi": hi, "n": int(inside.sum()), "mean_prob": float(p[inside].mean()),
                     "observed": float(y[inside].mean())}
                )  # fmt: skip
    ctrl_rate = None
    if ctrl and threshold is not None:
        refer = np.array([r.decision == "refer" for r in ctrl])
        ctrl_rate = bootstrap_rate_ci(refer, [r.subject_id for r in ctrl], n_boot=n_boot, seed=seed).model_dump()
    if len(lab) < 30:
        notes.append(f"only {len(lab)} labelled videos with a decision: intervals are wide; no claim follows")
    return ValidationMetrics(
        videos=len(rows),
        decided=len(decided),
        no_decision=sum(r.decision is None and r.error is None for r in rows),
        errors=sum(r.error is not None for r in rows),
        labelled_decided=len(lab),
        positives=int((y == 1).sum()),
        negatives=int((y == 0).sum()),
        table2=table2,
        auc=auc,
        sensitivity=sens,
        specificity=spec,
        controls=len(ctrl),
        control_referral_rate=ctrl_rate,
        threshold=threshold,
        calibration=calib,
        notes=notes,
    )


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def _ci(d: dict[str, Any] | None, key: str = "value") -> str:
    if not d:
        return "n/a"
    return f"{_fmt(d.get(key))} [{_fmt(d.get('lo'))}, {_fmt(d.get('hi'))}]"


def markdown_report(rows: Sequence[VideoRow], m: ValidationMetrics, provenance: str, bundle: str) -> str:
    lines = [
        "# Validation of a bundle on a folder of walking videos",
        "",
        f"> **{SCREENING_NOTICE}**",
        "",
        f"Bundle: `{bundle}` ({provenance}). Runtime path: the `Screener` (pose, tracker, knowledge map, quality "
        f"rule, the bundle's threshold {_fmt(m.threshold)}). {m.videos} videos: {m.decided} with a decision, "
        f"{m.no_decision} with none, {m.errors} errors.",
        "",
    ]
    lines += [f"- {n}" for n in m.notes] + ([""] if m.notes else [])
    if m.table2:
        t = m.table2
        lines += [
            f"## Labelled videos ({m.labelled_decided}: {m.positives} positive, {m.negatives} negative)",
            "",
            "Intervals: 95 % percentile bootstrap over subjects (each with all its videos).",
            "",
            "| Acc | macro F1 | Pos P | Pos R | Pos F1 | Neg P | Neg R | Neg F1 | AUC [95% CI] | sensitivity [95% CI] | "
            "specificity [95% CI] |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            "| "
            + " | ".join(
                _fmt(t[k])
                for k in (
                    "accuracy",
                    "macro_f1",
                    "pos_precision",
                    "pos_recall",
                    "pos_f1",
                    "neg_precision",
                    "neg_recall",
                    "neg_f1",
                )
            )  # fmt: skip
            + f" | {_ci(m.auc, 'auc')} | {_ci(m.sensitivity)} | {_ci(m.specificity)} |",
            "",
            "![calibration](calibration.png)",
            "",
        ]
    if m.control_referral_rate:
        lines += [
            f"## Unlabelled controls ({m.controls}: no known scoliosis, no radiograph)",
            "",
            f"Referral rate: {_ci(m.control_referral_rate)}.",
            "",
        ]
    lines += [
        "## Per video",
        "",
        "| clip | subject | label | decision | mean p (sd) | windows screened / skipped / failed | skip reasons | "
        "input unusual | cadence | note |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        label = "control" if r.label is None else str(r.label)
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(r.skip_reasons.items())) or "-"
        unusual = "n/a" if r.input_unusual_share is None else f"{r.input_unusual_share:.0%}"
        cad = "n/a" if r.cadence_spm is None else f"{r.cadence_spm:.0f}"
        note = r.error or r.reason or ""
        lines.append(
            f"| {r.clip_id} | {r.subject_id} | {label} | {r.decision or '-'} | {_fmt(r.probability_mean)} "
            f"({_fmt(r.probability_sd)}) | {r.windows_screened} / {r.windows_skipped} / {r.windows_failed} | "
            f"{reasons} | {unusual} | {cad} | {note.replace('|', '/')} |"
        )
    return "\n".join(lines) + "\n"


def html_report(markdown: str) -> str:
    """A self-contained page: the Markdown's tables as HTML tables, other lines as paragraphs."""
    body: list[str] = []
    table: list[list[str]] = []

    def flush() -> None:
        if table:
            head, *rest = table
            body.append(
                "<table><tr>" + "".join(f"<th>{c}</th>" for c in head) + "</tr>"
                + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rest)
                + "</table>"
            )  # fmt: skip
            table.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            if not all(set(c) <= {"-", " "} for c in cells):
                table.append(cells)
            continue
        flush()
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line.lstrip('# '))}</h{level}>")
        elif line.startswith("!["):
            body.append('<img src="calibration.png" alt="calibration plot" width="420">')
        elif line.strip():
            body.append(f"<p>{html.escape(line.lstrip('>- ').replace('**', ''))}</p>")
    flush()
    style = "body{font-family:sans-serif;max-width:70em;margin:2em auto}td,th{border:1px solid #ccc;padding:2px 6px}"
    return f"<!doctype html><meta charset='utf-8'><title>Validation</title><style>{style}</style>" + "".join(body)


def calibration_plot(m: ValidationMetrics, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect calibration")
    if m.calibration:
        x = [c["mean_prob"] for c in m.calibration]
        ax.plot(x, [c["observed"] for c in m.calibration], "o-", label="videos (5 bins)")
        for c in m.calibration:
            ax.annotate(str(c["n"]), (c["mean_prob"], c["observed"]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")  # fmt: skip
    if m.threshold is not None:
        ax.axvline(m.threshold, color="C3", lw=1, label=f"threshold {m.threshold:.2f}")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="mean window probability", ylabel="observed share positive")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(rows: Sequence[VideoRow], out: Path, opts: ValidateOptions) -> ValidationMetrics:
    m = compute_metrics(rows, n_boot=opts.n_boot, seed=opts.seed)
    fields = [f for f in VideoRow.model_fields if f not in ("key",)]
    with (out / "per_video.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            d = r.model_dump(exclude={"key"})
            d["skip_reasons"] = json.dumps(d["skip_reasons"])
            w.writerow(d)
    (out / "metrics.json").write_text(m.model_dump_json(indent=2), encoding="utf-8")
    provenance = next((r.provenance for r in rows if r.provenance), "provenance unknown")
    md = markdown_report(rows, m, provenance, opts.bundle or "the demo bundle")
    (out / "report.md").write_text(md, encoding="utf-8")
    (out / "report.html").write_text(html_report(md), encoding="utf-8")
    calibration_plot(m, out / "calibration.png")
    return m


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m scoligait_edge.validate",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--videos", type=Path, help="folder of walking videos (clip id = file stem)")
    src.add_argument("--keypoints", type=Path, help="folder of .npz pose files (keypoints, timestamps_ms, silhouettes)")
    p.add_argument("--labels", type=Path, default=None, help="CSV: clip_id, label (1 / 0 / control) or cobb_deg, ...")
    p.add_argument("--out", type=Path, required=True, help="report folder (rows/ inside it make a rerun resume)")
    p.add_argument("--bundle", default=None, help="bundle folder or zip (default: the demo bundle)")
    p.add_argument("--allow-unsigned-bundle", action="store_true")
    p.add_argument("--pose-model", default="full", help="lite / full / heavy or a .task file (videos only)")
    p.add_argument("--hop", type=int, default=16)
    p.add_argument("--jobs", type=int, default=1, help="videos at once (processes, or Ray CPUs)")
    p.add_argument("--engine", choices=("local", "ray"), default="local")
    p.add_argument("--address", default=None, help="Ray cluster to join (with --engine ray)")
    p.add_argument("--n-boot", type=int, default=2000)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        opts = ValidateOptions(
            bundle=args.bundle,
            allow_unsigned_bundle=args.allow_unsigned_bundle,
            pose_model=args.pose_model,
            hop=args.hop,
            jobs=args.jobs,
            engine=args.engine,
            address=args.address,
            n_boot=args.n_boot,
        )
        if args.address and args.engine != "ray":
            raise ValidateError("--address joins a Ray cluster: use it with --engine ray")
        kind: Literal["video", "keypoints"] = "video" if args.videos is not None else "keypoints"
        inputs = find_inputs(args.videos if args.videos is not None else args.keypoints, kind)
        labels = read_labels(args.labels) if args.labels is not None else None
        args.out.mkdir(parents=True, exist_ok=True)
        rows = validate(inputs, kind, labels, args.out, opts, progress=not args.no_progress)
        m = write_outputs(rows, args.out, opts)
    except (ScoliGaitError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(SCREENING_NOTICE)
    print(f"{m.videos} videos: {m.decided} decided, {m.no_decision} no decision, {m.errors} errors")
    if m.auc:
        print(f"AUC {_ci(m.auc, 'auc')}, sensitivity {_ci(m.sensitivity)}, specificity {_ci(m.specificity)}")
    if m.control_referral_rate:
        print(f"unlabelled controls: referral rate {_ci(m.control_referral_rate)} (n = {m.controls})")
    print(f"report: {args.out / 'report.html'}")
    return 0 if m.decided else 1


if __name__ == "__main__":
    raise SystemExit(main())
