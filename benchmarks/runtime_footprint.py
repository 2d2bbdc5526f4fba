"""Peak memory and start-up time of the main job, measured as a kiosk would see them.

Each run is a fresh process of ``--python`` (default: this interpreter; point it at a
virtual environment built from the wheel without extras to measure what ships)::

    python benchmarks/runtime_footprint.py --python /path/to/runtime-venv/bin/python --runs 5

The job is ``python -m scoligait_edge.run --headless --backend onnxruntime`` on the bundled
sample video (230 frames, 1768 x 994) with the demo bundle. Start-up is from just before
the process is spawned to the return of the first ``Screener.process`` call (interpreter,
imports, bundle verification, ONNX Runtime session, MediaPipe landmarker, video open, first
frame). Peak RSS is ``ru_maxrss`` at exit. References run in the same processes' way:
the main job with MediaPipe given the camera frame as it is (``max_input_side=None``, the path
before pose frames were sized); MediaPipe alone on the same frames (lite pose, with and without
segmentation masks, sized as the runtime sizes them, and with masks on the camera frame), the
floor any runtime built on it starts from; and the main job under a glibc allocator tuning
(fewer malloc arenas, large blocks returned to the system) that a kiosk service can set in
its environment. Prints a markdown table (``--md`` writes it too) and the raw runs as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MALLOC_TUNING = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "262144"}
"""glibc: two malloc arenas instead of 8 per core, and blocks over 256 KiB mapped (and unmapped) directly."""

_MAIN_JOB = r"""
import json, resource, sys, time
t_spawn = float(sys.argv[1])
if sys.argv[2] == "--camera-frame-pose":  # MediaPipe given the camera frame as it is
    del sys.argv[2]
    import scoligait_edge.pose.estimator as estimator_module
    estimator_module.model_frame_factor = lambda width, height, max_side: 1
import scoligait_edge.screener as screener_module
first = {}
original = screener_module.Screener.process
def process(self, *args, **kwargs):
    out = original(self, *args, **kwargs)
    first.setdefault("t", time.time())
    return out
screener_module.Screener.process = process
from scoligait_edge import run
code = 0
try:
    run.main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code or 0
pyplot = sys.modules.get("matplotlib.pyplot")
print("FOOTPRINT " + json.dumps({
    "startup_s": first["t"] - t_spawn if "t" in first else None,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "exit_code": code, "torch_imported": "torch" in sys.modules, "scipy_imported": "scipy" in sys.modules,
    "pyplot_executed": pyplot is not None and type(pyplot).__name__ != "_LazyModule",
}))
"""

_POSE_ALONE = r"""
import json, resource, sys
import cv2
from scoligait_edge.assets import sample_video_path
from scoligait_edge.pose.estimator import PoseEstimator
masks = sys.argv[1] == "1"
sized = {} if sys.argv[2] == "sized" else {"max_input_side": None}
cap = cv2.VideoCapture(str(sample_video_path()))
fps = cap.get(cv2.CAP_PROP_FPS)
n = 0
with PoseEstimator("lite", output_masks=masks, **sized) as est:
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        est.detect(frame, int(n * 1000 / fps))
        n += 1
print("FOOTPRINT " + json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                                 "frames": n}))
"""


def _probe(python: str, code: str, args: list[str], env: dict[str, str] | None = None) -> dict:
    """Run ``code`` in a fresh ``python`` outside the source tree; the dict it printed."""
    full_env = {**os.environ, **(env or {})}
    with tempfile.TemporaryDirectory(prefix="footprint-") as cwd:
        spawn = time.time()
        argv = [python, "-c", code, *(a.replace("{spawn}", repr(spawn)) for a in args)]
        proc = subprocess.run(argv, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=600)
    for line in proc.stdout.splitlines()[::-1]:
        if line.startswith("FOOTPRINT "):
            return json.loads(line[len("FOOTPRINT ") :])
    raise RuntimeError(f"probe failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")


def _main_job(python: str, out_dir: Path, env: dict[str, str] | None = None, camera_frame: bool = False) -> dict:
    args = ["{spawn}", "--headless", "--backend", "onnxruntime", "--output", str(out_dir / "results.jsonl")]
    if camera_frame:
        args.insert(1, "--camera-frame-pose")
    (out_dir / "results.jsonl").unlink(missing_ok=True)
    return _probe(python, _MAIN_JOB, args, env)


def measure(python: str, runs: int, baseline: str | None = None) -> dict:
    """Interleaved runs (main job, tuned main job, pose with / without masks, and the main job of a
    ``baseline`` interpreter, e.g. an older release's venv) so drift hits all alike."""
    rows: dict[str, list[dict]] = {
        "main job": [],
        "main job, pose on the camera frame": [],
        "main job, allocator tuned": [],
        "MediaPipe lite alone, masks": [],
        "MediaPipe lite alone, masks, camera frame": [],
        "MediaPipe lite alone, no masks": [],
    }
    if baseline:
        rows = {"main job, baseline": [], **rows}
    with tempfile.TemporaryDirectory(prefix="footprint-out-") as tmp:
        out = Path(tmp)
        for _ in range(runs):
            if baseline:
                rows["main job, baseline"].append(_main_job(baseline, out))
            rows["main job"].append(_main_job(python, out))
            rows["main job, pose on the camera frame"].append(_main_job(python, out, camera_frame=True))
            rows["main job, allocator tuned"].append(_main_job(python, out, MALLOC_TUNING))
            rows["MediaPipe lite alone, masks"].append(_probe(python, _POSE_ALONE, ["1", "sized"]))
            rows["MediaPipe lite alone, masks, camera frame"].append(_probe(python, _POSE_ALONE, ["1", "camera"]))
            rows["MediaPipe lite alone, no masks"].append(_probe(python, _POSE_ALONE, ["0", "sized"]))
    return rows


def table(rows: dict[str, list[dict]]) -> str:
    lines = [
        "| process | peak RSS, MB (median, range) | start-up to first frame, s (median, range) | runs |",
        "| --- | --- | --- | --- |",
    ]
    for name, runs in rows.items():
        rss = [r["peak_rss_mb"] for r in runs]
        start = [r["startup_s"] for r in runs if r.get("startup_s") is not None]
        s_txt = f"{statistics.median(start):.2f} ({min(start):.2f}-{max(start):.2f})" if start else "-"
        lines.append(
            f"| {name} | {statistics.median(rss):.0f} ({min(rss):.0f}-{max(rss):.0f}) | {s_txt} | {len(runs)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default=sys.executable, help="interpreter of the environment to measure")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument(
        "--baseline",
        help="interpreter of a second environment (e.g. an older release) whose main job "
        "runs interleaved with this one's, for a before/after from one run",
    )
    p.add_argument("--md", help="also write the table here")
    p.add_argument("--json", help="also write the raw runs here")
    args = p.parse_args(argv)
    rows = measure(args.python, args.runs, args.baseline)
    text = table(rows)
    print(text)
    bad = [r for r in rows["main job"] if r["exit_code"] != 0 or r["torch_imported"] or r["pyplot_executed"]]
    for r in bad:
        print(f"warning: {r}", file=sys.stderr)
    if args.md:
        Path(args.md).write_text(text + "\n", encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
