"""Keep one subject across frames: the person who walks.

Why not "the largest" or "the first detected" person: in real clips the
subject walks past people who stand, sit or exercise, and any of those can be
bigger or seen earlier. Gait analysis needs the walker, so each short track is
scored by how much it *walks* over a trailing window:

- sustained motion of the hip centre, sideways or in depth (change of body
  size), in body sizes per second;
- straightness: net displacement over path length, so jumping in place or
  tumbling scores low however fast it is;
- gait-like legs: the distance between the ankles must oscillate.

The tracker locks onto the first track that walks clearly, and only switches
when another track walks clearly better for a sustained time (hysteresis), so
a bystander's burst of motion does not steal the subject. A subject that
vanishes for a moment (occlusion, missed detection) keeps the lock for
``max_lost_s``. Per frame the work is O(tracks x window samples) on tiny
arrays (about 0.5 ms per frame on one desktop CPU core).

Online (camera) use: :class:`SubjectTracker`. Recorded video:
:func:`select_subject`, which also recovers the subject's first frames, seen
before there was enough motion to be sure (about 0.15 s).
"""

from __future__ import annotations

import logging
import math
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from scoligait_edge.errors import TimestampError
from scoligait_edge.pose.frame import MP_L_ANKLE, MP_R_ANKLE, PersonPose, PoseFrame

log = logging.getLogger(__name__)

TrackerState = Literal["searching", "locked", "lost"]


class TrackerOptions(BaseModel):
    """Settings of :class:`SubjectTracker` (times in seconds, distances in body sizes).

    A body size is torso + thigh + shank length (about 0.8 of standing height).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    roi: tuple[float, float, float, float] | None = None
    """(x, y, w, h) in pixels; people whose hip centre is outside are ignored."""
    window_s: float = Field(default=1.5, gt=0)
    """Trailing window over which walking is scored."""
    min_window_s: float = Field(default=0.1, gt=0)
    """History a track needs before it can be scored."""
    lock_score: float = Field(default=0.2, ge=0)
    """Walking score needed to lock onto a track ..."""
    lock_updates: int = Field(default=2, ge=1)
    """... in this many consecutive frames (one wild frame must not lock)."""
    switch_ratio: float = Field(default=1.5, ge=1.0)
    switch_margin: float = Field(default=0.2, ge=0)
    """A challenger must beat the subject's score by both this ratio and margin ..."""
    switch_after_s: float = Field(default=1.0, ge=0)
    """... continuously for this long before the tracker switches to it; only
    ``lock_updates`` frames when the subject has not walked for ``window_s``
    (a subject standing still needs no protection from a walker)."""
    max_lost_s: float = Field(default=1.0, ge=0)
    """How long a subject may go unseen before the lock is dropped."""
    gate_body: float = Field(default=0.5, gt=0)
    max_speed_body_s: float = Field(default=3.0, gt=0)
    """Association gate: a detection joins a track if its hip is within
    ``gate_body + max_speed_body_s * min(dt, 0.5 s)`` body sizes of where the
    track is predicted to be."""
    depth_weight: float = Field(default=2.0, ge=0)
    """Weight of depth motion (d log body size / dt) against sideways motion."""
    depth_min_s: float = Field(default=0.6, gt=0)
    """History needed before depth motion counts (body size is a noisy cue)."""
    tentative_max_age_s: float = Field(default=0.25, gt=0)
    """Tracks with fewer than 3 detections are dropped after this long unseen:
    one-off misdetections must not linger and capture newcomers."""
    duplicate_iou: float = Field(default=0.7, gt=0, le=1)
    """Two detections overlapping more than this are one person detected twice."""

    @field_validator("roi")
    @classmethod
    def _check_roi(cls, v: tuple[float, float, float, float] | None) -> tuple[float, float, float, float] | None:
        if v is not None and (v[2] <= 0 or v[3] <= 0):
            raise ValueError(f"roi width and height must be > 0, got {v}")
        return v


_Sample = tuple[float, float, float, float, float]  # t s, hip x, hip y, body size, ankle separation


@dataclass
class _Track:
    """Detections associated over time, with the state the subject choice needs."""

    id: int
    samples: deque[_Sample] = field(default_factory=deque)
    last_t: float = 0.0
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    score: float = 0.0
    walking_updates: int = 0  # consecutive updates with score >= lock_score
    last_walked_t: float | None = None
    better_since: float | None = None
    size: float = 1.0  # median body size over the window, px

    @property
    def hip(self) -> np.ndarray:
        return np.array(self.samples[-1][1:3])

    def add(self, t: float, hip: np.ndarray, size: float, ankle_sep: float, window_s: float) -> None:
        if self.samples and t > self.last_t:
            v = (hip - self.hip) / (t - self.last_t)
            self.velocity = v if len(self.samples) == 1 else 0.5 * self.velocity + 0.5 * v
        self.samples.append((t, float(hip[0]), float(hip[1]), size, ankle_sep))
        while t - self.samples[0][0] > window_s:
            self.samples.popleft()
        self.last_t = t
        self.size = float(np.median([s[3] for s in self.samples]))


