"""The SDK against a hostile but fair caller: credentials in stream URLs, bundle files swapped after
verification, control characters in a manifest, ONNX Runtime's telemetry, huge frames, a closed or
shared Screener, and camera clocks that start anywhere."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoligait_edge.errors import ConcurrentUseError, FrameError, ScoliGaitError
from scoligait_edge.screener import Screener, demo_bundle_path
from scoligait_edge.stream.sources import redact_url


# ------------------------------------------------------------------ 7. credentials anywhere in a URL
def test_credentials_in_the_path_and_parameters_are_hidden():
    assert redact_url("rtsp://host/user=admin&password=S3cr3t&channel=1") == (
        "rtsp://host/user=***&password=***&channel=1"
    )
    assert redact_url("rtsp://host/live;password=X") == "rtsp://host/live;password=***"
    assert redact_url("rtsp://host/live?p=X&profile=2") == "rtsp://host/live?p=***&profile=2"
    assert redact_url("rtsp://host/cam/password=S3/cr3t&ch=1") == "rtsp://host/cam/password=***&ch=1"
    assert redact_url("rtsp://host/token%3Dabc/live") == "rtsp://host/token=***"
    assert redact_url("rtsp://cam:554/live/ch1") == "rtsp://cam:554/live/ch1"  # nothing secret: unchanged


_KEY = st.sampled_from(["user", "pass", "p", "auth", "token", "key", "password", "PWD", "apikey", "u", "Session"])
_SECRET = st.text(st.characters(codec="utf-8", exclude_characters="/?#&;\n\r"), min_size=1, max_size=16).map(
    lambda s: "ZQ" + s
)
_PLAIN = st.from_regex(r"[a-z0-9_.-]{1,8}", fullmatch=True).filter(
    lambda s: s not in ("p", "u") and not any(k in s for k in ("pass", "pw", "key", "user", "sig", "auth"))
)


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["rtsp", "rtsps", "http", ""]),
    before=st.lists(_PLAIN, max_size=3),
    key=_KEY,
    secret=_SECRET,
    encode=st.booleans(),
    joiner=st.sampled_from(["/", "&", ";", "?", "#", "/x?", "/x;"]),
    after=st.lists(_PLAIN, max_size=2),
)
def test_redact_url_hides_a_secret_wherever_it_stands(scheme, before, key, secret, encode, joiner, after):
    """Property: ``key=secret`` in a path segment, a ``;`` parameter, the query or the fragment never survives."""
    value = quote(secret, safe="") if encode else secret
    path = "/".join(before)
    url = f"{scheme + '://' if scheme else ''}cam:554/{path}{joiner}{key}={value}" + "".join(f"&{p}=1" for p in after)
    out = redact_url(url)
    for leak in {secret, value, quote(secret)}:
        assert leak not in out, (url, out)
    for p in after:
        assert f"{p}=1" in out  # what follows the secret is kept


# ------------------------------------------------------------------ 8. files swapped after verification
def _copy_demo(tmp_path: Path) -> Path:
    bundle = tmp_path / "bundle"
    shutil.copytree(demo_bundle_path(), bundle)
    return bundle


def test_text_assets_come_from_the_verified_bytes(tmp_path):
    from scoligait_edge.bundle import load_bundle
    from scoligait_edge.text import ReferenceStats

    root = _copy_demo(tmp_path)
    bundle = load_bundle(root)
    name = bundle.manifest.text.reference_statistics
    original = ReferenceStats.load(root / name)
    swapped = json.loads((root / name).read_text())

    def shift(node):  # every number moved: any use of the swapped file changes the loaded statistics
        if isinstance(node, dict):
            return {k: shift(v) for k, v in node.items()}
        if isinstance(node, list):
            return [shift(v) for v in node]
        return node * 3 + 1 if isinstance(node, float) else node

    (root / name).write_text(json.dumps(shift(swapped)))
    try:
        with Screener(bundle, backend="onnxruntime", pose=False) as screener:
            assert screener._text is not None
            assert screener._text[0] == original  # the verified statistics, not the swapped file
    except ScoliGaitError as exc:  # or refused outright: the file changed after loading
        assert "changed after the bundle was loaded" in str(exc)


# ------------------------------------------------------------------ 9. control characters in a manifest
def _unsigned_with_notice(tmp_path: Path, notice: str) -> Path:
    root = _copy_demo(tmp_path)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["provenance"]["notice"] = notice
    (root / "manifest.json").write_text(json.dumps(manifest))
    for sig in root.glob("*.sig"):
        sig.unlink()
    return root


def test_control_characters_in_a_notice_are_escaped(tmp_path):
    from scoligait_edge.bundle import load_bundle

    root = _unsigned_with_notice(tmp_path, "\r\x1b[2KSigned by the vendor\u202e\x07")
    notice = load_bundle(root, allow_unsigned=True).manifest.provenance["notice"]
    assert notice.startswith("UNVERIFIED bundle")
    assert all(c.isprintable() for c in notice), notice
    assert "\\x1b[2K" in notice and "\\u202e" in notice


def test_the_cli_prints_no_control_character_from_a_bundle(tmp_path, capsys):
    from scoligait_edge import run

    root = _unsigned_with_notice(tmp_path, "\r\x1b[2Kall fine")
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "a.png"), np.zeros((32, 32, 3), np.uint8))
    argv = ["--images", str(frames), "--headless", "--pose-model", "lite", "--backend", "onnxruntime"]
    run.main([*argv, "--bundle", str(root), "--allow-unsigned-bundle"])
    out = capsys.readouterr().out
    assert "UNVERIFIED bundle" in out and "\x1b" not in out and "\r" not in out


# ------------------------------------------------------------------ 10. ONNX Runtime's telemetry
def test_onnxruntime_leaves_no_telemetry_files(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME")}
    env["HOME"] = str(tmp_path)
    code = (
        "from scoligait_edge.runtimes import load_backend\n"
        "from scoligait_edge.screener import demo_bundle_path\n"
        "load_backend(str(demo_bundle_path()), backend='onnxruntime').close()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-800:]
    assert [str(p) for p in tmp_path.rglob("*") if p.is_file()] == []


# ------------------------------------------------------------------ 11. huge frames
def _huge_png(path: Path, side: int = 16000) -> None:
    """A real 1-bit PNG of side x side pixels (about 30 KB; 768 MB once decoded to BGR)."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def test_a_huge_image_is_refused_before_it_is_decoded(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    _huge_png(folder / "a_huge.png")
    cv2.imwrite(str(folder / "b_small.png"), np.zeros((32, 32, 3), np.uint8))
    code = (
        "import logging; logging.basicConfig()\n"
        "from scoligait_edge.stream.sources import ImageFolderSource\n"
        f"print('frames', len(list(ImageFolderSource({str(folder)!r}))))\n"
        # VmHWM: this process's own peak; ru_maxrss would carry the (large) pytest parent's over the exec
        "hwm = [line for line in open('/proc/self/status') if line.startswith('VmHWM')][0]\n"
        "print('peak_mb', int(hwm.split()[1]) // 1024)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-800:]
    assert "frames 1" in proc.stdout
    assert "16000 x 16000 pixels" in proc.stderr and "a_huge.png" in proc.stderr
    peak = int(proc.stdout.split("peak_mb")[1])
    assert peak < 500, f"peak memory {peak} MB: the image was decoded"


def test_a_huge_frame_is_refused_by_the_pose_stage():
    from scoligait_edge.pose.estimator import _check_frame

    frame = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (9000, 9000, 3))  # no memory behind it
    with pytest.raises(FrameError, match="9000 x 9000 pixels"):
        _check_frame(frame)


