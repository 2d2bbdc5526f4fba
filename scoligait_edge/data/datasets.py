"""Datasets of model windows: simulated cohorts, a folder of labelled videos, Scoliosis1K.

Every source preprocesses each clip once into the per-clip cache
(:mod:`scoligait_edge.data.cache`) and then cuts windows from the cached clips
(:func:`~scoligait_edge.data.windows.clip_windows`). Splits are by subject,
always: every path that assigns clips to train / val / test checks that no
subject is on two sides and raises :class:`SplitLeakError` otherwise.

- :class:`SimulatedWindows`: a SIMULATED cohort (``make_cohort``), with silhouettes.
- :class:`ScoliGaitFolder`: videos + a labels CSV (ScoliGait-style: Cobb angle per clip).
- :class:`VideoList`: unlabelled videos, preprocessed the same way (cohort preprocessing).
- :class:`Scoliosis1K`: the OpenGait layout of Scoliosis1K (silhouettes, optional poses).
- :class:`WindowDataset` + :func:`collate_windows`: what a torch ``DataLoader`` consumes.
- :func:`make_splits`, :func:`assert_subject_disjoint`, :func:`ratio_split`.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import pickle
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from scoligait_edge.data.cache import BuildSummary, ClipCache, ClipEngine, ClipJob, default_cache_root, stable_hash
from scoligait_edge.data.sim_cohort import SPLITS, Cohort, check_subject_disjoint
from scoligait_edge.data.windows import (
    WINDOW_FRAMES,
    WINDOW_HOP,
    ClipRecord,
    ProcessedClip,
    Sex,
    SplitName,
    WindowSample,
    clip_windows,
    label_from_cobb,
    preprocess_clip,
)
from scoligait_edge.errors import DatasetError, OptionalDependencyError, ScoliGaitError, SplitLeakError
from scoligait_edge.kinematics.schema import MAP_FPS
from scoligait_edge.video.silhouette import MASK_THRESHOLD, SIL_CUT, SIL_SIZE, crop_silhouette

if TYPE_CHECKING:
    import torch

    from scoligait_edge.pose.tracker import TrackerOptions

log = logging.getLogger(__name__)

T = TypeVar("T")


# -- subjects and splits ------------------------------------------------------------


def _subject_of(item: Any) -> str:
    if isinstance(item, str):
        return item
    sid = getattr(item, "subject_id", None)
    if sid is None and hasattr(item, "record"):
        sid = item.record.subject_id
    if sid is None:
        raise TypeError(f"cannot tell the subject of a {type(item).__name__}")
    return str(sid)


def _attr(item: Any, name: str) -> Any:
    if hasattr(item, name):
        return getattr(item, name)
    if hasattr(item, "record"):
        return getattr(item.record, name)
    if name == "label" and hasattr(item, "binary_label"):
        return item.binary_label
    raise TypeError(f"a {type(item).__name__} has no {name!r}")


def assert_subject_disjoint(datasets_by_split: Mapping[str, WindowDataset | Iterable[Any]]) -> None:
    """Raise :class:`SplitLeakError` when a subject appears under two split names.

    Values may be :class:`WindowDataset`, lists of :class:`WindowSample`,
    :class:`ProcessedClip`, :class:`ClipRecord`, :class:`Scoliosis1KSequence`
    or plain subject ids.
    """
    by_split: dict[str, list[str]] = {}
    for name, items in datasets_by_split.items():
        src = items.samples if isinstance(items, WindowDataset) else items
        by_split[str(name)] = [_subject_of(x) for x in src]
    check_subject_disjoint(by_split)


def make_splits(
    items: Sequence[T],
    *,
    fractions: Mapping[str, float] | None = None,
    seed: int = 0,
    stratify_by: str | Callable[[T], Any] | None = "label",
) -> dict[str, list[T]]:
    """Assign whole subjects to splits (``fractions`` default train 0.7 / val 0.15 / test 0.15).

    Items (windows, clips, records, sequences) are grouped by subject; subjects
    are shuffled with ``seed`` within each stratum (``stratify_by``: an
    attribute name such as ``'label'`` or ``'sconet_class'``, a function, or
    None) and dealt out by the fractions, so every split keeps the class mix.
    A subject whose items disagree on the stratum raises :class:`DatasetError`.
    The result is checked with :func:`assert_subject_disjoint`.
    """
    fr = dict(fractions or {"train": 0.7, "val": 0.15, "test": 0.15})
    if not fr or any(v < 0 for v in fr.values()) or sum(fr.values()) <= 0:
        raise ValueError(f"fractions must be non-negative and not all zero, got {fr}")
    total = sum(fr.values())
    names = list(fr)
    by_subject: dict[str, list[T]] = defaultdict(list)
    for it in items:
        by_subject[_subject_of(it)].append(it)
    stratum: dict[str, Any] = {}
    for sid, its in by_subject.items():
        if stratify_by is None:
            keys = {None}
        elif callable(stratify_by):
            keys = {stratify_by(x) for x in its}
        else:
            keys = {_attr(x, stratify_by) for x in its}
        if len(keys) > 1:
            raise DatasetError(
                f"subject {sid!r} has items with different {stratify_by!r} values {sorted(map(str, keys))}"
            )
        stratum[sid] = next(iter(keys))
    rng = np.random.default_rng(seed)
    out: dict[str, list[T]] = {n: [] for n in names}
    groups: dict[Any, list[str]] = defaultdict(list)
    for sid in sorted(by_subject):
        groups[stratum[sid]].append(sid)
    for key in sorted(groups, key=str):
        sids = groups[key]
        order = [sids[i] for i in rng.permutation(len(sids))]
        bounds = np.round(np.cumsum([fr[n] / total for n in names]) * len(order)).astype(int)
        lo = 0
        for n, hi in zip(names, bounds, strict=True):
            for sid in order[lo:hi]:
                out[n].extend(by_subject[sid])
            lo = hi
    assert_subject_disjoint(out)
    return out


def _parse_ratio(ratio: str | Sequence[float]) -> tuple[float, float, float]:
    if isinstance(ratio, str):
        parts = ratio.split(":")
        try:
            vals = tuple(float(p) for p in parts)
        except ValueError:
            vals = ()
    else:
        vals = tuple(float(p) for p in ratio)
    if len(vals) != 3 or any(not math.isfinite(v) or v < 0 for v in vals) or sum(vals) <= 0:
        raise ValueError(f"ratio must be 'positive:neutral:negative' like '1:1:8', got {ratio!r}")
    return vals


def ratio_split(
    samples: Sequence[T],
    ratio: str | Sequence[float] = "1:1:8",
    seed: int = 0,
    *,
    n_train: int | None = None,
) -> tuple[list[T], list[T]]:
    """ScoNet-MT's training mix: a training set whose subjects are positive : neutral :
    negative in ``ratio`` (e.g. '1:1:8'); the test set takes every other subject.

    Counts are in subjects (for Scoliosis1K one sequence = one subject), and
    each subject's class comes from ``sconet_class`` (0 positive, 1 neutral, 2
    negative). ``n_train`` (default: half of all subjects, like Scoliosis1K's
    1:1:8 split of 744 of 1,493 sequences) is the training set's size; when a
    class has too few subjects, the whole training set shrinks to keep the
    ratio exact (logged). Subjects are drawn with ``seed``; the split is
    subject-disjoint by construction and checked.
    """
    r = _parse_ratio(ratio)
    cls_of: dict[str, int] = {}
    items_of: dict[str, list[T]] = defaultdict(list)
    for s in samples:
        sid = _subject_of(s)
        c = _attr(s, "sconet_class")
        if c is None:
            raise DatasetError(f"ratio_split needs 3-class labels (sconet_class); subject {sid!r} has none")
        if cls_of.setdefault(sid, int(c)) != int(c):
            raise DatasetError(f"subject {sid!r} has items of two classes ({cls_of[sid]} and {c})")
        items_of[sid].append(s)
    by_class: dict[int, list[str]] = {k: sorted(s for s, c in cls_of.items() if c == k) for k in range(3)}
    n_all = len(cls_of)
    want_total = n_all // 2 if n_train is None else int(n_train)
    if not 0 < want_total <= n_all:
        raise ValueError(f"n_train must be in [1, {n_all}], got {want_total}")
    share = np.array(r) / sum(r)
    want = share * want_total
    avail = np.array([len(by_class[k]) for k in range(3)], float)
    scale = min([1.0] + [avail[k] / want[k] for k in range(3) if want[k] > 0])
    if scale < 1.0:
        log.warning(
            "ratio %s: only %s subjects per class; training set shrunk to %.0f%% of %d",
            ratio,
            avail.astype(int).tolist(),
            100 * scale,
            want_total,
        )
    counts = np.minimum(np.round(want * scale), avail).astype(int)
    rng = np.random.default_rng(seed)
    train_ids: set[str] = set()
    for k in range(3):
        ids = by_class[k]
        pick = rng.permutation(len(ids))[: counts[k]]
        train_ids.update(ids[i] for i in pick)
    train = [x for sid in sorted(train_ids) for x in items_of[sid]]
    test = [x for sid in sorted(set(items_of) - train_ids) for x in items_of[sid]]
    assert_subject_disjoint({"train": train, "test": test})
    log.info(
        "ratio %s: training subjects %s (pos/neu/neg), test subjects %d",
        ratio,
        counts.tolist(),
        len(items_of) - len(train_ids),
    )
    return train, test


# -- the common part of every source ---------------------------------------------------


class WindowSource:
    """Clips preprocessed through a :class:`ClipCache`, cut into windows on request.

    Subclasses provide :meth:`_jobs` (one :class:`ClipJob` per clip, in a fixed
    order) and may adjust cached clips in :meth:`_finalize` (e.g. labels from a CSV).
    ``workers > 1`` preprocesses uncached clips in that many processes.
    """

    provenance: str = ""

    def __init__(self, cache: ClipCache, *, progress: bool = True, workers: int = 1) -> None:
        self.cache = cache
        self.progress = progress
        self.workers = int(workers)
        self._clips: dict[str, ProcessedClip] | None = None
        self.last_summary: BuildSummary | None = None

    def _jobs(self) -> list[ClipJob]:
        raise NotImplementedError

    def _finalize(self, clip: ProcessedClip) -> ProcessedClip:
        return clip

    def build_cache(self, *, retry_failed: bool = False, engine: ClipEngine | None = None) -> BuildSummary:
        """Preprocess what is not cached yet without keeping clips in memory (cohort-sized runs,
        ``python -m scoligait_edge.preprocess``); ``engine`` runs the jobs elsewhere, e.g. on Ray."""
        return self.cache.build(
            self._jobs(),
            progress=self.progress,
            retry_failed=retry_failed,
            desc=type(self).__name__,
            workers=self.workers,
            engine=engine,
        )

    def prepare(self, *, retry_failed: bool = False) -> BuildSummary:
        """Preprocess what is not cached yet and load every clip (later calls only reload the cache)."""
        jobs = self._jobs()
        got: dict[str, ProcessedClip] = {}
        summary = self.cache.build(
            jobs,
            progress=self.progress,
            retry_failed=retry_failed,
            desc=type(self).__name__,
            on_clip=lambda c: got.__setitem__(c.record.clip_id, self._finalize(c)),
            workers=self.workers,
        )
        self._clips = {j.clip_id: got[j.clip_id] for j in jobs if j.clip_id in got}
        self.last_summary = summary
        self._check_splits()
        return summary

    def _check_splits(self) -> None:
        by: dict[str, list[str]] = defaultdict(list)
        for c in (self._clips or {}).values():
            by[c.record.split or "none"].append(c.record.subject_id)
        check_subject_disjoint(by)

    def clips(self, split: SplitName | None = None) -> list[ProcessedClip]:
        """Preprocessed clips (of one split), in a fixed order; failed clips are absent."""
        if self._clips is None:
            self.prepare()
        assert self._clips is not None
        return [c for c in self._clips.values() if split is None or c.record.split == split]

    def subject_splits(self) -> dict[str, list[str]]:
        """Subject ids per split, over the clips that were preprocessed."""
        out: dict[str, set[str]] = defaultdict(set)
        for c in self.clips():
            out[c.record.split or "none"].add(c.record.subject_id)
        return {k: sorted(v) for k, v in out.items()}

    def windows(
        self,
        split: SplitName | None = None,
        *,
        length: int = WINDOW_FRAMES,
        hop: int = WINDOW_HOP,
        require_quality: bool = True,
        min_valid_fraction: float = 0.9,
        min_cycles: int = 1,
    ) -> list[WindowSample]:
        """Windows of every clip (of ``split``); see :func:`clip_windows` for the quality rule."""
        out: list[WindowSample] = []
        empty = 0
        clips = self.clips(split)
        for c in clips:
            w = clip_windows(
                c,
                length=length,
                hop=hop,
                require_quality=require_quality,
                min_valid_fraction=min_valid_fraction,
                min_cycles=min_cycles,
            )
            empty += not w
            out.extend(w)
        subjects = {w.subject_id for w in out}
        log.info(
            "%s %s: %d windows from %d clips, %d subjects (%d clips gave no window%s)",
            type(self).__name__,
            split or "all",
            len(out),
            len(clips),
            len(subjects),
            empty,
            " passing the quality check" if require_quality else "",
        )
        return out

    def datasets(
        self,
        splits: Sequence[SplitName] = SPLITS,
        *,
        with_video: bool = True,
        **window_kwargs: Any,
    ) -> dict[str, WindowDataset]:
        """One :class:`WindowDataset` per split, checked subject-disjoint."""
        out: dict[str, WindowDataset] = {
            s: WindowDataset(self.windows(s, **window_kwargs), with_video=with_video) for s in splits
        }
        assert_subject_disjoint(out)
        return out


def _file_key(path: Path) -> str:
    """Changes when the file does (size and modification time)."""
    try:
        st = path.stat()
    except OSError:
        return f"{path}:missing"
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


def _source_root(cache_root: str | Path | None) -> Path:
    return Path(cache_root).expanduser() if cache_root is not None else default_cache_root()


# -- simulated --------------------------------------------------------------------------


def _simulate_clip(cohort: Cohort, spec: Any, lead_in: int, silhouettes: bool, scale: float) -> ProcessedClip:
    sim = cohort.simulate(
        spec.model_copy(update={"n_frames": spec.n_frames + lead_in}),
        with_silhouettes=silhouettes,
        silhouette_scale=scale,
    )
    sil = crop_silhouette(sim.silhouettes) if silhouettes and sim.silhouettes is not None else None
    subj = cohort.subjects[spec.subject_id]
    record = ClipRecord(
        clip_id=spec.clip_id,
        subject_id=spec.subject_id,
        split=spec.split,
        provenance="simulated",
        source=f"simulated cohort seed {cohort.seed}, clip seed {spec.seed}",
        cobb_deg=spec.cobb_deg,
        label=spec.label,
        sex=subj.sex,
        age=None,
        fps_in=spec.fps,
        n_frames=0,
        first_frame=int(round(lead_in * MAP_FPS / spec.fps)),
        extra={
            "camera": spec.camera,
            "direction": spec.direction,
            "curve_side": subj.curve_side,
            "confounders": list(subj.confounders),
            "clip_index": spec.clip_index,
        },
    )
    return preprocess_clip(record, sim.keypoints, sim.timestamps_ms, silhouettes=sil)


class SimulatedWindows(WindowSource):
    """Windows from a SIMULATED cohort (provenance 'simulated'; not clinical data).

    Each clip is simulated with ``lead_in_frames`` extra frames before it, so
    the knowledge map's trailing windows (32 frames) are warm when the clip
    proper starts: a cohort of 96-frame clips then gives one full-quality
    96-frame window per clip at frame ``lead_in_frames``. Silhouettes are
    rendered at ``silhouette_scale`` of the camera's image (0.4 of 1280x720:
    the body is ~100 px tall, above the 64 rows kept) and cropped like
    Scoliosis1K. The cache folder is keyed by the whole cohort (seed, sizes,
    settings, subjects, clips) and these options:
    ``<cache_root>/simulated/<hash>``, so a second run is only loading.
    """

    provenance = "simulated"

    def __init__(
        self,
        cohort: Cohort,
        *,
        cache_root: str | Path | None = None,
        lead_in_frames: int = 32,
        silhouettes: bool = True,
        silhouette_scale: float = 0.4,
        progress: bool = True,
        workers: int = 1,
    ) -> None:
        if lead_in_frames < 0:
            raise ValueError(f"lead_in_frames must be >= 0, got {lead_in_frames}")
        if not 0.05 <= silhouette_scale <= 2.0:
            raise ValueError(f"silhouette_scale must be in [0.05, 2], got {silhouette_scale}")
        self.cohort = cohort
        self.lead_in_frames = int(lead_in_frames)
        self.with_silhouettes = bool(silhouettes)
        self.silhouette_scale = float(silhouette_scale)
        config = {
            "kind": "simulated",
            "cohort_hash": stable_hash(cohort),
            "seed": cohort.seed,
            "n_subjects": len(cohort.subjects),
            "n_clips": len(cohort.clips),
            "lead_in_frames": self.lead_in_frames,
            "silhouettes": self.with_silhouettes,
            "silhouette_scale": self.silhouette_scale,
        }
        folder = _source_root(cache_root) / "simulated" / stable_hash(config)[:16]
        super().__init__(ClipCache(folder, config), progress=progress, workers=workers)

    def _jobs(self) -> list[ClipJob]:
        def job(spec: Any) -> ClipJob:
            return ClipJob(
                clip_id=spec.clip_id,
                source_key=stable_hash(spec)[:16],
                compute=partial(
                    _simulate_clip, self.cohort, spec, self.lead_in_frames, self.with_silhouettes, self.silhouette_scale
                ),
            )

        return [job(s) for s in self.cohort.clips]


# -- a folder of labelled videos ----------------------------------------------------------

LABEL_COLUMNS: tuple[str, ...] = ("clip_id", "subject_id", "cobb_deg", "sex", "age", "split")
OPTIONAL_COLUMNS: tuple[str, ...] = ("video",)


class LabelRow(BaseModel):
    """One validated row of a labels CSV (``row``: 1 = first data row; ``line``: line in the file)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    row: int
    line: int
    clip_id: str
    subject_id: str
    cobb_deg: float
    sex: Sex | None
    age: float | None
    split: SplitName
    video: str

    @property
    def label(self) -> int:
        return label_from_cobb(self.cobb_deg)


