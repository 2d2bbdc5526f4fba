"""``python -m scoligait_edge.run`` on bad paths and odd endings (issue 12, items 4 and 6): every output
path is checked before the model loads (one ``error:`` line, exit 2); the summary is printed even when
the report cannot be written; the window completed by ``finish()`` reaches the JSONL; no display means a
message, not a Qt abort; native logs stay quiet."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from scoligait_edge import run
from scoligait_edge.assets import sample_video_path
from scoligait_edge.results import ScreeningResult, SessionSummary
from scoligait_edge.screener import FrameUpdate


class ModelMustNotLoad:
    def __init__(self, *args, **kwargs) -> None:
        raise AssertionError("the model was loaded although an argument was bad")


class FakeScreener:
    """Stands in for the model: no window from frames, one from finish() (the last one)."""

    provenance, threshold = "test stand-in", 0.5

    def __init__(self, *args, **kwargs) -> None:
        self.frames = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def process(self, image, timestamp_ms):
        self.frames += 1
        return FrameUpdate(
            index=self.frames - 1,
            timestamp_ms=timestamp_ms,
            subject_found=False,
            tracking_state="searching",
            window_progress=0.5,
        )

    def finish(self):
        return [
            ScreeningResult(
                window_index=0,
                status="skipped",
                start_ms=0.0,
                end_ms=3200.0,
                first_frame=0,
                threshold=0.5,
                reasons=["test"],
                provenance=self.provenance,
            )
        ]

    def summary(self):
        return SessionSummary(
            decision=None,
            reason="no window passed",
            threshold=0.5,
            windows_total=1,
            windows_screened=0,
            windows_skipped=1,
            windows_failed=0,
            gait_cycles=0,
            steps=0,
            frames_processed=self.frames,
            frames_with_subject=0,
            duration_s=0.0,
            provenance=self.provenance,
        )


def _one_error_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    "case",
    [
        "output_in_file",
        "output_is_dir",
        "output_in_proc",
        "report_is_file",
        "report_in_file",
        "video_is_dir",
        "video_in_file",
        "video_bad_suffix",
    ],
)
def test_bad_output_paths_fail_before_the_model_loads(case, images, tmp_path, monkeypatch, capsys):
    import scoligait_edge.screener as screener_module

    monkeypatch.setattr(screener_module, "Screener", ModelMustNotLoad)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    flag, path = {
        "output_in_file": ("--output", a_file / "o.jsonl"),
        "output_is_dir": ("--output", tmp_path),
        "output_in_proc": ("--output", Path("/proc/scoligait-test/o.jsonl")),
        "report_is_file": ("--report", a_file),
        "report_in_file": ("--report", a_file / "report"),
        "video_is_dir": ("--save-video", tmp_path),
        "video_in_file": ("--save-video", a_file / "o.mp4"),
        "video_bad_suffix": ("--save-video", tmp_path / "o.notavideoformat"),
    }[case]
    code = run.main(["--images", str(images), "--headless", flag, str(path)])
    assert code == 2
    line = _one_error_line(capsys.readouterr().err)
    assert str(path) in line
    assert a_file.read_text() == "x"  # nothing written over it


def test_bad_numbers_are_argument_errors(images, capsys):
    for argv in (["--hop", "0"], ["--hop", "x"], ["--max-frames", "-1"], ["--threads", "-2"]):
        with pytest.raises(SystemExit) as exc:
            run.main(["--images", str(images), "--headless", *argv])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert argv[0] in err and "Traceback" not in err


def test_no_display_asks_for_headless(images, monkeypatch, capsys):
    import scoligait_edge.screener as screener_module

    monkeypatch.setattr(screener_module, "Screener", ModelMustNotLoad)
    monkeypatch.setattr(sys, "platform", "linux")
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    assert run.main(["--images", str(images)]) == 2
    assert "--headless" in _one_error_line(capsys.readouterr().err)


def test_last_window_reaches_the_jsonl_and_the_summary_survives_a_failed_report(images, tmp_path, monkeypatch, capsys):
    import scoligait_edge.screener as screener_module
    import scoligait_edge.session_report as session_report

    monkeypatch.setattr(screener_module, "Screener", FakeScreener)

    def broken_report(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(session_report, "write_report", broken_report)
    out = tmp_path / "o.jsonl"
    code = run.main(["--images", str(images), "--headless", "--output", str(out), "--report", str(tmp_path / "r")])
    captured = capsys.readouterr()
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 1 and lines[0]["window_index"] == 0  # the window finish() completed
    assert "Session summary" in captured.out and "frames 3" in captured.out
    assert code == 2 and "No space left" in captured.err and "Traceback" not in captured.err


def test_a_truncated_video_is_named_in_the_summary(tmp_path, monkeypatch, capsys):
    import scoligait_edge.screener as screener_module
    import scoligait_edge.session_report as session_report

    monkeypatch.setattr(screener_module, "Screener", FakeScreener)
    monkeypatch.setattr(session_report, "write_report", lambda screener, out_dir, notices: out_dir / "report.html")
    path = tmp_path / "walk.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    for i in range(60):
        writer.write(np.random.default_rng(i).integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    run.main(["--video", str(path), "--headless", "--report", str(tmp_path / "r")])
    summary = json.loads((tmp_path / "r/summary.json").read_text())
    assert any("ended early" in n for n in summary["notes"]) and "ended early" in summary["reason"]
    assert "note: the video walk.avi ended early" in capsys.readouterr().out


def _cli(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scoligait_edge.run", *argv], capture_output=True, text=True, timeout=timeout
    )


def test_a_bad_camera_index_prints_one_line():
    proc = _cli("--camera", "97", "--headless")
    assert proc.returncode == 2
    assert "camera 97" in _one_error_line(proc.stderr)


def test_a_run_is_quiet_unless_verbose(tmp_path):
    """No LiteRT / XNNPACK / glog / OpenCV / ONNX Runtime lines on stderr by default (there were ~76)."""
    argv = [
        "--video",
        str(sample_video_path()),
        "--headless",
        "--pose-model",
        "lite",
        "--backend",
        "onnxruntime",
        "--max-frames",
        "3",
    ]
    proc = _cli(*argv)
    assert proc.returncode == 3, proc.stderr  # 3 frames: nothing to screen
    assert proc.stderr.strip() == "", proc.stderr
    assert "Session summary" in proc.stdout