def _theil_sen(t: np.ndarray, v: np.ndarray) -> float:
    """Median of pairwise slopes: one wild detection cannot fake a walk."""
    i, j = np.triu_indices(len(t), k=1)
    dt = t[j] - t[i]
    ok = dt > 0
    return float(np.median((v[j] - v[i])[ok] / dt[ok])) if ok.any() else 0.0


def _binned_medians(t: np.ndarray, v: np.ndarray, bin_s: float) -> np.ndarray:
    bins = np.floor((t - t[0]) / bin_s).astype(int)
    return np.array([np.median(v[bins == b]) for b in np.unique(bins)])


def walking_score(
    samples: np.ndarray,
    *,
    min_window_s: float = 0.1,
    depth_weight: float = 2.0,
    depth_min_s: float = 0.6,
) -> float:
    """How clearly a track walks over ``samples`` ``[N, 5]`` = (t s, x, y, size, ankle sep).

    0 for not walking (or too little history); about 0.5-1.5 for a person
    walking steadily. Product of:

    - speed in body sizes per second: sideways (robust slope of hip x) and, once
      ``depth_min_s`` of history exists, in depth (slope of log body size times
      ``depth_weight``); body size is too noisy frame to frame to trust sooner;
    - straightness: net displacement over path length (hip path in the image,
      smoothed, plus the depth path on 0.2 s medians), so jumping in place,
      tumbling or a jittery misdetection score low however fast they move;
    - a leg factor from 0.25 to 1 growing with the oscillation of the distance
      between the ankles (feet alternate when walking, stay together when jumping);
    - a steadiness factor: body size changes smoothly for a real person (even
      one walking towards the camera) but jumps from frame to frame for a
      misdetection, whose landmarks scatter while MediaPipe locks on.
    """
    if len(samples) < 4:
        return 0.0
    t = samples[:, 0]
    span = float(t[-1] - t[0])
    if span < min_window_s:
        return 0.0
    size = float(np.median(samples[:, 3]))
    if not size > 0:
        return 0.0
    x, y = samples[:, 1] / size, samples[:, 2] / size
    vx, vz, depth_path = _velocity(t, x, samples[:, 3], span, depth_weight, depth_min_s)
    speed = min(math.hypot(vx, vz), 2.5)  # cap: running counts as walking, tumbling must not win
    straight = _straightness(x, y, depth_path, net=math.hypot(vx, vz) * span)
    return speed * straight * _leg_factor(samples[:, 4] / size) * _steadiness(samples[:, 3])


def _velocity(
    t: np.ndarray, x: np.ndarray, sizes: np.ndarray, span: float, depth_weight: float, depth_min_s: float
) -> tuple[float, float, float]:
    """Robust sideways and depth speeds (body sizes per second) and the depth path length.

    Depth comes from the log body size, only once ``depth_min_s`` of history exists: body size is too noisy
    frame to frame to trust sooner; its path is measured on 0.2 s medians for the same reason.
    """
    vx = _theil_sen(t, x)
    vz = 0.0
    depth_path = 0.0
    if span >= depth_min_s and depth_weight > 0:
        log_size = np.log(np.maximum(sizes, 1e-6))
        vz = depth_weight * _theil_sen(t, log_size)
        depth_path = depth_weight * float(np.abs(np.diff(_binned_medians(t, log_size, 0.2))).sum())
    return vx, vz, depth_path


def _straightness(x: np.ndarray, y: np.ndarray, depth_path: float, *, net: float) -> float:
    """Net displacement over path length (the hip path smoothed over 3 samples, plus the depth path), in [0, 1]."""
    k = np.ones(3) / 3.0
    if len(x) >= 5:
        x, y = np.convolve(x, k, mode="valid"), np.convolve(y, k, mode="valid")
    path = float(np.hypot(np.diff(x), np.diff(y)).sum()) + depth_path
    return min(net / path, 1.0) if path > 0 else 0.0


