"""Per-clip on-disk cache of preprocessed clips, resumable and safe to interrupt.

Why per clip: preprocessing a real dataset (pose on every frame) takes hours;
one file per clip means an interrupted run loses at most the clip in flight,
and a rerun skips everything already done. Layout of a cache folder::

    <root>/manifest.json        config, config hash, schema hash, one entry per clip
    <root>/clips/<name>.npz     one clip: arrays + its ClipRecord JSON + cache meta

Every file is written to a temporary name and renamed into place (atomic on
one file system), so a crash never leaves a half-written file under a real
name. ``.npz`` files are written with ``np.savez_compressed`` and read with
``allow_pickle=False``: no object arrays, nothing executes on load.

A clip counts as cached when its file loads, its embedded config hash and
source key match, and (when the manifest has one) its sha256 matches: a
truncated or edited file is recomputed. Each file describes itself, so the
manifest is a summary that can be rebuilt: files written after the last
manifest flush are adopted on the next run. A clip whose preprocessing fails
(corrupt video, nobody walking) is recorded with its error and skipped; it
never aborts the run, and it is not retried unless ``retry_failed=True``.
Clips can be computed elsewhere (:class:`ClipEngine`: a local process pool,
Ray, see :mod:`scoligait_edge.research.data.engines`); this process still writes every
file, and a clip whose worker died is counted as lost, not failed, so a rerun
computes it.

Two processes filling one cache at once is safe file by file; the manifest
is last-writer-wins, which loses nothing because the files describe themselves.

Default location: ``$SCOLIGAIT_CACHE`` or ``~/.cache/scoligait_edge``
(:func:`default_cache_root`); every dataset takes an explicit root too.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import pickle
import re
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tqdm.auto import tqdm

from scoligait_edge.core.schema import schema_hash
from scoligait_edge.errors import ScoliGaitError
from scoligait_edge.research.data.engines import ClipEngine, ClipJob, LocalEngine, run_local
from scoligait_edge.research.data.windows import ClipRecord, ProcessedClip

log = logging.getLogger(__name__)

CACHE_ENV = "SCOLIGAIT_CACHE"
CACHE_FORMAT_VERSION = 1
"""Bump when the npz layout or the preprocessing changes meaning (invalidates every cache)."""
MANIFEST_NAME = "manifest.json"
_FLUSH_EVERY_S = 5.0


def default_cache_root() -> Path:
    """``$SCOLIGAIT_CACHE`` if set, else ``~/.cache/scoligait_edge``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "scoligait_edge"


def stable_hash(obj: Any) -> str:
    """sha256 of the canonical JSON of ``obj`` (pydantic models dumped first)."""
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json")
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def clip_file_name(clip_id: str) -> str:
    """A safe, unique file name for any clip id (ids may contain '/' or spaces)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", clip_id).strip("._")[:80] or "clip"
    return f"{stem}-{hashlib.sha1(clip_id.encode()).hexdigest()[:10]}.npz"


class CacheEntry(BaseModel):
    """The manifest's line for one clip."""

    model_config = ConfigDict(extra="forbid")

    clip_id: str
    status: Literal["ok", "failed"]
    file: str | None = None
    source_key: str = ""
    config_hash: str
    sha256: str | None = None
    n_frames: int | None = None
    error: str | None = None
    error_type: str | None = None
    seconds: float = 0.0
    updated_utc: str = Field(default_factory=_now)


class CacheManifest(BaseModel):
    """``manifest.json``: what the cache was built with and the state of every clip."""

    model_config = ConfigDict(extra="forbid")

    format_version: int = CACHE_FORMAT_VERSION
    config_hash: str
    schema_hash: str
    config: dict[str, Any]
    created_utc: str = Field(default_factory=_now)
    updated_utc: str = Field(default_factory=_now)
    entries: dict[str, CacheEntry] = Field(default_factory=dict)


class BuildSummary(BaseModel):
    """What one :meth:`ClipCache.build` did; ``failures`` maps clip id -> error message."""

    total: int = 0
    reused: int = 0
    computed: int = 0
    failed: int = 0
    failed_before: int = Field(0, description="Failures remembered from an earlier run and not retried.")
    failures: dict[str, str] = Field(default_factory=dict)
    by_reason: dict[str, int] = Field(default_factory=dict)
    lost: int = Field(
        0,
        description="Clips whose worker died (after the engine's retries): not recorded as "
        "failed, so the next run computes them again.",
    )
    lost_clips: dict[str, str] = Field(default_factory=dict)
    seconds: float = 0.0
    audit: dict[str, Any] | None = Field(
        default=None, description="a source's own checks of the data (Scoliosis1K: alignment and frame rate)"
    )

    def describe(self) -> str:
        text = (
            f"{self.total} clips: {self.reused} cached, {self.computed} computed, "
            f"{self.failed + self.failed_before} failed"
        )
        if self.failed_before:
            text += f" ({self.failed_before} in an earlier run; retry_failed=True retries them)"
        if self.lost:
            text += f", {self.lost} lost with their worker (a rerun computes them)"
        if self.by_reason:
            text += " - " + ", ".join(f"{n} x {r}" for r, n in sorted(self.by_reason.items(), key=lambda x: -x[1]))
        return text