def read_labels_csv(path: str | Path, *, video_suffix: str = ".mp4") -> list[LabelRow]:
    """Read and strictly validate a labels CSV; every problem raises :class:`DatasetError`
    (or :class:`SplitLeakError` for a subject in two splits) naming the file and the row.

    Columns: ``clip_id, subject_id, cobb_deg, sex, age, split`` (all required),
    optionally ``video`` (a path relative to the CSV's folder; default
    ``<clip_id>.mp4``). ``sex`` is F or M and ``age`` a number of years; either
    may be left empty when unknown, never filled with anything else. ``split``
    is train, val or test. Rows are numbered from 1 after the header.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise DatasetError(f"labels file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{p}: cannot read as UTF-8 text ({exc})") from exc
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise DatasetError(f"{p}: empty file, expected a header with {', '.join(LABEL_COLUMNS)}")
    reader.fieldnames = header
    unknown = [h for h in header if h not in LABEL_COLUMNS + OPTIONAL_COLUMNS]
    missing = [c for c in LABEL_COLUMNS if c not in header]
    dup = [h for h, n in Counter(header).items() if n > 1]
    if unknown or missing or dup:
        parts = []
        if unknown:
            parts.append(f"unknown column(s) {unknown}")
        if missing:
            parts.append(f"missing required column(s) {missing}")
        if dup:
            parts.append(f"repeated column(s) {dup}")
        raise DatasetError(
            f"{p}, header (line 1): {'; '.join(parts)}; expected {list(LABEL_COLUMNS)} "
            f"and optionally {list(OPTIONAL_COLUMNS)}"
        )
    rows: list[LabelRow] = []
    first_row_of_clip: dict[str, int] = {}
    subject_seen: dict[str, LabelRow] = {}
    for r, raw in enumerate(reader, start=1):
        line = reader.line_num
        where = f"{p}, row {r} (line {line})"
        if None in raw:
            raise DatasetError(f"{where}: more fields than the header has columns")
        if any(v is None for v in raw.values()):
            raise DatasetError(f"{where}: fewer fields than the header has columns")
        v = {k: (raw[k] or "").strip() for k in header}
        if not any(v.values()):
            raise DatasetError(f"{where}: empty row")
        cid, sid = v["clip_id"], v["subject_id"]
        if not cid:
            raise DatasetError(f"{where}: clip_id is empty")
        if not sid:
            raise DatasetError(f"{where}: subject_id is empty")
        if cid in first_row_of_clip:
            raise DatasetError(f"{where}: duplicate clip_id {cid!r} (first on row {first_row_of_clip[cid]})")
        try:
            cobb = float(v["cobb_deg"])
        except ValueError:
            raise DatasetError(f"{where}: cobb_deg must be a number of degrees, got {v['cobb_deg']!r}") from None
        if not (math.isfinite(cobb) and 0.0 <= cobb <= 180.0):
            raise DatasetError(f"{where}: cobb_deg must be between 0 and 180, got {v['cobb_deg']!r}")
        sex = v["sex"].upper() or None
        if sex not in (None, "F", "M"):
            raise DatasetError(f"{where}: sex must be 'F' or 'M' (or empty if unknown), got {v['sex']!r}")
        age: float | None = None
        if v["age"]:
            try:
                age = float(v["age"])
            except ValueError:
                raise DatasetError(f"{where}: age must be a number of years, got {v['age']!r}") from None
            if not (math.isfinite(age) and 0.0 < age <= 120.0):
                raise DatasetError(f"{where}: age must be in (0, 120] years, got {v['age']!r}")
        split = v["split"].lower()
        if split not in SPLITS:
            raise DatasetError(f"{where}: split must be one of {list(SPLITS)}, got {v['split']!r}")
        video = v.get("video") or f"{cid}{video_suffix}"
        vp = Path(video)
        if vp.is_absolute() or ".." in vp.parts:
            raise DatasetError(f"{where}: video must be a path inside the dataset folder, got {video!r}")
        row = LabelRow(
            row=r, line=line, clip_id=cid, subject_id=sid, cobb_deg=cobb, sex=sex, age=age, split=split, video=video
        )
        prev = subject_seen.get(sid)
        if prev is not None:
            if prev.split != row.split:
                raise SplitLeakError(
                    f"{where}: subject {sid!r} is in split {row.split!r} but row {prev.row} puts them in "
                    f"{prev.split!r}; every subject must be in exactly one split"
                )
            if prev.sex is not None and row.sex is not None and prev.sex != row.sex:
                raise DatasetError(f"{where}: subject {sid!r} has sex {row.sex} but {prev.sex} on row {prev.row}")
        else:
            subject_seen[sid] = row
        first_row_of_clip[cid] = r
        rows.append(row)
    if not rows:
        raise DatasetError(f"{p}: no data rows after the header")
    by_split: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_split[row.split].append(row.subject_id)
    check_subject_disjoint(by_split)
    return rows


def _video_cache_config(pose_model: str, tracker: TrackerOptions | None) -> dict[str, Any]:
    """Everything that changes a video's preprocessed numbers (the cache key of every video source)."""
    return {
        "kind": "video_folder",
        "pose_model": pose_model,
        "tracker": None if tracker is None else tracker.model_dump(mode="json"),
        "silhouette": {"size": SIL_SIZE, "cut": SIL_CUT, "threshold": MASK_THRESHOLD},
        "mediapipe": _package_version("mediapipe"),
    }


