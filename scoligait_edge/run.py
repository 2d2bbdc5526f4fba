"""``python -m scoligait_edge.run``: screen a walk from a camera, a stream, a video or images.

With no source it screens the bundled sample video with the bundled demo model
(trained on SIMULATED gait). A screening aid, not a diagnosis.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import secrets
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scoligait_edge import SCREENING_NOTICE
from scoligait_edge.core.printable import printable
from scoligait_edge.errors import ScoliGaitError, TimestampError

log = logging.getLogger("scoligait_edge.run")
EXIT_OK, EXIT_ERROR, EXIT_NOTHING_SCREENED = 0, 2, 3


def _parse_roi(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        x, y, w, h = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("--roi must be x,y,w,h in pixels") from None
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise argparse.ArgumentTypeError(f"--roi must be four finite numbers x,y,w,h in pixels, got {text!r}")
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"--roi width and height must be > 0, got {text!r}")
    return x, y, w, h


def _roi_outside(roi: tuple[float, float, float, float], image_shape: tuple[int, ...]) -> str | None:
    """Why ``roi`` cannot contain anyone in a frame of ``image_shape`` (no overlap at all), or None."""
    height, width = image_shape[:2]
    x, y, w, h = roi
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        return (
            f"--roi {x:g},{y:g},{w:g},{h:g} lies outside the {width} x {height} frame: nobody can be inside it "
            f"(x,y is the top-left corner in pixels)"
        )
    return None


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= ``minimum``, with the bad value in the message."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m scoligait_edge.run", description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group()
    src.add_argument("--camera", type=int, metavar="INDEX")
    src.add_argument("--video", type=Path, metavar="PATH")
    src.add_argument("--rtsp", metavar="URL")
    src.add_argument("--images", type=Path, metavar="DIR")
    p.add_argument("--bundle", type=Path, default=None, help="model bundle folder or zip (default: the demo model)")
    p.add_argument(
        "--allow-unsigned-bundle",
        action="store_true",
        help="load a bundle that is unsigned or signed by "
        "an untrusted key (logged as a warning; its provenance notice is marked UNVERIFIED)",
    )
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime", "tensorrt"])
    p.add_argument(
        "--precision",
        default="fp32",
        choices=["fp32", "fp16", "int8"],
        help="int8: the bundle's onnx-int8 model on ONNX Runtime CPU (add it with python -m "
        "scoligait_edge.export --bundle B --formats onnx-int8 --signing-key KEY.pem)",
    )
    p.add_argument("--pose-model", default="full", help="lite, full or the path of a .task bundle")
    p.add_argument("--roi", default=None, help="x,y,w,h: only people whose hips are inside")
    p.add_argument("--hop", type=_int_at_least(1), default=16, help="frames between windows")
    p.add_argument("--headless", action="store_true", help="no window (kiosks, servers)")
    p.add_argument("--save-video", type=Path, default=None, help="write the overlay video here")
    p.add_argument("--output", type=Path, default=None, help="append one JSON line per window here")
    p.add_argument("--report", type=Path, default=None, help="write the session report (HTML) into this folder")
    p.add_argument("--max-frames", type=_int_at_least(0), default=None)
    p.add_argument(
        "--threads",
        type=_int_at_least(0),
        default=1,
        help="classifier threads (default 1: pose uses the other cores; 0: the backend decides)",
    )
    p.add_argument("--verbose", action="store_true", help="our INFO logs and the native libraries' logs")
    return p


_HANGUP = (signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()


class StopFlag:
    """Set by the signal handler, read by the loop. Deliberately not a ``threading.Event``: ``Event.set``
    takes a non-reentrant lock, and a second signal landing while the first handler holds it would
    deadlock the process. A plain attribute assignment cannot."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


def _cli() -> int:
    """``python -m scoligait_edge.run``: ``main`` for a whole process (signal handlers stay until exit)."""
    verbose = "--verbose" in sys.argv[1:]
    if not verbose:
        from scoligait_edge.native_logs import divert_native_stderr

        divert_native_stderr()
    return main(keep_signal_handlers=True)


