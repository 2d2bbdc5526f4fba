"""The walking gate: is this window someone walking, or standing, swaying, jumping, running, or noise?

The screening protocol is walking; anything else must not be screened, and the reason must say what it
was. Four measurements from the 2-D skeleton, each scaled by the subject's own leg length (hip to ankle),
so no camera set-up is declared:

* **stride** (``separation``): how far the two feet move apart and back, along the direction in which
  they separate most (fore-aft side-on; mostly up-down in the image from the front, where the nearer
  foot is lower). Standing, swaying and jumping keep the feet together: a small stride.
* **rhythm** (``periodicity``): the autocorrelation of that separation at its best lag between 0.5 and
  2.2 s (one stride). Walking repeats itself; random keypoints do not.
* **cadence**: steps a minute from that stride period (two steps a stride), 40-230: a stride faster than
  0.5 s is no walk, one slower than 3 s is no stride.
* **vault or spring** (``bounce``): walking vaults over a straight stance leg, so the hips are highest
  when the feet pass each other and lowest when they are furthest apart (double support); running
  lands on a bent leg and flies between steps, so the hips are lowest when the feet pass and highest
  when they are apart (flight). ``bounce`` is the correlation between hip height and foot separation:
  negative walking, positive running. Children's fast walking reaches running cadences, so cadence
  cannot tell the two apart; side-on this tells them apart, and a treadmill does not change it.
* **running from the front** (``run_score``): the vault cannot be read well from the front, so three
  running cues are added up there: the heel recovery (how far each ankle rises toward the hips, in
  trunk lengths: a runner's heel comes up behind, a walker's foot clears the ground by a few
  centimetres), the support leg's compression (how much the lower foot's distance below the hips
  varies: a walker's stance leg is straight, a runner's bends at mid-stance and both feet leave the
  ground in flight) and the flight fraction (frames in which neither foot stands still in the image: a
  walker always has a planted foot). The flight fraction needs a static ground, so it is left out when
  the body does not travel (a treadmill, walking on the spot), where the two other cues decide.
* **a body** (``upright``, ``jitter``): keypoints that belong to no body are refused before anything
  else: an upright person has the shoulders above the hips, the hips above the knees and the knees
  above the ankles in nearly every frame (a camera mounted upside down, a 180-degree rotation, is read
  turned back, ``upside_down``, when the turned body is upright with the head, nose or ears, above the
  shoulders too; the bundle's input reference is what notes such a camera), and the trunk and legs change length only smoothly (the
  camera's perspective), not from one frame to the next.

Real pose models fail in ways the simulator does not, and a walker must not become a runner for it
(the sample video, ``tests/test_walking_gate.py``):

* **broken frames** (a walker near the frame's edge: the hips slide down, the ankles land above the
  knees for a few frames): frames that are not upright, or whose trunk or a leg leaves its running
  median by more than 30 %, are bridged (straight lines between the good frames around them) before
  the motion is read; the body checks above still see them as they are.
* **left-right leg swaps** (the pose model trades the legs' labels for a few frames, side-on): the
  separation's sign flips, its size does not, so the rhythm of ``|separation|`` at one step stands in
  for the stride rhythm when it is the more regular.
* **running needs two cues side-on**: a heel recovery above ``MIN_RUN_HEEL`` and the hips' spring
  (``bounce``) or ``run_score``; one cue alone is what misplaced ankles fake.

The thresholds were set on SIMULATED motions (``research/sim/motions.py``); the measured acceptance is
in docs/RUNTIME.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel

from scoligait_edge.core.constants import check_fps
from scoligait_edge.core.skeleton import (
    L_ANKLE,
    L_EAR,
    L_HIP,
    L_KNEE,
    L_SHOULDER,
    NOSE,
    R_ANKLE,
    R_EAR,
    R_HIP,
    R_KNEE,
    R_SHOULDER,
)
from scoligait_edge.kinematics.keypoints import MIN_SCORE, fill_gaps

Motion = Literal["walking", "standing", "running", "irregular", "no_body"]
_LEVELS = ((L_SHOULDER, R_SHOULDER), (L_HIP, R_HIP), (L_KNEE, R_KNEE), (L_ANKLE, R_ANKLE))
"""Top to bottom in an upright body."""
_BODY = [j for pair in _LEVELS for j in pair]
_HEAD = (NOSE, L_EAR, R_EAR)

MIN_STRIDE = 0.12
"""Smallest range of foot separation (leg lengths, 5th to 95th percentile) of a walk."""
MIN_PERIODICITY = 0.55
"""Smallest autocorrelation of the foot separation at one stride."""
MIN_CADENCE, MAX_CADENCE = 40.0, 230.0
"""Steps a minute a walk's stride period may give."""
MAX_BOUNCE = 0.2
"""Largest correlation of hip height with foot separation (walking is negative; running positive)."""
STILL_FRACTION = 0.25
"""A foot slower than this fraction of the feet's swing speed (90th percentile) stands still."""
MIN_STRIDE_S, MAX_STRIDE_S = 0.5, 2.2
"""Stride periods searched, in seconds."""
MIN_UPRIGHT = 0.8
"""Smallest fraction of frames in which shoulders, hips, knees and ankles (left-right midpoints) stand one
above the other, as an upright body's do."""
MAX_JITTER = 0.12
"""Largest median frame-to-frame change of the trunk and leg lengths (against their 9-frame running
median), as a fraction of their size: a body's segments keep their length; scattered points do not."""
RUN_WEIGHTS = (0.36, 1.0, 0.58)
"""From the front: weights of heel recovery (trunk lengths), support-leg compression (fraction) and
flight fraction in ``run_score``."""
MAX_RUN_SCORE = 0.5
"""The largest ``run_score`` of a walk (from the front the only running test; side-on a second cue next to
the heel recovery, see ``MIN_RUN_HEEL``)."""
MAX_SEGMENT_JUMP = 0.3
"""A frame whose trunk or leg length leaves its 9-frame running median by more than this fraction is
broken (a pose-model failure) and bridged; so is a frame whose body is not upright."""
MAX_BROKEN = 1.0 - MIN_UPRIGHT
"""The largest fraction of broken frames a window may have (more is no body, see ``upright``)."""
MIN_RUN_HEEL = 0.5
"""Side-on, running needs two cues that agree: a heel recovery above this (trunk lengths) and either the
hips' spring (``bounce`` above ``MAX_BOUNCE``) or ``run_score`` above ``MAX_RUN_SCORE``. One cue alone is
what a pose model's misplaced ankles or swapped legs can fake on a real walker."""
MIN_TRAVEL = 0.5
"""The body travels (so a planted foot stands still in the image) when the hips move this many leg
lengths across the image or the body's size changes by this fraction (toward or away)."""


