"""``python -m scoligait_edge.run`` against a hostile but fair user: odd file names, missing displays, full
disks, closed pipes, hang-ups, outputs that are inputs, impossible ROIs, shared logs and paths that are
not files. Each case ends in one clear line (or a finished session), never a traceback or a crash."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from scoligait_edge import run
from tests.test_run_cli_paths import FakeScreener, ModelMustNotLoad, _one_error_line

NOT_UTF8 = os.fsdecode(b"walk-\xff")


@pytest.fixture
def no_model(monkeypatch):
    import scoligait_edge.screener as screener_module

    monkeypatch.setattr(screener_module, "Screener", ModelMustNotLoad)


@pytest.fixture
def fake_model(monkeypatch):
    import scoligait_edge.screener as screener_module
    import scoligait_edge.session_report as session_report

    monkeypatch.setattr(screener_module, "Screener", FakeScreener)
    monkeypatch.setattr(session_report, "write_report", lambda screener, out_dir, notices: out_dir / "report.html")


def _small_video(path: Path, frames: int = 10) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    for i in range(frames):
        writer.write(np.full((48, 64, 3), 10 * i, np.uint8))
    writer.release()
    return path


def _python(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """In a child: a crash (SIGSEGV) there is a failed assertion here, not a dead test run."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------------------ 1. names that are not UTF-8
def test_a_video_name_that_is_not_utf8_is_refused_not_a_crash(tmp_path):
    video = _small_video(tmp_path / "ok.avi")
    odd = tmp_path / f"{NOT_UTF8}.avi"
    shutil.copy(video, odd)
    proc = _python(
        "import os, sys; from scoligait_edge.stream.sources import open_source; from scoligait_edge.errors import "
        "VideoReadError\n"
        f"p = os.fsdecode({os.fsencode(odd)!r})\n"
        "try:\n    s = open_source(video=p); list(s)\nexcept VideoReadError as e:\n    print('refused:', e)\n"
    )
    assert proc.returncode == 0, proc.stderr[-800:]
    assert "refused:" in proc.stdout and "not valid UTF-8" in proc.stdout and "walk-\\xff" in proc.stdout


def test_an_image_name_that_is_not_utf8_is_read(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((32, 32, 3), 9, np.uint8))
    os.rename(folder / "a.png", os.path.join(os.fsencode(folder), b"b-\xff.png"))
    proc = _python(
        "from scoligait_edge.stream.sources import ImageFolderSource\n"
        f"print('frames', [f.image.shape for f in ImageFolderSource({str(folder)!r})])"
    )
    assert proc.returncode == 0, proc.stderr[-800:]
    assert "frames [(32, 32, 3)]" in proc.stdout


def test_a_save_video_name_that_is_not_utf8_is_refused(images, tmp_path, no_model, capsys):
    code = run.main(["--images", str(images), "--headless", "--save-video", str(tmp_path / f"{NOT_UTF8}.mp4")])
    assert code == 2 and "not valid UTF-8" in _one_error_line(capsys.readouterr().err)