def main(argv: list[str] | None = None, *, capture_factory=None, keep_signal_handlers: bool = False) -> int:
    """Run one session; returns the exit code (0 ok or interrupted, 2 error, 3 nothing screened).

    SIGINT / SIGTERM / SIGHUP are taken over first thing: from then on a signal only
    sets a flag, and the session finishes normally (last window, JSONL,
    summary, report) however early it came, model loading included.
    """
    stop = StopFlag()
    received: list[int] = []

    def on_signal(signum, _frame) -> None:  # only a flag: no I/O, no closing, nothing that can re-enter
        received.append(signum)
        stop.set()

    old = {}
    guard = _GuardedStdout.install()
    if threading.current_thread() is threading.main_thread():
        # SIGHUP (the terminal closed, ssh dropped) ends a session like SIGTERM; SIGTERM last: once it is ours,
        # all are
        for s in (signal.SIGINT, *_HANGUP, signal.SIGTERM):
            old[s] = signal.signal(s, on_signal)
    try:
        return _main(argv, stop, received, capture_factory)
    finally:
        guard.uninstall()
        if not keep_signal_handlers:
            for s, h in old.items():
                signal.signal(s, h)


class _GuardedStdout:
    """``sys.stdout`` that survives its reader going away (``run ... | head -2``): the first failed write
    points the descriptor at /dev/null and the session goes on (JSONL, report) without printing."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.broken = False

    @classmethod
    def install(cls) -> _GuardedStdout:
        guard = cls(sys.stdout)
        sys.stdout = guard
        return guard

    def uninstall(self) -> None:
        if sys.stdout is self:
            sys.stdout = self._stream
        self.flush()

    def _lost(self) -> None:
        self.broken = True
        try:
            fd = self._stream.fileno()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)  # what is still buffered goes nowhere, not into an error at exit
            os.close(devnull)
        except (OSError, AttributeError, ValueError):
            pass

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return int(self._stream.write(text))
            except OSError as exc:  # EPIPE, EIO (terminal gone), ENOSPC (stdout on a full disk)
                log.debug("stdout lost: %s", exc)
                self._lost()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except OSError:
                self._lost()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _error(message: str) -> int:
    print(f"error: {printable(message)}", file=sys.stderr, flush=True)
    return EXIT_ERROR


def _display_problem() -> str | None:
    """Why no window can be shown here (checked before anything creates a Qt window), or None."""
    if not sys.platform.startswith("linux"):
        return None
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in ("offscreen", "minimal", "vnc", "eglfs", "linuxfb"):
        return None
    display = os.environ.get("DISPLAY")
    if display:
        return _x_display_problem(display)  # Qt aborts the process (exit 134) on a display it cannot open
    if os.environ.get("WAYLAND_DISPLAY"):
        return None
    return "no display found (neither DISPLAY nor WAYLAND_DISPLAY is set): use --headless to run without a window"


def _x_display_problem(display: str, timeout_s: float = 2.0) -> str | None:
    """None when an X server answers at ``display`` (``[host]:N[.screen]``), else why not."""
    host, colon, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not colon or not number.isdigit():
        return f"DISPLAY={display!r} is not a display name such as :0: fix it, or use --headless"
    host = host.split("/")[-1]
    addresses: list[tuple[int, Any]]
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"
        addresses = [(socket.AF_UNIX, "\0" + path), (socket.AF_UNIX, path)]
    else:
        addresses = [(socket.AF_INET, (host, 6000 + int(number)))]
    for family, address in addresses:
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout_s)
                sock.connect(address)
                return None
        except OSError:
            continue
    return (
        f"cannot open the display DISPLAY={display} (no X server answers there): use --headless to run without a window"
    )


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _probe_folder(folder: Path) -> None:
    """Raise OSError unless a file can be created in ``folder``."""
    fd, name = tempfile.mkstemp(prefix=".scoligait-probe-", dir=folder)
    os.close(fd)
    os.unlink(name)


def _check_outputs(args) -> str | None:
    """Every output path, checked (and the folders created) before the model loads; the problem or None."""
    try:
        return _output_problem(args)
    except OSError as exc:  # a name too long, a loop of links, ...: anything a path check itself can raise
        where = f" {_shown(exc.filename)}" if exc.filename else ""
        return f"cannot use the output path{where}: {_why(exc)}"
    except ScoliGaitError as exc:
        return str(exc)


def _shown(path: object) -> str:
    from scoligait_edge.stream.video_file import printable_path

    if isinstance(path, bytes):
        path = os.fsdecode(path)
    return printable_path(path) if isinstance(path, str | Path) else printable(path)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except (OSError, RuntimeError):
        return False


def _input_problem(args) -> str | None:
    """An output that would overwrite (or append to) an input, or None."""
    outputs = {"--output": args.output, "--save-video": args.save_video}
    inputs = {"--video": args.video, "--bundle": args.bundle, "--pose-model": Path(args.pose_model)}
    for flag, out in outputs.items():
        if out is None:
            continue
        out = out.expanduser()
        for source, given in inputs.items():
            if given is not None and _same_file(out, given.expanduser()):
                return f"{flag} {_shown(out)} is the {source} input: give another file name"
        if args.images is not None and _same_file(out, args.images.expanduser() / out.name):
            return f"{flag} {_shown(out)} is inside the --images folder: write it somewhere else"
    if args.output is not None and args.save_video is not None and _same_file(args.output, args.save_video):
        return "--output and --save-video are the same file: give two names"
    return None


def _output_problem(args) -> str | None:
    if problem := _input_problem(args):
        return problem
    if args.report is not None:
        report = args.report.expanduser()
        if report.exists() and not report.is_dir():
            return f"--report {report} is an existing file; give a folder (it is created if missing)"
        try:
            report.mkdir(parents=True, exist_ok=True)
            _probe_folder(report)
        except OSError as exc:
            return f"cannot write the report into {report}: {_why(exc)}"
    if args.save_video is not None:
        video = args.save_video.expanduser()
        if video.is_dir():
            return f"--save-video {video} is a folder; give a file name such as overlay.mp4"
        try:
            video.parent.mkdir(parents=True, exist_ok=True)
            _probe_folder(video.parent)
        except OSError as exc:
            return f"cannot write --save-video {video}: {_why(exc)}"
        from scoligait_edge.stream.video_file import opencv_path

        opencv_path(video)  # OpenCV would crash on a name that is not UTF-8
        if not _codec_opens(video):
            return f"cannot write --save-video {video}: OpenCV has no writer for {video.suffix or 'no extension'!r}; use .mp4"
    return None


def _codec_opens(path: Path) -> bool:
    import cv2

    fd, probe = tempfile.mkstemp(prefix=".scoligait-probe-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        writer = cv2.VideoWriter(probe, cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (16, 16))
        ok = writer.isOpened()
        writer.release()
        return ok
    finally:
        Path(probe).unlink(missing_ok=True)


class _ResultsLog:
    """The --output JSONL for the loop: a failed write (disk full) is reported once and ends the logging,
    not the session; ``error`` keeps it for the exit code and the summary."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self.error: str | None = None

    def write(self, result: Any) -> None:
        if self.error is not None:
            return
        try:
            self._writer.write(result)
        except ScoliGaitError as exc:
            self.error = f"{exc}; results after window {getattr(result, 'window_index', '?')} were not logged"
            print(f"error: {self.error}", file=sys.stderr, flush=True)

    def close(self) -> None:
        self._writer.close()


