"""Where clip jobs run: :class:`LocalEngine` (a process pool on this machine).

An engine only computes; :meth:`ClipCache.build <scoligait_edge.data.cache.ClipCache.build>`
stays the one place that skips cached clips, records failures and writes files
(atomically), so every engine produces the same cache. The Ray engine lives in
:mod:`scoligait_edge.data.ray_engine` because it needs the optional ``ray``.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

from scoligait_edge.data.cache import ClipJob, ClipOutcome, run_remote

log = logging.getLogger(__name__)


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


__all__ = ["LocalEngine"]
