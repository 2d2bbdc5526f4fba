"""Scoliosis1K in the OpenGait layout (silhouettes, optional poses) as a data source."""

from __future__ import annotations

import json
import logging
import math
import pickle
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from scoligait_edge.core.constants import SIL_CUT
from scoligait_edge.errors import DatasetError, ScoliGaitError, SplitLeakError
from scoligait_edge.research.data.cache import BuildSummary, ClipCache, stable_hash
from scoligait_edge.research.data.engines import ClipJob
from scoligait_edge.research.data.windows import (
    ClipRecord,
    ProcessedClip,
    SplitName,
    WindowSample,
    preprocess_clip,
)

if TYPE_CHECKING:
    pass
from scoligait_edge.research.data.source import WindowSource, file_key, source_root
from scoligait_edge.research.data.splits import make_splits

log = logging.getLogger(__name__)

T = TypeVar("T")


# -- Scoliosis1K --------------------------------------------------------------------------

S1K_CLASSES: tuple[str, ...] = ("positive", "neutral", "negative")
"""Scoliosis1K's classes in ScoNet's logit order (same as ``models.sconet.SCONET_CLASSES``)."""
S1K_BINARY: dict[str, int] = {"positive": 1, "neutral": 0, "negative": 0}
"""Binary label used by our screening model: only 'positive' is a referral (see :class:`Scoliosis1K`)."""
S1K_VIEW = "000_180"
S1K_VIEWS: tuple[str, ...] = ("000_180", "000-180")
"""View folders of the two published layouts: ``000_180/000_180.pkl`` (current) and ``000-180/000.pkl`` (older)."""
S1K_SILHOUETTE_SIZE = 64


@dataclass(frozen=True, eq=False)
class Scoliosis1KSequence:
    """One Scoliosis1K sequence for ScoNet: all frames, 3-class and binary labels.

    ``silhouettes`` uint8 ``[T, 64, 44]`` (already cut), ``keypoints`` float32
    ``[T, 17, 3]`` or None. ``subject_id`` equals ``seq_id``: Scoliosis1K
    sequence ids are not person ids.
    """

    seq_id: str
    subject_id: str
    split: SplitName | None
    class_name: str
    sconet_class: int
    label: int
    silhouettes: np.ndarray
    keypoints: np.ndarray | None
    source: str


def load_scoliosis1k_split(path: str | Path) -> dict[str, list[str]]:
    """Read a Scoliosis1K split file (JSON with ``TRAIN_SET`` and ``TEST_SET`` lists of
    sequence ids) -> ``{'train': [...], 'test': [...]}``; an id in both raises SplitLeakError."""
    p = Path(path).expanduser()
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise DatasetError(f"split file not found: {p}") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{p}: not a readable JSON file ({exc})") from exc
    if not isinstance(data, dict) or not {"TRAIN_SET", "TEST_SET"} <= set(data):
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise DatasetError(f"{p}: expected an object with TRAIN_SET and TEST_SET lists, got {keys}")
    out: dict[str, list[str]] = {}
    for key, name in (("TRAIN_SET", "train"), ("TEST_SET", "test")):
        ids = data[key]
        if not isinstance(ids, list) or not all(isinstance(i, (str, int)) for i in ids):
            raise DatasetError(f"{p}: {key} must be a list of sequence ids")
        ids = [str(i) for i in ids]
        dups = [i for i, n in Counter(ids).items() if n > 1]
        if dups:
            raise DatasetError(f"{p}: {key} lists {dups[:5]} more than once")
        out[name] = ids
    both = sorted(set(out["train"]) & set(out["test"]))
    if both:
        raise SplitLeakError(f"{p}: {len(both)} sequence id(s) in both TRAIN_SET and TEST_SET: {both[:5]}")
    return out


def _unpickle(path: Path) -> Any:
    # Pickles can run code when loaded; this is only ever called on files under the
    # Scoliosis1K root the user passed in, in the dataset's own published format.
    try:
        with path.open("rb") as f:
            return pickle.load(f)  # noqa: S301
    except Exception as exc:
        raise DatasetError(f"{path}: cannot unpickle ({type(exc).__name__}: {exc})") from exc


def load_scoliosis1k_silhouettes(path: Path) -> np.ndarray:
    """A Scoliosis1K silhouette pickle -> uint8 ``[T, 64, 64]`` (DatasetError naming the file otherwise)."""
    obj = _unpickle(path)
    arr = np.asarray(obj) if isinstance(obj, (np.ndarray, list, tuple)) else None
    if arr is None or arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise DatasetError(
            f"{path}: expected a uint8 [T, 64, 64] silhouette array, got {type(obj).__name__}"
            + ("" if arr is None else f" of dtype {arr.dtype}")
        )
    if arr.ndim != 3 or arr.shape[1:] != (S1K_SILHOUETTE_SIZE, S1K_SILHOUETTE_SIZE) or arr.shape[0] == 0:
        raise DatasetError(f"{path}: expected silhouettes [T, 64, 64], got shape {list(arr.shape)}")
    if arr.dtype != np.uint8:
        if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 255:
            raise DatasetError(f"{path}: silhouette values must lie in 0..255")
        arr = arr.astype(np.uint8)
    return arr