def _open_output(path: Path, session_id: str) -> _ResultsLog:
    """The JSONL writer, opened now so a bad --output fails before the model loads; raises ValueError."""
    from scoligait_edge.stream.results_log import JsonlWriter

    path = path.expanduser()
    try:
        if path.is_dir():
            raise ValueError(f"--output {_shown(path)} is a folder; give a file name such as results.jsonl")
        return _ResultsLog(JsonlWriter(path, fields={"session_id": session_id}))
    except OSError as exc:
        raise ValueError(f"cannot write --output {_shown(path)}: {_why(exc)}") from None


def _main(argv, stop: StopFlag, received: list[int], capture_factory) -> int:
    args = build_parser().parse_args(argv)
    if not args.verbose:
        from scoligait_edge.native_logs import quiet_native_logs

        quiet_native_logs()  # before MediaPipe / OpenCV / ONNX Runtime are imported
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        roi = _parse_roi(args.roi)
    except argparse.ArgumentTypeError as exc:
        return _error(str(exc))
    if not args.headless and (problem := _display_problem()):
        return _error(problem)
    if problem := _check_outputs(args):
        return _error(problem)
    writer = None
    session_id = secrets.token_hex(8)  # random: tells sessions in one file apart, says nothing of who or where
    if args.output is not None:
        try:
            writer = _open_output(args.output, session_id)
        except ValueError as exc:
            return _error(str(exc))
    try:
        return _session(args, roi, writer, stop, received, capture_factory, session_id)
    finally:
        if writer is not None:
            writer.close()


