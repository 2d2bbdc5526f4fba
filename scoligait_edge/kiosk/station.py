"""The station's session logic: one subject at a time through the one ``Screener``, no web code here.

Phases follow the session rules shared with the Android kiosk
(:class:`~scoligait_edge.session_rules.SessionRules`): ``idle`` (welcome and
consent: no frame is processed) -> ``guiding`` (frames go through the
Screener for guidance only) -> ``recording`` (the whole body was in view for
``settle_frames`` frames: the Screener starts a fresh session) -> ``summary``
(``target_screened_windows`` screened, ``max_recording_s`` passed, the operator
stopped or the video ended) -> ``idle`` again at "next subject", which clears
every trace of the subject.

A pipeline thread owns the Screener. Live sources (camera, RTSP, the page's
camera) hand it the newest frame only; a video file is read whole, in order, so
its recording is what ``python -m scoligait_edge.run --video`` would screen.
The web layer reads :meth:`Station.snapshot` and the preview; nothing it does
can block the pipeline. The day's summaries (no keypoints, no images) stay in
memory until the operator exports them.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from scoligait_edge import SCREENING_NOTICE
from scoligait_edge.errors import ScoliGaitError, TimestampError
from scoligait_edge.results import FrameGuidance, SessionSummary
from scoligait_edge.session_rules import SessionRules

log = logging.getLogger(__name__)

Phase = Literal["starting", "idle", "guiding", "recording", "summary", "error"]
Hint = Literal["no_person", "body_cut", "hold_still", "walk_now", "recording", "waiting_for_camera"]
PREVIEW_MAX_WIDTH = 480
"""Preview frames are shrunk by an integer factor to at most this width: enough for a 2 m view of the skeleton,
cheap to scale and encode (the page draws them 480 px wide)."""
PREVIEW_MAX_FPS = 8.0
"""Preview frames per second at most (the skeleton is drawn by the page from the keypoints of each state)."""
OWNER_GRACE_S = 20.0
"""A subject session whose page is gone this long (closed, not reloaded) is abandoned, nothing kept."""


class Consent(BaseModel):
    """What the consent screen recorded: the operator confirms, a minor needs a guardian's consent too."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    operator_confirms: bool
    subject_is_minor: bool
    subject_consents: bool
    guardian_consents: bool = False


class DayRecord(BaseModel):
    """One subject's line in the day's export: no keypoints, frames or images; no name either."""

    model_config = ConfigDict(frozen=True)

    time: str
    decision: str | None
    reason: str | None
    probability_mean: float | None
    threshold: float
    windows_screened: int
    windows_skipped: int
    quality_flags: dict[str, int]
    input_unusual_windows: int | None
    duration_s: float
    ended_by: str
    model: str


class StationConfig(BaseModel):
    """How the station was started (the CLI's flags)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    camera: int | None = None
    video: Path | None = None
    rtsp: str | None = None
    browser_camera: bool = False
    loop_video: bool = True
    bundle: Path | None = None
    allow_unsigned_bundle: bool = False
    pose_model: str = "full"
    backend: str = "auto"
    threads: int | None = 1
    pace_video: bool = True
    """Read a video no faster than its own frame rate (every frame is still processed, never skipped)."""
    preview_max_width: int = Field(default=PREVIEW_MAX_WIDTH, ge=64)
    preview_max_fps: float = Field(default=PREVIEW_MAX_FPS, gt=0)


class _Latest:
    """A one-slot mailbox: the newest item wins, a reader never sees a queue grow."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Any = None
        self.dropped = 0

    def put(self, item: Any) -> None:
        with self._cond:
            self.dropped += self._item is not None
            self._item = item
            self._cond.notify()

    def take(self, timeout: float) -> Any:
        with self._cond:
            if self._item is None:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return item


