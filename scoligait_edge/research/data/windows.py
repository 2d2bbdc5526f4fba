"""Preprocessed clips and the fixed-length windows the model trains on.

A clip is preprocessed once (pose -> 30 Hz keypoints -> knowledge map, gait
events, silhouettes on the same 30 Hz grid) into a :class:`ProcessedClip`;
that is what the on-disk cache stores. Windows are cut from it on demand, so
changing the window length, hop or quality rule never invalidates the cache.

A :class:`WindowSample` is one 96-frame window: the knowledge map rows, their
validity, the silhouettes of the same frames (row t of each describes the same
instant, which is what the model's aligned positions assume), the label and
who/where it came from. Its arrays are read-only *views* of the clip's arrays:
overlapping windows share memory; copy before modifying.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from scoligait_edge.core.constants import COBB_THRESHOLD_DEG, MAP_FPS, SIL_SHAPE, WINDOW_FRAMES, WINDOW_HOP
from scoligait_edge.core.schema import NUM_FEATURES
from scoligait_edge.kinematics.builder import build_knowledge_map
from scoligait_edge.kinematics.events import GaitEvents, assess_window, detect_gait_events
from scoligait_edge.kinematics.resample import resample_keypoints, window_starts
from scoligait_edge.video.silhouette import nearest_frames

log = logging.getLogger(__name__)


Sex = Literal["F", "M"]
SplitName = Literal["train", "val", "test"]


def label_from_cobb(cobb_deg: float) -> int:
    """1 when ``cobb_deg >= 10`` (refer), else 0."""
    return int(cobb_deg >= COBB_THRESHOLD_DEG)


class ClipRecord(BaseModel):
    """What is known about one preprocessed clip besides its arrays (stored in its cache file).

    ``label`` is the binary screening label (Cobb >= 10 deg -> 1); when it is
    None it is derived from ``cobb_deg``. ``sconet_class`` is Scoliosis1K's
    3-class label (0 positive, 1 neutral, 2 negative) when the source has one.
    ``first_frame``: windows start at or after this 30 Hz frame (the simulator
    adds a lead-in so the map's trailing windows are warm when the clip proper
    begins). ``events`` are gait events on the 30 Hz grid, None without a pose.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    clip_id: str = Field(min_length=1)
    subject_id: str = Field(min_length=1)
    split: SplitName | None = None
    provenance: str = Field(description="'simulated' or the dataset's name, e.g. 'ScoliGaitFolder', 'Scoliosis1K'.")
    source: str = ""
    cobb_deg: float | None = Field(default=None, ge=0.0, le=180.0)
    label: int | None = Field(default=None, ge=0, le=1)
    sconet_class: int | None = Field(default=None, ge=0, le=2)
    sex: Sex | None = None
    age: float | None = Field(default=None, ge=0.0, le=120.0)
    fps_in: float | None = Field(default=None, gt=0)
    n_frames: int = Field(ge=0, description="Rows on the 30 Hz grid.")
    first_frame: int = Field(default=0, ge=0)
    has_pose: bool = True
    has_silhouettes: bool = False
    events: GaitEvents | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    @property
    def binary_label(self) -> int:
        if self.label is not None:
            return int(self.label)
        if self.cobb_deg is None:
            raise ValueError(f"clip {self.clip_id}: neither a label nor a Cobb angle")
        return label_from_cobb(self.cobb_deg)


