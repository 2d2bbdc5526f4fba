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
  cannot tell the two apart; this can, from any view, and a treadmill does not change it.

The thresholds were set on SIMULATED motions (``research/sim/motions.py``); the measured acceptance is
in docs/RUNTIME.md.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel

from scoligait_edge.core.constants import check_fps
from scoligait_edge.core.skeleton import L_ANKLE, L_HIP, L_SHOULDER, R_ANKLE, R_HIP, R_SHOULDER
from scoligait_edge.kinematics.keypoints import MIN_SCORE, fill_gaps

Motion = Literal["walking", "standing", "running", "irregular", "no_body"]

MIN_STRIDE = 0.12
"""Smallest range of foot separation (leg lengths, 5th to 95th percentile) of a walk."""
MIN_PERIODICITY = 0.55
"""Smallest autocorrelation of the foot separation at one stride."""
MIN_CADENCE, MAX_CADENCE = 40.0, 230.0
"""Steps a minute a walk's stride period may give."""
MAX_BOUNCE = 0.2
"""Largest correlation of hip height with foot separation (walking is negative; running positive)."""
MAX_FRONTAL_LIFT = 1.0
"""From the front (no fore-aft axis to read the vault on): the largest heel rise plus hip bounce, in trunk
lengths, of a walk; a runner's heels come up behind and the hips bounce higher."""
STILL_FRACTION = 0.25
"""A foot slower than this fraction of the feet's swing speed (90th percentile) stands still."""
MIN_STRIDE_S, MAX_STRIDE_S = 0.5, 2.2
"""Stride periods searched, in seconds."""
MAX_LEG_CV = 0.3
"""Largest variation of the leg length (hip to ankle) over a window, as a fraction of it: a body's legs
keep their length (projection changes it a little); keypoints that belong to no body do not."""


class WalkingVerdict(BaseModel):
    """The gate's measurements and verdict for one window; ``reason`` is a plain sentence when refused."""

    walking: bool
    motion: Motion
    stride: float
    periodicity: float
    cadence_spm: float | None
    bounce: float
    flight: float = 0.0
    side_on: bool = True
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
    t = np.arange(x.size, dtype=np.float64)
    slope, intercept = np.polyfit(t, x, 1)
    out: np.ndarray = x - (slope * t + intercept)
    return out


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    if width <= 1 or x.size < width:
        return x
    pad = width // 2
    xp = np.pad(x, (pad, width - 1 - pad), mode="edge")
    out: np.ndarray = np.convolve(xp, np.ones(width) / width, mode="valid")
    return out


def _trunk_length(xy: np.ndarray, hip: np.ndarray) -> float:
    shoulders = 0.5 * (xy[:, L_SHOULDER] + xy[:, R_SHOULDER])
    d = np.linalg.norm(shoulders - hip, axis=1)
    d = d[np.isfinite(d)]
    return float(np.median(d)) if d.size else 0.0


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