def _session(args, roi, writer, stop: StopFlag, received: list[int], capture_factory, session_id: str = "") -> int:
    from scoligait_edge.assets import sample_video_path

    if args.camera is None and args.video is None and args.rtsp is None and args.images is None:
        args.video = sample_video_path()
        print(f"No source given: screening the bundled sample video {args.video.name} (BSD-3, sports2d).")
    # The source first: a missing file or a wrong camera index is one line, not a model load and a line.
    try:
        source = _open_source(args, capture_factory)
    except (ScoliGaitError, ValueError, OSError) as exc:
        return _error(str(exc))
    try:
        screener = _make_screener(args, roi)
    except (ScoliGaitError, ValueError, OSError) as exc:
        source.close()
        return _error(str(exc))
    notices = [f"Model: {printable(screener.provenance)}", SCREENING_NOTICE]
    for line in notices:
        print(line)
    with screener:
        status, source_error, notes = _loop(args, screener, source, stop, received, notices, writer)
        summary, failed = _session_summary(screener.summary(), source_error, notes, writer)
        if args.report and not _write_report(args.report, screener, summary, notices, session_id):
            failed = True
    _print_summary(summary, session_id)
    if status == "interrupted" or stop.is_set():
        return EXIT_ERROR if failed else EXIT_OK
    if failed or (source_error and summary.windows_screened == 0):
        return EXIT_ERROR
    return EXIT_OK if summary.decision is not None else EXIT_NOTHING_SCREENED


def _open_source(args, capture_factory):
    """The frame source the arguments name; a local camera is started at once so a wrong index fails here."""
    from scoligait_edge.stream.sources import CameraSource, open_source

    source = open_source(
        camera=args.camera,
        video=args.video,
        rtsp=args.rtsp,
        images=args.images,
        max_frames=args.max_frames,
        capture_factory=capture_factory,
    )  # it logs its states
    if args.camera is not None:
        assert isinstance(source, CameraSource), "open_source(camera=...) gives a CameraSource"
        source.start()  # a local device opens at once (a stream may take seconds: it opens in the loop)
    return source


def _make_screener(args, roi):
    """The ``Screener`` the arguments describe (bundle, pose model, ROI, backend, hop)."""
    from scoligait_edge.pose.estimator import PoseEstimatorOptions
    from scoligait_edge.pose.tracker import TrackerOptions
    from scoligait_edge.screener import BackendOptions, Screener, ScreenerOptions

    bundle = args.bundle
    if args.allow_unsigned_bundle:  # a loaded Bundle passes through Screener's load_bundle as is
        from scoligait_edge.bundle.load import load_bundle
        from scoligait_edge.screener import demo_bundle_path

        bundle = load_bundle(args.bundle or demo_bundle_path(), allow_unsigned=True)
    options = ScreenerOptions(
        pose=PoseEstimatorOptions(model=args.pose_model),
        tracker=TrackerOptions(roi=roi) if roi else TrackerOptions(),
        backend=BackendOptions(backend=args.backend, precision=args.precision, threads=args.threads or None),
        hop=args.hop,
    )
    return Screener(bundle, options=options)