class WalkingVerdict(BaseModel):
    """The gate's measurements and verdict for one window; ``reason`` is a plain sentence when refused."""

    walking: bool
    motion: Motion
    stride: float
    periodicity: float
    cadence_spm: float | None
    bounce: float
    flight: float = 0.0
    heel: float = 0.0
    support: float = 0.0
    run_score: float = 0.0
    upright: float = 1.0
    jitter: float = 0.0
    side_on: bool = True
    upside_down: bool = False
    reason: str | None = None


def _autocorr(x: np.ndarray, lag: int) -> float:
    a, b = x[:-lag], x[lag:]
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.dot(a, b) / den) if den > 0 else 0.0


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.dot(a, b) / den) if den > 0 else 0.0


def _detrend(x: np.ndarray) -> np.ndarray:
    """``x`` less its least-squares line."""
    t = np.arange(x.size, dtype=np.float64) - 0.5 * (x.size - 1)
    den = float(np.dot(t, t))
    slope = float(np.dot(t, x - x.mean())) / den if den > 0 else 0.0
    out: np.ndarray = x - x.mean() - slope * t
    return out


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    if width <= 1 or x.size < width:
        return x
    pad = width // 2
    xp = np.pad(x, (pad, width - 1 - pad), mode="edge")
    out: np.ndarray = np.convolve(xp, np.ones(width) / width, mode="valid")
    return out


def _running_median(x: np.ndarray, width: int) -> np.ndarray:
    pad = width // 2
    xp = np.pad(x, (pad, pad), mode="edge")
    out: np.ndarray = np.median(np.lib.stride_tricks.sliding_window_view(xp, width), axis=1)
    return out


def _jitter(length: np.ndarray) -> float:
    """Median change of a segment's length against its 9-frame running median, relative to its size."""
    size = float(np.median(length))
    if not size > 0:
        return 1.0
    return float(np.median(np.abs(length - _running_median(length, 9)))) / size


def _head_height(xy: np.ndarray) -> np.ndarray:
    """Per frame, the mean height of the nose and ears that are present (NaN when none is)."""
    y = xy[:, list(_HEAD), 1]
    seen = np.isfinite(y)
    n = seen.sum(axis=1)
    total = np.where(seen, y, 0.0).sum(axis=1)
    out: np.ndarray = np.where(n > 0, total / np.maximum(n, 1), np.nan)
    return out


