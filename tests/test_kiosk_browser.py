"""The station in a real browser (Playwright driving Debian's Chromium): every screen, a subject screened
from the sample video whose result equals ``run --video`` on the frames the station recorded, next subject
clearing page and server, the operator's export, a busy second page, and the page's own (fake) camera.

Screenshots of each screen go to $KIOSK_SCREENSHOTS when set (``make kiosk-screenshots``: docs/kiosk/).
In CI (CI=true) a missing Chromium or Playwright fails these tests instead of skipping them.

Kept cheap for CI (at most 3 minutes): the sample video is decoded once per module into a clip of its first
``CLIP_FRAMES`` frames at half size (the walker's first screened window and the end of the video are in it) and
the fake camera's Y4M file; one Chromium serves both tests (each in its own context, a fresh profile); the run
command screens the recorded frames while the page goes on to the operator's export and next subject.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.kiosk_helpers import CHROMIUM, CHROMIUM_ARGS, PIN, files_under, health, require_browser, station

pytestmark = pytest.mark.usefixtures("browser_available")
SHOTS = Path(os.environ["KIOSK_SCREENSHOTS"]) if os.environ.get("KIOSK_SCREENSHOTS") else None
CLIP_FRAMES = 180
"""The sample's first 6 s: the walker settles, one window is screened and the next one ends with the video."""
CLIP_SCALE = 0.5
"""Half the sample's 1768 x 994, the frame the Screener would give the pose model anyway (POSE_INPUT_MAX_SIDE):
a quarter of the pixels to decode, and nothing to scale down."""
CLIP_CODEC = "HFYU"
"""HuffYUV: lossless once decoded, re-encoding decoded frames gives them back exactly (the cut the run command
screens holds the station's very frames); a quarter of FFV1's decoding time."""


@pytest.fixture(scope="module")
def browser_available():
    require_browser()


@dataclass(frozen=True)
class Media:
    clip: Path
    """The sample's first CLIP_FRAMES frames at CLIP_SCALE in CLIP_CODEC (AVI: timestamps index / fps)."""
    fake_camera: Path
    """The whole sample as 640 x 360 YUV4MPEG2 (I420) for Chromium's fake camera."""


@pytest.fixture(scope="module")
def media(browser_available, tmp_path_factory) -> Media:
    """One decode of the sample video for both tests."""
    import cv2

    from scoligait_edge.assets import sample_video_path

    folder = tmp_path_factory.mktemp("kiosk-media")
    m = Media(clip=folder / "walk.avi", fake_camera=folder / "walk.y4m")
    cap = cv2.VideoCapture(str(sample_video_path()))
    fps = cap.get(cv2.CAP_PROP_FPS)
    writer = None
    cam_w, cam_h = 640, 360
    with m.fake_camera.open("wb") as y4m:
        y4m.write(f"YUV4MPEG2 W{cam_w} H{cam_h} F30:1 Ip A1:1 C420jpeg\n".encode())
        for i in itertools.count():
            ok, frame = cap.read()
            if not ok:
                break
            if i < CLIP_FRAMES:
                small = cv2.resize(frame, None, fx=CLIP_SCALE, fy=CLIP_SCALE, interpolation=cv2.INTER_AREA)
                if writer is None:
                    h, w = small.shape[:2]
                    writer = cv2.VideoWriter(str(m.clip), cv2.VideoWriter.fourcc(*CLIP_CODEC), fps, (w, h))
                    assert writer.isOpened()
                writer.write(small)
            cam = cv2.resize(frame, (cam_w, cam_h), interpolation=cv2.INTER_AREA)
            y4m.write(b"FRAME\n")
            y4m.write(np.ascontiguousarray(cv2.cvtColor(cam, cv2.COLOR_BGR2YUV_I420)).tobytes())
    cap.release()
    assert writer is not None and i > CLIP_FRAMES
    writer.release()
    assert m.fake_camera.stat().st_size < 100 * 1024 * 1024
    return m


@pytest.fixture(scope="module")
def browser(media):
    """One headless Chromium for the module, with no network chatter; its fake camera plays the sample. Each test
    opens its own context (a fresh profile); the video-source station's page never asks for the camera."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                *CHROMIUM_ARGS,
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={media.fake_camera}",
            ],
        )
        yield b
        b.close()


def _shot(page, name: str) -> None:
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"))


def _state(page) -> dict:
    return page.evaluate("window.__kiosk.state")


def _cut(video: Path, first: int, last: int, out: Path) -> None:
    """The frames first..last of ``video`` at its frame rate, in CLIP_CODEC: decoded, they are the very frames read
    from ``video`` (HuffYUV, like FFV1, gives back the same pixels once its frames were decoded from it)."""
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
                writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*CLIP_CODEC), fps, (w, h))
                assert writer.isOpened()
            writer.write(frame)
        i += 1
    cap.release()
    assert writer is not None
    writer.release()


@contextmanager
def _run_command(video: Path, report: Path, log: Path) -> Iterator[subprocess.Popen]:
    """``python -m scoligait_edge.run --video`` on ``video``, started now (it runs while the page goes on)."""
    cmd = [sys.executable, "-m", "scoligait_edge.run", "--video", str(video), "--headless", "--pose-model", "lite"]
    with log.open("w") as out:
        proc = subprocess.Popen([*cmd, "--report", str(report)], stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_a_subject_from_welcome_to_next_subject(tmp_path, media, browser):
    from playwright.sync_api import expect

    work = tmp_path / "station"
    work.mkdir()
    export_dir = tmp_path / "export"
    report, run_log = tmp_path / "run-report", tmp_path / "run.log"
    run = None
    with ExitStack() as later:  # the run command: waited for once the station has stopped
        with station(work, "--no-pace", "--video", str(media.clip)) as (_proc, port):
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
            other_context = browser.new_context()
            other = other_context.new_page()
            other.goto(f"http://127.0.0.1:{port}/")
            expect(other.locator("#screen-busy")).to_be_visible(timeout=15_000)
            other_context.close()

            expect(page.locator("#screen-summary")).to_be_visible(timeout=240_000)
            _shot(page, "4-summary")
            state = _state(page)
            summary, (first, last) = state["summary"], state["recorded_frames"]
            assert summary["ended_by"] == "video ended" and last == CLIP_FRAMES - 1
            assert summary["windows_screened"] >= 1 and summary["decision"] in ("refer", "no_referral")
            # the same frames through the run command, screened while the page goes on
            cut = tmp_path / "recorded.avi"  # AVI: timestamps index / fps, as the clip's
            _cut(media.clip, first, last, cut)
            run = later.enter_context(_run_command(cut, report, run_log))
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
            context.close()
        # nothing written by the station anywhere: its folder, HOME and TMPDIR are empty
        assert files_under(work) == []
        # the run command on the frames the station recorded gives the same result
        assert run is not None
        assert run.wait(300) in (0, 3), run_log.read_text()
    got = json.loads((report / "summary.json").read_text())
    assert got["frames_processed"] == last - first + 1
    assert got["decision"] == summary["decision"]
    assert got["windows_screened"] == summary["windows_screened"]
    assert got["windows_total"] == summary["windows_total"]
    assert got["probability_mean"] == pytest.approx(summary["probability_mean"], abs=1e-6)


def test_the_pages_own_camera_screens_a_window(tmp_path, browser):
    from playwright.sync_api import expect

    work = tmp_path / "station"
    work.mkdir()
    with station(work, "--browser-camera") as (_proc, port):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
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
        context.close()
    assert files_under(work) == []
