"""``Screener``: frames in, screening results out — what an app embeds.

One frame at a time: pose (MediaPipe) -> the walking subject -> 30 Hz
resampling -> gap filling -> streaming knowledge map -> a 96-frame window every
``hop`` rows -> window quality -> clinical text -> the model -> a
:class:`ScreeningResult`. ``summary()`` aggregates the session.
``process_keypoints`` enters the chain after pose estimation, for callers with
their own pose source (and for fast tests).
"""

from __future__ import annotations

import functools
import io
import logging
import math
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, model_validator

from scoligait_edge.bundle.inputs import model_inputs
from scoligait_edge.core.constants import MAP_FPS, SIL_SHAPE
from scoligait_edge.core.schema import CORE_JOINTS, NUM_FEATURES
from scoligait_edge.core.skeleton import NUM_COCO_FEET
from scoligait_edge.errors import BundleError, ConcurrentUseError, ScoliGaitError, TimestampError
from scoligait_edge.kinematics.builder import KnowledgeMapBuilder, MapRow
from scoligait_edge.kinematics.events import assess_window, detect_gait_events
from scoligait_edge.kinematics.keypoints import GapFiller
from scoligait_edge.kinematics.resample import MAX_SEGMENT_GAP_MS, StreamResampler, check_timestamp
from scoligait_edge.native_logs import silenced_native_stderr
from scoligait_edge.pose.estimator import PoseEstimatorOptions
from scoligait_edge.pose.frame import PoseFrame
from scoligait_edge.pose.tracker import TrackerOptions
from scoligait_edge.results import (
    FeatureHighlight,
    FrameGuidance,
    ImageEdge,
    ScreeningResult,
    SessionSummary,
    TrackingState,
)
from scoligait_edge.session_rules import SessionRules, default_session_rules
from scoligait_edge.stream.window_buffer import WindowArrays, WindowBuffer

if TYPE_CHECKING:
    from scoligait_edge.pose.estimator import PoseEstimator
    from scoligait_edge.runtimes.base import BackendBase
    from scoligait_edge.text.embeddings import SentenceEmbeddingTable
    from scoligait_edge.text.reference import ReferenceStats

log = logging.getLogger(__name__)
REPORT_HISTORY_ROWS = 9000
"""Map rows (5 min at 30 Hz) kept for the session report; older rows are dropped to keep memory flat."""
RECENT_RESULTS = 400
"""Window results kept in memory (the JSONL log has them all); the summary uses running totals."""
_SIL_SHAPE = SIL_SHAPE
_T = TypeVar("_T")


def demo_bundle_path() -> Path:
    """The bundled demo model (trained on SIMULATED gait; see its manifest)."""
    from scoligait_edge.assets import ASSETS_DIR

    return ASSETS_DIR / "models" / "demo"


class BackendOptions(BaseModel):
    """The inference backend's settings; ``for_backend`` filters the constructor options per backend.

    ``threads`` (intra-op threads) is an ONNX Runtime / torch setting; the
    TensorRT backend takes no thread count and must not be handed one.
    ``precision`` and ``device`` go to :func:`~scoligait_edge.runtimes.load_backend` itself.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Literal["auto", "torch", "onnxruntime", "tensorrt"] = "auto"
    precision: Literal["fp32", "fp16", "int8"] = "fp32"
    device: str | None = None
    """'cpu', 'cuda', 'cuda:1' (restricts ``backend='auto'``); None: any."""
    threads: Annotated[StrictInt, Field(ge=1)] | None = 1
    """Classifier intra-op threads: 1 by default (pose estimation keeps the other cores busy); None: the backend's choice."""

    _ACCEPTS: ClassVar[dict[str, frozenset[str]]] = {"threads": frozenset({"auto", "onnxruntime", "torch"})}

    def for_backend(self, backend: str | None = None) -> dict[str, Any]:
        """The keyword arguments ``load_backend(..., backend=backend)`` may receive (default: this ``backend``)."""
        backend = self.backend if backend is None else backend
        given = {"threads": self.threads}
        return {k: v for k, v in given.items() if v is not None and backend in self._ACCEPTS[k]}


