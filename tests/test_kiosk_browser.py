"""The station in a real browser (Playwright driving Debian's Chromium): every screen, a subject screened
from the sample video whose result equals ``run --video`` on the frames the station recorded, next subject
clearing page and server, the operator's export, a busy second page, and the page's own (fake) camera.

Screenshots of each screen go to $KIOSK_SCREENSHOTS when set (``make kiosk-screenshots``: docs/kiosk/).
In CI (CI=true) a missing Chromium or Playwright fails these tests instead of skipping them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.kiosk_helpers import CHROMIUM, CHROMIUM_ARGS, PIN, files_under, health, require_browser, station

pytestmark = pytest.mark.usefixtures("browser_available")
SHOTS = Path(os.environ["KIOSK_SCREENSHOTS"]) if os.environ.get("KIOSK_SCREENSHOTS") else None


@pytest.fixture(scope="module")
def browser_available():
    require_browser()


def _shot(page, name: str) -> None:
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"))


def _launch(p, tmp: Path, extra: list[str] | None = None):
    """Chromium headless with no network chatter; Playwright gives every launch a fresh profile (user data dir)."""
    return p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, *(extra or [])])


def _state(page) -> dict:
    return page.evaluate("window.__kiosk.state")


def _cut(video: Path, first: int, last: int, out: Path) -> None:
    """The frames first..last of ``video``, losslessly (FFV1), at the video's frame rate."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS)
    writer = None
    i = 0
    while True:
        ok, frame = cap.read()
        if not ok or i > last:
            break
        if i >= first:
            if writer is None:
                h, w = frame.shape[:2]
                writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"FFV1"), fps, (w, h))
                assert writer.isOpened()
            writer.write(frame)
        i += 1
    cap.release()
    assert writer is not None
    writer.release()