def _upright(xy: np.ndarray, *, head: bool = False) -> float:
    """Fraction of frames with shoulders above hips above knees above ankles (left-right midpoints, y up);
    with ``head``, the head (nose and ears) above the shoulders too."""
    levels = [0.5 * (xy[:, a, 1] + xy[:, b, 1]) for a, b in _LEVELS]
    if head:
        levels.insert(0, _head_height(xy))
    above = np.ones(xy.shape[0], dtype=bool)
    for hi, lo in zip(levels[:-1], levels[1:], strict=False):
        above &= hi > lo
    return float(np.mean(above))


def _broken(xy: np.ndarray) -> np.ndarray:
    """Frames whose skeleton is broken: not upright (shoulders, hips, knees, ankles out of order) or with a
    trunk or leg length that leaves its 9-frame running median by more than ``MAX_SEGMENT_JUMP``.

    A pose model loses the body for a few frames now and then (a walker near the frame's edge: the hips
    slide down, the ankles land above the knees); those frames are bridged, not read as motion."""
    levels = [0.5 * (xy[:, a, 1] + xy[:, b, 1]) for a, b in _LEVELS]
    bad = np.zeros(xy.shape[0], dtype=bool)
    for hi, lo in zip(levels[:-1], levels[1:], strict=False):
        bad |= ~(hi > lo)
    hip = 0.5 * (xy[:, L_HIP] + xy[:, R_HIP])
    segments = (
        np.linalg.norm(0.5 * (xy[:, L_SHOULDER] + xy[:, R_SHOULDER]) - hip, axis=1),
        np.linalg.norm(xy[:, L_ANKLE] - xy[:, L_HIP], axis=1),
        np.linalg.norm(xy[:, R_ANKLE] - xy[:, R_HIP], axis=1),
    )
    for length in segments:
        ref = _running_median(length, 9)
        bad |= np.abs(length - ref) > MAX_SEGMENT_JUMP * ref
    return bad