class ScreenerOptions(BaseModel):
    """Everything a :class:`Screener` is built from, MediaPipe Tasks style: ``Screener.create_from_options(opts)``.

    ``pose`` are the pose landmarker's options (``output_masks`` is set by the
    Screener: on when the model reads silhouettes), ``tracker`` the subject
    tracker's, ``backend`` the classifier's (filtered per backend).
    ``run_pose=False`` builds no pose model: feed ``process_keypoints``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    bundle: str | Path | None = None
    """Bundle folder or zip; None: the bundled demo model."""
    pose: PoseEstimatorOptions = Field(default_factory=PoseEstimatorOptions)
    tracker: TrackerOptions = Field(default_factory=TrackerOptions)
    backend: BackendOptions = Field(default_factory=BackendOptions)
    hop: Annotated[StrictInt, Field(ge=1)] = 16
    """Map rows between two windows."""
    run_pose: bool = True
    keep_history: bool = True
    """Keep the bounded session history the report draws."""
    rules: SessionRules = Field(default_factory=default_session_rules)
    """The session rules (``assets/session_rules.json``, shared with the Android kiosk): ``ready`` and
    ``decision_progress`` count screened windows toward ``rules.target_screened_windows``."""
    native_logs: bool = False
    """Let MediaPipe / LiteRT / ONNX Runtime write their own log lines to stderr while the models load
    (about 50 lines); by default they are silenced, as an embedding app expects."""

    @model_validator(mode="before")
    @classmethod
    def _name_keyword_options(cls, data: Any) -> Any:
        """The Screener's keywords given here: say where each one lives instead of pydantic's 'extra input'."""
        if isinstance(data, dict):
            where = {
                "pose_model": "pose=PoseEstimatorOptions(model=...)",
                "precision": "backend=BackendOptions(precision=...)",
                "threads": "backend=BackendOptions(threads=...)",
                "device": "backend=BackendOptions(device=...)",
                "roi": "tracker=TrackerOptions(roi=...)",
                "pose": "run_pose=... (pose= takes PoseEstimatorOptions)",
            }
            for key, hint in where.items():
                if key in data and not (key == "pose" and not isinstance(data[key], bool)):
                    raise TypeError(
                        f"ScreenerOptions has no {key!r}: use ScreenerOptions({hint}), or Screener({key}=...)"
                    )
            if isinstance(data.get("backend"), str):
                raise TypeError(
                    f"ScreenerOptions(backend=...) takes BackendOptions: use "
                    f"ScreenerOptions(backend=BackendOptions(backend={data['backend']!r})), or Screener(backend=...)"
                )
        return data


_UNSET: Any = object()


@dataclass
class FrameUpdate:
    """What one call to :meth:`Screener.process` (or ``process_keypoints``) produced.

    ``subject_found``: the tracked subject's keypoints are in this frame (False while
    searching, even with people in view: see ``guidance.people_in_view``).
    ``window_progress``: 0..1 toward the next window (the first one needs a full
    window of rows, later ones ``hop`` rows). ``windows_screened``,
    ``decision_progress`` (screened / ``rules.target_screened_windows``, at most 1)
    and ``ready`` (the target is reached) are the session's progress toward a
    decision. ``pose``: every person the pose model found, with the subject marked
    (None from ``process_keypoints``); ``pose.image_size`` is (width, height).
    """

    index: int
    timestamp_ms: float
    subject_found: bool
    tracking_state: TrackingState
    window_progress: float
    pose: PoseFrame | None = None
    results: list[ScreeningResult] = field(default_factory=list)
    guidance: FrameGuidance | None = None
    windows_screened: int = 0
    decision_progress: float = 0.0
    ready: bool = False

    @property
    def result(self) -> ScreeningResult | None:
        """The newest window result completed by this frame, if any."""
        return self.results[-1] if self.results else None


@dataclass
class SessionStats:
    """Running totals over every window, so the summary needs no per-window storage."""

    n_screened: int = 0
    prob_sum: float = 0.0
    prob_sq: float = 0.0
    prob_min: float = math.inf
    prob_max: float = -math.inf
    n_unusual: int = 0
    n_skipped: int = 0
    n_failed: int = 0
    last_error: str | None = None
    flags: Counter[str] = field(default_factory=Counter)
    features: Counter[str] = field(default_factory=Counter)
    # name -> (domain, meaning, prior, start_s, stop_s, evidence sum)
    feature_info: dict[str, tuple[str, str, str | None, float, float, float]] = field(default_factory=dict)

    def add(self, r: ScreeningResult) -> None:
        if r.status == "screened" and r.probability is not None:
            p = r.probability
            self.n_screened += 1
            self.prob_sum += p
            self.prob_sq += p * p
            self.prob_min, self.prob_max = min(self.prob_min, p), max(self.prob_max, p)
            self.n_unusual += bool(r.input_unusual)
            for f in r.top_features:
                self.features[f.name] += 1
                d, m, pr, a, b, e = self.feature_info.get(
                    f.name, (f.domain, f.meaning, f.clinical_prior, f.start_s, f.stop_s, 0.0)
                )
                self.feature_info[f.name] = (d, m, pr, min(a, f.start_s), max(b, f.stop_s), e + f.evidence)
        elif r.status == "skipped":
            self.n_skipped += 1
            self.flags.update(r.quality_flags)
        else:
            self.n_failed += 1
            self.last_error = r.error


@dataclass
class SessionHistory:
    """Bounded record of the session for the report (map rows, events, probabilities)."""

    km: deque[np.ndarray] = field(default_factory=lambda: deque(maxlen=REPORT_HISTORY_ROWS))
    valid: deque[bool] = field(default_factory=lambda: deque(maxlen=REPORT_HISTORY_ROWS))
    timestamps_ms: deque[float] = field(default_factory=lambda: deque(maxlen=REPORT_HISTORY_ROWS))
    attention: dict[int, np.ndarray] = field(default_factory=dict)  # first_frame -> [L, 238], last few windows only
    heel_strikes: dict[str, deque[int]] = field(
        default_factory=lambda: {"left": deque(maxlen=1024), "right": deque(maxlen=1024)}
    )
    step_counts: dict[str, int] = field(default_factory=lambda: {"left": 0, "right": 0})

    def add_heel_strikes(self, side: str, frames: Iterable[int]) -> None:
        """Overlapping windows see the same strike (give or take a frame): count each once."""
        seen = self.heel_strikes[side]
        for f in sorted(frames):
            if not any(abs(f - g) <= 3 for g in list(seen)[-8:]):
                seen.append(f)
                self.step_counts[side] += 1


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class HistorySnapshot:
    """A read-only copy of the session's bounded history, for reports: what :meth:`Screener.history_snapshot`
    returns. Row indices (``first_row``, ``heel_strikes``, ``attention`` keys, results' ``first_frame``)
    count 30 Hz map rows from the session start, across segments; ``km[i]`` is row ``first_row + i``.
    Arrays are copies flagged read-only, so the Screener can go on while a report is drawn."""

    km: np.ndarray  # float32 [N, 238]
    valid: np.ndarray  # bool [N]
    timestamps_ms: np.ndarray  # float64 [N]
    first_row: int
    rows_seen: int
    heel_strikes: dict[str, tuple[int, ...]]
    step_counts: dict[str, int]
    attention: dict[int, np.ndarray]  # window first row -> [L, 238] evidence (last few windows only)
    results: tuple[ScreeningResult, ...]  # the most recent window results
    threshold: float

    @property
    def n_rows(self) -> int:
        return int(self.km.shape[0])


def _close_loaded_backend(loading: Future[BackendBase]) -> None:
    """Done-callback for a backend whose Screener failed while it loaded: close it if it did load."""
    if loading.exception() is None:
        loading.result().close()


def _one_thread(method: Callable[..., _T]) -> Callable[..., _T]:
    """A Screener is not thread-safe (MediaPipe's landmarker, the streaming state): a frame call while
    another thread is inside one raises ConcurrentUseError instead of corrupting the session."""

    @functools.wraps(method)
    def guarded(self: Screener, *args: Any, **kwargs: Any) -> _T:
        if not self._use_lock.acquire(blocking=False):
            raise ConcurrentUseError(
                f"Screener.{method.__name__}() was called while another thread is inside this Screener: "
                "a Screener serves one thread at a time (use one per thread, or a lock around it)"
            )
        try:
            return method(self, *args, **kwargs)
        finally:
            self._use_lock.release()

    return guarded


def _waits_for_frame(method: Callable[..., _T]) -> Callable[..., _T]:
    """Reads and ``close()`` from another thread wait for the frame in progress (at most a few seconds)."""

    @functools.wraps(method)
    def waiting(self: Screener, *args: Any, **kwargs: Any) -> _T:
        if not self._use_lock.acquire(timeout=30.0):
            raise ConcurrentUseError(f"Screener.{method.__name__}(): another thread held the Screener for 30 s")
        try:
            return method(self, *args, **kwargs)
        finally:
            self._use_lock.release()

    return waiting


class Screener:
    """Context manager; ``process(frame_bgr, timestamp_ms)`` per frame, ``summary()`` at the end.

    Built from a :class:`ScreenerOptions` (``Screener(options=...)`` or
    :meth:`create_from_options`), or from the older keywords, which map onto
    it: ``bundle`` (None: the bundled demo model; a loaded ``Bundle`` also
    works), ``backend`` ('auto', 'torch', 'onnxruntime', 'tensorrt'),
    ``pose_model`` ('lite', 'full' or a path), ``precision``, ``roi``, ``hop``,
    ``threads`` (the classifier's intra-op threads: 1 by default, because pose
    estimation already keeps the other cores busy, benchmarks/RESULTS.md; None
    lets the backend decide), ``pose`` (False: no pose model) and ``keep_history``.
    Pass either ``options`` or those keywords (a ``bundle`` object may go with ``options``).

    One thread at a time: a frame call (``process``, ``process_keypoints``, ``finish``, ``reset``) while
    another thread is inside one raises :class:`~scoligait_edge.errors.ConcurrentUseError`; ``summary``,
    ``history_snapshot`` and ``close`` from another thread wait for the frame in progress. After
    ``close()`` every frame call raises a "closed" error.
    """

    def __init__(
        self,
        bundle: Any = None,
        backend: str = _UNSET,
        pose_model: str | Path = _UNSET,
        *,
        precision: str = _UNSET,
        roi: tuple[float, float, float, float] | None = _UNSET,
        hop: int = _UNSET,
        threads: int | None = _UNSET,
        pose: bool = _UNSET,
        keep_history: bool = _UNSET,
        options: ScreenerOptions | None = None,
    ) -> None:
        from scoligait_edge.bundle.load import load_bundle
        from scoligait_edge.runtimes import load_backend

        # Cheap checks first: a bad argument must not leave a half-loaded pose model behind.
        legacy: dict[str, Any]
        legacy = {
            k: v
            for k, v in dict(
                backend=backend,
                pose_model=pose_model,
                precision=precision,
                roi=roi,
                hop=hop,
                threads=threads,
                pose=pose,
                keep_history=keep_history,
            ).items()
            if v is not _UNSET
        }
        if options is None:
            options = self.options_from_keywords(bundle if isinstance(bundle, str | Path) else None, **legacy)
        elif legacy:
            raise TypeError(f"pass either options= or the keywords {sorted(legacy)}, not both")
        elif not isinstance(options, ScreenerOptions):
            raise TypeError(f"options must be a ScreenerOptions, got {type(options).__name__}")
        elif bundle is not None and options.bundle is not None:
            raise TypeError("the bundle is given twice: as an argument and as options.bundle")
        self.options = options
        self._use_lock = threading.RLock()  # one thread at a time: see _one_thread
        self._closed = False
        b = options.backend
        backend_kwargs = b.for_backend()
        self.bundle = load_bundle(bundle if bundle is not None else (options.bundle or demo_bundle_path()))
        manifest = self.bundle.manifest
        # The backend loads on a worker thread while MediaPipe is imported and set up here: ONNX Runtime builds
        # its session without the GIL, so the two overlap (~0.1-0.2 s of start-up on 2 cores).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scoligait-backend") as pool:
            pending = pool.submit(
                load_backend, self.bundle, backend=b.backend, precision=b.precision, device=b.device, **backend_kwargs
            )
            try:
                with silenced_native_stderr(not options.native_logs):
                    self._init_pipeline(manifest, options)
            except BaseException:
                pending.add_done_callback(_close_loaded_backend)
                raise
            try:
                self.backend = pending.result()
            except BaseException:
                if self._estimator is not None:
                    self._estimator.close()
                raise
        log.info(
            "Screener: backend %s (%s), model %s, threshold %.3f, %s",
            self.backend.name,
            getattr(self.backend, "device", "?"),
            manifest.model.get("modalities"),
            self.threshold,
            self.provenance,
        )

    def _init_pipeline(self, manifest: Any, options: ScreenerOptions) -> None:
        """Everything but the backend: model facts from the manifest, text assets, pose estimator and tracker."""
        self.model_config = manifest.model_config_object()
        self.threshold = float(self.bundle.threshold)
        self.provenance = str(manifest.provenance.get("notice") or manifest.provenance.get("data") or "unknown")
        self.window_length = int(manifest.window.frames)
        self._check_window_length(manifest)
        self.uses_video = bool(self.model_config.uses_video)
        # uint8 for graphs exported since the video input moved into the graph; float32 for older bundles
        self._video_dtype = next((s.dtype for s in manifest.inputs if s.name == "video"), "uint8")
        self.uses_text = bool(self.model_config.uses_text)
        self._text = self._load_text() if self.uses_text else None
        self.input_reference = self.bundle.input_reference()
        if self.input_reference is None:
            log.info("the bundle has no input reference: windows carry no out-of-distribution flag")
        self._estimator = self._tracker = None
        if options.run_pose:
            from scoligait_edge.pose.frame import frame_subject_keypoints
            from scoligait_edge.pose.tracker import SubjectTracker
            from scoligait_edge.video.silhouette import person_silhouette

            self._subject_keypoints, self._person_silhouette = frame_subject_keypoints, person_silhouette

            from scoligait_edge.pose.estimator import options_for_bundle

            pose_options = options_for_bundle(options.pose, manifest.pose_input)  # the bundle's frame size wins
            self._pose_options = pose_options.model_copy(update={"output_masks": self.uses_video})
            self._estimator = self._new_estimator()
            self._tracker = SubjectTracker(options.tracker)
        self.keep_history = options.keep_history
        self.hop = options.hop
        self._reset_stream()

    @classmethod
    def create_from_options(cls, options: ScreenerOptions, bundle: Any = None) -> Screener:
        """MediaPipe Tasks style constructor (``bundle``: an already loaded ``Bundle``, optional)."""
        return cls(bundle, options=options)

    @staticmethod
    def options_from_keywords(
        bundle: str | Path | None = None,
        *,
        backend: str = "auto",
        pose_model: str | Path = "full",
        precision: str = "fp32",
        roi: tuple[float, float, float, float] | None = None,
        hop: int = 16,
        threads: int | None = 1,
        pose: bool = True,
        keep_history: bool = True,
    ) -> ScreenerOptions:
        """The :class:`ScreenerOptions` the older keyword arguments stand for (``threads=0`` means None).

        Invalid values raise ValueError (a pydantic ValidationError), with ``hop`` named first."""
        if isinstance(hop, bool) or not isinstance(hop, int | np.integer) or hop < 1:
            raise ValueError(f"hop must be a whole number of frames >= 1, got {hop!r}")
        if threads is not None and not isinstance(threads, bool) and isinstance(threads, int) and threads == 0:
            threads = None
        try:
            return ScreenerOptions(
                bundle=bundle,
                pose=PoseEstimatorOptions(model=pose_model),
                tracker=TrackerOptions(roi=roi) if roi else TrackerOptions(),
                backend=BackendOptions(backend=backend, precision=precision, threads=threads),
                hop=int(hop),
                run_pose=pose,
                keep_history=keep_history,
            )
        except ValidationError as exc:
            raise ValueError(f"invalid Screener option: {exc}") from None

    # ------------------------------------------------------------------ lifecycle
    def _reset_stream(self) -> None:
        self._resampler = StreamResampler()
        self._filler = GapFiller(NUM_COCO_FEET)
        self._builder = KnowledgeMapBuilder()
        self._buffer = WindowBuffer(self.window_length, self.hop)
        self._results: deque[ScreeningResult] = deque(maxlen=RECENT_RESULTS)
        self._row_offset = 0  # map rows of earlier segments, so row indices stay unique in the session
        self.segments = 0
        self._n_windows = 0
        self._stats = SessionStats()
        self._frames = 0
        self._frames_with_subject = 0
        self._first_ts: float | None = None
        self._last_ts: float | None = None
        self.history = SessionHistory()
        self._started = False  # a subject has been tracked: rows and windows are made from then on
        self._row_valid: bool | None = None

    @property
    def rows_seen(self) -> int:
        """Map rows made in this session, across segments: the next row's index. ``history`` keeps the last
        ``REPORT_HISTORY_ROWS`` of them, so its first row is ``rows_seen - len(history.km)``."""
        return self._row_offset + self._builder.frames_seen

    @_waits_for_frame
    def history_snapshot(self) -> HistorySnapshot:
        """The session's bounded history (map rows, validity, times, heel strikes, recent evidence maps
        and results) as a read-only :class:`HistorySnapshot`: the public way to read it (the report does)."""
        h = self.history
        n = len(h.km)
        return HistorySnapshot(
            km=_frozen(np.array(h.km, dtype=np.float32) if n else np.zeros((0, NUM_FEATURES), np.float32)),
            valid=_frozen(np.array(h.valid, dtype=bool)),
            timestamps_ms=_frozen(np.array(h.timestamps_ms, dtype=np.float64)),
            first_row=self.rows_seen - n,
            rows_seen=self.rows_seen,
            heel_strikes={side: tuple(sorted(h.heel_strikes[side])) for side in ("left", "right")},
            step_counts=dict(h.step_counts),
            attention={first: _frozen(np.array(att)) for first, att in h.attention.items()},
            results=tuple(self._results),
            threshold=self.threshold,
        )

    def __enter__(self) -> Screener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @_waits_for_frame
    def close(self) -> None:
        """Release the pose model and the backend (idempotent)."""
        self._closed = True
        if self._estimator is not None:
            with silenced_native_stderr(not self.options.native_logs):  # LiteRT logs its teardown too
                self._estimator.close()
            self._estimator = None
        if self.backend is not None:
            self.backend.close()
        self.bundle.close()

    # ------------------------------------------------------------------ input
    @_one_thread
    def process(self, frame_bgr: np.ndarray, timestamp_ms: float) -> FrameUpdate:
        """One camera/video frame (BGR uint8) at ``timestamp_ms`` (strictly increasing within a session;
        :meth:`reset` starts a new one). Nothing counts toward windows before the tracker locks onto a
        walking subject; when it loses the subject for good (back to 'searching') the segment ends."""
        self._check_open()
        if self._estimator is None or self._tracker is None:
            raise ScoliGaitError("this Screener was built with pose=False: call process_keypoints()")
        t = self._check_time(timestamp_ms)
        # The pose model takes whole ms and smooths with them: count them from the session's first frame, so
        # where a camera's clock starts (0, time.monotonic(), an epoch) cannot change how they round.
        origin = t if self._first_ts is None else self._first_ts
        if self._last_ts is not None and int(round(t - origin)) <= int(round(self._last_ts - origin)):
            raise TimestampError(
                f"frames must be at least 1 ms apart for the pose model: {t:.3f} ms after {self._last_ts:.3f} ms"
            )
        pose = self._estimator.detect(frame_bgr, int(round(t - origin)))
        if pose is None:  # nobody in view: the tracker still sees the time pass, so a lost subject expires
            height, width = frame_bgr.shape[:2]
            pose = PoseFrame(timestamp_ms=t, image_size=(width, height), people=[])
        else:
            pose.timestamp_ms = t
        pose = self._tracker.update(pose)
        state = self._tracker.state
        keypoints = self._subject_keypoints(pose)
        if self._started and state == "searching":  # the subject left: close the segment, wait for the next lock
            pending = self._end_segment("the subject left the view")
            self._started = False
        else:
            pending = []
        silhouette = self._silhouette(pose) if self.uses_video else None
        update = self.process_keypoints(keypoints, t, silhouette=silhouette)
        update.results[:0] = pending
        update.pose = pose
        update.tracking_state = state
        update.guidance = self._guidance(pose, update)
        return update

    def _guidance(self, pose: PoseFrame, update: FrameUpdate) -> FrameGuidance:
        """Per-frame guidance from the subject, or before the lock from the largest person in view."""
        assert self._tracker is not None
        index = pose.subject_index
        if index is None and self._tracker.state == "searching" and pose.people:
            index = max(range(len(pose.people)), key=lambda i: pose.people[i].body_size)
        if index is None:
            return FrameGuidance(
                people_in_view=len(pose.people),
                body_in_frame=False,
                row_valid=self._row_valid,
                recording=self._started,
            )
        person = pose.people[index]
        kp = person.coco(with_feet=True)
        width, height = pose.image_size
        core = kp[list(CORE_JOINTS)]
        x, y = core[:, 0], core[:, 1]
        edges: tuple[tuple[ImageEdge, np.ndarray], ...] = (
            ("top", y < 0),
            ("bottom", y >= height),
            ("left", x < 0),
            ("right", x >= width),
        )
        cut = [edge for edge, out in edges if bool(np.any(out))]
        inside = bool(np.all(np.isfinite(core[:, :2]))) and not cut
        track = None if pose.track_ids is None else pose.track_ids[index]
        score = None if track is None else self._tracker.scores.get(track)
        return FrameGuidance(
            people_in_view=len(pose.people),
            body_in_frame=inside,
            cut_at=cut,
            walking=None if score is None else bool(score >= self._tracker.options.lock_score),
            row_valid=self._row_valid,
            recording=self._started,
        )

    @_one_thread
    def process_keypoints(
        self, keypoints: np.ndarray, timestamp_ms: float, *, silhouette: np.ndarray | None = None
    ) -> FrameUpdate:
        """Enter after pose estimation: the subject's COCO-21 ``[21, 3]`` (x px, y px, score)."""
        self._check_open()
        kp = np.asarray(keypoints, dtype=np.float64)
        if kp.shape != (NUM_COCO_FEET, 3):
            raise ScoliGaitError(f"keypoints must be COCO-21 [21, 3], got {kp.shape}")
        t = self._check_time(timestamp_ms)  # a rejected frame is not counted
        new_results = []
        if self._started and self._last_ts is not None and t - self._last_ts > MAX_SEGMENT_GAP_MS:
            new_results += self._new_segment(t - self._last_ts)
        index = self._frames
        self._frames += 1
        found = bool(np.isfinite(kp[:, 0]).any())
        self._frames_with_subject += found
        self._first_ts = t if self._first_ts is None else self._first_ts
        self._last_ts = t
        self._row_valid = None
        if not self._started:  # nobody tracked yet: no rows, no windows (an empty scene is not a skipped window)
            if not found:
                return self._update(index, t, found, new_results)
            self._started = True
        if self.uses_video and silhouette is None:
            silhouette = np.zeros(_SIL_SHAPE, np.uint8)
        # The silhouette rides through the resampler (the nearest frame's, ties to the later one) and the
        # gap filler (with its grid time) as a payload, so it comes out with the row it belongs to.
        # The 30 Hz grid is laid in time since the session's first frame (rows keep the caller's clock): float
        # rounding of a large clock value (ms since boot or 1970) must not move a grid point across a frame.
        origin = t if self._first_ts is None else self._first_ts
        for grid_t, grid_kp, sil in self._resampler.push_with_payload(t - origin, kp, silhouette):
            for filled, (row_t, row_sil) in self._filler.push_with_payload(grid_kp, (grid_t + origin, sil)):
                new_results += self._add_row(filled, row_t, row_sil)
        return self._update(index, t, found, new_results)

    def _update(self, index: int, t: float, found: bool, results: list[ScreeningResult]) -> FrameUpdate:
        screened = self._stats.n_screened
        target = self.options.rules.target_screened_windows
        return FrameUpdate(
            index=index,
            timestamp_ms=t,
            subject_found=found,
            tracking_state="external",
            window_progress=self._buffer.progress if self._started else 0.0,
            results=results,
            guidance=FrameGuidance(
                people_in_view=None,
                body_in_frame=self._row_valid is True,
                row_valid=self._row_valid,
                recording=self._started,
            ),
            windows_screened=screened,
            decision_progress=min(screened / target, 1.0),
            ready=screened >= target,
        )

    @property
    def windows_screened(self) -> int:
        """Windows of this session that passed the quality check and were scored."""
        return self._stats.n_screened

    @property
    def ready(self) -> bool:
        """Enough evidence to stop: ``options.rules.target_screened_windows`` windows screened (a decision
        exists from the first screened window; :meth:`summary` says so)."""
        return self._stats.n_screened >= self.options.rules.target_screened_windows

    @property
    def decision_progress(self) -> float:
        """0..1: screened windows over ``options.rules.target_screened_windows``."""
        return min(self._stats.n_screened / self.options.rules.target_screened_windows, 1.0)

    @_one_thread
    def reset(self) -> None:
        """Start a new session (the next subject) with the loaded bundle, backend and pose model.

        Everything about the previous subject goes: windows, totals, history, the
        tracker's tracks and the pose model's frame-to-frame state (MediaPipe's video
        mode carries landmarks across frames, so its landmarker is rebuilt from the
        model bytes already in memory: tens of ms, not the 0.1-0.2 s of a new Screener).
        Timestamps may start again from any value.
        """
        self._check_open()
        if self._estimator is not None:
            with silenced_native_stderr(not self.options.native_logs):
                self._estimator.close()
                self._estimator = None
                self._estimator = self._new_estimator()
        if self._tracker is not None:
            self._tracker.reset()
        self._reset_stream()

    @_one_thread
    def finish(self) -> list[ScreeningResult]:
        """End of input: flush the rows the gap filler still holds (may complete a window)."""
        out = []
        for filled, (row_t, row_sil) in self._filler.flush_with_payload():
            out += self._add_row(filled, row_t, row_sil)
        return out

    # ------------------------------------------------------------------ internals
    def _new_estimator(self) -> PoseEstimator:
        """A pose landmarker from the options (MediaPipe keeps the model bytes; masks when the model reads them)."""
        from scoligait_edge.pose.estimator import PoseEstimator

        return PoseEstimator(self._pose_options)

    def _check_open(self) -> None:
        if self._closed:
            raise ScoliGaitError("this Screener is closed: create a new one (or call reset() before close())")

    def _end_segment(self, why: str) -> list[ScreeningResult]:
        """Finish this segment's rows, then restart the stream (totals and history stay)."""
        log.info("%s: ending the stream segment", why)
        out = self.finish()
        self._row_offset += self._builder.frames_seen
        self._resampler = StreamResampler()
        self._filler = GapFiller(NUM_COCO_FEET)
        self._builder = KnowledgeMapBuilder()
        self._buffer = WindowBuffer(self.window_length, self.hop)
        self.segments += 1
        return out

    def _check_time(self, timestamp_ms: object) -> float:
        """The timestamp as a float; TimestampError if it is not finite or does not increase."""
        t = check_timestamp(timestamp_ms)
        if self._last_ts is not None and t <= self._last_ts:
            raise TimestampError(f"timestamps must increase strictly: {t:.3f} ms after {self._last_ts:.3f} ms")
        return t

    def _new_segment(self, pause_ms: float) -> list[ScreeningResult]:
        """A pause longer than MAX_SEGMENT_GAP_MS: finish this segment's rows, then restart the
        resampler, gap filler, map and window ring (the session totals and history stay)."""
        return self._end_segment(f"pause of {pause_ms / 1000:.1f} s (> {MAX_SEGMENT_GAP_MS / 1000:.0f} s)")

    def _load_text(self) -> tuple[ReferenceStats, SentenceEmbeddingTable]:
        from scoligait_edge.text.embeddings import default_embedding_table
        from scoligait_edge.text.reference import ReferenceStats

        text = self.bundle.manifest.text
        if text is None or not text.reference_statistics:
            raise ScoliGaitError("the bundle's model uses text but the bundle has no reference statistics")
        # from the verified bytes, never the path again: a file swapped after load_bundle must not count
        reference = ReferenceStats.model_validate_json(self.bundle.read_bytes(text.reference_statistics))
        table = default_embedding_table()
        if text.sentence_table:  # the bundle's copy must be the sentence set this package describes with
            shipped = np.load(io.BytesIO(self.bundle.read_bytes(text.sentence_table)), allow_pickle=False)
            if shipped.shape != table.embeddings.shape or not np.allclose(shipped, table.embeddings, atol=1e-6):
                raise ScoliGaitError(
                    f"the bundle's sentence table {text.sentence_table} {shipped.shape} does not match this "
                    f"package's sentence set {table.embeddings.shape}: re-export the bundle with this version"
                )
        return reference, table

    def _silhouette(self, pose: PoseFrame | None) -> np.ndarray:
        subject = None if pose is None else pose.subject
        if subject is None or subject.mask is None:
            return np.zeros(_SIL_SHAPE, np.uint8)
        sil, ok = self._person_silhouette(subject.mask, subject.bbox)
        return sil if ok else np.zeros(_SIL_SHAPE, np.uint8)

    def _add_row(self, filled_kp: np.ndarray, t: float, sil: np.ndarray | None) -> list[ScreeningResult]:
        row = self._builder.update(filled_kp)
        self._row_valid = bool(row.valid)
        if self._row_offset:
            row = MapRow(index=row.index + self._row_offset, values=row.values, valid=row.valid)
        if self.keep_history:
            self.history.km.append(row.values)
            self.history.valid.append(row.valid)
            self.history.timestamps_ms.append(t)
        if not self._buffer.push(row, filled_kp, sil, t):
            return []
        result = self._screen(self._buffer.window())
        self._n_windows += 1
        self._results.append(result)
        self._stats.add(result)
        return [result]

    def _screen(self, w: WindowArrays) -> ScreeningResult:
        events = detect_gait_events(w.keypoints, MAP_FPS)
        quality = assess_window(w.valid, events, 0, len(w.valid), keypoints=w.keypoints)
        for side in ("left", "right"):
            self.history.add_heel_strikes(side, [w.first_index + f for f in events.heel_strikes[side]])
        base = dict(
            window_index=self._n_windows,
            start_ms=float(w.timestamps_ms[0]),
            end_ms=float(w.timestamps_ms[-1]),
            first_frame=w.first_index,
            threshold=self.threshold,
            steps=quality.n_steps,
            complete_cycles=quality.n_cycles,
            cadence_spm=quality.cadence_spm,
            valid_fraction=quality.valid_fraction,
            provenance=self.provenance,
            backend=self.backend.name,
        )
        if self.input_reference is not None:  # skipped windows too: an odd camera is often why they are skipped
            base["input_unusual_fraction"], base["input_unusual"] = self.input_reference.score_window(w.km, w.valid)
        if not quality.ok:
            flags = [
                code
                for code, ok in (
                    ("not_walking", quality.walking),
                    ("body_not_fully_visible", quality.whole_body_visible),
                    ("too_few_gait_cycles", quality.enough_cycles),
                )
                if not ok
            ]
            return ScreeningResult(status="skipped", reasons=quality.reasons, quality_flags=flags, **base)
        try:
            batch, sentences = self._batch(w)
            out = self.backend.infer(batch)
            prob = float(out["prob"][0])
            attention = np.asarray(out["km_attention"][0], dtype=np.float32) if "km_attention" in out else None
        except Exception as exc:  # noqa: BLE001 - one window's failure must not end the session
            log.exception("inference failed on window %d", base["window_index"])
            return ScreeningResult(status="error", error=f"{type(exc).__name__}: {exc}", **base)
        top = self._highlights(attention, w) if attention is not None else []
        if attention is not None and self.keep_history:
            self.history.attention[w.first_index] = attention
            while len(self.history.attention) > 8:
                self.history.attention.pop(next(iter(self.history.attention)))
        cobb = out.get("cobb")
        return ScreeningResult(
            status="screened",
            probability=prob,
            decision="refer" if prob >= self.threshold else "no_referral",
            cobb_estimate_deg=None if cobb is None else float(cobb[0]),
            description=sentences,
            top_features=top,
            **base,
        )

    def _check_window_length(self, manifest: Any) -> None:
        """The manifest's ``window.frames`` is the one window length: refuse a bundle whose model inputs disagree."""
        sizes = {"model config window_frames": int(self.model_config.window_frames)}
        sizes.update(
            {
                f"input {spec.name}": spec.shape[1]
                for spec in manifest.inputs
                if spec.name in ("km", "km_mask", "video") and len(spec.shape) > 1
            }
        )
        bad = {k: v for k, v in sizes.items() if v != self.window_length}
        if bad:
            raise BundleError(f"bundle window.frames={self.window_length} disagrees with its model: {bad}")

    def _batch(self, w: WindowArrays) -> tuple[dict[str, np.ndarray], list[str]]:
        """The window's graph inputs through :func:`~scoligait_edge.bundle.inputs.model_inputs`, as in training."""
        sentences: list[str] = []
        text = mask = None
        if self.uses_text:
            from scoligait_edge.text.describe import describe_window

            assert self._text is not None, "loaded in __init__ whenever uses_text"
            reference, table = self._text
            desc = describe_window(w.km, w.valid, reference)
            ids = np.asarray(desc.sentence_ids, dtype=np.int64)[None]
            mask = np.ones_like(ids, dtype=bool)
            text = table.lookup(ids, mask)[0]
            mask = mask[0]
            sentences = list(desc.texts)
        batch = model_inputs(
            w.km,
            w.valid,
            w.silhouettes if self.uses_video else None,
            text=text,
            text_mask=mask,
            uses_video=self.uses_video,
            uses_text=self.uses_text,
            window_frames=self.window_length,
            video_dtype=self._video_dtype,
        )
        return batch, sentences

    def _highlights(self, attention: np.ndarray, w: WindowArrays) -> list[FeatureHighlight]:
        from scoligait_edge.interpret import feature_highlights

        return feature_highlights(attention, w.valid, window_start_frame=w.first_index)

    # ------------------------------------------------------------------ output
    @property
    def results(self) -> list[ScreeningResult]:
        """The most recent window results (at most RECENT_RESULTS; the JSONL log keeps all)."""
        return list(self._results)

    @_waits_for_frame
    def summary(self) -> SessionSummary:
        """Aggregate of every window so far; says why when no decision could be made."""
        st = self._stats
        n = st.n_screened
        mean: float | None = None
        sd: float | None = None
        decision = reason = None
        if n:
            mean = st.prob_sum / n
            sd = math.sqrt(max(st.prob_sq - n * mean * mean, 0.0) / (n - 1)) if n > 1 else 0.0
            decision = "refer" if mean >= self.threshold else "no_referral"
        else:
            reason = self._no_decision_reason(st.flags, st.last_error)
        notes = []
        if n and self.input_reference is not None and st.n_unusual * 2 > n:
            notes.append(
                f"input unlike the training data: {st.n_unusual} of {n} screened windows lie far outside "
                "the model's training statistics (camera view, orientation or subject unlike training); "
                "treat the decision with caution"
            )
        counts = self.history.step_counts
        top = []
        for name, count in st.features.most_common(3):
            d, m, pr, a, b, e = st.feature_info[name]
            top.append(
                FeatureHighlight(
                    name=name, domain=d, meaning=m, clinical_prior=pr, start_s=a, stop_s=b, evidence=e / count
                )
            )
        return SessionSummary(
            decision=decision,
            reason=reason,
            probability_mean=mean,
            probability_sd=sd,
            probability_min=st.prob_min if n else None,
            probability_max=st.prob_max if n else None,
            threshold=self.threshold,
            windows_total=self._n_windows,
            windows_screened=n,
            windows_skipped=st.n_skipped,
            windows_failed=st.n_failed,
            gait_cycles=max(max(counts["left"], counts["right"]) - 1, 0),
            steps=counts["left"] + counts["right"],
            frames_processed=self._frames,
            frames_with_subject=self._frames_with_subject,
            duration_s=(
                0.0 if self._first_ts is None or self._last_ts is None else (self._last_ts - self._first_ts) / 1000.0
            ),
            quality_flags=dict(st.flags),
            top_features=top,
            backend=self.backend.name,
            provenance=self.provenance,
            windows_input_unusual=st.n_unusual if self.input_reference is not None else None,
            notes=notes,
        )

    def _no_decision_reason(self, flags: Counter[str], last_error: str | None) -> str:
        if self._frames == 0:
            return "no frames were processed"
        if self._frames_with_subject == 0:
            return "no person was found in any frame"
        if not self._n_windows:
            seconds = self.window_length / MAP_FPS
            return f"the subject was not followed long enough for one {seconds:.1f} s window"
        if last_error and not flags:
            return f"inference failed on every window ({last_error})"
        words = {
            "not_walking": "no walking",
            "body_not_fully_visible": "body not fully visible",
            "too_few_gait_cycles": "too few gait cycles",
        }
        top = ", ".join(f"{words.get(k, k)} in {v} window(s)" for k, v in flags.most_common(3))
        return f"no window passed the quality check: {top}"