def _process_video(
    row: LabelRow | VideoRow, video: Path, provenance: str, model: str, tracker: TrackerOptions | None
) -> ProcessedClip:
    """The one preprocessing of a video clip: pose + tracking, knowledge map, events, silhouettes."""
    from scoligait_edge.pose.extract import extract_subject_silhouettes

    res = extract_subject_silhouettes(video, model=model, progress=False, tracker_options=tracker)
    record = ClipRecord(
        clip_id=row.clip_id,
        subject_id=row.subject_id,
        split=row.split,
        provenance=provenance,
        source=str(video),
        cobb_deg=row.cobb_deg,
        sex=row.sex,
        age=row.age,
        fps_in=res.pose.fps,
        n_frames=0,
    )
    return preprocess_clip(
        record,
        res.pose.keypoints,
        res.pose.timestamps_ms,
        silhouettes=res.silhouettes,
        silhouettes_valid=res.silhouette_valid,
        silhouette_timestamps_ms=res.pose.timestamps_ms,
    )


class VideoRow(BaseModel):
    """A video without labels (``python -m scoligait_edge.preprocess --videos ...``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    clip_id: str
    subject_id: str
    split: SplitName | None = None
    cobb_deg: float | None = None
    sex: Sex | None = None
    age: float | None = None


class ScoliGaitFolder(WindowSource):
    """A folder of walking videos plus a labels CSV (see :func:`read_labels_csv`).

    The CSV is validated when the object is made; :meth:`prepare` (or the
    first :meth:`clips` / :meth:`windows`) runs, once per clip: pose estimation
    and subject tracking, the 30 Hz knowledge map and gait events, and the
    subject's silhouettes from MediaPipe's person mask (64 x 44, cropped around
    the mask like Scoliosis1K; frames without the subject are zeros and
    invalid). A clip that cannot be processed (unreadable video, nobody
    walking, missing file) is recorded and skipped; ``last_summary`` says which
    and why. Labels, sex, age and split are always taken from the CSV, so
    correcting the CSV needs no re-preprocessing; a changed video file is
    recomputed. Cache: ``<cache_root>/folder/<folder name>-<hash>``.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        labels: str | Path = "labels.csv",
        cache_root: str | Path | None = None,
        pose_model: str = "full",
        tracker_options: TrackerOptions | None = None,
        provenance: str = "ScoliGait",
        progress: bool = True,
        workers: int = 1,
    ) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise DatasetError(f"dataset folder not found: {self.root}")
        labels_path = Path(labels)
        self.labels_path = labels_path if labels_path.is_absolute() else self.root / labels_path
        self.rows = read_labels_csv(self.labels_path)
        self._row_of = {r.clip_id: r for r in self.rows}
        self.pose_model = str(pose_model)
        self.tracker_options = tracker_options
        self.provenance = provenance
        config = _video_cache_config(self.pose_model, tracker_options)
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in self.root.name)[:40] or "folder"
        folder = _source_root(cache_root) / "folder" / f"{safe}-{stable_hash([str(self.root), config])[:16]}"
        super().__init__(ClipCache(folder, config), progress=progress, workers=workers)

    def video_path(self, row: LabelRow) -> Path:
        return self.root / row.video

    def _jobs(self) -> list[ClipJob]:
        def job(row: LabelRow) -> ClipJob:
            video = self.video_path(row)
            return ClipJob(
                clip_id=row.clip_id,
                source_key=_file_key(video),
                compute=partial(_process_video, row, video, self.provenance, self.pose_model, self.tracker_options),
            )

        return [job(r) for r in self.rows]

    def _finalize(self, clip: ProcessedClip) -> ProcessedClip:
        row = self._row_of[clip.record.clip_id]
        return clip.with_record(
            subject_id=row.subject_id,
            split=row.split,
            cobb_deg=row.cobb_deg,
            label=None,
            sex=row.sex,
            age=row.age,
            provenance=self.provenance,
        )


