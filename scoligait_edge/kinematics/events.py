"""Gait events from the 2-D skeleton alone, and window quality.

Heel strike is when a foot is furthest forward of the pelvis, toe-off when it
is furthest behind (Zeni et al. 2008), measured along the direction of
progression *as it appears in the image*: horizontal for side-on walking,
vertical for walking toward or away from the camera (the nearer foot is lower
in the image). That axis is found from the data (the principal direction in
which the two feet separate), so no camera set-up needs to be declared.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from scoligait_edge.core.constants import check_fps
from scoligait_edge.core.skeleton import (
    L_ANKLE,
    L_EAR,
    L_HEEL,
    L_HIP,
    L_TOE,
    NOSE,
    NUM_COCO_FEET,
    R_ANKLE,
    R_EAR,
    R_HEEL,
    R_HIP,
    R_TOE,
)
from scoligait_edge.kinematics.features import points_y_up
from scoligait_edge.kinematics.keypoints import MIN_SCORE, fill_gaps
from scoligait_edge.kinematics.peaks import find_peaks, median_filter_nearest
from scoligait_edge.kinematics.walking import Motion, assess_walking

MIN_STEP_S = 0.25
"""Two heel strikes of one foot are at least two steps apart (>= 0.5 s at fast cadence)."""
MIN_EXCURSION = 0.06
"""Smallest fore-aft foot excursion (leg lengths) that counts as a step, not sway."""
MIN_FOOT_SPEED = 0.004
"""Swing speed (leg lengths a frame) below which a foot is not walking at all."""
STILL_FRACTION = 0.2
"""A foot moving slower than this fraction of its swing speed is planted."""

View = Literal["side", "frontal", "unknown"]


def _per_foot() -> dict[str, list[int]]:
    return {"left": [], "right": []}


class GaitEvents(BaseModel):
    """Heel strikes and toe-offs (frame indices) per foot; ``events['left']`` gives
    the left heel strikes."""

    heel_strikes: dict[str, list[int]] = Field(default_factory=_per_foot)
    toe_offs: dict[str, list[int]] = Field(default_factory=_per_foot)
    view: View = "unknown"
    fps: float = 30.0
    n_frames: int = 0

    def __getitem__(self, side: str) -> list[int]:
        return self.heel_strikes[side]

    def all_heel_strikes(self) -> list[tuple[int, str]]:
        """Every heel strike as ``(frame, side)``, in time order."""
        return sorted((f, s) for s in ("left", "right") for f in self.heel_strikes[s])

    @property
    def n_steps(self) -> int:
        return sum(len(v) for v in self.heel_strikes.values())

    def cadence(self) -> float | None:
        """Steps per minute from the median interval between consecutive heel strikes
        of alternating feet; None with fewer than two such strikes."""
        hs = self.all_heel_strikes()
        intervals = [b[0] - a[0] for a, b in pairwise(hs) if a[1] != b[1]]
        if not intervals:
            return None
        return 60.0 * self.fps / float(np.median(intervals))

    def complete_cycles(self, start: int = 0, stop: int | None = None) -> int:
        """Complete gait cycles (heel strike to the same foot's next heel strike) inside
        ``[start, stop)``, the larger count of the two feet."""
        stop = self.n_frames if stop is None else stop
        best = 0
        for side in ("left", "right"):
            inside = [f for f in self.heel_strikes[side] if start <= f < stop]
            best = max(best, max(len(inside) - 1, 0))
        return best


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    if width <= 1:
        return x
    kernel = np.ones(width) / width
    pad = width // 2
    xp = np.pad(x, (pad, width - 1 - pad), mode="edge")
    return np.convolve(xp, kernel, mode="valid")


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True))


def detect_gait_events(keypoints: np.ndarray, fps: float = 30.0, *, min_score: float = MIN_SCORE) -> GaitEvents:
    """Heel strikes and toe-offs from ``[T, 17|21, 3]`` keypoints (pixels, score).

    Heels and toes are used when the array has the 21-joint layout, else ankles.
    Events are only reported inside stretches where the hips and ankles are
    tracked. Side-on: Zeni's fore-aft extremes relative to the pelvis (robust to
    a camera that pans with the walker). Toward/away from the camera the fore-aft
    position mixes with foot lift in the image, so there a foot's contact is read
    from its speed instead: a planted foot stands still in the image of a static
    camera, so heel strike is where the heel stops and toe-off where the toe leaves.
    """
    fps = check_fps(fps)
    kp = fill_gaps(keypoints, min_score=min_score)
    n = kp.shape[0]
    events = GaitEvents(fps=fps, n_frames=n)
    points = points_y_up(kp)
    ok = np.all(np.isfinite(points[:, [L_HIP, R_HIP, L_ANKLE, R_ANKLE], 0]), axis=1)
    if ok.sum() < 2:
        return events
    hip = 0.5 * (points[:, L_HIP] + points[:, R_HIP])
    # leg length (hip to ankle, both sides) as the per-frame scale: needs only the joints we track
    size = 0.5 * (
        np.linalg.norm(points[:, L_ANKLE] - points[:, L_HIP], axis=1)
        + np.linalg.norm(points[:, R_ANKLE] - points[:, R_HIP], axis=1)
    )
    size[~ok] = np.nan
    feet = kp.shape[1] == NUM_COCO_FEET
    strike_pt = {
        s: _foot(kp, points, heel, ankle, feet)
        for s, heel, ankle in (("left", L_HEEL, L_ANKLE), ("right", R_HEEL, R_ANKLE))
    }
    off_pt = {
        s: _foot(kp, points, toe, ankle, feet)
        for s, toe, ankle in (("left", L_TOE, L_ANKLE), ("right", R_TOE, R_ANKLE))
    }

    axis, view = _progression_axis(points, hip, ok, size)
    if axis is None:
        return events
    events.view = view
    width = max(int(round(fps * 0.1)), 1)
    distance = max(int(round(2 * MIN_STEP_S * fps)), 1)
    for start, stop in _runs(ok):
        if stop - start < distance:
            continue
        seg = slice(start, stop)
        seg_size = _smooth(size[seg], 5 * width)
        for side in ("left", "right"):
            if view == "side":
                hs, to = _zeni(strike_pt[side][seg], off_pt[side][seg], hip[seg], axis, seg_size, width, distance)
            else:
                hs, to = _foot_contact(strike_pt[side][seg], off_pt[side][seg], seg_size, width, distance)
            events.heel_strikes[side] += [int(i + start) for i in hs]
            events.toe_offs[side] += [int(i + start) for i in to]
    return events


def _denoise(x: np.ndarray, width: int) -> np.ndarray:
    """Median filter (drops single-frame outliers) then a moving average."""
    k = 2 * width + 1
    if x.shape[0] >= k:
        x = median_filter_nearest(x, k)
    if x.ndim == 1:
        return _smooth(x, width)
    return np.stack([_smooth(x[:, i], width) for i in range(x.shape[1])], axis=1)


def _zeni(
    strike: np.ndarray, off: np.ndarray, hip: np.ndarray, axis: np.ndarray, size: np.ndarray, width: int, distance: int
) -> tuple[np.ndarray, np.ndarray]:
    fwd = _denoise(((strike - hip) @ axis) / size, width)
    back = _denoise(((off - hip) @ axis) / size, width)
    hs = find_peaks(fwd, distance=distance, prominence=max(MIN_EXCURSION, 0.3 * float(np.ptp(fwd))))
    to = find_peaks(-back, distance=distance, prominence=max(MIN_EXCURSION, 0.3 * float(np.ptp(back))))
    return hs, to


def _foot_contact(
    strike: np.ndarray, off: np.ndarray, size: np.ndarray, width: int, distance: int
) -> tuple[np.ndarray, np.ndarray]:
    min_stance = max(int(round(0.4 * distance)), 2)  # 0.2 s at 30 Hz

    def speed(xy: np.ndarray) -> np.ndarray:
        sm = _denoise(xy, width)
        v = np.zeros(len(sm))
        v[1:-1] = np.linalg.norm(sm[2:] - sm[:-2], axis=1) / 2
        v[0], v[-1] = v[1], v[-2]
        speed_norm: np.ndarray = v / size
        return speed_norm

    def transitions(v: np.ndarray) -> tuple[list[int], list[int]]:
        moving_level = float(np.percentile(v, 90))
        if moving_level < MIN_FOOT_SPEED:
            return [], []  # the foot never really moves: no steps
        still = v < STILL_FRACTION * moving_level
        landings, lifts = [], []
        for a, b in _runs(still):
            if b - a < min_stance:  # stance is ~60% of a cycle; a brief stop mid-swing is projection
                continue
            if a > 0 and v[max(a - distance // 2, 0) : a].max() > 0.5 * moving_level:
                landings.append(a)
            if b < len(v) and v[b : b + distance // 2].max() > 0.5 * moving_level:
                lifts.append(b - 1)
        return landings, lifts

    hs, _ = transitions(speed(strike))
    _, to = transitions(speed(off))
    return np.array(hs, dtype=int), np.array(to, dtype=int)


def _foot(kp: np.ndarray, points: np.ndarray, foot_joint: int, ankle: int, have_feet: bool) -> np.ndarray:
    """Heel/toe where present, ankle otherwise (y up)."""
    ankle_xy = points[:, ankle]
    if not have_feet:
        return ankle_xy
    foot = kp[:, foot_joint, :2] * np.array([1.0, -1.0])
    return np.where(np.isfinite(foot), foot, ankle_xy)


def _progression_axis(
    points: np.ndarray, hip: np.ndarray, ok: np.ndarray, size: np.ndarray
) -> tuple[np.ndarray | None, View]:
    """Unit vector (y-up image frame) pointing the way the subject walks, and the view."""
    idx = np.flatnonzero(ok)
    sep = (points[idx, L_ANKLE] - points[idx, R_ANKLE]) / size[idx, None]
    sep = sep - sep.mean(axis=0)
    evals, evecs = np.linalg.eigh(sep.T @ sep)
    if evals[-1] <= 0:
        return None, "unknown"
    axis = evecs[:, -1]
    if abs(axis[0]) >= abs(axis[1]):
        travel = float((hip[idx[-1]] - hip[idx[0]]) @ axis) / float(np.median(size[idx]))
        if abs(travel) > 0.1:
            sign = np.sign(travel)
        else:  # walking on the spot (treadmill): the nose points forward
            face = points[idx, NOSE, 0] - 0.5 * (points[idx, L_EAR, 0] + points[idx, R_EAR, 0])
            sign = np.sign(np.nanmedian(face) * axis[0]) if np.any(np.isfinite(face)) else 1.0
        return axis * (sign or 1.0), "side"
    # Toward the camera the body grows and the nearer foot sits lower in the image.
    half = len(idx) // 2
    growing = bool(np.median(size[idx[half:]]) >= np.median(size[idx[:half]])) if half else True
    down = -np.sign(axis[1])  # sign that turns the axis to point down the image
    return axis * (down if growing else -down), "frontal"


MOTION_REASONS = {
    "running": "running, not walking (the protocol is walking)",
    "standing": "standing still, swaying or jumping in place, not walking",
    "irregular": "no regular walking stride",
    "no_body": "keypoints not consistent with a body",
}
"""The window-quality reason for each motion the walking gate refuses (``WalkingVerdict.reason`` has the
measurements)."""


class WindowQuality(BaseModel):
    """Is this window worth screening? Each reason is a plain sentence. ``motion``: what the walking gate
    (:func:`~scoligait_edge.kinematics.walking.assess_walking`) saw."""

    walking: bool
    motion: Motion = "walking"
    whole_body_visible: bool
    enough_cycles: bool
    n_cycles: int
    n_steps: int
    cadence_spm: float | None
    valid_fraction: float
    reasons: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.walking and self.whole_body_visible and self.enough_cycles


def assess_window(
    valid: np.ndarray,
    events: GaitEvents,
    start: int,
    stop: int,
    *,
    min_valid_fraction: float = 0.9,
    min_cycles: int = 1,
    keypoints: np.ndarray | None = None,
) -> WindowQuality:
    """Quality verdict for frames ``[start, stop)`` from the map's validity, the events and the walking gate.

    The gate judges the window's own keypoints: ``keypoints`` is the whole sequence the events index (30 Hz
    grid); it is computed here, once per window, and only where a window is judged."""
    frac = float(np.mean(valid[start:stop])) if stop > start else 0.0
    steps = [f for f, _ in events.all_heel_strikes() if start <= f < stop]
    cycles = events.complete_cycles(start, stop)
    sub = GaitEvents(
        heel_strikes={s: [f for f in events.heel_strikes[s] if start <= f < stop] for s in ("left", "right")},
        fps=events.fps,
        n_frames=stop - start,
    )
    if keypoints is None:
        raise ValueError("assess_window needs the keypoints the events were detected on (the walking gate reads them)")
    gate = assess_walking(np.asarray(keypoints)[start:stop], events.fps)
    walking = len(steps) >= 2 and gate.walking
    reasons = []
    if len(steps) < 2:
        reasons.append("no walking detected (fewer than two steps in the window)")
    elif not gate.walking:
        reasons.append(MOTION_REASONS[gate.motion])
    if frac < min_valid_fraction:
        reasons.append(f"whole body visible in only {frac:.0%} of the frames (need {min_valid_fraction:.0%})")
    if cycles < min_cycles:
        reasons.append(f"{cycles} complete gait cycle(s) in the window (need {min_cycles})")
    return WindowQuality(
        walking=walking,
        motion=gate.motion,
        whole_body_visible=frac >= min_valid_fraction,
        enough_cycles=cycles >= min_cycles,
        n_cycles=cycles,
        n_steps=len(steps),
        cadence_spm=sub.cadence(),
        valid_fraction=frac,
        reasons=reasons,
    )