S1K_FRAME_INDEX_KEYS: tuple[str, ...] = ("frame_index", "frame_idx", "frame_ids", "frame_indices", "frames")
"""Keys of a dict pose pickle that hold the silhouette frame index of each pose frame."""
S1K_SCORE_CLIP_MAX = 1.5
"""ViTPose heatmap maxima overshoot 1 a little: up to this, scores > 1 are clipped to 1; beyond
it the file is on another scale (e.g. percent) and the sequence is divided by its max score."""


class SequenceAlignmentError(DatasetError):
    """Pose and silhouette frames of one Scoliosis1K sequence cannot be matched by frame index."""


def _pose_scores_to_unit(kp: np.ndarray, path: Path) -> np.ndarray:
    """Bring scores > 1 into [0, 1] with a warning (clip a small overshoot, else divide by the max)."""
    score = kp[..., 2]
    finite = np.isfinite(score)
    hi = float(score[finite].max()) if finite.any() else 0.0
    if hi <= 1.0:
        return kp
    kp = kp.copy()
    if hi <= S1K_SCORE_CLIP_MAX:
        np.minimum(kp[..., 2], 1.0, out=kp[..., 2], where=finite)
        log.warning("%s: pose scores up to %.3g > 1 (heatmap overshoot); clipped to 1", path, hi)
    else:
        kp[..., 2] = np.where(finite, score / hi, score)
        log.warning("%s: pose scores up to %.3g, not in [0, 1]; divided by the sequence's max", path, hi)
    return kp


