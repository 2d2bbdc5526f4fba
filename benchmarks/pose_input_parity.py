"""What the size of the frame given to MediaPipe changes, on every frame of the sample video.

    python benchmarks/pose_input_parity.py --model full --sides 960,640,480 [--json out/parity.json]

One ``Screener`` per path (the reference gives MediaPipe the camera frame as it is,
``max_input_side=None``; each candidate scales it down so its longer side is N px), all fed the
same decoded frames in turn, in an order that rotates from frame to frame, so the timing ratios
are paired and drift on a shared machine hits every path alike. Per path, against the reference:

- ``Screener.process`` time per frame (median of the per-frame ratios);
- silhouette IoU (64 x 44, foreground >= 128) on frames where both paths have a subject silhouette;
- subject landmarks: per frame the median distance over the 33 landmarks in camera pixels and as a
  share of the subject's body height (the reference's landmark box height, head to heel); then the
  median, p95 and max over frames;
- window probabilities (windows paired by index), labels, and the session decision.

Prints a markdown table (docs/RUNTIME.md quotes it) and, with ``--json``, the raw figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    fa, fb = a >= 128, b >= 128
    union = int(np.count_nonzero(fa | fb))
    return 1.0 if union == 0 else int(np.count_nonzero(fa & fb)) / union


class _Path:
    """One Screener and what it saw on every frame."""

    def __init__(self, side: int | None, model: str, bundle: Path, shift: bool = False) -> None:
        from scoligait_edge.pose.estimator import PoseEstimatorOptions
        from scoligait_edge.screener import BackendOptions, Screener, ScreenerOptions

        self.side = side
        self.shift = shift
        options = ScreenerOptions(
            pose=PoseEstimatorOptions(model=model, max_input_side=side),
            backend=BackendOptions(backend="onnxruntime"),
            keep_history=False,
        )
        self.screener = Screener(bundle, options=options)
        self.ms: list[float] = []
        self.landmarks: list[np.ndarray | None] = []
        self.silhouettes: list[np.ndarray | None] = []
        self.probs: dict[int, float] = {}

    @property
    def name(self) -> str:
        if self.shift:
            return "camera frame moved 1 px left"
        return "camera frame" if self.side is None else f"at most {self.side} px"

    def process(self, image: np.ndarray, ts: float) -> None:
        from scoligait_edge.video.silhouette import person_silhouette

        if self.shift:  # the control: what one pixel of camera shake changes, with no resizing at all
            image = np.ascontiguousarray(np.concatenate([image[:, 1:], image[:, -1:]], axis=1))
        t0 = time.perf_counter()
        update = self.screener.process(image, ts)
        self.ms.append((time.perf_counter() - t0) * 1e3)
        subject = None if update.pose is None else update.pose.subject
        self.landmarks.append(
            None if subject is None else subject.image_landmarks[:, :2] + ((1.0, 0.0) if self.shift else (0.0, 0.0))
        )
        sil = None
        if subject is not None and subject.mask is not None:
            s, ok = person_silhouette(subject.mask, subject.bbox)
            sil = s if ok else None
        self.silhouettes.append(sil)
        for r in update.results:
            if r.probability is not None:
                self.probs[r.window_index] = r.probability


def compare(ref: _Path, cand: _Path, warmup: int) -> dict[str, Any]:
    ious, px, share, only_one = [], [], [], 0
    for la, lb, sa, sb in zip(ref.landmarks, cand.landmarks, ref.silhouettes, cand.silhouettes, strict=True):
        if (la is None) != (lb is None):
            only_one += 1
        if la is not None and lb is not None:
            d = float(np.median(np.linalg.norm(la - lb, axis=1)))
            height = float(la[:, 1].max() - la[:, 1].min())
            px.append(d)
            share.append(d / max(height, 1.0))
        if sa is not None and sb is not None:
            ious.append(_iou(sa, sb))
    common = sorted(set(ref.probs) & set(cand.probs))
    dp = np.array([abs(ref.probs[i] - cand.probs[i]) for i in common])
    thr = ref.screener.threshold
    agree = sum((ref.probs[i] >= thr) == (cand.probs[i] >= thr) for i in common)
    ratio = np.asarray(cand.ms[warmup:]) / np.asarray(ref.ms[warmup:])
    sa, sb = ref.screener.summary(), cand.screener.summary()
    return {
        "path": cand.name,
        "side": cand.side,
        "ms_p50": float(np.median(cand.ms[warmup:])),
        "time_ratio_p50": float(np.median(ratio)),
        "silhouette_frames": len(ious),
        "iou_mean": float(np.mean(ious)) if ious else None,
        "iou_min": float(np.min(ious)) if ious else None,
        "iou_p05": float(np.percentile(ious, 5)) if ious else None,
        "subject_frames": len(px),
        "subject_in_one_path_only": only_one,
        "landmark_px": [float(np.median(px)), float(np.percentile(px, 95)), float(np.max(px))] if px else None,
        "landmark_share": [float(np.median(share)), float(np.percentile(share, 95)), float(np.max(share))]
        if share
        else None,
        "windows": [len(ref.probs), len(cand.probs), len(common)],
        "prob_abs_diff_mean_max": [float(dp.mean()), float(dp.max())] if len(dp) else None,
        "labels_agree": f"{agree}/{len(common)}",
        "probability_mean": [sa.probability_mean, sb.probability_mean],
        "decision": [sa.decision, sb.decision],
    }


def run(
    model: str, sides: list[int], bundle: Path | None = None, warmup: int = 10, control: bool = True
) -> dict[str, Any]:
    from scoligait_edge.assets import sample_video_path
    from scoligait_edge.pose.estimator import PoseEstimatorOptions
    from scoligait_edge.screener import demo_bundle_path
    from scoligait_edge.stream.video_file import iter_video_frames

    bundle = bundle or demo_bundle_path()
    paths = [_Path(None, model, bundle)] + [_Path(s, model, bundle) for s in sides]
    if control:
        paths.append(_Path(None, model, bundle, shift=True))
    n = 0
    try:
        for f in iter_video_frames(sample_video_path()):
            for k in range(len(paths)):  # rotate who goes first
                paths[(n + k) % len(paths)].process(f.image, f.timestamp_ms)
            n += 1
        size = f.image.shape[1], f.image.shape[0]
        rows = [compare(paths[0], p, warmup) for p in paths[1:]]
        ref = paths[0]
        head = {
            "model": model,
            "frames": n,
            "camera": list(size),
            "default_max_input_side": PoseEstimatorOptions().max_input_side,
            "reference_ms_p50": float(np.median(ref.ms[warmup:])),
            "reference_windows": len(ref.probs),
            "reference_decision": ref.screener.summary().decision,
        }
    finally:
        for p in paths:
            p.screener.close()
    return {**head, "rows": rows}


def table(res: dict[str, Any]) -> str:
    w, h = res["camera"]
    lines = [
        f"{res['model']} pose model, {res['frames']} frames of {w} x {h}; reference: MediaPipe given the camera "
        f"frame ({res['reference_ms_p50']:.1f} ms/frame p50, {res['reference_windows']} windows, decision "
        f"{res['reference_decision']})",
        "",
        "| frame given to MediaPipe | process time / reference (p50 of paired frames) | silhouette IoU mean "
        "(min, p5; frames) | landmark distance px: median, p95, max | as share of body height | subject in one "
        "path only (frames) | window p: mean, max abs diff | labels agree | decision |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    from scoligait_edge.pose.estimator import model_frame_factor

    for r in res["rows"]:
        if r["side"] is None:
            shown = r["path"]
        else:
            f = model_frame_factor(w, h, r["side"])
            shown = f"{w // f} x {h // f} ({r['path']})"
        lp, ls = r["landmark_px"], r["landmark_share"]
        pm = r["prob_abs_diff_mean_max"]
        lines.append(
            f"| {shown} | {r['time_ratio_p50']:.2f}x | {r['iou_mean']:.3f} ({r['iou_min']:.3f}, "
            f"{r['iou_p05']:.3f}; {r['silhouette_frames']}) | {lp[0]:.1f}, {lp[1]:.1f}, {lp[2]:.1f} | "
            f"{100 * ls[0]:.2f}%, {100 * ls[1]:.2f}%, {100 * ls[2]:.1f}% | {r['subject_in_one_path_only']} | "
            + (f"{pm[0]:.4f}, {pm[1]:.4f}" if pm else "-")
            + f" | {r['labels_agree']} | {r['decision'][1]} (p {r['probability_mean'][1]:.4f} vs "
            f"{r['probability_mean'][0]:.4f}) |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="full", help="lite or full (run's default: full)")
    p.add_argument("--sides", default="960,640", help="candidate longer sides, comma-separated")
    p.add_argument("--bundle", type=Path, default=None, help="bundle (default: the demo bundle)")
    p.add_argument("--json", type=Path, help="also write the raw figures here")
    p.add_argument("--no-control", action="store_true", help="leave out the 1-px shifted camera frame")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    res = run(args.model, [int(s) for s in args.sides.split(",")], args.bundle, control=not args.no_control)
    print(table(res))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