def assess_walking(keypoints: np.ndarray, fps: float = 30.0, *, min_score: float = MIN_SCORE) -> WalkingVerdict:
    """The gate's verdict on a window of ``[T, 17|21, 3]`` keypoints (pixels, y down, score) at ``fps``."""
    fps = check_fps(fps)
    kp = fill_gaps(np.asarray(keypoints, dtype=np.float64), min_score=min_score)
    xy = kp[:, :, :2] * np.array([1.0, -1.0])  # y up
    joints = xy[:, [L_HIP, R_HIP, L_ANKLE, R_ANKLE]]
    ok = np.all(np.isfinite(joints), axis=(1, 2))
    min_frames = int(round(2 * MIN_STRIDE_S * fps))
    if ok.sum() < min_frames:
        return WalkingVerdict(
            walking=False,
            motion="no_body",
            stride=0.0,
            periodicity=0.0,
            cadence_spm=None,
            bounce=0.0,
            reason="no walking: hips and ankles are not tracked long enough to see a stride",
        )
    j = joints[ok]
    hip = 0.5 * (j[:, 0] + j[:, 1])
    leg = 0.5 * (np.linalg.norm(j[:, 2] - j[:, 0], axis=1) + np.linalg.norm(j[:, 3] - j[:, 1], axis=1))
    size = float(np.median(leg))
    if not size > 0:
        size = 1.0
    sep = (j[:, 2] - j[:, 3]) / size
    centred = sep - sep.mean(axis=0)
    evals, evecs = np.linalg.eigh(centred.T @ centred)
    s = _detrend(centred @ evecs[:, -1])
    width = max(int(round(0.1 * fps)), 1)
    s = _smooth(s, width)
    stride = float(np.percentile(s, 95) - np.percentile(s, 5))
    lags = range(max(int(round(MIN_STRIDE_S * fps)), 2), min(int(round(MAX_STRIDE_S * fps)), s.size - min_frames // 2))
    best_lag, periodicity = 0, 0.0
    for lag in lags:
        r = _autocorr(s, lag)
        if r > periodicity:
            best_lag, periodicity = lag, r
    cadence = 2 * 60.0 * fps / best_lag if best_lag else None
    # alternation: half a stride later the other foot leads, so the separation's sign flips
    half = range(max(int(round(0.5 * MIN_STRIDE_S * fps)), 1), max(best_lag, 2))
    alternation = -min((_autocorr(s, lag) for lag in half), default=0.0)
    periodicity = min(periodicity, alternation)
    # hip height against how far apart the feet are: over the lower foot side-on (the ground), over the
    # feet's mean from the front (where the nearer foot is the lower one in the image)
    side_on = abs(evecs[0, -1]) >= abs(evecs[1, -1])
    ground = np.minimum(j[:, 2, 1], j[:, 3, 1]) if side_on else 0.5 * (j[:, 2, 1] + j[:, 3, 1])
    height = _smooth(_detrend((hip[:, 1] - ground) / size), width)
    apart = _smooth(_detrend(np.abs(s)), width)
    bounce = _corr(height, apart)
    flight = _flight(j[:, 2:] / size, width)
    if not side_on:  # from the front: how high the hips bounce and the heels rise, in trunk lengths
        trunk = _trunk_length(xy[ok], hip)
        if trunk > 0:
            gap = np.abs(j[:, 2, 1] - j[:, 3, 1]) / trunk
            rise = _detrend(hip[:, 1] / trunk)
            flight = float(np.percentile(gap, 95) + np.percentile(rise, 95) - np.percentile(rise, 5))
    body = float(np.std(leg) / size)
    verdict = dict(
        stride=stride, periodicity=periodicity, cadence_spm=cadence, bounce=bounce, flight=flight, side_on=side_on
    )
    if body > MAX_LEG_CV:
        return WalkingVerdict(
            walking=False,
            motion="no_body",
            reason=f"no walking: the keypoints do not hold together as a body (leg length varies {body:.0%})",
            **verdict,
        )
    if stride < MIN_STRIDE:
        return WalkingVerdict(
            walking=False,
            motion="standing",
            reason=f"no walking: the feet stay together (stride {stride:.2f} leg lengths, need {MIN_STRIDE:.2f}): "
            "standing, swaying or jumping",
            **verdict,
        )
    if periodicity < MIN_PERIODICITY or cadence is None or not MIN_CADENCE <= cadence <= MAX_CADENCE:
        said = "none" if cadence is None else f"{cadence:.0f} steps/min"
        return WalkingVerdict(
            walking=False,
            motion="irregular",
            reason=f"no walking: the legs do not move in a regular stride (rhythm {periodicity:.2f}, cadence {said})",
            **verdict,
        )
    if (side_on and bounce > MAX_BOUNCE) or (not side_on and flight > MAX_FRONTAL_LIFT):
        return WalkingVerdict(
            walking=False,
            motion="running",
            reason=f"no walking: running (the hips rise as the feet part: {bounce:.2f}); the protocol is walking",
            **verdict,
        )
    return WalkingVerdict(walking=True, motion="walking", **verdict)