def _session_summary(summary, source_error: str | None, notes: list[str], writer):
    """The summary with the loop's notes and any output failure in it, and whether the session failed.

    When nothing was decided, the first problem leads the reason, so the summary says why.
    """
    failed = False
    if notes:
        summary = summary.model_copy(update={"notes": [*summary.notes, *notes]})
    if writer is not None and writer.error:
        summary = summary.model_copy(update={"notes": [*summary.notes, writer.error]})
        failed = True
    problem = source_error or (notes[0] if notes else None)
    if problem and summary.decision is None:
        summary = summary.model_copy(update={"reason": f"{problem}; {summary.reason}"})
    return summary, failed


def _write_report(folder: Path, screener, summary, notices: list[str], session_id: str) -> bool:
    """The HTML report and summary.json into ``folder``; False (with a line on stderr) when it cannot."""
    try:
        from scoligait_edge.session_report import write_report

        path = write_report(screener, folder, notices)
        record = {"session_id": session_id, **summary.model_dump(mode="json")}
        (folder / "summary.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
        print(f"report: {path}")
    except (ScoliGaitError, OSError) as exc:
        print(f"error: cannot write the report into {folder}: {exc}", file=sys.stderr)
        return False
    return True


class _Latest:
    """Writes and prints each window's result, and keeps the last screened probability and top features:
    the overlay shows them until the next window is screened."""

    def __init__(self, writer) -> None:
        self._writer = writer
        self.probability: float | None = None
        self.top: list[str] = []

    def emit(self, results) -> None:
        for result in results:
            if self._writer:
                self._writer.write(result)
            if result.status == "screened":
                self.probability, self.top = result.probability, [f.name for f in result.top_features]
            _print_result(result)


def _loop(
    args, screener, source, stop: StopFlag, received: list[int], notices: list[str], writer
) -> tuple[str, str | None, list[str]]:
    """Frames -> screener -> JSONL / overlay, then the last window from ``finish()``.

    Returns ('done'|'interrupted', source error or None, notes for the summary).
    A signal only sets ``stop``: the loop notices it between frames (live
    sources yield None every 0.25 s while idle), leaves the source through its
    own ``with`` and finishes the session; nothing closes the source from
    outside the loop.
    """
    from scoligait_edge.errors import VideoReadError
    from scoligait_edge.viz.overlay import OverlayVideoWriter

    latest = _Latest(writer)
    notes: list[str] = []
    if stop.is_set():  # a signal during model loading: nothing to read
        source.close()
        _announce_stop(received)
        return "interrupted", None, notes
    video_out = OverlayVideoWriter(args.save_video, fps=source.nominal_fps or 30.0) if args.save_video else None
    show = not args.headless
    error = None
    try:
        with source:
            error = _screen_frames(args, screener, source, stop, notices, latest, video_out, show)
            ended_early = getattr(source, "ended_early", None)
            if ended_early:
                notes.append(ended_early)
    except VideoReadError as exc:
        error = str(exc)
        print(f"error: {exc}", file=sys.stderr)
    except ScoliGaitError as exc:  # the overlay video or the window failed mid-run: keep what we have
        error = str(exc)
        print(f"error: {exc}", file=sys.stderr)
    finally:
        _close_outputs(video_out, show)
    latest.emit(screener.finish())  # the rows the gap filler still held may complete a last window
    if stop.is_set():
        _announce_stop(received)
        return "interrupted", error, notes
    return "done", error, notes


def _screen_frames(args, screener, source, stop: StopFlag, notices: list[str], latest: _Latest, video_out, show):
    """Feed the source's frames to the screener until it ends, a signal, --max-frames or q/Esc.

    Returns the error that stopped it (a --roi outside the first frame) or None.
    """
    from scoligait_edge.viz.overlay import draw_overlay

    last_image = None
    processed = 0
    roi = _parse_roi(args.roi)
    for frame in source.frames(idle_s=0.25):
        if stop.is_set() or (args.max_frames and processed >= args.max_frames):
            break
        if frame is None:  # live source idle or lost: keep the screen alive
            if show and last_image is not None:
                _show(
                    draw_overlay(
                        last_image,
                        None,
                        progress=0.0,
                        probability=latest.probability,
                        top_features=latest.top,
                        status=source.status_text,
                        notices=notices,
                        alert=True,
                    )
                )
            continue
        if processed == 0 and roi is not None and (outside := _roi_outside(roi, frame.image.shape)):
            print(f"error: {outside}", file=sys.stderr, flush=True)
            return outside
        try:
            update = screener.process(frame.image, frame.timestamp_ms)
        except TimestampError as exc:
            log.warning("frame %d skipped: %s", frame.index, exc)
            continue
        processed += 1
        latest.emit(update.results)
        if (show or video_out) and _overlay_frame(frame.image, update, screener, latest, notices, video_out, show):
            break
        last_image = frame.image
    return None


def _overlay_frame(image, update, screener, latest: _Latest, notices: list[str], video_out, show: bool) -> bool:
    """Draw the overlay on one frame, write it to the overlay video and show it; True when the user quits."""
    from scoligait_edge.viz.overlay import draw_overlay

    drawn = draw_overlay(
        image,
        update.pose,
        progress=update.window_progress,
        probability=latest.probability,
        top_features=latest.top,
        status=update.tracking_state,
        notices=notices,
        threshold=screener.threshold,
    )
    if video_out:
        video_out.write(drawn)
    return bool(show and _show(drawn))


def _close_outputs(video_out, show: bool) -> None:
    """Close the overlay video (a failure is reported, not raised: the session still finishes) and the window."""
    if video_out:
        try:
            video_out.close()
        except (ScoliGaitError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
    if show:
        _close_windows()


def _announce_stop(received: list[int]) -> None:
    names = ", ".join(dict.fromkeys(signal.Signals(s).name for s in received)) or "a signal"
    log.warning("%s received: finishing the session", names)


def _show(image) -> bool:
    """Display a frame; True when the user pressed q or Esc."""
    import cv2

    try:
        cv2.imshow("scoligait_edge", image)
        return (cv2.waitKey(1) & 0xFF) in (ord("q"), 27)
    except cv2.error as exc:
        raise ScoliGaitError(f"cannot open a window ({exc.msg.strip()}); use --headless") from None


def _close_windows() -> None:
    import cv2

    try:
        cv2.destroyAllWindows()
    except cv2.error:
        pass


def _print_result(r) -> None:
    when = f"{r.start_ms / 1000:6.2f}-{r.end_ms / 1000:6.2f} s"
    if r.status == "screened":
        feats = ", ".join(f.name for f in r.top_features[:2])
        odd = (
            f"; INPUT UNUSUAL ({r.input_unusual_fraction:.0%} of features far from training)" if r.input_unusual else ""
        )
        print(
            f"window {r.window_index:3d} {when}: p = {r.probability:.2f} -> {r.decision} ({r.steps} steps; "
            f"{feats}){odd}",
            flush=True,
        )
    elif r.status == "skipped":
        odd = "; input unusual" if r.input_unusual else ""
        print(f"window {r.window_index:3d} {when}: skipped: {'; '.join(r.reasons)}{odd}", flush=True)
    else:
        print(f"window {r.window_index:3d} {when}: error: {r.error}", flush=True)


def _print_summary(s, session_id: str = "") -> None:
    print(f"\nSession summary{f' ({session_id})' if session_id else ''}")
    if s.decision is None:
        print(f"  no decision: {s.reason}")
    else:
        print(
            f"  decision: {s.decision} (mean p = {s.probability_mean:.2f} +- {s.probability_sd:.2f}, "
            f"threshold {s.threshold:.2f})"
        )
    print(
        f"  windows: {s.windows_screened} screened, {s.windows_skipped} skipped, {s.windows_failed} failed; "
        f"steps {s.steps}, gait cycles {s.gait_cycles}; frames {s.frames_processed} "
        f"({s.frames_with_subject} with the subject)"
    )
    if s.top_features:
        print("  top features: " + "; ".join(f"{f.name} ({f.meaning})" for f in s.top_features))
    for note in s.notes:
        print(f"  note: {note}")
    print(f"  model: {printable(s.provenance)}")
    print(f"  {s.notice}", flush=True)


if __name__ == "__main__":
    raise SystemExit(_cli())