class CacheCorruptError(ScoliGaitError):
    """A cache file is unreadable, incomplete or belongs to other settings."""


class ClipCache:
    """One cache folder for one preprocessing configuration (see the module docstring).

    ``config``: everything that changes the preprocessed numbers (a dict or a
    pydantic model); its hash, with the knowledge-map schema hash and the
    cache format version, must match for a file to be reused.
    """

    def __init__(self, root: str | Path, config: Mapping[str, Any] | BaseModel) -> None:
        self.root = Path(root).expanduser()
        cfg = config.model_dump(mode="json") if isinstance(config, BaseModel) else dict(config)
        self.config: dict[str, Any] = json.loads(json.dumps(cfg, sort_keys=True, default=str))
        self.schema_hash = schema_hash()
        self.config_hash = stable_hash(
            {"config": self.config, "schema_hash": self.schema_hash, "format": CACHE_FORMAT_VERSION}
        )
        self.clips_dir = self.root / "clips"
        self.manifest_path = self.root / MANIFEST_NAME
        self.manifest = self._read_manifest()
        self._dirty = False
        self._last_flush = time.monotonic()

    # -- manifest ---------------------------------------------------------------

    def _fresh_manifest(self) -> CacheManifest:
        return CacheManifest(config_hash=self.config_hash, schema_hash=self.schema_hash, config=self.config)

    def _read_manifest(self) -> CacheManifest:
        if not self.manifest_path.is_file():
            return self._fresh_manifest()
        try:
            m = CacheManifest.model_validate_json(self.manifest_path.read_bytes())
        except (ValidationError, OSError, ValueError) as exc:
            log.warning(
                "Cache manifest %s is unreadable (%s); rebuilding it from the clip files", self.manifest_path, exc
            )
            return self._fresh_manifest()
        if m.config_hash != self.config_hash or m.format_version != CACHE_FORMAT_VERSION:
            log.warning(
                "Cache %s was built with other settings (config %s..., now %s...); its clips will be recomputed",
                self.root,
                m.config_hash[:12],
                self.config_hash[:12],
            )
            return self._fresh_manifest()
        return m

    def flush(self) -> None:
        """Write the manifest now (atomically)."""
        self.manifest.updated_utc = _now()
        atomic_write_bytes(self.manifest_path, self.manifest.model_dump_json(indent=1).encode())
        self._dirty = False
        self._last_flush = time.monotonic()

    def _maybe_flush(self) -> None:
        if self._dirty and time.monotonic() - self._last_flush >= _FLUSH_EVERY_S:
            self.flush()

    # -- one clip ---------------------------------------------------------------

    def path_for(self, clip_id: str) -> Path:
        return self.clips_dir / clip_file_name(clip_id)

    def put(self, clip: ProcessedClip, *, source_key: str = "", seconds: float = 0.0) -> Path:
        """Store one clip (atomically) and record it as ok."""
        cid = clip.record.clip_id
        meta = {
            "config_hash": self.config_hash,
            "source_key": source_key,
            "format": CACHE_FORMAT_VERSION,
            "schema_hash": self.schema_hash,
            "clip_id": cid,
        }
        buf = io.BytesIO()
        arrays: dict[str, Any] = clip.arrays()  # as Any: a ** dict of arrays cannot match allow_pickle: bool
        np.savez_compressed(
            buf,
            **arrays,
            record=np.array(clip.record.model_dump_json()),
            meta=np.array(json.dumps(meta)),
        )
        data = buf.getvalue()
        path = self.path_for(cid)
        atomic_write_bytes(path, data)
        self.manifest.entries[cid] = CacheEntry(
            clip_id=cid,
            status="ok",
            file=str(path.relative_to(self.root)),
            source_key=source_key,
            config_hash=self.config_hash,
            sha256=hashlib.sha256(data).hexdigest(),
            n_frames=clip.record.n_frames,
            seconds=round(seconds, 3),
        )
        self._dirty = True
        self._maybe_flush()
        return path

    def fail(self, clip_id: str, error: BaseException, *, source_key: str = "", seconds: float = 0.0) -> None:
        """Record that ``clip_id`` could not be preprocessed, and why."""
        self.manifest.entries[clip_id] = CacheEntry(
            clip_id=clip_id,
            status="failed",
            source_key=source_key,
            config_hash=self.config_hash,
            error=str(error) or type(error).__name__,
            error_type=type(error).__name__,
            seconds=round(seconds, 3),
        )
        self.path_for(clip_id).unlink(missing_ok=True)
        self._dirty = True
        self._maybe_flush()

    def read(self, clip_id: str, *, source_key: str | None = None) -> ProcessedClip:
        """Load one cached clip; raises :class:`CacheCorruptError` when the file is
        missing, unreadable, edited, or from other settings / another source."""
        path = self.path_for(clip_id)
        if not path.is_file():
            raise CacheCorruptError(f"{path}: not in the cache")
        entry = self.manifest.entries.get(clip_id)
        if entry is not None and entry.status == "ok" and entry.sha256 and _file_sha256(path) != entry.sha256:
            raise CacheCorruptError(f"{path}: contents changed since they were written (sha256 mismatch)")
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
            raise CacheCorruptError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from exc
        try:
            meta = json.loads(str(arrays.pop("meta")))
            record = ClipRecord.model_validate_json(str(arrays.pop("record")))
        except (KeyError, ValueError) as exc:
            raise CacheCorruptError(f"{path}: missing or bad meta/record ({exc})") from exc
        if meta.get("config_hash") != self.config_hash:
            raise CacheCorruptError(f"{path}: written with other settings")
        if meta.get("clip_id") != clip_id or record.clip_id != clip_id:
            raise CacheCorruptError(f"{path}: holds clip {meta.get('clip_id')!r}, not {clip_id!r}")
        if source_key is not None and meta.get("source_key") != source_key:
            raise CacheCorruptError(f"{path}: its source changed since it was cached")
        try:
            clip = ProcessedClip.from_arrays(record, arrays)
        except (TypeError, ValueError) as exc:
            raise CacheCorruptError(f"{path}: inconsistent arrays ({exc})") from exc
        if entry is None or entry.status != "ok":  # written after the last manifest flush: adopt it
            self.manifest.entries[clip_id] = CacheEntry(
                clip_id=clip_id,
                status="ok",
                file=str(path.relative_to(self.root)),
                source_key=str(meta.get("source_key", "")),
                config_hash=self.config_hash,
                sha256=_file_sha256(path),
                n_frames=record.n_frames,
            )
            self._dirty = True
        return clip

    def get(self, clip_id: str, *, source_key: str | None = None) -> ProcessedClip | None:
        """Like :meth:`read`, but None (and a log line) instead of an error."""
        try:
            return self.read(clip_id, source_key=source_key)
        except CacheCorruptError as exc:
            present = self.path_for(clip_id).is_file()
            log.log(logging.WARNING if present else logging.DEBUG, "Cache miss, will recompute: %s", exc)
            return None

    def failure(self, clip_id: str, *, source_key: str | None = None) -> CacheEntry | None:
        """The recorded failure of ``clip_id`` under these settings, if any."""
        e = self.manifest.entries.get(clip_id)
        if e is None or e.status != "failed" or e.config_hash != self.config_hash:
            return None
        if source_key is not None and e.source_key != source_key:
            return None
        return e

    def is_cached(self, clip_id: str, *, source_key: str | None = None) -> bool:
        """True when the clip's file is present and valid (this reads and checks it)."""
        return self.get(clip_id, source_key=source_key) is not None

    # -- many clips -------------------------------------------------------------

    def build(
        self,
        jobs: Iterable[ClipJob],
        *,
        progress: bool = True,
        retry_failed: bool = False,
        desc: str = "preprocess",
        on_clip: Callable[[ProcessedClip], None] | None = None,
        workers: int = 1,
        engine: ClipEngine | None = None,
    ) -> BuildSummary:
        """Preprocess every job not cached yet; never aborts on a failing clip.

        ``on_clip`` receives every clip that is available afterwards (reused or
        computed), so a caller that needs them all loads each file once.
        ``workers > 1`` computes clips in that many processes (spawned; each
        job's ``compute`` must then be picklable, e.g. a ``functools.partial``
        of a module-level function, else the run falls back to one process).
        ``engine`` computes them elsewhere instead (:mod:`scoligait_edge.research.data.engines`,
        e.g. on Ray); either way only this process writes the cache, each file atomically.
        Returns (and logs) a summary: how many clips were reused, computed and
        failed, and the failures grouped by error type.
        """
        jobs = list(jobs)
        t0 = time.perf_counter()
        tally = _BuildTally(
            summary=BuildSummary(total=len(jobs)),
            bar=tqdm(total=len(jobs), desc=desc, unit="clip", disable=not progress, leave=False),
            on_clip=on_clip,
        )
        summary = tally.summary
        try:
            pending = self._pending_jobs(jobs, tally, retry_failed=retry_failed)
            self._compute(pending, tally, workers=workers, engine=engine)
        finally:
            tally.bar.close()
            if self._dirty or not self.manifest_path.is_file():
                self.flush()
        summary.by_reason = dict(tally.reasons)
        summary.seconds = round(time.perf_counter() - t0, 3)
        level = logging.WARNING if summary.failed or summary.failed_before else logging.INFO
        log.log(level, "Cache %s: %s", self.root, summary.describe())
        return summary

    def _pending_jobs(self, jobs: list[ClipJob], tally: _BuildTally, *, retry_failed: bool) -> list[ClipJob]:
        """The jobs still to compute; a remembered failure (unless retried) and a valid cached clip are
        counted here instead, and the cached clip goes to ``on_clip``."""
        pending: list[ClipJob] = []
        for job in jobs:
            old = self.failure(job.clip_id, source_key=job.source_key)
            if old is not None and not retry_failed:
                tally.summary.failed_before += 1
                tally.summary.failures[job.clip_id] = old.error or ""
                tally.reasons[old.error_type or "error"] += 1
                tally.bar.update(1)
                continue
            cached = None if old is not None else self.get(job.clip_id, source_key=job.source_key)
            if cached is not None:
                tally.summary.reused += 1
                if tally.on_clip is not None:
                    tally.on_clip(cached)
                tally.bar.update(1)
                continue
            pending.append(job)
        return pending

    def _compute(self, pending: list[ClipJob], tally: _BuildTally, *, workers: int, engine: ClipEngine | None) -> None:
        """Compute ``pending`` on ``engine``, in ``workers`` local processes when the jobs can be pickled, or
        in this process; each clip is recorded as it arrives."""
        if engine is None and workers > 1 and len(pending) > 1 and _picklable(pending[0].compute):
            engine = LocalEngine(workers)
        if engine is not None and pending:
            self._run_on_engine(engine, pending, tally)
            return
        if workers > 1 and len(pending) > 1:
            log.warning("Clip jobs cannot be sent to other processes (not picklable); using one")
        for job in pending:
            clip, exc, seconds = run_local(job.compute)
            self._record(job, clip, exc, seconds, tally)

    def _run_on_engine(self, engine: ClipEngine, pending: list[ClipJob], tally: _BuildTally) -> None:
        """Compute ``pending`` on ``engine``; a clip lost with its worker is counted, not recorded, so a rerun
        computes it."""
        for job, outcome in engine.run(pending):
            if outcome.lost is not None:
                log.warning(
                    "Clip %s lost with its worker (%s); not recorded, a rerun computes it",
                    job.clip_id,
                    outcome.lost,
                )
                tally.summary.lost += 1
                tally.summary.lost_clips[job.clip_id] = outcome.lost
                tally.bar.update(1)
                continue
            clip = None
            if outcome.error is None:
                clip = ProcessedClip.from_arrays(ClipRecord.model_validate_json(outcome.record_json), outcome.arrays)
            self._record(job, clip, outcome.error, outcome.seconds, tally)

    def _record(
        self,
        job: ClipJob,
        clip: ProcessedClip | None,
        exc: BaseException | None,
        seconds: float,
        tally: _BuildTally,
    ) -> None:
        """Write one computed clip into the cache, or record its failure; a clip under another id is a failure."""
        if clip is not None and clip.record.clip_id != job.clip_id:
            exc = ValueError(f"compute() returned clip {clip.record.clip_id!r} for job {job.clip_id!r}")
            clip = None
        if clip is None:
            assert exc is not None
            log.warning("Clip %s failed: %s: %s", job.clip_id, type(exc).__name__, exc)
            self.fail(job.clip_id, exc, source_key=job.source_key, seconds=seconds)
            tally.summary.failed += 1
            tally.summary.failures[job.clip_id] = str(exc) or type(exc).__name__
            tally.reasons[type(exc).__name__] += 1
        else:
            self.put(clip, source_key=job.source_key, seconds=seconds)
            tally.summary.computed += 1
            if tally.on_clip is not None:
                tally.on_clip(clip)
        tally.bar.update(1)


@dataclass
class _BuildTally:
    """What one :meth:`ClipCache.build` counts as it goes: the summary, failures by error type, the bar."""

    summary: BuildSummary
    bar: Any
    on_clip: Callable[[ProcessedClip], None] | None
    reasons: Counter[str] = field(default_factory=Counter)


def _picklable(obj: object) -> bool:
    try:
        pickle.dumps(obj)
    except Exception:
        return False
    return True


__all__ = [
    "CACHE_ENV",
    "CACHE_FORMAT_VERSION",
    "BuildSummary",
    "CacheCorruptError",
    "CacheEntry",
    "CacheManifest",
    "ClipCache",
    "atomic_write_bytes",
    "clip_file_name",
    "default_cache_root",
    "stable_hash",
]