def test_a_subject_from_welcome_to_next_subject(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from scoligait_edge.assets import sample_video_path

    work = tmp_path / "station"
    work.mkdir()
    export_dir = tmp_path / "export"
    with station(work, "--no-pace") as (_proc, port), sync_playwright() as p:
        browser = _launch(p, tmp_path)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        expect(page.locator("#screen-welcome")).to_be_visible(timeout=30_000)
        expect(page.locator("#views-note")).to_contain_text("General instructions")
        _shot(page, "1-welcome")
        page.keyboard.press("Enter")  # keyboard works: the Start button has focus
        expect(page.locator("#screen-consent")).to_be_visible()
        page.check("#c-subject")
        page.check("#c-minor")
        page.check("#c-operator")
        expect(page.locator("#consent-go")).to_be_disabled()  # a minor: the guardian's consent is missing
        page.check("#c-guardian")
        expect(page.locator("#consent-go")).to_be_enabled()
        assert health(port)["subject_held"] is False  # no frame processed before consent
        _shot(page, "2-consent")
        page.click("#consent-go")
        expect(page.locator("#screen-live")).to_be_visible(timeout=30_000)
        page.wait_for_function(
            "window.__kiosk.state && window.__kiosk.state.phase === 'recording' && window.__kiosk.previews > 3",
            timeout=60_000,
        )
        _shot(page, "3-guidance")

        # a second page while this one owns the station: busy
        other = browser.new_context().new_page()
        other.goto(f"http://127.0.0.1:{port}/")
        expect(other.locator("#screen-busy")).to_be_visible(timeout=15_000)
        other.close()

        expect(page.locator("#screen-summary")).to_be_visible(timeout=240_000)
        _shot(page, "4-summary")
        state = _state(page)
        summary, (first, last) = state["summary"], state["recorded_frames"]
        assert summary["ended_by"] == "video ended" and last == 229
        expect(page.locator("#provenance")).to_contain_text("SIMULATED")
        expect(page.locator("#notice")).to_contain_text("not a diagnosis", ignore_case=True)

        # the operator's panel and export (only when asked, to a path the operator chose)
        page.click("#operator-open")
        page.fill("#pin", "000000")
        page.click("#pin-go")
        expect(page.locator("#pin-error")).to_have_text("wrong PIN")
        page.fill("#pin", PIN)
        page.click("#pin-go")
        expect(page.locator("#panel")).to_be_visible()
        expect(page.locator("#panel-list")).to_contain_text("Sessions today")
        _shot(page, "6-operator")
        with page.expect_download() as download:
            page.click("#export-csv")
        export_dir.mkdir()
        target = export_dir / "day.csv"
        download.value.save_as(target)
        lines = target.read_text().splitlines()
        assert lines[0].startswith("time,decision,reason,probability_mean") and len(lines) == 2
        assert summary["decision"] in lines[1] and "keypoint" not in target.read_text()
        page.click("#operator-close")

        # next subject: nothing of this one in the page or on the server
        page.click("#next")
        expect(page.locator("#screen-welcome")).to_be_visible()
        page.wait_for_function("window.__kiosk.state && window.__kiosk.state.phase === 'idle'")
        for _ in range(50):
            if not health(port)["subject_held"]:
                break
            page.wait_for_timeout(100)
        assert health(port) == {"phase": "idle", "subject_held": False}
        text = page.locator("main").inner_text()
        assert "probability" not in text.lower() and f"{summary['probability_mean']:.2f}" not in text
        assert _state(page)["summary"] is None and _state(page)["keypoints"] is None
        assert not page.is_checked("#c-subject") and not page.is_checked("#c-guardian")
        browser.close()
    # nothing written by the station anywhere: its folder, HOME and TMPDIR are empty
    assert files_under(work) == []

    # the same frames through the run command give the same result
    cut = tmp_path / "recorded.avi"  # AVI: timestamps index / fps, as the original's
    _cut(sample_video_path(), first, last, cut)
    report = tmp_path / "run-report"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "scoligait_edge.run",
            "--video",
            str(cut),
            "--headless",
            "--pose-model",
            "lite",
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode in (0, 3), out.stderr
    run = json.loads((report / "summary.json").read_text())
    assert run["decision"] == summary["decision"]
    assert run["windows_screened"] == summary["windows_screened"]
    assert run["probability_mean"] == pytest.approx(summary["probability_mean"], abs=1e-6)


def _y4m(video: Path, out: Path, size=(640, 360)) -> None:
    """The sample video as a raw YUV4MPEG2 (I420) file for Chromium's fake camera."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    w, h = size
    with out.open("wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C420jpeg\n".encode())
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            yuv = cv2.cvtColor(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2YUV_I420)
            f.write(b"FRAME\n")
            f.write(np.ascontiguousarray(yuv).tobytes())
    cap.release()
    assert out.stat().st_size < 100 * 1024 * 1024


def test_the_pages_own_camera_screens_a_window(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from scoligait_edge.assets import sample_video_path

    fake = tmp_path / "walk.y4m"
    _y4m(sample_video_path(), fake)
    work = tmp_path / "station"
    work.mkdir()
    with station(work, "--browser-camera") as (_proc, port), sync_playwright() as p:
        browser = _launch(
            p,
            tmp_path,
            [
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={fake}",
            ],
        )
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.click("#welcome-next")
        for box in ("#c-subject", "#c-operator"):
            page.check(box)
        page.click("#consent-go")
        expect(page.locator("#screen-live")).to_be_visible(timeout=30_000)
        page.wait_for_function(
            "window.__kiosk.state && window.__kiosk.state.windows_total >= 1", timeout=150_000, polling=500
        )
        _shot(page, "5-browser-camera")
        state = _state(page)
        assert page.evaluate("window.__kiosk.sentFrames") > 30
        assert state["phase"] == "recording" and state["windows_total"] >= 1
        page.click("#live-stop")
        expect(page.locator("#screen-summary")).to_be_visible(timeout=60_000)
        browser.close()
    assert files_under(work) == []
