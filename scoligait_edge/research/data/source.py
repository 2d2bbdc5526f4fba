"""The common part of every data source: clips preprocessed once through the per-clip cache
(:mod:`~scoligait_edge.research.data.cache`), cut into windows on request
(:func:`~scoligait_edge.research.data.windows.clip_windows`)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scoligait_edge.core.constants import WINDOW_FRAMES, WINDOW_HOP
from scoligait_edge.research.data.cache import BuildSummary, ClipCache, default_cache_root
from scoligait_edge.research.data.engines import ClipEngine, ClipJob
from scoligait_edge.research.data.windows import (
    ProcessedClip,
    SplitName,
    WindowSample,
    clip_windows,
)
from scoligait_edge.research.sim.cohort import SPLITS, check_subject_disjoint

if TYPE_CHECKING:
    from scoligait_edge.research.data.torch_dataset import WindowDataset
from scoligait_edge.research.data.splits import assert_subject_disjoint

log = logging.getLogger(__name__)


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
        ``python -m scoligait_edge.research.preprocess``); ``engine`` runs the jobs elsewhere, e.g. on Ray."""
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
        from scoligait_edge.research.data.torch_dataset import WindowDataset

        out: dict[str, WindowDataset] = {
            s: WindowDataset(self.windows(s, **window_kwargs), with_video=with_video) for s in splits
        }
        assert_subject_disjoint(out)
        return out


def file_key(path: Path) -> str:
    """Changes when the file does (size and modification time)."""
    try:
        st = path.stat()
    except OSError:
        return f"{path}:missing"
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


def source_root(cache_root: str | Path | None) -> Path:
    return Path(cache_root).expanduser() if cache_root is not None else default_cache_root()