def _leg_factor(sep: np.ndarray) -> float:
    """0.25 to 1, growing with the 10-90 % spread of the ankle separation (in body sizes): feet alternate
    when walking and stay together when jumping."""
    p10, p90 = np.percentile(sep, [10, 90])
    amp = float(p90 - p10)
    return 0.25 + 0.75 * min(max((amp - 0.05) / 0.15, 0.0), 1.0)


def _steadiness(sizes: np.ndarray) -> float:
    """1 when body size changes smoothly frame to frame (a real person), falling to 0 as it jumps about (a
    misdetection's scattering landmarks)."""
    rough = float(np.median(np.abs(np.diff(np.log(np.maximum(sizes, 1e-6))))))
    return min(max(1.0 - (rough - 0.03) / 0.07, 0.0), 1.0)


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0.0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


class SubjectTracker:
    """Choose and keep the walking subject; see the module docstring for why and how.

    Feed every frame in time order to :meth:`update`; it returns a copy of the
    frame with ``subject_index`` (None while searching or when the subject is
    not seen) and ``track_ids`` set. For a whole recorded video,
    :func:`select_subject` also recovers the subject's frames from before the
    tracker was sure of them.
    """

    def __init__(self, options: TrackerOptions | None = None, **kwargs: Any) -> None:
        if options is None:
            options = TrackerOptions(**kwargs)
        elif kwargs:
            options = TrackerOptions(**{**options.model_dump(), **kwargs})
        self.options = options
        self.reset()

    def reset(self) -> None:
        """Forget every track and the subject (e.g. before a new video)."""
        self._tracks: dict[int, _Track] = {}
        self._next_id = 0
        self._locked: int | None = None
        self._last_t: float | None = None
        self._last_out: PoseFrame | None = None
        self._state: TrackerState = "searching"

    @property
    def state(self) -> TrackerState:
        """'searching' (no subject yet), 'locked' (subject seen now) or 'lost' (briefly unseen)."""
        return self._state

    @property
    def track_id(self) -> int | None:
        """Id of the subject's track (kept while 'lost'), None while searching."""
        return self._locked

    @property
    def scores(self) -> dict[int, float]:
        """Latest walking score of each live track (for display and debugging)."""
        return {tid: tr.score for tid, tr in self._tracks.items()}

    def update(self, frame: PoseFrame) -> PoseFrame:
        """Assign people to tracks, update walking scores and pick the subject."""
        o = self.options
        t = frame.timestamp_ms / 1000.0
        if self._last_t is not None:
            if t == self._last_t and self._last_out is not None:
                return self._last_out  # live stream: the same result delivered again
            if t < self._last_t:
                raise TimestampError(
                    f"SubjectTracker.update: frame at {frame.timestamp_ms} ms is older than the "
                    f"previous one ({self._last_t * 1000:.0f} ms); call reset() for a new video"
                )
        self._last_t = t
        people = frame.people
        matched = self._associate(people, self._eligible(people), t)
        for i, tid in matched.items():
            lm = people[i].image_landmarks
            sep = float(np.linalg.norm(lm[MP_L_ANKLE, :2] - lm[MP_R_ANKLE, :2]))
            tr = self._tracks[tid]
            tr.add(t, people[i].hip_center, max(people[i].body_size, 1.0), sep, o.window_s)
            tr.score = walking_score(
                np.asarray(tr.samples),
                min_window_s=o.min_window_s,
                depth_weight=o.depth_weight,
                depth_min_s=o.depth_min_s,
            )
            walking = tr.score >= o.lock_score
            tr.walking_updates = tr.walking_updates + 1 if walking else 0
            tr.last_walked_t = t if walking else tr.last_walked_t
        for tid in [tid for tid, tr in self._tracks.items() if self._expired(tr, t)]:
            del self._tracks[tid]
        seen = {tid: i for i, tid in matched.items()}
        self._choose(seen, t)
        track_ids: list[int | None] = [None] * len(people)
        for i, tid in matched.items():
            track_ids[i] = tid
        subject = seen.get(self._locked) if self._locked is not None else None
        out = frame.model_copy(update={"subject_index": subject, "track_ids": track_ids})
        self._last_out = out
        return out

    def _expired(self, tr: _Track, t: float) -> bool:
        o = self.options
        return t - tr.last_t > (o.max_lost_s if len(tr.samples) >= 3 else o.tentative_max_age_s)

    def _eligible(self, people: list[PersonPose]) -> list[int]:
        """Indices of people to track: hip inside the ROI, duplicate detections removed."""
        roi = self.options.roi
        idx = []
        for i, p in enumerate(people):
            hx, hy = p.hip_center
            if not (math.isfinite(hx) and math.isfinite(hy)):
                continue
            if roi is not None and not (roi[0] <= hx <= roi[0] + roi[2] and roi[1] <= hy <= roi[1] + roi[3]):
                continue
            idx.append(i)
        # MediaPipe sometimes returns one person twice: keep the more visible copy.
        keep: list[int] = []
        for i in sorted(idx, key=lambda j: -float(people[j].image_landmarks[:, 3].mean())):
            if all(_iou(people[i].bbox, people[j].bbox) <= self.options.duplicate_iou for j in keep):
                keep.append(i)
        return sorted(keep)

    def _associate(self, people: list[PersonPose], idx: list[int], t: float) -> dict[int, int]:
        """Greedy nearest-hip matching (person index -> track id); new tracks for the rest.

        The gate is relative to body size and grows with the time a track was
        unseen; body sizes must agree within a factor 2.
        """
        o = self.options
        pairs = []
        for tid, tr in self._tracks.items():
            dt = t - tr.last_t
            s = max(tr.size, 1.0)
            v = tr.velocity
            speed = float(np.hypot(*v)) / s
            if speed > o.max_speed_body_s:  # a misdetection can fake any velocity
                v = v * (o.max_speed_body_s / speed)
            pred = tr.hip + v * min(dt, 0.5)
            gate = o.gate_body + o.max_speed_body_s * min(dt, 0.5)
            for i in idx:
                d = float(np.linalg.norm(people[i].hip_center - pred)) / s
                ratio = abs(math.log(max(people[i].body_size, 1.0) / s))
                if d <= gate and ratio < math.log(2.0):
                    pairs.append((d + ratio, tid, i))
        pairs.sort()
        matched: dict[int, int] = {}
        used: set[int] = set()
        for _, tid, i in pairs:
            if i not in matched and tid not in used:
                matched[i] = tid
                used.add(tid)
        for i in idx:
            if i not in matched:
                matched[i] = self._next_id
                self._tracks[self._next_id] = _Track(id=self._next_id)
                self._next_id += 1
        return matched

    def _choose(self, seen: dict[int, int], t: float) -> None:
        o = self.options
        if self._locked is not None and self._locked not in self._tracks:
            log.info("Subject track %d unseen for %.1f s; searching again", self._locked, o.max_lost_s)
            self._locked, self._state = None, "searching"
        if self._locked is None:
            ready = [tid for tid in seen if self._tracks[tid].walking_updates >= o.lock_updates]
            if ready:
                best = max(ready, key=lambda tid: self._tracks[tid].score)
                self._lock(best, t, f"walking score {self._tracks[best].score:.2f}")
            return
        subject = self._tracks[self._locked]
        self._state = "locked" if self._locked in seen else "lost"
        idle = subject.last_walked_t is None or t - subject.last_walked_t >= o.window_s
        bar = max(subject.score * o.switch_ratio, subject.score + o.switch_margin, o.lock_score)
        for tid, tr in self._tracks.items():
            if tid == self._locked or tid not in seen:
                continue
            if tr.score < bar:
                tr.better_since = None
                continue
            tr.better_since = t if tr.better_since is None else tr.better_since
            if (idle and tr.walking_updates >= o.lock_updates) or t - tr.better_since >= o.switch_after_s:
                why = f"walks better ({tr.score:.2f} vs {subject.score:.2f})"
                self._lock(tid, t, why + (", subject idle" if idle else ""))
                return

    def _lock(self, tid: int, t: float, why: str) -> None:
        log.info("Subject: track %d at t=%.2f s (%s)", tid, t, why)
        for tr in self._tracks.values():
            tr.better_since = None
        self._locked, self._state = tid, "locked"


def select_subject(frames: Iterable[PoseFrame], options: TrackerOptions | None = None) -> list[PoseFrame]:
    """Track a whole recorded sequence and mark its one subject in every frame.

    Runs :class:`SubjectTracker` online, then keeps the single track that was
    the subject in most frames (a recording for gait analysis is one person;
    whoever was tracked after the subject left is dropped) and marks that track
    in *every* frame where it was detected, including the first few before the
    tracker had seen enough walking to lock on it.
    """
    tracker = SubjectTracker(options)
    tracked = [tracker.update(f) for f in frames]
    counts = Counter(f.subject_track_id for f in tracked if f.subject_track_id is not None)
    if not counts:
        return tracked
    best, _ = counts.most_common(1)[0]
    out = []
    for f in tracked:
        ids = f.track_ids or []
        index = ids.index(best) if best in ids else None
        out.append(f if index == f.subject_index else f.model_copy(update={"subject_index": index}))
    return out
