"""Where clip jobs run: the job and outcome types, and :class:`LocalEngine` (a process pool on this machine).

An engine only computes; :meth:`ClipCache.build <scoligait_edge.research.data.cache.ClipCache.build>`
stays the one place that skips cached clips, records failures and writes files
(atomically), so every engine produces the same cache. The Ray engine lives in
:mod:`scoligait_edge.research.data.ray_engine` because it needs the optional ``ray``.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from scoligait_edge.research.data.windows import ProcessedClip

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClipJob:
    """One clip to preprocess: ``compute()`` returns it; ``source_key`` changes when
    its input does (file size + mtime, a simulation spec...), forcing a recompute."""

    clip_id: str
    compute: Callable[[], ProcessedClip]
    source_key: str = ""


@dataclass(frozen=True)
class ClipOutcome:
    """What a worker sends back for one job: the clip as plain data (record JSON + arrays), or the
    clip's own error, or ``lost`` (the worker died, e.g. killed for memory: an infrastructure
    failure, not the clip's, so it is not recorded and a rerun tries again)."""

    record_json: str = ""
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    error: BaseException | None = None
    seconds: float = 0.0
    lost: str | None = None


class ClipEngine(Protocol):
    """Computes clip jobs somewhere (processes here, a Ray cluster...) and yields each
    ``(job, outcome)`` as it completes; the cache stays on the caller's side, which writes."""

    def run(self, jobs: list[ClipJob]) -> Iterator[tuple[ClipJob, ClipOutcome]]: ...


def run_local(compute: Callable[[], ProcessedClip]) -> tuple[ProcessedClip | None, BaseException | None, float]:
    """Run one job; an ordinary exception is returned (the clip failed), interrupts propagate."""
    start = time.perf_counter()
    try:
        return compute(), None, time.perf_counter() - start
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except Exception as exc:  # a bad clip must not stop the run: record and go on
        return None, exc, time.perf_counter() - start


def run_remote(compute: Callable[[], ProcessedClip]) -> ClipOutcome:
    """Worker side of :func:`run_local`: plain data back (the record as JSON), and an
    exception reduced to its type and message so it always pickles."""
    clip, exc, seconds = run_local(compute)
    if clip is None:
        assert exc is not None
        try:
            pickle.dumps(exc)
        except Exception:
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        return ClipOutcome(error=exc, seconds=seconds)
    return ClipOutcome(record_json=clip.record.model_dump_json(), arrays=clip.arrays(), seconds=seconds)


class LocalEngine:
    """``workers`` spawned processes on this machine, one task per clip.

    Spawned rather than forked: MediaPipe and torch hold threads that a fork
    would copy half-initialised. Each job's ``compute`` must pickle (a
    ``functools.partial`` of a module-level function). A worker that dies
    breaks the pool: its clip and every clip still queued come back ``lost``
    (not failed), so the next run computes them.
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = int(workers)

    def run(self, jobs: list[ClipJob]) -> Iterator[tuple[ClipJob, ClipOutcome]]:
        if not jobs:
            return
        ex = ProcessPoolExecutor(
            max_workers=min(self.workers, len(jobs)), mp_context=multiprocessing.get_context("spawn")
        )
        try:
            futures = {ex.submit(run_remote, job.compute): job for job in jobs}
            for fut in as_completed(futures):
                job = futures[fut]
                try:
                    outcome = fut.result()
                except BrokenProcessPool as err:  # a worker died (killed for memory, a segfault)
                    outcome = ClipOutcome(lost=f"{type(err).__name__}: {err}")
                except Exception as err:  # the job could not be sent or its result not received
                    outcome = ClipOutcome(error=err)
                yield job, outcome
        except BaseException:
            ex.shutdown(wait=False, cancel_futures=True)
            raise
        ex.shutdown(wait=True)


__all__ = ["ClipEngine", "ClipJob", "ClipOutcome", "LocalEngine", "run_local", "run_remote"]