class VideoList(WindowSource):
    """Unlabelled videos (clip id = file stem, one subject per clip), preprocessed like
    :class:`ScoliGaitFolder` with the same per-clip function and cache key, into
    ``<cache_root>/videos/<hash>``. For cohort preprocessing before labels exist; windows
    from it carry no label."""

    provenance = "videos"

    def __init__(
        self,
        videos: Sequence[str | Path],
        *,
        cache_root: str | Path | None = None,
        pose_model: str = "full",
        tracker_options: TrackerOptions | None = None,
        progress: bool = True,
        workers: int = 1,
    ) -> None:
        self.videos = [Path(v).expanduser().resolve() for v in videos]
        if not self.videos:
            raise DatasetError("no videos given")
        stems = Counter(v.stem for v in self.videos)
        dup = sorted(s for s, n in stems.items() if n > 1)
        if dup:
            raise DatasetError(f"clip ids come from file names, and these repeat: {dup}; rename or list them apart")
        self.pose_model = str(pose_model)
        self.tracker_options = tracker_options
        config = _video_cache_config(self.pose_model, tracker_options)
        folder = _source_root(cache_root) / "videos" / stable_hash(config)[:16]
        super().__init__(ClipCache(folder, config), progress=progress, workers=workers)

    def _jobs(self) -> list[ClipJob]:
        return [
            ClipJob(
                clip_id=v.stem,
                source_key=_file_key(v),
                compute=partial(
                    _process_video,
                    VideoRow(clip_id=v.stem, subject_id=v.stem),
                    v,
                    self.provenance,
                    self.pose_model,
                    self.tracker_options,
                ),
            )
            for v in self.videos
        ]