class Station:
    """The screening station's pipeline and session state (thread-safe public methods)."""

    def __init__(
        self,
        config: StationConfig,
        rules: SessionRules,
        *,
        screener_factory: Callable[[], Any] | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.rules = rules
        self._factory = screener_factory or self._default_screener
        self._on_change = on_change or (lambda: None)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._screener: Any = None
        self.phase: Phase = "starting"
        self.error: str | None = None
        self.day: list[DayRecord] = []
        self._browser_frames = _Latest()
        self._commands: deque[Callable[[], None]] = deque()
        self._source_status = ""
        self._fps = 0.0
        self._frame_times: deque[float] = deque(maxlen=30)
        self._clear_subject()
        self.bundle_name = ""
        self.provenance = ""
        self.views_trained: list[str] | None = None
        self.frames_processed_total = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Load the models and start the pipeline thread (the models load on the thread itself)."""
        self._thread = threading.Thread(target=self._run, name="scoligait-station", daemon=True)
        self._thread.start()

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the pipeline and release the source and the models; the day's records are dropped."""
        self._stop.set()
        self._browser_frames.put(None)
        if self._thread is not None:
            self._thread.join(timeout_s)

    @property
    def screener(self) -> Any:
        """The one Screener (None until loaded): for tests and the operator panel."""
        return self._screener

    def _default_screener(self) -> Any:
        from scoligait_edge.pose.estimator import PoseEstimatorOptions
        from scoligait_edge.screener import BackendOptions, Screener, ScreenerOptions, demo_bundle_path

        cfg = self.config
        bundle: Any = cfg.bundle
        if cfg.allow_unsigned_bundle:
            from scoligait_edge.bundle.load import load_bundle

            bundle = load_bundle(cfg.bundle or demo_bundle_path(), allow_unsigned=True)
        options = ScreenerOptions(
            pose=PoseEstimatorOptions(model=cfg.pose_model),
            backend=BackendOptions.model_validate({"backend": cfg.backend, "threads": cfg.threads}),
            rules=self.rules,
        )
        return Screener(bundle, options=options)

    # ------------------------------------------------------------------ commands (from the web layer)
    def begin(self, consent: Consent) -> None:
        """idle -> guiding, with valid consent (ValueError otherwise: no frame is processed without it)."""
        if not consent.operator_confirms:
            raise ValueError("the operator has not confirmed the consent")
        if not self.rules.consent_valid(
            subject_is_minor=consent.subject_is_minor,
            subject_consents=consent.subject_consents,
            guardian_consents=consent.guardian_consents,
        ):
            raise ValueError(
                "a minor needs a guardian's consent" if consent.subject_is_minor else "the subject has not consented"
            )
        with self._lock:
            if self.phase != "idle":
                raise ValueError(f"cannot begin while {self.phase}: next subject first")
            self._clear_subject()
            self.phase = "guiding"
            self._subject_started = time.monotonic()
        self._commands.append(self._restart_subject)
        self._on_change()

    def stop(self) -> None:
        """The operator ends the recording now (guiding: back to idle with nothing kept)."""
        with self._lock:
            if self.phase == "recording":
                self._commands.append(lambda: self._finish("operator"))
            elif self.phase == "guiding":
                self._commands.append(self.next_subject)

    def next_subject(self) -> None:
        """Clear every trace of the subject, here and in the Screener; back to idle."""
        with self._lock:
            if self.phase in ("starting", "error"):
                return
            self._clear_subject()
            self.phase = "idle"
        self._commands.append(self._restart_subject)  # on the pipeline thread, which owns the Screener
        self._on_change()

    def submit_browser_frame(self, jpeg: bytes, received_ms: float) -> None:
        """A frame from the page's camera: the newest one wins (never queued)."""
        if self.phase in ("guiding", "recording"):
            self._browser_frames.put((jpeg, received_ms))

    # ------------------------------------------------------------------ what the page sees
    def snapshot(self) -> dict[str, Any]:
        """The live state as JSON-ready data: phase, guidance, progress, rate, summary (in 'summary')."""
        with self._lock:
            g = self._guidance
            state: dict[str, Any] = {
                "phase": self.phase,
                "error": self.error,
                "hint": self._hint,
                "guidance": None if g is None else g.model_dump(),
                "settled": self._settled,
                "settle_frames": self.rules.settle_frames,
                "windows_screened": self._windows_screened,
                "windows_total": self._windows_total,
                "target_windows": self.rules.target_screened_windows,
                "decision_progress": min(self._windows_screened / self.rules.target_screened_windows, 1.0),
                "window_progress": self._window_progress,
                "steps": self._steps,
                "recording_s": self._recording_s,
                "max_recording_s": self.rules.max_recording_s,
                "fps": round(self._fps, 1),
                "source": self._source_status,
                "keypoints": self._keypoints,
                "image_size": self._image_size,
                "frame_captured_ms": self._captured_ms,
                "summary": None if self._summary is None else self._summary_view(self._summary),
                "recorded_frames": self._recorded_frames if self._summary is not None else None,
                "provenance": self.provenance,
                "notice": SCREENING_NOTICE,
                "browser_camera": self.config.browser_camera,
            }
        return state

    def preview(self) -> tuple[bytes, float] | None:
        """The newest preview JPEG and its capture time (ms since the epoch), or None."""
        with self._lock:
            return self._preview

    def subject_traces(self) -> dict[str, Any]:
        """What the station holds about the current subject (all empty after next subject): for tests."""
        with self._lock:
            s = self._screener
            return {
                "summary": self._summary,
                "guidance": self._guidance,
                "keypoints": self._keypoints,
                "preview": self._preview,
                "recorded_frames": self._recorded_frames,
                "screener_frames": None if s is None else s.summary().frames_processed,
                "screener_windows": None if s is None else s.summary().windows_total,
                "screener_results": None if s is None else len(s.results),
                "screener_history_rows": None if s is None else len(s.history.km),
            }

    def operator_view(self) -> dict[str, Any]:
        """The operator panel: bundle, source, sessions today (counts only)."""
        with self._lock:
            counts: dict[str, int] = {}
            for r in self.day:
                key = r.decision or "no_decision"
                counts[key] = counts.get(key, 0) + 1
            return {
                "bundle": self.bundle_name,
                "model": self.provenance,
                "source": self._source_label(),
                "source_status": self._source_status,
                "sessions_today": len(self.day),
                "decisions": counts,
                "rules": self.rules.model_dump(by_alias=True),
                "frames_processed": self.frames_processed_total,
            }

    def export(self, fmt: Literal["csv", "jsonl"]) -> str:
        """The day's records as CSV or JSONL text (the operator saves it where they choose)."""
        with self._lock:
            records = list(self.day)
        if fmt == "jsonl":
            return "".join(r.model_dump_json() + "\n" for r in records)
        if fmt != "csv":
            raise ValueError(f"export format must be csv or jsonl, got {fmt!r}")
        out = io.StringIO()
        fields = list(DayRecord.model_fields)
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for r in records:
            row = r.model_dump()
            row["quality_flags"] = ";".join(f"{k}:{v}" for k, v in r.quality_flags.items())
            writer.writerow(row)
        return out.getvalue()

    # ------------------------------------------------------------------ internals
    def _clear_subject(self) -> None:
        self._guidance: FrameGuidance | None = None
        self._hint: Hint | None = None
        self._settled = 0
        self._windows_screened = 0
        self._windows_total = 0
        self._window_progress = 0.0
        self._steps = 0
        self._recording_s = 0.0
        self._keypoints: list[list[float]] | None = None
        self._image_size: tuple[int, int] | None = None
        self._captured_ms: float | None = None
        self._summary: SessionSummary | None = None
        self._ended_by = ""
        self._preview: tuple[bytes, float] | None = None
        self._recorded_frames: list[int] | None = None
        self._rec_first_ts: float | None = None
        self._subject_started = 0.0
        self._last_preview = 0.0

    def _source_label(self) -> str:
        c = self.config
        if c.browser_camera:
            return "the page's camera"
        if c.camera is not None:
            return f"camera {c.camera}"
        if c.rtsp:
            from scoligait_edge.stream.sources import redact_url

            return f"stream {redact_url(c.rtsp)}"
        return f"video {c.video.name if c.video else '?'}"

    def _run(self) -> None:
        try:
            self._screener = self._factory()
            manifest = self._screener.bundle.manifest
            self.provenance = str(self._screener.provenance)
            self.bundle_name = str(manifest.model.get("name") or getattr(self._screener.bundle, "root", "") or "")
            views = manifest.provenance.get("views") or manifest.model.get("views")
            self.views_trained = list(views) if isinstance(views, list | tuple) else None
        except Exception as exc:  # noqa: BLE001 - any load failure must reach the page, not kill the thread silently
            log.error("the station cannot load its models: %s", exc, exc_info=not isinstance(exc, ScoliGaitError))
            with self._lock:
                self.phase, self.error = "error", f"cannot load the model: {exc}"
            self._on_change()
            return
        with self._lock:
            self.phase = "idle"
        self._on_change()
        try:
            while not self._stop.is_set():
                self._drain_commands()
                if self.phase not in ("guiding", "recording"):
                    self._stop.wait(0.05)
                    continue
                self._subject_loop()
        except Exception:  # noqa: BLE001 - the station must say why it stopped, not vanish
            log.exception("the station's pipeline failed")
            with self._lock:
                self.phase, self.error = "error", "the pipeline failed: see the station's log"
            self._on_change()
        finally:
            self._screener.close()

    def _drain_commands(self) -> None:
        while self._commands:
            self._commands.popleft()()

    def _restart_subject(self) -> None:
        with self._lock:
            if self._screener is not None:
                self._screener.reset()

    def _frames(self) -> Generator[tuple[int, float, np.ndarray | None, float], None, None]:
        """(source index, timestamp ms, BGR image or None when idle, capture time ms) for one subject."""
        c = self.config
        if c.browser_camera:
            yield from self._browser_source()
        elif c.camera is not None or c.rtsp:
            yield from self._live_source()
        else:
            yield from self._video_source()

    def _video_source(self) -> Iterator[tuple[int, float, np.ndarray | None, float]]:
        """The video from its first frame, every frame in order; looped with increasing timestamps while guiding."""
        from scoligait_edge.assets import sample_video_path
        from scoligait_edge.stream.sources import VideoFileSource

        path = self.config.video or sample_video_path()
        offset = 0.0
        while not self._stop.is_set():
            source = VideoFileSource(path)
            fps = source.nominal_fps or 30.0
            self._source_status = f"video {path.name}"
            start = time.monotonic()
            last_ts = None
            try:
                for frame in source:
                    if self.config.pace_video:
                        due = start + frame.timestamp_ms / 1000.0
                        if (delay := due - time.monotonic()) > 0:
                            time.sleep(delay)
                    last_ts = frame.timestamp_ms
                    yield frame.index, frame.timestamp_ms + offset, frame.image, time.time() * 1000.0
            finally:
                source.close()
            if self.phase == "recording" or not self.config.loop_video:
                self._video_ended = True
                return
            offset += (last_ts or 0.0) + 1000.0 / fps  # guiding never settled: loop, time keeps increasing

    def _live_source(self) -> Iterator[tuple[int, float, np.ndarray | None, float]]:
        from scoligait_edge.stream.sources import open_source

        source = open_source(camera=self.config.camera, rtsp=self.config.rtsp)
        try:
            with source:
                for frame in source.frames(idle_s=0.25):  # newest frame wins inside CameraSource
                    self._source_status = source.status_text
                    if frame is None:
                        yield -1, 0.0, None, 0.0
                        continue
                    yield frame.index, frame.timestamp_ms, frame.image, time.time() * 1000.0
        finally:
            source.close()

    def _browser_source(self) -> Iterator[tuple[int, float, np.ndarray | None, float]]:
        import cv2

        index = 0
        self._source_status = "the page's camera"
        while not self._stop.is_set():
            item = self._browser_frames.take(0.25)
            if item is None:
                yield -1, 0.0, None, 0.0
                continue
            jpeg, received_ms = item
            image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            if image is None:
                log.warning("a frame from the page could not be decoded (%d bytes): skipped", len(jpeg))
                continue
            yield index, received_ms, image, received_ms
            index += 1

    def _subject_loop(self) -> None:
        """Frames for one subject until the summary, a stop, next subject or shutdown."""
        self._video_ended = False
        frames = self._frames()
        try:
            for index, t_ms, image, captured_ms in frames:
                if self._stop.is_set():
                    return
                self._drain_commands()
                if self.phase not in ("guiding", "recording"):
                    return
                if image is None:
                    self._on_change()
                    continue
                if self.phase == "recording" and self._check_end(t_ms):
                    return
                self._process(index, t_ms, image, captured_ms)
            if self.phase == "recording" and not self._stop.is_set():
                self._finish("video ended" if self._video_ended else "source ended")
        finally:
            frames.close()

    def _check_end(self, t_ms: float) -> bool:
        if self._rec_first_ts is not None and (t_ms - self._rec_first_ts) / 1000.0 >= self.rules.max_recording_s:
            self._finish("maximum recording time")
            return True
        return False

    def _process(self, index: int, t_ms: float, image: np.ndarray, captured_ms: float) -> None:
        s = self._screener
        try:  # a recording's time starts at 0, as a video file's does (the same frames give the same result)
            update = s.process(image, t_ms - (self._rec_first_ts or 0.0))
        except TimestampError as exc:
            log.warning("frame %d skipped: %s", index, exc)
            return
        self.frames_processed_total += 1
        now = time.monotonic()
        self._frame_times.append(now)
        if len(self._frame_times) > 1:
            self._fps = (len(self._frame_times) - 1) / max(self._frame_times[-1] - self._frame_times[0], 1e-6)
        g = update.guidance
        subject = None if update.pose is None else update.pose.subject
        with self._lock:
            self._guidance = g
            self._captured_ms = captured_ms
            self._image_size = None if update.pose is None else tuple(update.pose.image_size)
            self._keypoints = None
            if subject is not None:
                kp = subject.coco(with_feet=True)
                self._keypoints = [[round(float(x), 1), round(float(y), 1)] for x, y, _ in kp]
            if self.phase == "guiding":
                self._settled = self._settled + 1 if g is not None and g.body_in_frame else 0
                self._hint = self._hint_for(g, settled=True)
                if self._settled >= self.rules.settle_frames:  # the recording starts with the whole body in view
                    self.phase = "recording"
                    s.reset()
                    self._recorded_frames = []
                    self._rec_first_ts = t_ms
                    update = s.process(image, 0.0)  # this frame is the recording's first
            elif self.phase == "recording":
                self._hint = self._hint_for(g, settled=False)
            if self.phase == "recording":
                assert self._recorded_frames is not None
                if not self._recorded_frames:
                    self._recorded_frames = [index, index]
                self._recorded_frames[1] = index
                self._windows_screened = update.windows_screened
                self._windows_total += len(update.results)
                self._window_progress = update.window_progress
                self._steps = int(sum(s.history.step_counts.values()))
                self._recording_s = (t_ms - (self._rec_first_ts or t_ms)) / 1000.0
            self._maybe_preview(image, captured_ms, now)
        self._on_change()
        if self.phase == "recording" and update.ready:
            self._finish("enough windows")

    def _hint_for(self, g: FrameGuidance | None, *, settled: bool) -> Hint:
        if g is None or not g.people_in_view:
            return "no_person"
        if not g.body_in_frame:
            return "body_cut"
        if settled:
            return "hold_still"
        return "recording" if g.walking else "walk_now"

    def _maybe_preview(self, image: np.ndarray, captured_ms: float, now: float) -> None:
        """A small JPEG at most ``preview_max_fps`` a second (not with the page's camera: it shows its own)."""
        if self.config.browser_camera or now - self._last_preview < 1.0 / self.config.preview_max_fps:
            return
        import cv2

        self._last_preview = now
        # an integer factor takes OpenCV's box-filter fast path: 1/4 of a 1768 px frame costs a third of 480/1768
        factor = -(-image.shape[1] // self.config.preview_max_width)
        small = (
            image
            if factor <= 1
            else cv2.resize(image, None, fx=1 / factor, fy=1 / factor, interpolation=cv2.INTER_AREA)
        )
        ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 70])
        if ok:
            self._preview = (buf.tobytes(), captured_ms)

    def _finish(self, ended_by: str) -> None:
        s = self._screener
        s.finish()
        summary = s.summary()
        record = DayRecord(
            time=datetime.now().astimezone().isoformat(timespec="seconds"),
            decision=summary.decision,
            reason=summary.reason,
            probability_mean=summary.probability_mean,
            threshold=summary.threshold,
            windows_screened=summary.windows_screened,
            windows_skipped=summary.windows_skipped,
            quality_flags=dict(summary.quality_flags),
            input_unusual_windows=summary.windows_input_unusual,
            duration_s=round(summary.duration_s, 2),
            ended_by=ended_by,
            model=self.provenance,
        )
        with self._lock:
            self._summary = summary
            self._ended_by = ended_by
            self._windows_screened = summary.windows_screened
            self.phase = "summary"
            self._hint = None
            self._keypoints = None
            self._preview = None
            self.day.append(record)
        log.info("subject done (%s): %s", ended_by, summary.decision or summary.reason)
        self._on_change()

    def _summary_view(self, s: SessionSummary) -> dict[str, Any]:
        data = json.loads(s.model_dump_json())
        data["ended_by"] = self._ended_by
        data["simulated_model"] = "simulat" in self.provenance.lower()
        return data


def owner_grace_s() -> float:
    """How long a subject session waits for its page to come back (a reload) before it is abandoned."""
    return OWNER_GRACE_S
