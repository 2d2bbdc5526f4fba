"""``python -m scoligait_edge.run``: screen a walk from a camera, a stream, a video or images.

With no source it screens the bundled sample video with the bundled demo model
(trained on SIMULATED gait). A screening aid, not a diagnosis.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from scoligait_edge import SCREENING_NOTICE
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
    return x, y, w, h


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m scoligait_edge.run", description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group()
    src.add_argument("--camera", type=int, metavar="INDEX")
    src.add_argument("--video", type=Path, metavar="PATH")
    src.add_argument("--rtsp", metavar="URL")
    src.add_argument("--images", type=Path, metavar="DIR")
    p.add_argument("--bundle", type=Path, default=None, help="model bundle folder or zip (default: the demo model)")
    p.add_argument("--allow-unsigned-bundle", action="store_true", help="load a bundle that is unsigned or signed by "
                   "an untrusted key (logged as a warning; its provenance notice is marked UNVERIFIED)")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime", "tensorrt"])
    p.add_argument("--precision", default="fp32", choices=["fp32", "fp16"])
    p.add_argument("--pose-model", default="full", help="lite, full or the path of a .task bundle")
    p.add_argument("--roi", default=None, help="x,y,w,h: only people whose hips are inside")
    p.add_argument("--hop", type=int, default=16, help="frames between windows")
    p.add_argument("--headless", action="store_true", help="no window (kiosks, servers)")
    p.add_argument("--save-video", type=Path, default=None, help="write the overlay video here")
    p.add_argument("--output", type=Path, default=None, help="append one JSON line per window here")
    p.add_argument("--report", type=Path, default=None, help="write the session report (HTML) into this folder")
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--threads", type=int, default=1, help="classifier threads (default 1: pose uses the other cores)")
    return p


def main(argv: list[str] | None = None, *, capture_factory=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        roi = _parse_roi(args.roi)
    except argparse.ArgumentTypeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    from scoligait_edge.assets import sample_video_path
    from scoligait_edge.screener import Screener

    if args.camera is None and args.video is None and args.rtsp is None and args.images is None:
        args.video = sample_video_path()
        print(f"No source given: screening the bundled sample video {args.video.name} (BSD-3, sports2d).")
    try:
        bundle = args.bundle
        if args.allow_unsigned_bundle:  # a loaded Bundle passes through Screener's load_bundle as is
            from scoligait_edge.export.bundle import load_bundle
            from scoligait_edge.screener import demo_bundle_path

            bundle = load_bundle(args.bundle or demo_bundle_path(), allow_unsigned=True)
        screener = Screener(bundle, backend=args.backend, pose_model=args.pose_model, precision=args.precision,
                            roi=roi, hop=args.hop, threads=args.threads)
    except (ScoliGaitError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    notices = [f"Model: {screener.provenance}", SCREENING_NOTICE]
    for line in notices:
        print(line)
    stop = threading.Event()
    with screener:
        status, source_error = _loop(args, screener, stop, notices, capture_factory)
        screener.finish()
        summary = screener.summary()
        if source_error and summary.decision is None:
            summary = summary.model_copy(update={"reason": f"{source_error}; {summary.reason}"})
        if args.report:
            from scoligait_edge.session_report import write_report

            path = write_report(screener, args.report, notices)
            (args.report / "summary.json").write_text(summary.model_dump_json(indent=2), encoding="utf-8")
            print(f"report: {path}")
    _print_summary(summary)
    if status == "interrupted":
        return EXIT_OK
    if source_error and summary.windows_screened == 0:
        return EXIT_ERROR
    return EXIT_OK if summary.decision is not None else EXIT_NOTHING_SCREENED


def _loop(args, screener, stop: threading.Event, notices: list[str], capture_factory) -> tuple[str, str | None]:
    """Frames -> screener -> JSONL / overlay; returns ('done'|'interrupted', source error or None)."""
    from scoligait_edge.errors import VideoReadError
    from scoligait_edge.stream.results_log import JsonlWriter
    from scoligait_edge.stream.sources import SourceState, open_source
    from scoligait_edge.viz.overlay import OverlayVideoWriter, draw_overlay

    def on_state(event) -> None:
        log.warning("%s", event.message) if event.state in (SourceState.LOST, SourceState.RETRYING) else log.info("%s", event.message)

    try:
        source = open_source(camera=args.camera, video=args.video, rtsp=args.rtsp, images=args.images,
                             max_frames=args.max_frames, capture_factory=capture_factory, on_state=on_state)
    except (ScoliGaitError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return "done", str(exc)

    def handle_signal(signum, _frame) -> None:
        log.warning("signal %d: finishing the session", signum)
        stop.set()
        source.close()

    old = {s: signal.signal(s, handle_signal) for s in (signal.SIGINT, signal.SIGTERM)} \
        if threading.current_thread() is threading.main_thread() else {}
    writer = JsonlWriter(args.output) if args.output else None
    video_out = OverlayVideoWriter(args.save_video, fps=source.nominal_fps or 30.0) if args.save_video else None
    show = not args.headless
    last_image, probability, top = None, None, []
    error = None
    processed = 0
    try:
        with source:
            for frame in source.frames(idle_s=0.25):
                if stop.is_set() or (args.max_frames and processed >= args.max_frames):
                    break
                if frame is None:  # live source idle or lost: keep the screen alive
                    if show and last_image is not None:
                        _show(draw_overlay(last_image, None, progress=0.0, probability=probability, top_features=top,
                                           status=source.status_text, notices=notices, alert=True))
                    continue
                try:
                    update = screener.process(frame.image, frame.timestamp_ms)
                except TimestampError as exc:
                    log.warning("frame %d skipped: %s", frame.index, exc)
                    continue
                processed += 1
                for result in update.results:
                    if writer:
                        writer.write(result)
                    if result.status == "screened":
                        probability, top = result.probability, [f.name for f in result.top_features]
                    _print_result(result)
                if show or video_out:
                    image = draw_overlay(frame.image, update.pose, progress=update.window_progress,
                                         probability=probability, top_features=top, status=update.tracking_state,
                                         notices=notices, threshold=screener.threshold)
                    if video_out:
                        video_out.write(image)
                    if show and _show(image):
                        break
                last_image = frame.image
    except VideoReadError as exc:
        error = str(exc)
        print(f"error: {exc}", file=sys.stderr)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if writer:
            writer.close()
        if video_out:
            video_out.close()
        if show:
            _close_windows()
    return ("interrupted" if stop.is_set() else "done"), error


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
        print(f"window {r.window_index:3d} {when}: p = {r.probability:.2f} -> {r.decision} ({r.steps} steps; {feats})",
              flush=True)
    elif r.status == "skipped":
        print(f"window {r.window_index:3d} {when}: skipped: {'; '.join(r.reasons)}", flush=True)
    else:
        print(f"window {r.window_index:3d} {when}: error: {r.error}", flush=True)


def _print_summary(s) -> None:
    print("\nSession summary")
    if s.decision is None:
        print(f"  no decision: {s.reason}")
    else:
        print(f"  decision: {s.decision} (mean p = {s.probability_mean:.2f} +- {s.probability_sd:.2f}, "
              f"threshold {s.threshold:.2f})")
    print(f"  windows: {s.windows_screened} screened, {s.windows_skipped} skipped, {s.windows_failed} failed; "
          f"steps {s.steps}, gait cycles {s.gait_cycles}; frames {s.frames_processed} "
          f"({s.frames_with_subject} with the subject)")
    if s.top_features:
        print("  top features: " + "; ".join(f"{f.name} ({f.meaning})" for f in s.top_features))
    print(f"  model: {s.provenance}")
    print(f"  {s.notice}")


if __name__ == "__main__":
    raise SystemExit(main())