# ------------------------------------------------------------------ 2. a display that does not exist
def test_a_display_that_does_not_exist_is_one_line_not_a_qt_abort(images, monkeypatch, no_model, capsys):
    number = next(n for n in range(97, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", f":{number}")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    assert run.main(["--images", str(images)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"DISPLAY=:{number}" in line and "--headless" in line
    monkeypatch.setenv("DISPLAY", "not a display")
    assert run.main(["--images", str(images)]) == 2
    assert "--headless" in _one_error_line(capsys.readouterr().err)


# ------------------------------------------------------------------ 3. names too long
@pytest.mark.parametrize("flag", ["--output", "--report", "--save-video"])
def test_a_300_character_output_name_is_one_line(flag, images, tmp_path, no_model, capsys):
    long = tmp_path / ("x" * 300 + (".mp4" if flag == "--save-video" else ""))
    assert run.main(["--images", str(images), "--headless", flag, str(long)]) == 2
    assert "File name too long" in _one_error_line(capsys.readouterr().err)


# ------------------------------------------------------------------ 4. a full disk
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_output_on_a_full_disk_keeps_the_session_and_its_summary(images, tmp_path, fake_model, capsys):
    code = run.main(["--images", str(images), "--headless", "--output", "/dev/full", "--report", str(tmp_path / "r")])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err
    assert err.count("No space left on device") == 1, err  # said once, not per window
    assert "Session summary" in out and "frames 3" in out
    summary = json.loads((tmp_path / "r/summary.json").read_text())
    assert any("No space left" in note for note in summary["notes"])


def test_the_results_log_raises_a_clear_error_and_closes_cleanly(tmp_path):
    from scoligait_edge.errors import ResultsLogError
    from scoligait_edge.stream.results_log import JsonlWriter

    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    writer = JsonlWriter("/dev/full")
    with pytest.raises(ResultsLogError, match="No space left"):
        writer.write({"a": 1})
    writer.close()  # nothing buffered is left to fail on
    writer.close()


# ------------------------------------------------------------------ 5. a reader that goes away
def test_a_closed_stdout_pipe_does_not_end_the_session(images, tmp_path):
    out, report = tmp_path / "o.jsonl", tmp_path / "r"
    cmd = [sys.executable, "-m", "scoligait_edge.run", "--images", str(images), "--headless", "--pose-model", "lite"]
    cmd += ["--backend", "onnxruntime", "--output", str(out), "--report", str(report)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()  # `| head -1`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=300)
    assert code in (0, 3), err[-800:]  # 3: nothing screened in three blank frames
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err
    assert json.loads((report / "summary.json").read_text())["frames_processed"] == 3


# ------------------------------------------------------------------ 14. an output that is an input
def test_an_output_that_is_the_input_video_is_refused(tmp_path, no_model, capsys):
    video = _small_video(tmp_path / "walk.avi")
    before = video.read_bytes()
    for flag in ("--output", "--save-video"):
        assert run.main(["--video", str(video), "--headless", flag, str(video)]) == 2
        assert "is the --video input" in _one_error_line(capsys.readouterr().err)
    assert video.read_bytes() == before


def test_an_output_inside_the_images_folder_is_refused(images, no_model, capsys):
    assert run.main(["--images", str(images), "--headless", "--output", str(images / "f0.png")]) == 2
    assert "--images folder" in _one_error_line(capsys.readouterr().err)


# ------------------------------------------------------------------ 15. impossible ROIs
@pytest.mark.parametrize("roi", ["nan,0,10,10", "0,inf,10,10", "0,0,-5,10", "0,0,10,0"])
def test_a_roi_that_is_not_a_box_is_refused(roi, images, no_model, capsys):
    assert run.main(["--images", str(images), "--headless", "--roi", roi]) == 2
    assert "--roi" in _one_error_line(capsys.readouterr().err)


def test_a_roi_outside_the_frame_says_so(images, fake_model, capsys):
    code = run.main(["--images", str(images), "--headless", "--roi", "5000,5000,100,100"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "outside the 32 x 32 frame" in err and "outside the 32 x 32 frame" in out  # the error and the summary


# ------------------------------------------------------------------ 18. sessions in one log
def test_each_session_has_its_own_random_id_in_the_jsonl_and_summary(images, tmp_path, fake_model, capsys):
    out = tmp_path / "o.jsonl"
    for i in range(2):
        run.main(["--images", str(images), "--headless", "--output", str(out), "--report", str(tmp_path / f"r{i}")])
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    ids = [line["session_id"] for line in lines]
    assert len(lines) == 2 and ids[0] != ids[1] and all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
    assert [json.loads((tmp_path / f"r{i}/summary.json").read_text())["session_id"] for i in range(2)] == ids
    assert ids[1] in capsys.readouterr().out


# ------------------------------------------------------------------ 19. --video that is not a file
def test_a_video_that_is_not_a_file_says_what_it_is(tmp_path, no_model, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path, kind in ((tmp_path, "is a folder"), (Path("/dev/zero"), "is a character device"), (fifo, "FIFO")):
        assert run.main(["--video", str(path), "--headless"]) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert kind in line and "not found" not in line, line
    assert run.main(["--video", str(tmp_path / "nope.mp4"), "--headless"]) == 2
    assert "not found" in _one_error_line(capsys.readouterr().err)
