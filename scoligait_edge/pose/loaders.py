"""Pose sequences on disk: our ``.npz``, Scoliosis1K-Pose arrays and pickles, OpenPose JSON.

Every format is converted to one in-memory form, :class:`PoseSequence`
(COCO-17 or COCO-21 ``[T, J, 3]`` in pixels, missing joints NaN with score 0),
and every malformed file raises :class:`PoseFileError` naming the file and the
problem, so a bad dataset fails at load time rather than as NaNs downstream.
Pickles can execute code when loaded, so they are read only on explicit request.
"""

from __future__ import annotations

import json
import logging
import math
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from scoligait_edge.core.constants import DEFAULT_FPS
from scoligait_edge.core.skeleton import L_HIP, NUM_COCO, NUM_COCO_FEET, R_HIP
from scoligait_edge.errors import KeypointError, PoseFileError, ScoliGaitError, TimestampError

log = logging.getLogger(__name__)

Layout = Literal["coco17", "coco21"]
_SCORE_TOLERANCE = 1e-3  # some estimators emit 1.0000001; beyond this it is a wrong file

# COCO-21 joint -> OpenPose BODY_25 index (COCO-17, then heels and big toes).
BODY25_FOR_COCO21: tuple[int, ...] = (
    0,
    16,
    15,
    18,
    17,
    5,
    2,
    6,
    3,
    7,
    4,
    12,
    9,
    13,
    10,
    14,
    11,
    21,
    24,
    19,
    22,
)
# COCO-17 joint -> OpenPose COCO-18 index (18 points, neck at 1).
COCO18_FOR_COCO17: tuple[int, ...] = (0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10)


def _normalise_keypoints(kp: np.ndarray) -> np.ndarray:
    """Missing = NaN x, y and score 0; scores must lie in [0, 1]."""
    if kp.ndim != 3 or kp.shape[2] != 3 or kp.shape[1] not in (NUM_COCO, NUM_COCO_FEET):
        raise KeypointError(f"keypoints must be [T, 17 or 21, 3], got {list(kp.shape)}")
    if kp.shape[0] == 0:
        raise KeypointError("keypoints hold no frames")
    kp = np.array(kp, dtype=np.float64, copy=True)
    xy, score = kp[..., :2], kp[..., 2]
    missing = ~np.isfinite(xy).all(axis=-1)
    bad_score = ~np.isfinite(score) & ~missing
    if bad_score.any():
        t, j = np.argwhere(bad_score)[0]
        raise KeypointError(f"non-finite score at frame {t}, joint {j} where x, y are given")
    score[missing] = 0.0
    lo, hi = float(score.min()), float(score.max())
    if lo < -_SCORE_TOLERANCE or hi > 1.0 + _SCORE_TOLERANCE:
        raise KeypointError(
            f"scores must lie in [0, 1], found [{lo:.3g}, {hi:.3g}] (is the third channel "
            "a confidence? heatmap or visibility flags 0/1/2 need converting first)"
        )
    np.clip(score, 0.0, 1.0, out=score)
    xy[missing | (score == 0.0)] = np.nan
    return kp


