"""Clip jobs on Ray: one task per clip, on this machine or a cluster (optional ``[scale]`` extra).

Ray schedules, places and retries; we add nothing of our own. Each task
declares its resources (``num_cpus`` / ``num_gpus``), so Ray runs as many at
once as the cluster has room for. A task whose worker process or node dies is
retried by Ray (``max_retries``); a clip that raises is *not* retried (the
error is the clip's: an unreadable video stays unreadable) but returned and
recorded. Results come back to the driver, which alone writes the cache
(atomically, see :mod:`scoligait_edge.research.data.cache`): worker nodes need no
shared file system, and a killed worker leaves nothing behind. At most
``max_in_flight`` tasks are outstanding, so a cohort of thousands of clips
does not fill the object store.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from scoligait_edge.errors import OptionalDependencyError
from scoligait_edge.research.data.engines import ClipJob, ClipOutcome, run_remote

log = logging.getLogger(__name__)

RAY_INSTALL = "pip install 'scoligait-edge[scale]'"
"""The install command the error names when ``ray`` is missing."""


def require_ray() -> ModuleType:
    """``import ray``, or an error that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise OptionalDependencyError(
            f"--engine ray needs Ray, which is not installed: {RAY_INSTALL} (or: pip install 'ray>=2.40')"
        ) from exc
    return ray


def _remote_run(compute: Any) -> ClipOutcome:  # the task body (module level: Ray pickles it by reference)
    return run_remote(compute)


class RayEngine:
    """Run clip jobs as Ray tasks.

    ``address``: ``None`` starts a private local Ray with ``workers`` CPUs
    (``None``: all of this machine's); ``"auto"`` or ``"ray://host:10001"``
    joins a running cluster (``workers`` then only caps the tasks in flight).
    ``cpus_per_task`` / ``gpus_per_task``: the resources each clip declares.
    ``max_retries``: attempts after a worker or node is lost.
    """

    def __init__(
        self,
        *,
        address: str | None = None,
        workers: int | None = None,
        cpus_per_task: float = 1.0,
        gpus_per_task: float = 0.0,
        max_retries: int = 3,
        max_in_flight: int | None = None,
    ) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if cpus_per_task <= 0 or gpus_per_task < 0 or max_retries < 0:
            raise ValueError("cpus_per_task must be > 0, gpus_per_task and max_retries >= 0")
        self.ray = require_ray()
        self.address = address
        self.workers = workers
        self.cpus_per_task = float(cpus_per_task)
        self.gpus_per_task = float(gpus_per_task)
        self.max_retries = int(max_retries)
        self.max_in_flight = max_in_flight

    def _connect(self) -> bool:
        """Start or join Ray unless this process already has; True when we did (and so shut it down)."""
        ray = self.ray
        if ray.is_initialized():
            return False
        if self.address is None:
            ray.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
        else:
            ray.init(address=self.address, log_to_driver=False, configure_logging=False)
        log.info("Ray: %s", {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU", "memory")})
        return True

    def _in_flight_limit(self) -> int:
        if self.max_in_flight is not None:
            return max(1, self.max_in_flight)
        if self.workers is not None and self.address is not None:
            return self.workers
        cpus = float(self.ray.cluster_resources().get("CPU", 1.0))
        return max(1, 2 * int(cpus / self.cpus_per_task))  # a second task per slot hides the round trip

    def run(self, jobs: list[ClipJob]) -> Iterator[tuple[ClipJob, ClipOutcome]]:
        if not jobs:
            return
        ray = self.ray
        started = self._connect()
        try:
            task = ray.remote(_remote_run).options(
                num_cpus=self.cpus_per_task,
                num_gpus=self.gpus_per_task,
                max_retries=self.max_retries,
                retry_exceptions=False,
            )
            limit = self._in_flight_limit()
            queue = list(reversed(jobs))
            running: dict[Any, ClipJob] = {}
            while queue or running:
                while queue and len(running) < limit:
                    job = queue.pop()
                    running[task.remote(job.compute)] = job
                ready, _ = ray.wait(list(running), num_returns=1)
                for ref in ready:
                    job = running.pop(ref)
                    yield job, self._outcome(ref)
        finally:
            if started:
                ray.shutdown()

    def _outcome(self, ref: Any) -> ClipOutcome:
        ray = self.ray
        try:
            return ray.get(ref)
        except (
            ray.exceptions.WorkerCrashedError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.ObjectLostError,
            ray.exceptions.OwnerDiedError,
        ) as err:
            return ClipOutcome(lost=f"{type(err).__name__} after {self.max_retries} retries: {err}")
        except ray.exceptions.RayTaskError as err:  # the task body itself failed outside the clip's code
            return ClipOutcome(error=RuntimeError(f"{type(err).__name__}: {err}"))


__all__ = ["RAY_INSTALL", "RayEngine", "require_ray"]
