"""Start a real station process for the kiosk tests, in a scratch folder that must stay empty."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
PIN = "246810"
CONSENT = {"operator_confirms": True, "subject_is_minor": True, "subject_consents": True, "guardian_consents": True}


def require_browser() -> None:
    """Chromium and Playwright, or a skip; in CI (CI=true) their absence is a failure, not a skip."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "the playwright package is missing (pip install -e '.[dev]')"
    if problem is None and not CHROMIUM.is_file():
        problem = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run in CI: {problem}")
        pytest.skip(problem)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def health(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as r:
        return json.loads(r.read())


@contextmanager
def station(workdir: Path, *args: str, ready_timeout_s: float = 120.0):
    """``python -m scoligait_edge.kiosk`` in ``workdir`` (also its HOME and TMPDIR); yields (process, port)."""
    port = free_port()
    home, tmp = workdir / "home", workdir / "tmp"
    home.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(exist_ok=True)
    env = dict(os.environ, HOME=str(home), TMPDIR=str(tmp), PYTHONDONTWRITEBYTECODE="1")
    log = (workdir.parent / f"station-{port}.log").open("w")
    cmd = [sys.executable, "-m", "scoligait_edge.kiosk", "--port", str(port), "--pin", PIN, "--pose-model", "lite"]
    proc = subprocess.Popen([*cmd, *args], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + ready_timeout_s
        while True:
            assert proc.poll() is None, (workdir.parent / f"station-{port}.log").read_text()
            try:
                if health(port)["phase"] == "idle":
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the station did not become ready"
            time.sleep(0.5)
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