# -- Scoliosis1K --------------------------------------------------------------------------

S1K_CLASSES: tuple[str, ...] = ("positive", "neutral", "negative")
"""Scoliosis1K's classes in ScoNet's logit order (same as ``models.sconet.SCONET_CLASSES``)."""
S1K_BINARY: dict[str, int] = {"positive": 1, "neutral": 0, "negative": 0}
"""Binary label used by our screening model: only 'positive' is a referral (see :class:`Scoliosis1K`)."""
S1K_VIEW = "000_180"
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


def _process_s1k(
    seq_id: str, cls: str, split: SplitName | None, sil_path: Path, pose_path: Path | None, fps: float
) -> ProcessedClip:
    from scoligait_edge.errors import KeypointError
    from scoligait_edge.pose.loaders import PoseSequence

    sil = load_scoliosis1k_silhouettes(sil_path)[:, :, SIL_CUT : S1K_SILHOUETTE_SIZE - SIL_CUT]
    sil = np.ascontiguousarray(sil)
    kp = None
    if pose_path is not None:
        raw, index = load_scoliosis1k_pose_frames(pose_path)
        aligned = align_pose_to_silhouettes(raw, index, sil.shape[0], where=f"Scoliosis1K {seq_id}")
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
        extra={"class_name": cls, "view": S1K_VIEW},
    )
    return preprocess_clip(record, kp, ts, silhouettes=sil)