def _readonly(a: np.ndarray | None) -> np.ndarray | None:
    if a is not None:
        a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class ProcessedClip:
    """One clip on the 30 Hz grid: map, validity, timestamps, keypoints, silhouettes.

    ``km`` float32 ``[T, 238]``; ``km_valid`` bool ``[T]``; ``timestamps_ms``
    float64 ``[T]``; ``keypoints`` float32 ``[T, J, 3]`` (NaN where missing) or
    None; ``silhouettes`` uint8 ``[T, 64, 44]`` or None with
    ``silhouettes_valid`` bool ``[T]``. Arrays are made read-only.
    """

    record: ClipRecord
    km: np.ndarray
    km_valid: np.ndarray
    timestamps_ms: np.ndarray
    keypoints: np.ndarray | None = None
    silhouettes: np.ndarray | None = None
    silhouettes_valid: np.ndarray | None = None

    ARRAY_KEYS: ClassVar[tuple[str, ...]] = (
        "km",
        "km_valid",
        "timestamps_ms",
        "keypoints",
        "silhouettes",
        "silhouettes_valid",
    )

    def __post_init__(self) -> None:
        t = self.record.n_frames
        cid = self.record.clip_id

        def check(name: str, a: np.ndarray | None, dtype: Any, tail: tuple[int, ...] | None) -> None:
            if a is None:
                return
            if a.dtype != dtype or a.shape[0] != t or (tail is not None and a.shape[1:] != tail):
                raise ValueError(
                    f"clip {cid}: {name} must be {np.dtype(dtype).name} [{t}{''.join(f', {d}' for d in tail or ())}]"
                    f", got {a.dtype} {list(a.shape)}"
                )

        check("km", self.km, np.float32, (NUM_FEATURES,))
        check("km_valid", self.km_valid, np.bool_, ())
        check("timestamps_ms", self.timestamps_ms, np.float64, ())
        if self.keypoints is not None:
            check("keypoints", self.keypoints, np.float32, None)
            if self.keypoints.ndim != 3 or self.keypoints.shape[2] != 3:
                raise ValueError(f"clip {cid}: keypoints must be [T, J, 3], got {list(self.keypoints.shape)}")
        check("silhouettes", self.silhouettes, np.uint8, SIL_SHAPE)
        if (self.silhouettes is None) != (self.silhouettes_valid is None):
            raise ValueError(f"clip {cid}: silhouettes and silhouettes_valid come together")
        check("silhouettes_valid", self.silhouettes_valid, np.bool_, ())
        if self.record.has_silhouettes != (self.silhouettes is not None):
            raise ValueError(f"clip {cid}: record.has_silhouettes disagrees with the arrays")
        for name in self.ARRAY_KEYS:
            _readonly(getattr(self, name))

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays that are present, by name (for saving)."""
        return {k: getattr(self, k) for k in self.ARRAY_KEYS if getattr(self, k) is not None}

    @classmethod
    def from_arrays(cls, record: ClipRecord, arrays: dict[str, np.ndarray]) -> ProcessedClip:
        known = set(cls.ARRAY_KEYS)
        return cls(record=record, **{k: v for k, v in arrays.items() if k in known})

    def with_record(self, **update: Any) -> ProcessedClip:
        """Same arrays, record fields replaced (e.g. labels re-read from a CSV)."""
        return ProcessedClip(record=self.record.model_copy(update=update), **self.arrays())


def preprocess_clip(
    record: ClipRecord,
    keypoints: np.ndarray | None,
    timestamps_ms: np.ndarray,
    *,
    silhouettes: np.ndarray | None = None,
    silhouettes_valid: np.ndarray | None = None,
    silhouette_timestamps_ms: np.ndarray | None = None,
) -> ProcessedClip:
    """Put one clip on the 30 Hz grid and compute its map and events.

    ``keypoints`` ``[N, 17|21, 3]`` (pixels, score) at ``timestamps_ms`` (any
    rate, drops allowed) are resampled to 30 Hz; the grid starts at the first
    timestamp. ``None`` (silhouettes only, e.g. Scoliosis1K without poses)
    gives an all-invalid zero map. ``silhouettes`` ``[M, 64, 44]`` at
    ``silhouette_timestamps_ms`` (default ``timestamps_ms``) are mapped to the
    grid by nearest frame; grid rows with no close frame, or whose frame has
    ``silhouettes_valid`` False, get zeros and invalid.
    ``record.n_frames`` / ``has_pose`` / ``has_silhouettes`` / ``events`` are filled in here.
    """
    ts = np.asarray(timestamps_ms, dtype=np.float64).reshape(-1)
    kp30, grid, values, valid, events = _pose_on_grid(record, keypoints, ts)
    t = grid.shape[0]
    sil30 = sil_ok = None
    if silhouettes is not None:
        sil30, sil_ok = _silhouettes_on_grid(record, silhouettes, silhouettes_valid, silhouette_timestamps_ms, ts, grid)

    rec = record.model_copy(
        update={
            "n_frames": t,
            "has_pose": keypoints is not None,
            "has_silhouettes": sil30 is not None,
            "events": events,
        }
    )
    return ProcessedClip(
        record=rec,
        km=np.ascontiguousarray(values, np.float32),
        km_valid=np.asarray(valid, bool),
        timestamps_ms=np.asarray(grid, np.float64),
        keypoints=kp30,
        silhouettes=sil30,
        silhouettes_valid=sil_ok,
    )


def _pose_on_grid(
    record: ClipRecord, keypoints: np.ndarray | None, ts: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray, GaitEvents | None]:
    """Keypoints resampled to the map's grid, the grid's timestamps, the map's values and validity, and the gait
    events; without keypoints, the grid alone with an all-invalid zero map and no events."""
    if keypoints is not None:
        kp30, grid = resample_keypoints(keypoints, ts, rate_hz=MAP_FPS)
        km = build_knowledge_map(kp30, MAP_FPS)  # already on the grid: no second resampling
        events = detect_gait_events(kp30, MAP_FPS)
        return kp30.astype(np.float32), grid, km.values, km.valid, events
    if ts.size > 1 and np.any(np.diff(ts) <= 0):
        raise ValueError(f"clip {record.clip_id}: timestamps must increase strictly")
    n = int(np.floor((ts[-1] - ts[0]) * MAP_FPS / 1000.0 + 1e-6)) + 1 if ts.size else 0
    grid = ts[0] + np.arange(n) * (1000.0 / MAP_FPS) if ts.size else np.zeros(0)
    return None, grid, np.zeros((n, NUM_FEATURES), np.float32), np.zeros(n, bool), None


def _silhouettes_on_grid(
    record: ClipRecord,
    silhouettes: np.ndarray,
    silhouettes_valid: np.ndarray | None,
    silhouette_timestamps_ms: np.ndarray | None,
    ts: np.ndarray,
    grid: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Silhouettes (at their own timestamps, default the clip's ``ts``) on the grid by nearest frame, and which
    grid rows have one; rows with no close frame or an invalid one (by default: an empty silhouette) get zeros."""
    t = grid.shape[0]
    sil = np.asarray(silhouettes)
    if sil.dtype != np.uint8 or sil.ndim != 3 or sil.shape[1:] != SIL_SHAPE:
        raise ValueError(
            f"clip {record.clip_id}: silhouettes must be uint8 [N, 64, 44], got {sil.dtype} {list(sil.shape)}"
        )
    sil_ts = ts if silhouette_timestamps_ms is None else np.asarray(silhouette_timestamps_ms, np.float64)
    if sil_ts.shape[0] != sil.shape[0]:
        raise ValueError(f"clip {record.clip_id}: {sil.shape[0]} silhouettes for {sil_ts.shape[0]} timestamps")
    frame_ok = (
        (sil.reshape(len(sil), -1).max(axis=1) > 0)
        if silhouettes_valid is None
        else np.asarray(silhouettes_valid, bool)
    )
    idx, close = nearest_frames(sil_ts, grid)
    sil_ok = close & frame_ok[idx] if len(sil) else np.zeros(t, bool)
    sil30 = sil[idx].copy() if len(sil) else np.zeros((t,) + SIL_SHAPE, np.uint8)
    sil30[~sil_ok] = 0
    return sil30, sil_ok


