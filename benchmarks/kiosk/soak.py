"""Soak of the screening station: subject after subject on the looping sample video, RSS sampled over time.

    python benchmarks/kiosk/soak.py --minutes 25 --out out/kiosk_soak

Starts ``python -m scoligait_edge.kiosk`` on the sample video, drives it through
its WebSocket as the page does (consent -> guidance -> recording -> summary ->
next subject, preview frames received), samples the station's resident memory
every few seconds into ``rss.csv`` and writes ``soak.json``: the RSS slope
(least squares after the warm-up) and its extrapolation to an 8-hour school day.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

CONSENT = {"operator_confirms": True, "subject_is_minor": True, "subject_consents": True, "guardian_consents": True}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def drive(port: int, deadline: float, sessions: list[dict]) -> None:
    import websockets

    url = f"ws://127.0.0.1:{port}/ws?client=soak-driver-01"
    async with websockets.connect(url, origin=f"http://127.0.0.1:{port}", max_size=None) as ws:
        while time.monotonic() < deadline:
            await ws.send(json.dumps({"type": "begin", "consent": CONSENT}))
            while True:
                m = await ws.recv()
                if isinstance(m, bytes):
                    continue
                s = json.loads(m)
                if s.get("type") == "state" and s["phase"] == "summary":
                    sm = s["summary"]
                    sessions.append({"t": time.monotonic(), "decision": sm["decision"], "p": sm["probability_mean"]})
                    break
                if s.get("type") == "error":
                    await asyncio.sleep(0.2)
                    await ws.send(json.dumps({"type": "begin", "consent": CONSENT}))
            await ws.send(json.dumps({"type": "next"}))
            await asyncio.sleep(0.5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=25.0)
    ap.add_argument("--warmup-minutes", type=float, default=3.0)
    ap.add_argument("--interval-s", type=float, default=5.0)
    ap.add_argument("--pose-model", default="lite")
    ap.add_argument("--out", type=Path, default=Path("out/kiosk_soak"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = dict(os.environ, MALLOC_ARENA_MAX="2")
    log = open(args.out / "station.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scoligait_edge.kiosk",
            "--port",
            str(port),
            "--pose-model",
            args.pose_model,
            "--pin",
            "0000",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    samples: list[tuple[float, float, int]] = []
    sessions: list[dict] = []
    t0 = time.monotonic()
    deadline = t0 + args.minutes * 60
    stop = threading.Event()

    def sample() -> None:
        with open(args.out / "rss.csv", "w") as f:
            f.write("t_s,rss_mb,sessions\n")
            while not stop.is_set() and proc.poll() is None:
                t, r = time.monotonic() - t0, rss_mb(proc.pid)
                samples.append((t, r, len(sessions)))
                f.write(f"{t:.1f},{r:.1f},{len(sessions)}\n")
                f.flush()
                stop.wait(args.interval_s)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        for _ in range(120):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        time.sleep(3)
        asyncio.run(drive(port, deadline, sessions))
    finally:
        stop.set()
        sampler.join(10)
        proc.terminate()
        code = proc.wait(30)
    t = np.array([s[0] for s in samples])
    r = np.array([s[1] for s in samples])
    keep = t >= args.warmup_minutes * 60
    slope_mb_s = float(np.polyfit(t[keep], r[keep], 1)[0]) if keep.sum() > 2 else float("nan")
    result = {
        "minutes": round((t[-1] - t[0]) / 60, 1) if len(t) else 0,
        "sessions": len(sessions),
        "pose_model": args.pose_model,
        "rss_start_mb": round(float(r[keep][0]), 1) if keep.any() else None,
        "rss_end_mb": round(float(r[-1]), 1) if len(r) else None,
        "rss_max_mb": round(float(r.max()), 1) if len(r) else None,
        "slope_mb_per_hour": round(slope_mb_s * 3600, 2),
        "school_day_8h_growth_mb": round(slope_mb_s * 3600 * 8, 1),
        "decisions": sorted({str(s["decision"]) for s in sessions}),
        "probabilities": sorted({round(s["p"], 6) for s in sessions if s["p"] is not None}),
        "exit_code_after_sigterm": code,
    }
    (args.out / "soak.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