def load_scoliosis1k_pose_frames(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """A Scoliosis1K-Pose pickle -> (float ``[N, 17, 3]`` (x, y, score), frame index ``[N]`` or None).

    The published pickles are plain ``[N, 17, 3]`` arrays with no frame index
    (frames without a detection are simply absent); a dict holding the array
    under ``keypoints`` and the silhouette frame of each row under one of
    :data:`S1K_FRAME_INDEX_KEYS` is also read, and then alignment is exact.
    Scores > 1 are brought into [0, 1] (see :data:`S1K_SCORE_CLIP_MAX`).
    """
    obj = _unpickle(path)
    index = None
    if isinstance(obj, dict):
        ikey = next((k for k in S1K_FRAME_INDEX_KEYS if k in obj), None)
        if ikey is not None:
            index = np.asarray(obj[ikey])
        key = next((k for k in ("keypoints", "keypoint", "pose", "kpts") if k in obj), None)
        obj = obj.get(key) if key else None
    arr = np.asarray(obj) if isinstance(obj, (np.ndarray, list, tuple)) else None
    if arr is None or arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise DatasetError(f"{path}: expected a [T, 17, 3] keypoint array, got {type(obj).__name__}")
    if arr.ndim != 3 or arr.shape[1:] != (17, 3) or arr.shape[0] == 0:
        raise DatasetError(f"{path}: expected keypoints [T, 17, 3] (x, y, score), got shape {list(arr.shape)}")
    if index is not None:
        if index.ndim != 1 or index.shape[0] != arr.shape[0] or not np.issubdtype(index.dtype, np.integer):
            raise SequenceAlignmentError(
                f"{path}: frame index must be {arr.shape[0]} integers (one per pose "
                f"frame), got {index.dtype} {list(index.shape)}"
            )
        if index[0] < 0 or np.any(np.diff(index) <= 0):
            raise SequenceAlignmentError(f"{path}: frame index must be non-negative and strictly increasing")
    return _pose_scores_to_unit(arr.astype(np.float64), path), index


def load_scoliosis1k_pose(path: Path, fps: float) -> np.ndarray:
    """A Scoliosis1K-Pose pickle -> float ``[T, 17, 3]`` (x, y, score), validated (DatasetError naming the file
    otherwise). Rows are pose frames as stored; use :func:`align_pose_to_silhouettes` to match silhouettes."""
    from scoligait_edge.errors import KeypointError
    from scoligait_edge.pose.loaders import PoseSequence

    arr, _ = load_scoliosis1k_pose_frames(path)
    try:
        return PoseSequence.from_frames(arr, fps=fps, source=str(path)).keypoints
    except (KeypointError, ScoliGaitError) as exc:
        raise DatasetError(f"{path}: bad keypoints ({exc})") from exc


def align_pose_to_silhouettes(
    kp: np.ndarray, index: np.ndarray | None, n_silhouettes: int, where: str = ""
) -> np.ndarray:
    """Pose rows -> ``[n_silhouettes, 17, 3]`` where row i belongs to silhouette frame i.

    With a frame index, each pose row goes to its frame and frames without a
    detection become missing (NaN, score 0). Without one, rows can be matched
    only when the counts agree: a shorter pose file has skipped frames at
    unknown places, and "the first n frames" would pair the wrong frames, so
    that raises :class:`SequenceAlignmentError` (the sequence is dropped).
    """
    if index is None:
        if kp.shape[0] != n_silhouettes:
            raise SequenceAlignmentError(
                f"{where}: {kp.shape[0]} pose frames vs {n_silhouettes} silhouettes and the pose file has no "
                "frame index; cannot tell which frames were skipped"
            )
        return kp
    if index.size and int(index[-1]) >= n_silhouettes:
        raise SequenceAlignmentError(
            f"{where}: pose frame index {int(index[-1])} beyond the {n_silhouettes} silhouettes"
        )
    out = np.full((n_silhouettes, kp.shape[1], 3), np.nan)
    out[..., 2] = 0.0
    out[index] = kp
    return out


class AlignmentCheck(BaseModel):
    """How pose frames are matched to silhouette frames and when a sequence is trusted (settings).

    OpenGait's preprocessing drops silhouette frames (too small a person) and pose frames (no
    detection) independently and keeps no frame index, so equal counts can pair the wrong frames
    and unequal counts hide where frames went. Both streams show the same body, so its SHAPE over
    time must agree: the silhouette's width / height against the pose's bounding-box width /
    height, and the silhouette's lower-body width against the spread of knees and ankles (both
    change with every step). ``min_r``: the mean Pearson r of those two signals that a match
    needs at the offset used, which must also be where the shapes agree best (within ``peak_width``
    frames). :func:`check_alignment` says what is kept, repaired (re-matched at another offset) and
    dropped; a frame index in the pose file is exact.
    The defaults were set on rendered sequences (tests/s1k_helpers.py); check the r distribution
    in the preprocessing summary on the real data before trusting them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    min_r: float = Field(default=0.4, gt=-1, lt=1, description="r at offset 0 that keeps equal counts")
    min_r_repair: float = Field(default=0.6, gt=-1, lt=1, description="r a re-match at another offset needs")
    peak_width: int = Field(default=2, ge=0, description="offsets this close to the best count as the same peak")
    max_lag: int = Field(default=15, ge=0, description="offsets tried beyond the count difference (frames)")
    max_unmatched: float = Field(default=0.2, ge=0, lt=1)
    min_score: float = Field(default=0.3, ge=0, le=1, description="keypoint score that counts as seen")


AlignmentStatus = Literal["kept", "indexed", "repaired"]


def silhouette_shape_signals(sil: np.ndarray) -> np.ndarray:
    """``[T, H, W]`` silhouettes -> ``[T, 2]``: width / height of the figure and its lower quarter's width
    / height (NaN where a frame is empty)."""
    fg = np.asarray(sil) > 127
    out = np.full((fg.shape[0], 3), np.nan)
    for t, m in enumerate(fg):
        rows = np.flatnonzero(m.any(axis=1))
        if rows.size < 4:
            continue
        h = float(rows[-1] - rows[0] + 1)
        cols = np.flatnonzero(m.any(axis=0))
        low = m[rows[-1] - int(h // 4) : rows[-1] + 1]
        lcols = np.flatnonzero(low.any(axis=0))
        out[t, :2] = ((cols[-1] - cols[0] + 1) / h, (lcols[-1] - lcols[0] + 1) / h if lcols.size else np.nan)
        if lcols.size >= 2:  # lowest pixel of the image-left half of the legs minus the image-right half's
            mid = (lcols[0] + lcols[-1] + 1) // 2
            left = np.flatnonzero(low[:, :mid].any(axis=1))
            right = np.flatnonzero(low[:, mid:].any(axis=1))
            if left.size and right.size:
                out[t, 2] = (left[-1] - right[-1]) / h
    return out


def pose_shape_signals(kp: np.ndarray, min_score: float = 0.3) -> np.ndarray:
    """``[T, 17, 3]`` COCO keypoints -> ``[T, 2]``: bounding-box width / height and the horizontal spread of
    knees and ankles / height (NaN where fewer than 10 joints, or no knee/ankle pair, are seen)."""
    k = np.asarray(kp, np.float64)
    seen = np.isfinite(k[..., :2]).all(-1) & (np.nan_to_num(k[..., 2]) >= min_score)
    out = np.full((k.shape[0], 3), np.nan)
    legs = [13, 14, 15, 16]  # COCO knees and ankles
    for t in range(k.shape[0]):
        if seen[t].sum() < 10:
            continue
        xy = k[t, seen[t], :2]
        h = float(np.ptp(xy[:, 1]))
        if h <= 0:
            continue
        lx = k[t, [j for j in legs if seen[t, j]], 0]
        out[t, :2] = (float(np.ptp(xy[:, 0])) / h, float(np.ptp(lx)) / h if lx.size >= 2 else np.nan)
        if seen[t, 15] and seen[t, 16]:  # the image-left ankle's height minus the image-right one's
            a, b = (15, 16) if k[t, 15, 0] <= k[t, 16, 0] else (16, 15)
            out[t, 2] = (k[t, a, 1] - k[t, b, 1]) / h
    return out


def _zscore(x: np.ndarray) -> np.ndarray:
    mu = np.nanmean(x, axis=0)
    sd = np.nanstd(x, axis=0)
    return (x - mu) / np.where(sd > 1e-9, sd, np.nan)


def signal_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over channels of Pearson r between paired rows of ``a`` and ``b`` ``[N, C]`` (NaN rows left out;
    NaN when no channel has 3 usable pairs or varies)."""
    rs = []
    for c in range(a.shape[1]):
        ok = np.isfinite(a[:, c]) & np.isfinite(b[:, c])
        if ok.sum() >= 3 and np.std(a[ok, c]) > 1e-9 and np.std(b[ok, c]) > 1e-9:
            rs.append(float(np.corrcoef(a[ok, c], b[ok, c])[0, 1]))
    return float(np.mean(rs)) if rs else float("nan")


def lag_agreement(pose_sig: np.ndarray, sil_sig: np.ndarray, offsets: range) -> dict[int, float]:
    """Shape agreement (:func:`signal_agreement`) when pose row i is silhouette frame i + offset, per offset."""
    out = {}
    for o in offsets:
        lo, hi = max(0, -o), min(pose_sig.shape[0], sil_sig.shape[0] - o)
        if hi - lo >= 8:
            out[o] = signal_agreement(pose_sig[lo:hi], sil_sig[lo + o : hi + o])
    return out


def check_alignment(
    kp: np.ndarray,
    index: np.ndarray | None,
    silhouettes: np.ndarray,
    check: AlignmentCheck,
    where: str = "",
) -> tuple[np.ndarray, dict[str, Any]]:
    """Pose rows -> ``[T_sil, 17, 3]`` matched to the silhouettes, and what was done (status, r, offset).

    With a frame index: matched by it (status 'indexed'). Otherwise the two streams' shape signals are
    compared at every offset (pose row i = silhouette frame i + offset) within ``check.max_lag`` of the
    count difference. Equal counts are kept when offset 0 agrees (r >= ``min_r``) and is where the
    shapes agree best (within ``peak_width``). Unequal counts are re-matched (status 'repaired';
    frames past either end become missing) at the best offset that only drops frames at the ends of
    the longer stream, when it is also where the shapes agree best and r >= ``min_r_repair``.
    Everything else raises :class:`SequenceAlignmentError` and the sequence is dropped. Frames lost in
    the middle of a sequence cannot be placed from the shape alone (a re-match that warps time found
    r > 0.9 for another person's poses: tried and rejected), so such sequences need a frame index.
    """
    n_sil, n_pose = silhouettes.shape[0], kp.shape[0]
    sil_sig = silhouette_shape_signals(silhouettes)
    pose_sig = pose_shape_signals(kp, check.min_score)
    info: dict[str, Any] = {"pose_frames": int(n_pose), "silhouette_frames": int(n_sil)}
    if index is not None:
        aligned = align_pose_to_silhouettes(kp, index, n_sil, where)
        return aligned, {**info, "status": "indexed", "r": signal_agreement(pose_sig, sil_sig[index])}
    d = n_sil - n_pose
    span = range(min(0, d) - check.max_lag, max(0, d) + check.max_lag + 1)
    by_offset = {o: r for o, r in lag_agreement(pose_sig, sil_sig, span).items() if math.isfinite(r)}
    if not by_offset:
        raise SequenceAlignmentError(f"{where}: no usable shape signal in the poses or silhouettes to check alignment")
    peak = max(by_offset, key=lambda o: by_offset[o])  # where the shapes agree best, anywhere in the span
    possible = [o for o in by_offset if min(0, d) <= o <= max(0, d)]  # frames lost at the ends only
    best = max(possible, key=lambda o: by_offset[o]) if possible else peak
    r0 = by_offset.get(0, float("nan")) if d == 0 else float("nan")
    info |= {"r_offset0": r0, "offset": int(best), "peak_offset": int(peak), "r": by_offset[best]}
    lo, hi = max(0, -best), min(n_pose, n_sil - best)
    unmatched = 1 - (hi - lo) / max(n_pose, n_sil)
    on_peak = abs(peak - best) <= check.peak_width
    if d == 0 and best == 0 and on_peak and r0 >= check.min_r:
        return kp, {**info, "status": "kept"}
    if d == 0 or not (on_peak and by_offset[best] >= check.min_r_repair and unmatched <= check.max_unmatched):
        why = (
            f"equal counts, but the shapes agree best at offset {peak:+d} (r = {by_offset[peak]:.2f}; r = {r0:.2f} "
            f"at 0, need >= {check.min_r:g} there)"
            if d == 0
            else f"the best offset that only drops end frames ({best:+d}) gives r = {by_offset[best]:.2f} while the "
            f"shapes agree best at {peak:+d} (need r >= {check.min_r_repair:g} at that peak, <= "
            f"{check.max_unmatched:.0%} of frames unmatched: {unmatched:.0%})"
        )
        raise SequenceAlignmentError(
            f"{where}: {n_pose} pose frames vs {n_sil} silhouettes: {why}; the pose and silhouette frames cannot "
            "be matched with confidence"
        )
    out = np.full((n_sil, kp.shape[1], 3), np.nan)
    out[..., 2] = 0.0
    out[lo + best : hi + best] = kp[lo:hi]
    return out, {**info, "status": "repaired"}


def silhouette_cadence(silhouettes: np.ndarray, fps: float) -> float | None:
    """Steps per minute from the silhouettes alone: the lower body widens at every step, so the first
    autocorrelation peak of its width is one step (None when no clear period is found)."""
    w = silhouette_shape_signals(silhouettes)[:, 1]
    ok = np.isfinite(w)
    if ok.sum() < 16:
        return None
    x = np.where(ok, w, np.nanmean(w)) - np.nanmean(w)
    ac = np.correlate(x, x, mode="full")[x.size - 1 :]
    if ac[0] <= 0:
        return None
    ac = ac / ac[0]
    neg = np.flatnonzero(ac < 0)
    if not neg.size:
        return None
    start = int(neg[0])
    lag = start + int(np.argmax(ac[start : max(start + 1, x.size // 2)]))
    if lag <= start or ac[lag] < 0.2:
        return None
    return 60.0 * fps / lag


S1K_CADENCE_RANGE: tuple[float, float] = (70.0, 170.0)
"""Walking cadences (steps/min) that are plausible for children and adolescents; a data set whose median
falls outside at the configured fps is most likely at another frame rate."""


def _process_s1k(
    seq_id: str,
    cls: str,
    split: SplitName | None,
    sil_path: Path,
    pose_path: Path | None,
    fps: float,
    check: AlignmentCheck | None = None,
) -> ProcessedClip:
    from scoligait_edge.errors import KeypointError
    from scoligait_edge.kinematics.events import detect_gait_events
    from scoligait_edge.pose.loaders import PoseSequence

    full = load_scoliosis1k_silhouettes(sil_path)
    sil = np.ascontiguousarray(full[:, :, SIL_CUT : S1K_SILHOUETTE_SIZE - SIL_CUT])
    kp = None
    extra: dict[str, Any] = {"class_name": cls, "view": sil_path.parent.name, "layout": sil_path.name}
    cadence = silhouette_cadence(full, fps)
    if pose_path is not None:
        raw, index = load_scoliosis1k_pose_frames(pose_path)
        aligned, how = check_alignment(raw, index, full, check or AlignmentCheck(), where=f"Scoliosis1K {seq_id}")
        extra["alignment"] = how
        if how["status"] == "repaired":
            log.info("Scoliosis1K %s: pose frames re-matched to silhouettes (%s)", seq_id, how)
        try:
            kp = PoseSequence.from_frames(aligned, fps=fps, source=str(pose_path)).keypoints
        except (KeypointError, ScoliGaitError) as exc:
            raise DatasetError(f"{pose_path}: bad keypoints ({exc})") from exc
        if index is not None and index.size < sil.shape[0]:
            log.info(
                "Scoliosis1K %s: %d of %d frames have no pose (aligned by frame index)",
                seq_id,
                sil.shape[0] - index.size,
                sil.shape[0],
            )
        cadence = detect_gait_events(kp, fps).cadence() or cadence
    extra["cadence_spm"] = cadence
    ts = np.arange(sil.shape[0]) * (1000.0 / fps)
    record = ClipRecord(
        clip_id=seq_id,
        subject_id=seq_id,
        split=split,
        provenance="Scoliosis1K",
        source=str(sil_path.parent),
        cobb_deg=None,
        label=S1K_BINARY[cls],
        sconet_class=S1K_CLASSES.index(cls),
        fps_in=fps,
        n_frames=0,
        extra=extra,
    )
    return preprocess_clip(record, kp, ts, silhouettes=sil)


S1K_SUBJECT_NOTE = (
    "Scoliosis1K sequence ids are not person ids: the official partition is by sequence, a person may "
    "have several sequences, and the mapping is not published, so person-disjoint train/val/test "
    "cannot be proven; each sequence is its own subject in the disjointness checks and results may "
    "be optimistic if one person's sequences fall on both sides."
)
"""Logged on every :meth:`Scoliosis1K.prepare` and written into training summaries."""


class Scoliosis1KAudit(BaseModel):
    """What loading did to the sequences: the alignment check's kept / repaired / dropped counts and
    shares (of the sequences with poses that got that far), and the frame-rate check (median cadence
    at the configured fps). Printed by :meth:`Scoliosis1K.prepare`, written into summary.json."""

    sequences_listed: int
    sequences_loaded: int
    failed_other: int = Field(description="dropped for other reasons: layout, unreadable pickles, bad arrays")
    with_poses: bool
    kept: int
    kept_by_index: int
    repaired: int
    dropped: int
    dropped_ids: list[str]
    share_kept: float | None
    share_repaired: float | None
    share_dropped: float | None
    r_quantiles: list[float] = Field(description="5/25/50/75/95 % of the kept and repaired sequences' shape r")
    min_r: float
    fps: float
    cadence_source: str
    median_cadence_spm: float | None
    cadence_range_spm: tuple[float, float]
    fps_plausible: bool
    fps_at_115_spm: float | None = Field(description="the fps at which the median cadence would be 115 steps/min")

    def describe(self) -> str:
        def pct(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.1%}"

        text = f"Scoliosis1K: {self.sequences_loaded} of {self.sequences_listed} sequences loaded"
        if self.with_poses:
            text += (
                f"; pose/silhouette alignment: kept {self.kept} ({pct(self.share_kept)}, {self.kept_by_index} by "
                f"frame index), repaired {self.repaired} ({pct(self.share_repaired)}), dropped {self.dropped} "
                f"({pct(self.share_dropped)}); shape r quantiles {self.r_quantiles} (min_r {self.min_r:g})"
            )
        text += f"; {self.failed_other} failed for other reasons"
        if self.median_cadence_spm is not None:
            text += f"; median cadence {self.median_cadence_spm:g} steps/min at fps {self.fps:g}"
            if not self.fps_plausible:
                lo, hi = self.cadence_range_spm
                text += (
                    f" is outside {lo:g}-{hi:g}: the fps setting is probably wrong "
                    f"(about {self.fps_at_115_spm:g} fps would give 115 steps/min)"
                )
        return text


class Scoliosis1K(WindowSource):
    """Scoliosis1K in the OpenGait layout, from a root you give (it is not distributed with us).

    Layout: ``<root>/<seq id>/<positive|neutral|negative>/000_180/000_180.pkl``
    holding uint8 ``[T, 64, 64]`` silhouettes (class folders matched in any
    letter case); optionally ``pose_root`` in the same layout holding
    Scoliosis1K-Pose ``[T, 17, 3]`` (x, y, score) COCO-17 keypoints, which give
    the knowledge map (without them windows have an all-invalid map and no
    quality verdict). ``split_file``: one of the published JSON files
    (``TRAIN_SET`` / ``TEST_SET``; the 1:1:2 ... 1:1:16 names are the
    *training* set's positive:neutral:negative mix); without one every
    sequence found goes to 'train' (use :func:`ratio_split`).
    ``val_fraction`` moves that share of TRAIN sequences (never TEST ones),
    stratified by class, to 'val', by sequence id with :func:`make_splits`.

    Pose frames are matched to silhouette frames by index
    (:func:`align_pose_to_silhouettes`): exactly when the pose file carries a
    frame index, 1:1 when the counts agree, and otherwise the sequence is
    dropped, because the published pose files omit frames without a detection
    and do not say which. Scores > 1 are rescaled with a warning.

    A sequence that cannot be used (missing or ambiguous class folder, missing
    or corrupt pickle, unalignable poses) is recorded with its reason and
    skipped; it never aborts the dataset. :attr:`failures` and the
    :class:`BuildSummary` returned by :meth:`prepare` list them (id -> reason).

    Pickles can execute code when loaded: they are read only here, only from
    ``root`` / ``pose_root``, and only because that is the dataset's published
    format. Use a copy you obtained from the dataset's authors.

    Sequence ids are NOT person ids: see :data:`S1K_SUBJECT_NOTE`. Each
    sequence id is treated as its own subject for the disjointness checks,
    which is the best the data allows.

    Labels: ``sconet_class`` 0/1/2 = positive/neutral/negative for ScoNet;
    the binary label for our model is positive -> 1, neutral and negative -> 0.
    Neutral ("borderline" at screening) is not scoliosis by the >= 10 deg rule
    the model is trained for, so it is a negative; report it separately when
    it matters. Cobb angles are not published: ``cobb_deg`` is NaN.
    Cache: ``<cache_root>/scoliosis1k/<hash>``.
    """

    provenance = "Scoliosis1K"

    def __init__(
        self,
        root: str | Path,
        *,
        split_file: str | Path | None = None,
        pose_root: str | Path | None = None,
        fps: float = 30.0,
        val_fraction: float = 0.0,
        seed: int = 0,
        cache_root: str | Path | None = None,
        progress: bool = True,
        workers: int = 1,
        alignment: AlignmentCheck | None = None,
    ) -> None:
        self.alignment = alignment or AlignmentCheck()
        self.audit: Scoliosis1KAudit | None = None
        """The last :meth:`prepare`'s alignment and frame-rate check."""
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise DatasetError(f"Scoliosis1K root not found: {self.root}")
        self.pose_root = None if pose_root is None else Path(pose_root).expanduser().resolve()
        if self.pose_root is not None and not self.pose_root.is_dir():
            raise DatasetError(f"Scoliosis1K-Pose root not found: {self.pose_root}")
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be positive, got {fps}")
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        self.fps = float(fps)
        if split_file is not None:
            split_ids = load_scoliosis1k_split(split_file)
            where = f"listed in {Path(split_file).expanduser()}"
        else:
            ids = sorted(d.name for d in self.root.iterdir() if d.is_dir() and not d.name.startswith("."))
            if not ids:
                raise DatasetError(f"{self.root}: no sequence folders found")
            split_ids = {"train": ids, "test": []}
            where = "found on disk"
        self.index_failures: dict[str, str] = {}
        """Sequences skipped before preprocessing (id -> reason): layout problems."""
        self.sequence_index: dict[str, tuple[str, SplitName, Path, Path | None]] = {}
        for split, ids in split_ids.items():
            for sid in ids:
                try:
                    cls, sil_path = self._locate(self.root, sid, where)
                    pose_path = None
                    if self.pose_root is not None:
                        pcls, pose_path = self._locate(self.pose_root, sid, where)
                        if pcls != cls:
                            raise DatasetError(f"{pose_path}: class {pcls!r} but the silhouettes say {cls!r}")
                except DatasetError as exc:
                    self.index_failures[sid] = str(exc)
                    log.warning("Scoliosis1K: skipping sequence %s: %s", sid, exc)
                    continue
                self.sequence_index[sid] = (cls, split, sil_path, pose_path)  # type: ignore[assignment]
        if not self.sequence_index:
            shown = "; ".join(f"{k}: {v}" for k, v in list(self.index_failures.items())[:3])
            raise DatasetError(f"Scoliosis1K: no usable sequence under {self.root} ({shown})")
        self.val_fraction, self.seed = float(val_fraction), int(seed)
        config = {
            "kind": "scoliosis1k",
            "fps": self.fps,
            "poses": self.pose_root is not None,
            "alignment": self.alignment.model_dump(),
            "checks": 2,  # version of the alignment / cadence checks: older caches are recomputed
        }
        folder = (
            source_root(cache_root) / "scoliosis1k" / stable_hash([str(self.root), str(self.pose_root), config])[:16]
        )
        super().__init__(ClipCache(folder, config), progress=progress, workers=workers)

    @staticmethod
    def _locate(root: Path, seq_id: str, where: str) -> tuple[str, Path]:
        d = root / seq_id
        if not d.is_dir():
            raise DatasetError(f"{d}: sequence {seq_id!r} ({where}) is not on disk")
        found = [c for c in d.iterdir() if c.is_dir() and c.name.lower() in S1K_CLASSES]
        if not found:
            raise DatasetError(f"{d}: no class folder (expected one of {list(S1K_CLASSES)}, any case)")
        if len(found) > 1:
            raise DatasetError(f"{d}: several class folders {sorted(c.name for c in found)}; a sequence has one class")
        views = [v for v in (found[0] / name for name in S1K_VIEWS) if v.is_dir()]
        if not views:
            raise DatasetError(
                f"{found[0]}: no view folder (expected <seq>/<class>/000_180/000_180.pkl, or the older "
                "<seq>/<class>/000-180/000.pkl)"
            )
        view = views[0]
        pkls = sorted(view.glob("*.pkl"))
        preferred = [q for q in pkls if q.stem in (view.name, "000")]
        if not pkls:
            raise DatasetError(f"{view}: no .pkl file (expected {view.name}/{view.name}.pkl or {view.name}/000.pkl)")
        if len(pkls) > 1 and len(preferred) != 1:
            raise DatasetError(f"{view}: several pickles {[q.name for q in pkls]}; cannot tell which holds the frames")
        pkl = preferred[0] if preferred else pkls[0]
        return found[0].name.lower(), pkl

    def _jobs(self) -> list[ClipJob]:
        def job(sid: str, cls: str, split: SplitName, sp: Path, pp: Path | None) -> ClipJob:
            key = file_key(sp) + ("" if pp is None else "|" + file_key(pp))
            return ClipJob(
                clip_id=sid,
                source_key=key,
                compute=partial(_process_s1k, sid, cls, split, sp, pp, self.fps, self.alignment),
            )

        return [job(sid, *v) for sid, v in self.sequence_index.items()]

    def _finalize(self, clip: ProcessedClip) -> ProcessedClip:
        split = self.sequence_index[clip.record.clip_id][1]
        return clip if clip.record.split == split else clip.with_record(split=split)

    def _carve_val(self) -> None:
        """Move ``val_fraction`` of the loaded TRAIN_SET sequences to 'val' (by id, stratified by class).

        Done after preprocessing, so a sequence that failed never takes a validation place."""
        assert self._clips is not None
        train = [sid for sid, c in self._clips.items() if c.record.split == "train"]
        parts = make_splits(
            train,
            fractions={"train": 1 - self.val_fraction, "val": self.val_fraction},
            seed=self.seed,
            stratify_by=lambda s: self.sequence_index[s][0],
        )
        for sid in parts["val"]:
            self._clips[sid] = self._clips[sid].with_record(split="val")
        self._check_splits()

    @property
    def failures(self) -> dict[str, str]:
        """Every skipped sequence (id -> reason), from indexing and from the last :meth:`prepare`."""
        out = dict(self.index_failures)
        if self.last_summary is not None:
            out.update(self.last_summary.failures)
        return out

    def prepare(self, *, retry_failed: bool = False) -> BuildSummary:
        """Like :meth:`WindowSource.prepare`; the summary also counts the sequences skipped while
        indexing (reason ``layout``), so ``summary.failures`` lists every dropped sequence."""
        summary = super().prepare(retry_failed=retry_failed)
        if self.val_fraction > 0:
            self._carve_val()
        if self.index_failures:
            summary.total += len(self.index_failures)
            summary.failed += len(self.index_failures)
            summary.failures = {**self.index_failures, **summary.failures}
            summary.by_reason = {**summary.by_reason, "layout": len(self.index_failures)}
        self.audit = self._audit(summary)
        summary.audit = self.audit.model_dump()
        self.last_summary = summary
        log.log(logging.WARNING if not self.audit.fps_plausible else logging.INFO, "%s", self.audit.describe())
        n_bad = summary.failed + summary.failed_before
        by_split = Counter(c.record.split for c in (self._clips or {}).values())
        log.log(
            logging.WARNING if n_bad else logging.INFO,
            "Scoliosis1K: %d sequences loaded (%s), %d skipped%s",
            len(self._clips or {}),
            ", ".join(f"{k} {v}" for k, v in sorted(by_split.items(), key=lambda kv: str(kv[0]))),
            n_bad,
            (" - " + ", ".join(f"{n} x {r}" for r, n in sorted(summary.by_reason.items()))) if n_bad else "",
        )
        log.info("%s", S1K_SUBJECT_NOTE)
        return summary

    def _audit(self, summary: BuildSummary) -> Scoliosis1KAudit:
        clips = list((self._clips or {}).values())
        status = Counter(str(c.record.extra.get("alignment", {}).get("status", "no poses")) for c in clips)
        failures = {**self.index_failures, **summary.failures}
        dropped = sorted(k for k, v in failures.items() if "cannot be matched" in v or "frame index" in v)
        rs = [float(c.record.extra["alignment"]["r"]) for c in clips if "alignment" in c.record.extra]
        rs = [r for r in rs if math.isfinite(r)]
        cad = [float(c.record.extra["cadence_spm"]) for c in clips if c.record.extra.get("cadence_spm")]
        med = float(np.median(cad)) if cad else None
        lo, hi = S1K_CADENCE_RANGE
        with_poses = self.pose_root is not None
        n_align = status["kept"] + status["indexed"] + status["repaired"] + len(dropped) if with_poses else 0
        return Scoliosis1KAudit(
            sequences_listed=len(self.sequence_index) + len(self.index_failures),
            sequences_loaded=len(clips),
            failed_other=len(failures) - len(dropped),
            with_poses=with_poses,
            kept=status["kept"] + status["indexed"],
            kept_by_index=status["indexed"],
            repaired=status["repaired"],
            dropped=len(dropped),
            dropped_ids=dropped,
            share_kept=(status["kept"] + status["indexed"]) / n_align if n_align else None,
            share_repaired=status["repaired"] / n_align if n_align else None,
            share_dropped=len(dropped) / n_align if n_align else None,
            r_quantiles=[round(float(q), 3) for q in np.quantile(rs, (0.05, 0.25, 0.5, 0.75, 0.95))] if rs else [],
            min_r=self.alignment.min_r,
            fps=self.fps,
            cadence_source="pose (gait events)" if with_poses else "silhouette width period",
            median_cadence_spm=None if med is None else round(med, 1),
            cadence_range_spm=S1K_CADENCE_RANGE,
            fps_plausible=med is None or lo <= med <= hi,
            fps_at_115_spm=None if med is None else round(self.fps * 115.0 / med, 1),
        )

    def windows(
        self, split: SplitName | None = None, *, require_quality: bool | None = None, **kwargs: Any
    ) -> list[WindowSample]:
        """Windows for our model; ``require_quality`` defaults to True with poses, False without."""
        if require_quality is None:
            require_quality = self.pose_root is not None
        return super().windows(split, require_quality=require_quality, **kwargs)

    def sequences(self, split: SplitName | None = None) -> list[Scoliosis1KSequence]:
        """Whole sequences (all frames) for ScoNet / ScoNet-MT."""
        out = []
        for c in self.clips(split):
            r = c.record
            assert c.silhouettes is not None and r.sconet_class is not None
            out.append(
                Scoliosis1KSequence(
                    seq_id=r.clip_id,
                    subject_id=r.subject_id,
                    split=r.split,
                    class_name=S1K_CLASSES[r.sconet_class],
                    sconet_class=r.sconet_class,
                    label=r.binary_label,
                    silhouettes=c.silhouettes,
                    keypoints=c.keypoints,
                    source=r.source,
                )
            )
        return out