class PoseSequence(BaseModel):
    """One person's keypoints over time, ready for gait analysis.

    ``keypoints``: float64 ``[T, J, 3]`` (x px, y px, score), J = 17 (``coco17``)
    or 21 (``coco21``, with heels and toes). ``timestamps_ms``: float64 ``[T]``,
    strictly increasing. ``fps``: nominal frame rate when known. ``source``: where
    it came from (a file or video path). Construction normalises missing joints
    (non-finite x/y -> NaN, score 0) and raises KeypointError / TimestampError.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    keypoints: np.ndarray
    timestamps_ms: np.ndarray
    fps: float | None = None
    source: str = ""
    layout: Layout | None = None

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            for err in exc.errors():
                cause = (err.get("ctx") or {}).get("error")
                if isinstance(cause, ScoliGaitError):
                    raise cause from None
            raise KeypointError(f"invalid PoseSequence: {exc}") from exc

    @field_validator("keypoints", mode="before")
    @classmethod
    def _keypoints(cls, v: Any) -> np.ndarray:
        return _normalise_keypoints(np.asarray(v, dtype=np.float64))

    @field_validator("timestamps_ms", mode="before")
    @classmethod
    def _timestamps(cls, v: Any) -> np.ndarray:
        ts = np.array(v, dtype=np.float64, copy=True)
        if ts.ndim != 1:
            raise TimestampError(f"timestamps_ms must be [T], got {list(ts.shape)}")
        if not np.isfinite(ts).all():
            raise TimestampError("timestamps_ms contain NaN or infinity")
        if ts.size > 1 and not (np.diff(ts) > 0).all():
            i = int(np.argmax(~(np.diff(ts) > 0)))
            raise TimestampError(f"timestamps_ms must strictly increase: {ts[i]:g} then {ts[i + 1]:g} at index {i + 1}")
        return ts

    @field_validator("fps", mode="before")
    @classmethod
    def _fps(cls, v: object) -> float | None:
        from scoligait_edge.core.constants import check_fps

        return None if v is None else check_fps(v)  # FrameRateError: bools, strings, NaN, 1e-9 ...

    @model_validator(mode="after")
    def _consistent(self) -> PoseSequence:
        t, j = self.keypoints.shape[:2]
        if self.timestamps_ms.shape[0] != t:
            raise TimestampError(f"{self.timestamps_ms.shape[0]} timestamps for {t} frames")
        expected: Layout = "coco21" if j == NUM_COCO_FEET else "coco17"
        if self.layout is None:
            self.layout = expected
        elif self.layout != expected:
            raise KeypointError(f"layout {self.layout!r} does not match {j} joints")
        return self

    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[0])

    @classmethod
    def from_frames(cls, keypoints: np.ndarray, *, fps: float = DEFAULT_FPS, source: str = "") -> PoseSequence:
        """Sequence from keypoints alone, timestamps at ``fps`` from 0."""
        from scoligait_edge.core.constants import check_fps

        fps = check_fps(fps)
        t = np.asarray(keypoints).shape[0] if np.ndim(keypoints) else 0
        return cls(keypoints=keypoints, timestamps_ms=np.arange(t) * (1000.0 / fps), fps=fps, source=source)


# -- files -----------------------------------------------------------------


def _wrap(path: Path, what: str, make: Callable[[], PoseSequence]) -> PoseSequence:
    """Build a sequence, turning its validation errors into PoseFileError naming the file."""
    try:
        return make()
    except (KeypointError, TimestampError) as exc:
        raise PoseFileError(f"{path}: {what}: {exc}") from exc


def save_pose_sequence(path: str | Path, seq: PoseSequence) -> Path:
    """Write ``seq`` to our ``.npz`` format (suffix added if missing); returns the path."""
    p = Path(path).expanduser()
    if p.suffix != ".npz":
        p = p.with_name(p.name + ".npz")
    p.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        p,
        keypoints=seq.keypoints,
        timestamps_ms=seq.timestamps_ms,
        layout=np.array(seq.layout),
        fps=np.array(np.nan if seq.fps is None else seq.fps),
        source=np.array(seq.source),
    )
    return p


def _load_npz(path: Path) -> PoseSequence:
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except ValueError as exc:  # object arrays need pickle: refuse
        raise PoseFileError(f"{path}: holds object arrays, which need pickle; refusing ({exc})") from exc
    except Exception as exc:
        raise PoseFileError(f"{path}: not a readable .npz file ({exc})") from exc
    missing = {"keypoints", "timestamps_ms"} - data.keys()
    if missing:
        raise PoseFileError(f"{path}: missing key(s) {sorted(missing)}; found {sorted(data)}")
    fps = float(data["fps"]) if "fps" in data and data["fps"].size == 1 else math.nan
    layout = str(data["layout"]) if "layout" in data else None
    source = str(data["source"]) if "source" in data and str(data["source"]) else str(path)
    return _wrap(
        path,
        "bad contents",
        lambda: PoseSequence(
            keypoints=data["keypoints"],
            timestamps_ms=data["timestamps_ms"],
            fps=fps if math.isfinite(fps) else None,
            source=source,
            layout=layout,
        ),
    )


def _from_array(path: Path, arr: Any, fps: float, what: str) -> PoseSequence:
    arr = np.asarray(arr)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise PoseFileError(f"{path}: expected a numeric [T, 17, 3] array, got dtype {arr.dtype}")
    if arr.ndim != 3 or arr.shape[1:] not in ((NUM_COCO, 3), (NUM_COCO_FEET, 3)):
        hint = ""
        if arr.ndim == 3 and arr.shape[1:] == (64, 64):
            hint = " ([T, 64, 64] looks like Scoliosis1K silhouettes, not poses)"
        raise PoseFileError(f"{path}: expected a [T, 17, 3] (x, y, score) array, got {list(arr.shape)}{hint}")
    return _wrap(path, what, lambda: PoseSequence.from_frames(arr, fps=fps, source=str(path)))


def _load_npy(path: Path, fps: float) -> PoseSequence:
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise PoseFileError(f"{path}: holds an object array, which needs pickle; refusing ({exc})") from exc
    except Exception as exc:
        raise PoseFileError(f"{path}: not a readable .npy file ({exc})") from exc
    return _from_array(path, arr, fps, "bad Scoliosis1K-Pose array")


def _load_pickle(path: Path, fps: float) -> PoseSequence:
    try:
        with path.open("rb") as f:
            obj = pickle.load(f)  # noqa: S301 - only with allow_pickle=True from the caller
    except Exception as exc:
        raise PoseFileError(f"{path}: cannot unpickle ({type(exc).__name__}: {exc})") from exc
    if isinstance(obj, dict):
        key = next((k for k in ("keypoints", "keypoint", "pose", "kpts") if k in obj), None)
        if key is None:
            keys = sorted(map(str, obj))
            raise PoseFileError(f"{path}: pickle holds a dict without keypoints (keys {keys})")
        obj = obj[key]
    return _from_array(path, obj, fps, "bad Scoliosis1K-Pose pickle")


# -- OpenPose JSON directory ----------------------------------------------------


def _frame_number(path: Path) -> int:
    numbers = re.findall(r"\d+", path.stem)
    if not numbers:
        raise PoseFileError(f"{path}: no frame number in the file name")
    return int(numbers[-1])


def _openpose_people(path: Path) -> list[np.ndarray]:
    """Each person's flat (x, y, c) list as an ``[N, 3]`` array."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoseFileError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("people"), list):
        raise PoseFileError(f"{path}: no 'people' list (is this an OpenPose keypoints file?)")
    people = []
    for k, person in enumerate(data["people"]):
        flat = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
        try:
            arr = np.asarray(flat, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise PoseFileError(f"{path}: person {k}: pose_keypoints_2d is not a list of numbers") from exc
        if arr.ndim != 1 or arr.size == 0 or arr.size % 3:
            raise PoseFileError(f"{path}: person {k}: pose_keypoints_2d must hold x, y, c triples")
        people.append(arr.reshape(-1, 3))
    return people


def _to_coco(points: np.ndarray, path: Path) -> np.ndarray:
    n = points.shape[0]
    if n == 25:
        kp = points[list(BODY25_FOR_COCO21)].copy()
    elif n == 18:
        kp = points[list(COCO18_FOR_COCO17)].copy()
    else:
        raise PoseFileError(f"{path}: {n} keypoints per person; expected 25 (BODY_25) or 18 (COCO-18)")
    kp[kp[:, 2] <= 0] = (np.nan, np.nan, 0.0)  # OpenPose writes 0, 0, 0 for a missing joint
    return kp


def _hip_center(kp: np.ndarray) -> np.ndarray | None:
    hips = kp[[L_HIP, R_HIP], :2]
    ok = np.isfinite(hips).all(axis=1)
    return hips[ok].mean(axis=0) if ok.any() else None


def _pick_person(candidates: list[np.ndarray], previous_hip: np.ndarray | None) -> np.ndarray:
    """Nearest hip centre to the previous choice; without one, the most confident person."""
    if previous_hip is not None:
        dists = []
        for kp in candidates:
            hip = _hip_center(kp)
            dists.append(math.inf if hip is None else float(np.linalg.norm(hip - previous_hip)))
        if math.isfinite(min(dists)):
            return candidates[int(np.argmin(dists))]
    return max(candidates, key=lambda kp: float(kp[:, 2].mean()))


def _load_openpose_dir(path: Path, fps: float) -> PoseSequence:
    files = sorted(path.glob("*.json"))
    if not files:
        raise PoseFileError(f"{path}: directory holds no .json files (OpenPose keypoints expected)")
    numbered = sorted((_frame_number(f), f) for f in files)
    numbers = [n for n, _ in numbered]
    if len(set(numbers)) != len(numbers):
        dup = next(n for n in numbers if numbers.count(n) > 1)
        raise PoseFileError(f"{path}: two files carry frame number {dup}")
    num_joints: int | None = None
    frames: list[np.ndarray | None] = []
    previous_hip: np.ndarray | None = None
    for _, f in numbered:
        people = [_to_coco(p, f) for p in _openpose_people(f)]
        if people:
            if num_joints is not None and people[0].shape[0] != num_joints:
                raise PoseFileError(f"{f}: keypoint layout differs from earlier frames")
            num_joints = people[0].shape[0]
            chosen = _pick_person(people, previous_hip)
            previous_hip = _hip_center(chosen) if _hip_center(chosen) is not None else previous_hip
            frames.append(chosen)
        else:
            frames.append(None)
    if num_joints is None:
        raise PoseFileError(f"{path}: no person in any of the {len(files)} frames")
    empty = np.full((num_joints, 3), np.nan)
    empty[:, 2] = 0.0
    kp = np.stack([empty if f is None else f for f in frames])
    ts = (np.asarray(numbers, dtype=np.float64) - numbers[0]) * (1000.0 / fps)
    return _wrap(
        path, "bad OpenPose keypoints", lambda: PoseSequence(keypoints=kp, timestamps_ms=ts, fps=fps, source=str(path))
    )


def load_pose_sequence(path: str | Path, *, fps: float | None = None, allow_pickle: bool = False) -> PoseSequence:
    """Load a pose sequence, choosing the reader by what ``path`` is.

    - ``.npz``: our format (see :func:`save_pose_sequence`);
    - ``.npy``: a Scoliosis1K-Pose style ``[T, 17, 3]`` (x, y, score) array;
    - a directory: OpenPose per-frame JSON (BODY_25 or COCO-18), ordered by the
      frame number in the file names; one person is followed across frames;
    - ``.pkl``: a Scoliosis1K-Pose pickle, only with ``allow_pickle=True``
      (unpickling runs code from the file: only for files you trust).

    ``fps`` (default 30) sets the timestamps of formats that carry none.
    """
    p = Path(path).expanduser()
    rate = DEFAULT_FPS if fps is None else float(fps)
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"fps must be a positive number, got {fps}")
    if not p.exists():
        raise PoseFileError(f"Pose file not found: {p}")
    if p.is_dir():
        seq = _load_openpose_dir(p, rate)
    elif p.suffix == ".npz":
        seq = _load_npz(p)
    elif p.suffix == ".npy":
        seq = _load_npy(p, rate)
    elif p.suffix in (".pkl", ".pickle"):
        if not allow_pickle:
            raise PoseFileError(
                f"{p}: refusing to unpickle: pickles can run arbitrary code when loaded. "
                "If you trust this file (e.g. Scoliosis1K-Pose), pass allow_pickle=True."
            )
        seq = _load_pickle(p, rate)
    else:
        raise PoseFileError(
            f"{p}: unknown pose file type {p.suffix!r}; expected .npz, .npy, .pkl or a "
            "directory of OpenPose .json files"
        )
    log.debug("Loaded %d frames (%s) from %s", seq.num_frames, seq.layout, p)
    return seq
