"""Walking videos as data sources: a folder with a labels CSV (ScoliGait-style: Cobb angle per clip) and
unlabelled video lists, preprocessed the same way as the runtime sees them."""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from scoligait_edge.core.constants import SIL_CUT, SIL_SIZE
from scoligait_edge.errors import DatasetError, SplitLeakError
from scoligait_edge.research.data.cache import ClipCache, stable_hash
from scoligait_edge.research.data.engines import ClipJob
from scoligait_edge.research.data.windows import (
    ClipRecord,
    ProcessedClip,
    Sex,
    SplitName,
    label_from_cobb,
    preprocess_clip,
)
from scoligait_edge.research.sim.cohort import SPLITS, check_subject_disjoint
from scoligait_edge.video.silhouette import MASK_THRESHOLD

if TYPE_CHECKING:
    from scoligait_edge.pose.tracker import TrackerOptions
from scoligait_edge.research.data.source import WindowSource, file_key, package_version, source_root

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
    reader, header = _labels_reader(p)
    rows: list[LabelRow] = []
    first_row_of_clip: dict[str, int] = {}
    subject_seen: dict[str, LabelRow] = {}
    for r, raw in enumerate(reader, start=1):
        line = reader.line_num
        where = f"{p}, row {r} (line {line})"
        row = _label_row(where, r, line, raw, header, video_suffix)
        if row.clip_id in first_row_of_clip:
            raise DatasetError(
                f"{where}: duplicate clip_id {row.clip_id!r} (first on row {first_row_of_clip[row.clip_id]})"
            )
        prev = subject_seen.get(row.subject_id)
        if prev is not None:
            _check_same_subject(where, row, prev)
        else:
            subject_seen[row.subject_id] = row
        first_row_of_clip[row.clip_id] = r
        rows.append(row)
    if not rows:
        raise DatasetError(f"{p}: no data rows after the header")
    by_split: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_split[row.split].append(row.subject_id)
    check_subject_disjoint(by_split)
    return rows


def _labels_reader(p: Path) -> tuple[csv.DictReader, list[str]]:
    """A row reader over the labels file and its checked header (stripped names, known columns, none twice)."""
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
    return reader, header


def _label_row(where: str, r: int, line: int, raw: dict, header: list[str], video_suffix: str) -> LabelRow:
    """One CSV row checked field by field; ``where`` names the file and row in every error."""
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
    cobb = _cobb_field(where, v["cobb_deg"])
    sex = v["sex"].upper() or None
    if sex not in (None, "F", "M"):
        raise DatasetError(f"{where}: sex must be 'F' or 'M' (or empty if unknown), got {v['sex']!r}")
    age = _age_field(where, v["age"])
    split = v["split"].lower()
    if split not in SPLITS:
        raise DatasetError(f"{where}: split must be one of {list(SPLITS)}, got {v['split']!r}")
    video = v.get("video") or f"{cid}{video_suffix}"
    vp = Path(video)
    if vp.is_absolute() or ".." in vp.parts:
        raise DatasetError(f"{where}: video must be a path inside the dataset folder, got {video!r}")
    return LabelRow(
        row=r, line=line, clip_id=cid, subject_id=sid, cobb_deg=cobb, sex=sex, age=age, split=split, video=video
    )


def _cobb_field(where: str, text: str) -> float:
    """The Cobb angle in degrees, a finite number in [0, 180]."""
    try:
        cobb = float(text)
    except ValueError:
        raise DatasetError(f"{where}: cobb_deg must be a number of degrees, got {text!r}") from None
    if not (math.isfinite(cobb) and 0.0 <= cobb <= 180.0):
        raise DatasetError(f"{where}: cobb_deg must be between 0 and 180, got {text!r}")
    return cobb


def _age_field(where: str, text: str) -> float | None:
    """The age in years, in (0, 120]; None when the field is empty (unknown)."""
    if not text:
        return None
    try:
        age = float(text)
    except ValueError:
        raise DatasetError(f"{where}: age must be a number of years, got {text!r}") from None
    if not (math.isfinite(age) and 0.0 < age <= 120.0):
        raise DatasetError(f"{where}: age must be in (0, 120] years, got {text!r}")
    return age


def _check_same_subject(where: str, row: LabelRow, prev: LabelRow) -> None:
    """A subject's rows must agree: one split (no leak between splits) and one sex where both are known."""
    sid = row.subject_id
    if prev.split != row.split:
        raise SplitLeakError(
            f"{where}: subject {sid!r} is in split {row.split!r} but row {prev.row} puts them in "
            f"{prev.split!r}; every subject must be in exactly one split"
        )
    if prev.sex is not None and row.sex is not None and prev.sex != row.sex:
        raise DatasetError(f"{where}: subject {sid!r} has sex {row.sex} but {prev.sex} on row {prev.row}")


def _video_cache_config(pose_model: str, tracker: TrackerOptions | None) -> dict[str, Any]:
    """Everything that changes a video's preprocessed numbers (the cache key of every video source)."""
    return {
        "kind": "video_folder",
        "pose_model": pose_model,
        "tracker": None if tracker is None else tracker.model_dump(mode="json"),
        "silhouette": {"size": SIL_SIZE, "cut": SIL_CUT, "threshold": MASK_THRESHOLD},
        "mediapipe": package_version("mediapipe"),
    }


def _process_video(
    row: LabelRow | VideoRow, video: Path, provenance: str, model: str, tracker: TrackerOptions | None
) -> ProcessedClip:
    """The one preprocessing of a video clip: pose + tracking, knowledge map, events, silhouettes."""
    from scoligait_edge.research.extract import extract_subject_silhouettes

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
    """A video without labels (``python -m scoligait_edge.research.preprocess --videos ...``)."""

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
        folder = source_root(cache_root) / "folder" / f"{safe}-{stable_hash([str(self.root), config])[:16]}"
        super().__init__(ClipCache(folder, config), progress=progress, workers=workers)

    def video_path(self, row: LabelRow) -> Path:
        return self.root / row.video

    def _jobs(self) -> list[ClipJob]:
        def job(row: LabelRow) -> ClipJob:
            video = self.video_path(row)
            return ClipJob(
                clip_id=row.clip_id,
                source_key=file_key(video),
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
        folder = source_root(cache_root) / "videos" / stable_hash(config)[:16]
        super().__init__(ClipCache(folder, config), progress=progress, workers=workers)

    def _jobs(self) -> list[ClipJob]:
        return [
            ClipJob(
                clip_id=v.stem,
                source_key=file_key(v),
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
