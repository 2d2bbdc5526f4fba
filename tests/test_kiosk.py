"""The station's server without a browser: refusals (host, origin, size, busy, malformed), a session through
the WebSocket, next subject clearing the server, and SIGTERM ending the process cleanly."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys

import pytest

pytest.importorskip("starlette")
websockets = pytest.importorskip("websockets")

from tests.kiosk_helpers import CONSENT, files_under, health, station  # noqa: E402


def test_another_host_without_a_token_exits_2_and_says_why():
    out = subprocess.run(
        [sys.executable, "-m", "scoligait_edge.kiosk", "--host", "0.0.0.0"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2
    assert "--token" in out.stderr and "TLS" in out.stderr and "--tls-cert" in out.stderr


async def _session(port: int) -> dict:
    origin = f"http://127.0.0.1:{port}"
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws?client=owner-123456", origin=origin) as ws:
        await ws.send("{not json")
        await ws.send(json.dumps({"type": "launch-missiles"}))
        await ws.send(json.dumps({"type": "begin", "consent": {**CONSENT, "guardian_consents": False}}))
        errors = []
        while len(errors) < 3:
            m = json.loads(await ws.recv()) if True else None
            if m.get("type") == "error":
                errors.append(m["message"])
        assert errors[0] == "malformed message" and "unknown message type" in errors[1]
        assert "guardian" in errors[2]  # a minor without a guardian's consent does not start
        assert health(port)["phase"] == "idle"

        # a second page while this one is connected: busy
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws?client=other-654321", origin=origin) as other:
            busy = json.loads(await other.recv())
            assert busy["type"] == "busy"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await other.recv()
            assert closed.value.rcvd.code == 4409

        # a foreign origin: refused at the handshake
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(f"ws://127.0.0.1:{port}/ws?client=evil-123456", origin="http://evil.example")
        assert refused.value.response.status_code == 403

        await ws.send(json.dumps({"type": "begin", "consent": CONSENT}))
        summary = None
        while summary is None:
            m = await ws.recv()
            if isinstance(m, str) and (s := json.loads(m)).get("type") == "state" and s["phase"] == "summary":
                summary = s
        assert health(port)["subject_held"] is True
        await ws.send(json.dumps({"type": "next"}))
        for _ in range(100):
            h = health(port)
            if h["phase"] == "idle" and not h["subject_held"]:
                break
            await asyncio.sleep(0.1)
        assert h == {"phase": "idle", "subject_held": False}

        # an oversized message closes the socket (1009), the station stays up
        with pytest.raises(websockets.ConnectionClosed) as big:
            await ws.send(b"\0" * 2_000_000)
            await ws.recv()
            await ws.recv()
        assert big.value.rcvd is not None and big.value.rcvd.code == 1009
    return summary


def test_a_session_through_the_socket_and_the_refusals(tmp_path):
    work = tmp_path / "station"
    work.mkdir()
    with station(work, "--no-pace") as (proc, port):
        summary = asyncio.run(_session(port))
        assert health(port)["phase"] == "idle"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    s = summary["summary"]
    assert s["decision"] in ("refer", "no_referral") and s["windows_screened"] >= 1
    assert summary["recorded_frames"][1] == 229  # the video ended the recording: its last frame was read
    assert "simulated" in s["provenance"]
    assert [f for f in files_under(work) if not f.startswith(("home/", "tmp/"))] == []
    assert files_under(work / "home") == [] and files_under(work / "tmp") == []


def test_the_browser_tests_fail_instead_of_skipping_in_ci_without_chromium(monkeypatch, tmp_path):
    import tests.kiosk_helpers as helpers

    monkeypatch.setattr(helpers, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run in CI"):
        helpers.require_browser()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        helpers.require_browser()