@dataclass(frozen=True, eq=False)
class WindowSample:
    """One model input window (see the module docstring: arrays are read-only views).

    ``km`` float32 ``[96, 238]``; ``km_valid`` bool ``[96]``; ``silhouettes``
    uint8 ``[96, 64, 44]`` or None, ``silhouettes_valid`` bool ``[96]`` or None;
    ``label`` 1 = Cobb >= 10 deg; ``cobb_deg`` NaN when unknown (Scoliosis1K);
    ``start``: first 30 Hz frame of the window in its clip; ``quality``: the
    window's :class:`~scoligait_edge.kinematics.WindowQuality` as a dict plus
    ``"ok"``, or None when the clip has no pose to judge it by.
    """

    km: np.ndarray
    km_valid: np.ndarray
    silhouettes: np.ndarray | None
    label: int
    cobb_deg: float
    subject_id: str
    clip_id: str
    start: int
    sex: Sex | None
    age: float | None
    provenance: str
    quality: dict[str, Any] | None
    silhouettes_valid: np.ndarray | None = None
    split: SplitName | None = None
    sconet_class: int | None = None

    @property
    def length(self) -> int:
        return int(self.km.shape[0])


def clip_windows(
    clip: ProcessedClip,
    *,
    length: int = WINDOW_FRAMES,
    hop: int = WINDOW_HOP,
    require_quality: bool = True,
    min_valid_fraction: float = 0.9,
    min_cycles: int = 1,
) -> list[WindowSample]:
    """Cut ``clip`` into windows of ``length`` frames every ``hop`` frames (from ``record.first_frame``).

    Each window's quality is judged with :func:`~scoligait_edge.kinematics.assess_window`
    (walking, by the walking gate too; whole body visible; at least one gait cycle), as the runtime
    does before it screens. ``require_quality=True`` keeps only windows whose
    verdict is ok; False keeps all and records the verdict in ``quality``.
    A clip without a pose has no verdict (``quality`` None): asking to require
    one is an error, not a silent empty result.
    """
    rec = clip.record
    if require_quality and not rec.has_pose:
        raise ValueError(
            f"clip {rec.clip_id} has no pose, so window quality cannot be judged; pass require_quality=False"
        )
    first = rec.first_frame
    cobb = math.nan if rec.cobb_deg is None else float(rec.cobb_deg)
    label = rec.binary_label
    out: list[WindowSample] = []
    for rel in window_starts(max(rec.n_frames - first, 0), length, hop):
        s = first + rel
        e = s + length
        quality: dict[str, Any] | None = None
        if rec.has_pose and rec.events is not None:
            q = assess_window(
                clip.km_valid,
                rec.events,
                s,
                e,
                min_valid_fraction=min_valid_fraction,
                min_cycles=min_cycles,
                keypoints=clip.keypoints,
            )
            if require_quality and not q.ok:
                continue
            quality = {**q.model_dump(), "ok": q.ok}
        out.append(_window_sample(clip, s, e, quality=quality, label=label, cobb=cobb))
    return out


def _window_sample(
    clip: ProcessedClip, s: int, e: int, *, quality: dict[str, Any] | None, label: int, cobb: float
) -> WindowSample:
    """Frames ``s:e`` of ``clip`` as one window (views of its arrays) with the clip's labels and subject."""
    rec = clip.record
    return WindowSample(
        km=clip.km[s:e],
        km_valid=clip.km_valid[s:e],
        silhouettes=None if clip.silhouettes is None else clip.silhouettes[s:e],
        silhouettes_valid=None if clip.silhouettes_valid is None else clip.silhouettes_valid[s:e],
        label=label,
        cobb_deg=cobb,
        subject_id=rec.subject_id,
        clip_id=rec.clip_id,
        start=s,
        sex=rec.sex,
        age=rec.age,
        provenance=rec.provenance,
        quality=quality,
        split=rec.split,
        sconet_class=rec.sconet_class,
    )


__all__ = [
    "COBB_THRESHOLD_DEG",
    "WINDOW_FRAMES",
    "WINDOW_HOP",
    "ClipRecord",
    "ProcessedClip",
    "Sex",
    "SplitName",
    "WindowSample",
    "clip_windows",
    "label_from_cobb",
    "preprocess_clip",
]
