"""SIGTERM / SIGINT / SIGHUP at random moments of ``python -m scoligait_edge.run``: always exit 0, a parseable JSONL
whose lines are every window the summary counts (the last one from ``finish()`` included), and a summary.

The source is the sample video read as a stream (``--rtsp file://...``): a live source that never ends
(it reconnects at the end of the file), so the signal, never the end of the input, ends every run. The
delay is counted from the moment the process has caught SIGTERM (read from /proc, so a run is never
killed by a signal that arrives before Python has started our ``main``), and spans import, model
loading and the frame loop. Seeded delays: the same moments on every run of the suite.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scoligait_edge.assets import sample_video_path

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/status")

MAX_DELAY_S = 6.0  # model loading takes 2-10 s on a busy 2-core machine: the delays cover it and the loop
PARALLEL = 5


def _catches_sigterm(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(re.search(r"^SigCgt:\s*([0-9a-f]+)", status, re.M).group(1), 16)
    return bool(caught >> (signal.SIGTERM - 1) & 1)


def _plan(n: int, seed: int) -> list[tuple[signal.Signals, float]]:
    rng = random.Random(seed)
    sigs = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]  # SIGHUP: the terminal closed, ssh dropped
    # the first two at once (before the model loads), the rest anywhere up to MAX_DELAY_S
    return [(sigs[i % 2], 0.0 if i < 2 else round(rng.uniform(0.0, MAX_DELAY_S), 2)) for i in range(n)]


def _start(tmp: Path, i: int) -> tuple[subprocess.Popen, Path, Path | None]:
    out = tmp / f"run{i}.jsonl"
    report = tmp / f"report{i}" if i % 2 else None
    cmd = [
        sys.executable,
        "-m",
        "scoligait_edge.run",
        "--rtsp",
        f"file://{sample_video_path().resolve()}",
        "--headless",
        "--pose-model",
        "lite",
        "--backend",
        "onnxruntime",
        "--output",
        str(out),
    ]
    if report is not None:
        cmd += ["--report", str(report)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    return proc, out, report


def _run_plan(tmp_path: Path, plan: list[tuple[signal.Signals, float]]) -> list[str]:
    """Runs the plan PARALLEL processes at a time; returns one failure line per bad run."""
    failures = []
    for batch_start in range(0, len(plan), PARALLEL):
        batch = list(enumerate(plan))[batch_start : batch_start + PARALLEL]
        runs = {i: _start(tmp_path, i) for i, _ in batch}
        ready: dict[int, float] = {}
        deadline = time.monotonic() + 60
        while len(ready) < len(runs) and time.monotonic() < deadline:
            for i, (proc, _, _) in runs.items():
                if i not in ready and _catches_sigterm(proc.pid):
                    ready[i] = time.monotonic()
            time.sleep(0.002)
        assert len(ready) == len(runs), "a run never installed its SIGTERM handler"
        pending = sorted(batch, key=lambda item: ready[item[0]] + item[1][1])
        for i, (sig, delay) in pending:
            time.sleep(max(0.0, ready[i] + delay - time.monotonic()))
            runs[i][0].send_signal(sig)
            if i == len(plan) - 1:  # the last run gets the other signal right behind (Ctrl-C, then a supervisor)
                runs[i][0].send_signal(signal.SIGINT if sig == signal.SIGTERM else signal.SIGTERM)
        for i, (sig, delay) in batch:
            proc, out, report = runs[i]
            stdout, stderr = proc.communicate(timeout=300)  # a hang is a failure, not a retry
            failures += _check(i, sig, delay, proc.returncode, stdout, stderr, out, report)
    return failures


def _check(i, sig, delay, code, stdout, stderr, out: Path, report: Path | None) -> list[str]:
    where = f"run {i} ({sig.name} after {delay:.2f} s)"
    problems = []
    if code != 0:
        problems.append(f"exit {code}")
    if "Session summary" not in stdout:
        problems.append("no summary")
    if not re.search(rf"\b{sig.name}\b[\w, ]* received: finishing the session", stderr):
        problems.append("the signal was not reported as received")
    if "Traceback" in stderr:
        problems.append("traceback")
    lines = []
    if not out.is_file():
        problems.append("no JSONL")
    else:
        try:
            lines = [json.loads(x) for x in out.read_text().splitlines()]
        except json.JSONDecodeError as exc:
            problems.append(f"JSONL not parseable ({exc})")
    m = re.search(r"windows: (\d+) screened, (\d+) skipped, (\d+) failed", stdout)
    if m and sum(map(int, m.groups())) != len(lines):
        problems.append(f"summary counts {sum(map(int, m.groups()))} windows, the JSONL has {len(lines)}")
    if report is not None:
        try:
            summary = json.loads((report / "summary.json").read_text())
            if summary["windows_total"] != len(lines):
                problems.append("summary.json windows_total != JSONL lines")
        except (OSError, ValueError, KeyError) as exc:
            problems.append(f"summary.json missing or bad ({exc})")
    return [f"{where}: {'; '.join(problems)}; stderr tail: {stderr[-600:]!r}"] if problems else []


def test_signals_at_random_moments_fast(tmp_path):
    """5 runs (SIGTERM, SIGINT and SIGHUP, two of them the instant the handler exists)."""
    failures = _run_plan(tmp_path, _plan(5, seed=12))
    assert not failures, "\n".join(failures)


@pytest.mark.slow
def test_signals_at_random_moments_20_runs(tmp_path):
    """20 runs, SIGTERM, SIGINT and SIGHUP in turn, delays from 0 to MAX_DELAY_S (model loading and the loop)."""
    failures = _run_plan(tmp_path, _plan(20, seed=2026))
    assert not failures, f"{len(failures)}/20 runs failed:\n" + "\n".join(failures)