S1K_SUBJECT_NOTE = (
    "Scoliosis1K sequence ids are not person ids: the official partition is by sequence, a person may "
    "have several sequences, and the mapping is not published, so person-disjoint train/val/test "
    "cannot be proven; each sequence is its own subject in the disjointness checks and results may "
    "be optimistic if one person's sequences fall on both sides."
)
"""Logged on every :meth:`Scoliosis1K.prepare` and written into training summaries."""


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
    ) -> None:
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
        config = {"kind": "scoliosis1k", "fps": self.fps, "poses": self.pose_root is not None}
        folder = (
            _source_root(cache_root) / "scoliosis1k" / stable_hash([str(self.root), str(self.pose_root), config])[:16]
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
        pkl = found[0] / S1K_VIEW / f"{S1K_VIEW}.pkl"
        if not pkl.is_file():
            raise DatasetError(f"{pkl}: missing (expected <seq>/<class>/{S1K_VIEW}/{S1K_VIEW}.pkl)")
        return found[0].name.lower(), pkl

    def _jobs(self) -> list[ClipJob]:
        def job(sid: str, cls: str, split: SplitName, sp: Path, pp: Path | None) -> ClipJob:
            key = _file_key(sp) + ("" if pp is None else "|" + _file_key(pp))
            return ClipJob(
                clip_id=sid, source_key=key, compute=partial(_process_s1k, sid, cls, split, sp, pp, self.fps)
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
        self.last_summary = summary
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


# -- torch ------------------------------------------------------------------------------------


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # torch is the optional 'train' extra
        raise OptionalDependencyError("WindowDataset needs PyTorch: pip install 'scoligait-edge[train]'") from exc
    return torch


class WindowDataset:
    """Map-style dataset over :class:`WindowSample` for ``torch.utils.data.DataLoader``.

    Item ``i`` is a dict: ``km`` float32 [96, 238], ``km_mask`` bool [96],
    ``video`` uint8 [96, 1, 64, 44] and ``video_mask`` bool [96] (when
    ``with_video``), ``label`` float32 (1 = Cobb >= 10 deg), ``cobb`` float32
    (NaN when unknown), ``sconet_class`` int64 (-1 when unknown), and
    ``subject_id``, ``clip_id``, ``sex``, ``age``, ``start``, ``provenance``.
    Deterministic: nothing random happens here (shuffle in the DataLoader with
    a seeded generator). Use :func:`collate_windows` as ``collate_fn``.
    """

    def __init__(self, samples: Sequence[WindowSample], *, with_video: bool = True) -> None:
        _torch()
        self.samples = list(samples)
        self.with_video = bool(with_video)
        lengths = {s.length for s in self.samples}
        if len(lengths) > 1:
            raise DatasetError(f"windows of different lengths {sorted(lengths)} cannot be batched together")
        if self.with_video:
            bad = [s.clip_id for s in self.samples if s.silhouettes is None]
            if bad:
                raise DatasetError(
                    f"{len(bad)} window(s) have no silhouettes (e.g. clip {bad[0]!r}); "
                    "use with_video=False or a source with silhouettes"
                )

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        torch = _torch()
        s = self.samples[index]
        item: dict[str, Any] = {
            "km": torch.tensor(s.km, dtype=torch.float32),
            "km_mask": torch.tensor(s.km_valid, dtype=torch.bool),
            "label": torch.tensor(float(s.label), dtype=torch.float32),
            "cobb": torch.tensor(s.cobb_deg, dtype=torch.float32),
            "sconet_class": torch.tensor(-1 if s.sconet_class is None else s.sconet_class, dtype=torch.int64),
            "subject_id": s.subject_id,
            "clip_id": s.clip_id,
            "sex": s.sex,
            "age": s.age,
            "start": s.start,
            "provenance": s.provenance,
        }
        if self.with_video:
            assert s.silhouettes is not None
            item["video"] = torch.tensor(s.silhouettes, dtype=torch.uint8).unsqueeze(1)
            valid = s.silhouettes_valid if s.silhouettes_valid is not None else np.ones(s.length, bool)
            item["video_mask"] = torch.tensor(valid, dtype=torch.bool)
        return item

    def labels(self) -> np.ndarray:
        """Binary labels of all windows (e.g. for a class-balanced sampler)."""
        return np.array([s.label for s in self.samples], dtype=np.int64)


_TENSOR_KEYS = ("km", "km_mask", "video", "video_mask", "label", "cobb", "sconet_class")


def collate_windows(batch: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor | list[Any]]:
    """Stack a list of :class:`WindowDataset` items: tensors gain a batch dimension
    (``km`` [B, 96, 238], ``video`` [B, 96, 1, 64, 44] uint8, ``label`` [B] ...);
    ``subject_id``, ``clip_id``, ``sex``, ``age``, ``start``, ``provenance`` become lists."""
    torch = _torch()
    if not batch:
        raise ValueError("cannot collate an empty batch")
    out: dict[str, Any] = {}
    for key in batch[0]:
        vals = [b[key] for b in batch]
        out[key] = torch.stack(vals) if key in _TENSOR_KEYS else list(vals)
    return out


__all__ = [
    "LABEL_COLUMNS",
    "OPTIONAL_COLUMNS",
    "S1K_BINARY",
    "S1K_CLASSES",
    "LabelRow",
    "ScoliGaitFolder",
    "Scoliosis1K",
    "Scoliosis1KSequence",
    "SimulatedWindows",
    "WindowDataset",
    "WindowSource",
    "S1K_SUBJECT_NOTE",
    "SequenceAlignmentError",
    "align_pose_to_silhouettes",
    "assert_subject_disjoint",
    "collate_windows",
    "load_scoliosis1k_pose",
    "load_scoliosis1k_pose_frames",
    "load_scoliosis1k_silhouettes",
    "load_scoliosis1k_split",
    "make_splits",
    "ratio_split",
    "read_labels_csv",
]
