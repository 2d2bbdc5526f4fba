"""The station's CPU per frame against ``run --headless`` on the same video (a ratio from one invocation) and
the live preview's frame-to-screen latency (p50, p95) in Chromium.

    python benchmarks/kiosk/cpu_latency.py --out out/kiosk_bench

Run and station alternate ``--repeats`` times in one invocation (one station process, the same page: the next
subject each time) and the median ratio is reported with its range. ``run``: CPU seconds of a whole ``run --video sample --headless`` minus those of the same command stopped after
one frame (start-up and model load), over the frames after the first. Station: CPU seconds of the station process
between consent and the summary (its models already loaded), over the frames it processed, with the page open
in Chromium (preview, skeleton, states; the settle frames and the recording, which starts again from the settled
frame, are both counted). Latency: capture of a frame on the server to the page having drawn its
preview (same machine, same clock), from the page's own record.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.kiosk_helpers import CHROMIUM, CHROMIUM_ARGS, station  # noqa: E402


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_cpu(pose_model: str, max_frames: int | None) -> float:
    cmd = [sys.executable, "-m", "scoligait_edge.run", "--headless", "--pose-model", pose_model]
    if max_frames:
        cmd += ["--max-frames", str(max_frames)]
    before = os.times()
    subprocess.run(cmd, capture_output=True, check=False)
    after = os.times()
    return (after.children_user - before.children_user) + (after.children_system - before.children_system)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pose-model", default="lite")
    ap.add_argument("--out", type=Path, default=Path("out/kiosk_bench"))
    ap.add_argument(
        "--no-pace", action="store_true", help="the station reads the video as fast as it can (as run does)"
    )
    ap.add_argument("--repeats", type=int, default=3, help="run / station pairs, alternating (the median ratio)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    frames = 230  # the sample video's frames
    work = args.out / "station"
    work.mkdir(exist_ok=True)
    rows = []
    pace = ["--no-pace"] if args.no_pace else []
    with station(work, "--pose-model", args.pose_model, *pace) as (proc, port), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_function("window.__kiosk.state && window.__kiosk.state.phase === 'idle'")
        for _ in range(args.repeats):  # run and station alternate: both see the same share of a noisy machine
            full, one = run_cpu(args.pose_model, None), run_cpu(args.pose_model, 1)
            run_per_frame = (full - one) / (frames - 1)
            page.click("#welcome-next")
            for box in ("#c-subject", "#c-operator"):
                page.check(box)
            c0 = cpu_s(proc.pid)
            page.click("#consent-go")
            page.wait_for_function("window.__kiosk.state && window.__kiosk.state.phase === 'summary'", timeout=600_000)
            c1 = cpu_s(proc.pid)
            first, last = page.evaluate("window.__kiosk.state.recorded_frames")
            # guiding read frames 0..first (the settle frames), then the recording read first..last from a reset
            station_frames = (first + 1) + (last - first + 1)
            station_per_frame = (c1 - c0) / station_frames
            rows.append(
                {
                    "run_headless_cpu_ms_per_frame": round(run_per_frame * 1000, 1),
                    "station_cpu_ms_per_frame": round(station_per_frame * 1000, 1),
                    "station_frames": station_frames,
                    "ratio_station_over_run": round(station_per_frame / run_per_frame, 3),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            page.click("#next")
            page.wait_for_function("window.__kiosk.state && window.__kiosk.state.phase === 'idle'")
        time.sleep(0.5)
        lat = np.array(page.evaluate("window.__kiosk.latencies"), dtype=float)
        browser.close()
    ratios = [r["ratio_station_over_run"] for r in rows]
    result = {
        "pose_model": args.pose_model,
        "station_paced": not args.no_pace,
        "run_frames": frames,
        "repeats": rows,
        "ratio_station_over_run_median": round(float(np.median(ratios)), 3),
        "ratio_station_over_run_range": [min(ratios), max(ratios)],
        "preview_latency_ms_p50": round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
        "preview_latency_ms_p95": round(float(np.percentile(lat, 95)), 1) if len(lat) else None,
        "preview_frames_measured": int(len(lat)),
        "load_average_1min_at_end": round(os.getloadavg()[0], 1),
        "cpus": os.cpu_count(),
    }
    (args.out / "cpu_latency.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