# ------------------------------------------------------------------ 16 and 17. closed and shared Screeners
@pytest.fixture(scope="module")
def demo_screener_factory():
    def make(**kw):
        return Screener(demo_bundle_path(), backend="onnxruntime", pose=False, **kw)

    return make


def _frame(i: int) -> np.ndarray:
    kp = np.zeros((21, 3))
    kp[:, 0], kp[:, 1], kp[:, 2] = 100 + i, np.arange(21) * 10.0, 0.9
    return kp


def test_a_closed_screener_says_closed(demo_screener_factory):
    screener = demo_screener_factory()
    screener.process_keypoints(_frame(0), 0.0)
    screener.close()
    for call in (
        lambda: screener.process_keypoints(_frame(1), 33.0),
        lambda: screener.process(np.zeros((32, 32, 3), np.uint8), 66.0),
    ):
        with pytest.raises(ScoliGaitError, match="closed"):
            call()
    screener.close()  # twice is fine


def test_two_threads_on_one_screener_get_a_clear_error(demo_screener_factory, monkeypatch):
    with demo_screener_factory() as screener:
        inside = threading.Event()
        slow = screener._resampler.push_with_payload

        def slow_push(*args, **kwargs):
            inside.set()
            time.sleep(0.5)
            return slow(*args, **kwargs)

        monkeypatch.setattr(screener._resampler, "push_with_payload", slow_push)
        worker = threading.Thread(target=screener.process_keypoints, args=(_frame(0), 0.0))
        worker.start()
        assert inside.wait(10)
        with pytest.raises(ConcurrentUseError, match="one thread at a time"):
            screener.process_keypoints(_frame(1), 33.0)
        assert screener.summary().frames_processed == 1  # a read waits for the frame in progress
        worker.join()
        screener.process_keypoints(_frame(1), 33.0)  # free again


# ------------------------------------------------------------------ 20. where the camera clock starts
def test_results_do_not_depend_on_the_clock_origin(real_video):
    from scoligait_edge.stream.video_file import iter_video_frames

    frames = [(f.image, f.timestamp_ms) for f in iter_video_frames(real_video)]
    runs = []
    for origin in (0.0, 1000.0 * 123456.789, 1.7e12 + 0.4):
        with Screener(demo_bundle_path(), backend="onnxruntime", pose_model="lite") as screener:
            results = []
            for image, t in frames:
                results += screener.process(image, origin + t).results
            results += screener.finish()
            summary = screener.summary()
        runs.append(
            (
                [(r.status, r.probability, r.steps) for r in results],
                [r.start_ms - origin for r in results],
                summary.frames_with_subject,
            )
        )
    assert runs[0][0] and any(status == "screened" for status, _, _ in runs[0][0])
    for other in runs[1:]:
        assert other[2] == runs[0][2]
        np.testing.assert_allclose(other[1], runs[0][1], atol=0.01)
        assert [(s, n) for s, _, n in other[0]] == [(s, n) for s, _, n in runs[0][0]]
        np.testing.assert_allclose(
            [p for _, p, _ in other[0] if p is not None], [p for _, p, _ in runs[0][0] if p is not None], atol=1e-4
        )