def _bridge(xy: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """``xy`` with the ``bad`` frames replaced by straight lines between the good frames around them."""
    if not bad.any() or bad.all():
        return xy
    t = np.arange(xy.shape[0])
    good = ~bad
    out = xy.copy()
    for j in range(xy.shape[1]):
        for c in range(2):
            out[bad, j, c] = np.interp(t[bad], t[good], xy[good, j, c])
    return out


def _flight(ankles: np.ndarray, width: int) -> float:
    """Fraction of frames in which neither ankle stands still in the image (both feet in the air).

    A planted foot is still in the image of a static camera; a walker always has one (the stance
    foot), a runner has none between steps."""
    pos = np.stack([np.stack([_smooth(ankles[:, f, c], width) for c in range(2)], -1) for f in range(2)], 1)
    v = np.zeros(pos.shape[:2])
    v[1:-1] = np.linalg.norm(pos[2:] - pos[:-2], axis=-1) / 2
    v[0], v[-1] = v[1], v[-2]
    moving = float(np.percentile(v, 90))
    if not moving > 0:
        return 0.0
    airborne = np.all(v > STILL_FRACTION * moving, axis=1)
    return float(np.mean(airborne))


def _run_cues(xy: np.ndarray, hip: np.ndarray, travels: bool) -> tuple[float, float, float]:
    """From the front: heel recovery (trunk lengths), support-leg compression, flight fraction."""
    shoulders = 0.5 * (xy[:, L_SHOULDER] + xy[:, R_SHOULDER])
    trunk = _smooth(np.linalg.norm(shoulders - hip, axis=1), 15)
    if not np.all(trunk > 0):
        return 0.0, 0.0, 0.0
    below = np.stack([(hip[:, 1] - xy[:, a, 1]) / trunk for a in (L_ANKLE, R_ANKLE)], 1)
    heel = max(float(np.percentile(below[:, f], 95) - np.percentile(below[:, f], 5)) for f in range(2))
    lower = np.maximum(_smooth(below[:, 0], 3), _smooth(below[:, 1], 3))
    mid = float(np.median(lower))
    support = float(np.percentile(lower, 95) - np.percentile(lower, 5)) / mid if mid > 0 else 0.0
    flight = _flight(xy[:, [L_ANKLE, R_ANKLE]] / float(np.median(trunk)), 5) if travels else 0.0
    return heel, support, flight


def _travels(hip: np.ndarray, leg: np.ndarray, size: float) -> bool:
    """Does the body move through the image (not a treadmill, not walking on the spot)?"""
    across = float(np.linalg.norm(hip[-1] - hip[0])) / size
    q = max(leg.size // 4, 1)
    a, b = float(np.median(leg[:q])), float(np.median(leg[-q:]))
    grows = abs(b - a) / min(a, b) if min(a, b) > 0 else 0.0
    return across >= MIN_TRAVEL or grows >= MIN_TRAVEL / 2


def _refused(motion: Motion, reason: str, **verdict: Any) -> WalkingVerdict:
    return WalkingVerdict(walking=False, motion=motion, reason=f"no walking: {reason}", **verdict)


def _hips_and_legs(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hips and ankles ``[T, 4, 2]``, the hip centre ``[T, 2]`` and the mean hip-to-ankle length ``[T]``."""
    j = xy[:, [L_HIP, R_HIP, L_ANKLE, R_ANKLE]]
    hip = 0.5 * (j[:, 0] + j[:, 1])
    leg = 0.5 * (np.linalg.norm(j[:, 2] - j[:, 0], axis=1) + np.linalg.norm(j[:, 3] - j[:, 1], axis=1))
    return j, hip, leg


def _best_lag(signal: np.ndarray, lags: Iterable[int]) -> tuple[int, float]:
    """The lag with the highest autocorrelation (0, 0.0 when none is positive)."""
    best_lag, best = 0, 0.0
    for lag in lags:
        r = _autocorr(signal, lag)
        if r > best:
            best_lag, best = lag, r
    return best_lag, best


def _stride_rhythm(
    sep: np.ndarray, axis: np.ndarray, fps: float, min_frames: int, width: int
) -> tuple[np.ndarray, float, float, float | None]:
    """The foot separation along its main ``axis`` (smoothed), its stride, and the rhythm and cadence of the
    stride; a pose model that swaps the legs for a few frames (side-on, common on video) flips the
    separation's sign, but how far apart the feet are repeats every step regardless: the rhythm of
    |separation| stands in when it is the more regular (it says nothing about stride length)."""
    s = _smooth(_detrend((sep - sep.mean(axis=0)) @ axis), width)
    stride = float(np.percentile(s, 95) - np.percentile(s, 5))
    lags = range(max(int(round(MIN_STRIDE_S * fps)), 2), min(int(round(MAX_STRIDE_S * fps)), s.size - min_frames // 2))
    best_lag, periodicity = _best_lag(s, lags)
    cadence = 2 * 60.0 * fps / best_lag if best_lag else None
    # alternation: half a stride later the other foot leads, so the separation's sign flips
    half = range(max(int(round(0.5 * MIN_STRIDE_S * fps)), 1), max(best_lag, 2))
    alternation = -min((_autocorr(s, lag) for lag in half), default=0.0)
    periodicity = min(periodicity, alternation)
    # |.| of the uncentred separation, before any smoothing: a swap flips the sign, not the size
    apart_abs = _detrend(_smooth(_running_median(np.abs(sep @ axis), 2 * width + 1), width))
    step_lags = range(max(int(round(0.5 * MIN_STRIDE_S * fps)), 2), int(round(0.5 * MAX_STRIDE_S * fps)) + 1)
    step_lag, step_rhythm = _best_lag(apart_abs, (lag for lag in step_lags if lag < s.size - min_frames // 2))
    if step_lag and step_rhythm > periodicity:
        periodicity, cadence = step_rhythm, 60.0 * fps / step_lag
    return s, stride, periodicity, cadence


def _decide(m: dict[str, Any]) -> WalkingVerdict:
    """The verdict from the measures, in order: a body, feet that part, a regular stride, not running."""
    upright, jitter, stride, periodicity, cadence = (
        m["upright"],
        m["jitter"],
        m["stride"],
        m["periodicity"],
        m["cadence_spm"],
    )
    heel, bounce, run_score, support, flight = m["heel"], m["bounce"], m["run_score"], m["support"], m["flight"]
    if upright < MIN_UPRIGHT or jitter > MAX_JITTER:
        return _refused(
            "no_body",
            f"the keypoints are not consistent with a body (upright in {upright:.0%} of the frames, "
            f"segment lengths jump {jitter:.0%} from frame to frame)",
            **m,
        )
    if stride < MIN_STRIDE:
        return _refused(
            "standing",
            f"the feet stay together (stride {stride:.2f} leg lengths, need {MIN_STRIDE:.2f}): "
            "standing still, swaying or jumping",
            **m,
        )
    if periodicity < MIN_PERIODICITY or cadence is None or not MIN_CADENCE <= cadence <= MAX_CADENCE:
        said = "none" if cadence is None else f"{cadence:.0f} steps/min"
        return _refused(
            "irregular", f"the legs do not move in a regular stride (rhythm {periodicity:.2f}, cadence {said})", **m
        )
    if m["side_on"] and heel > MIN_RUN_HEEL and (bounce > MAX_BOUNCE or run_score > MAX_RUN_SCORE):
        return _refused(
            "running",
            f"running (heel recovery {heel:.2f} trunk lengths, the hips rise as the feet part: {bounce:.2f}, "
            f"run score {run_score:.2f})",
            **m,
        )
    if not m["side_on"] and run_score > MAX_RUN_SCORE:
        return _refused(
            "running",
            f"running (heel recovery {heel:.2f} trunk lengths, support leg varies {support:.0%}, "
            f"no foot planted in {flight:.0%} of the frames)",
            **m,
        )
    return WalkingVerdict(walking=True, motion="walking", **m)


def assess_walking(keypoints: np.ndarray, fps: float = 30.0, *, min_score: float = MIN_SCORE) -> WalkingVerdict:
    """The gate's verdict on a window of ``[T, 17|21, 3]`` keypoints (pixels, y down, score) at ``fps``."""
    fps = check_fps(fps)
    kp = fill_gaps(np.asarray(keypoints, dtype=np.float64), min_score=min_score)
    xy = kp[:, :, :2] * np.array([1.0, -1.0])  # y up
    ok = np.all(np.isfinite(xy[:, _BODY]), axis=(1, 2))
    min_frames = int(round(2 * MIN_STRIDE_S * fps))
    if ok.sum() < min_frames:
        return _refused(
            "no_body",
            "the body is not tracked long enough to see a stride",
            stride=0.0,
            periodicity=0.0,
            cadence_spm=None,
            bounce=0.0,
        )
    xy = xy[ok]
    # a camera mounted upside down (a 180-degree rotation) shows a body all the same: read it turned back
    # (the input reference's "input unlike the training data" note is what speaks of the camera)
    upside_down = _upright(xy) < MIN_UPRIGHT and _upright(-xy, head=True) >= MIN_UPRIGHT
    if upside_down:
        xy = -xy
    j, hip, leg = _hips_and_legs(xy)
    size = float(np.median(leg))
    if not size > 0:
        size = 1.0
    upright = _upright(xy)
    jitter = max(_jitter(np.linalg.norm(0.5 * (xy[:, L_SHOULDER] + xy[:, R_SHOULDER]) - hip, axis=1)), _jitter(leg))
    # the motion is read on the repaired skeleton: broken frames (pose-model failures) bridged
    broken = _broken(xy)
    if broken.mean() <= MAX_BROKEN:
        xy = _bridge(xy, broken)
        j, hip, leg = _hips_and_legs(xy)
    sep = (j[:, 2] - j[:, 3]) / size
    centred = sep - sep.mean(axis=0)
    evals, evecs = np.linalg.eigh(centred.T @ centred)
    width = max(int(round(0.1 * fps)), 1)
    s, stride, periodicity, cadence = _stride_rhythm(sep, evecs[:, -1], fps, min_frames, width)
    # hip height against how far apart the feet are: over the lower foot side-on (the ground), over the
    # feet's mean from the front (where the nearer foot is the lower one in the image)
    side_on = bool(abs(evecs[0, -1]) >= abs(evecs[1, -1]))
    ground = np.minimum(j[:, 2, 1], j[:, 3, 1]) if side_on else 0.5 * (j[:, 2, 1] + j[:, 3, 1])
    height = _smooth(_detrend((hip[:, 1] - ground) / size), width)
    bounce = _corr(height, _smooth(_detrend(np.abs(s)), width))
    heel, support, flight = _run_cues(xy, hip, _travels(hip, leg, size))
    run_score = float(np.dot(RUN_WEIGHTS, (heel, support, flight)))
    return _decide(
        dict(
            stride=stride,
            periodicity=periodicity,
            cadence_spm=cadence,
            bounce=bounce,
            flight=flight,
            heel=heel,
            support=support,
            run_score=run_score,
            upright=upright,
            jitter=jitter,
            side_on=side_on,
            upside_down=upside_down,
        )
    )
