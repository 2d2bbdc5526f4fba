"""Append-only JSON Lines log: one record per line, on disk as soon as it is written.

A screening session can end badly (power cut, Ctrl-C, a crash in a backend):
every line written before that must survive, complete and parseable. Each
record is serialised first and written with one ``write`` call, then flushed
(and optionally fsync'ed), so a reader, or a tail -f, sees whole lines only.
Non-finite floats become ``null``: ``NaN`` is not JSON, and a log that other
tools cannot parse is lost too.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import json
import logging
import math
import os
import threading
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

import numpy as np
from pydantic import BaseModel

from scoligait_edge.errors import ResultsLogError

log = logging.getLogger(__name__)


def to_jsonable(obj: Any) -> Any:
    """Plain JSON types from pydantic models, dataclasses, numpy values/arrays, paths,
    datetimes and enums; NaN/inf become None."""
    if isinstance(obj, BaseModel):
        return to_jsonable(obj.model_dump(mode="json"))
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, bool | int | str) or obj is None:
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value)
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, _dt.datetime | _dt.date | _dt.time):
        return obj.isoformat()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def dumps_line(record: BaseModel | Mapping[str, Any]) -> str:
    """One compact JSON line (no trailing newline) for a pydantic model or a mapping."""
    return json.dumps(to_jsonable(record), ensure_ascii=False, allow_nan=False, separators=(",", ":"))


class JsonlWriter:
    """Appends records to ``path`` (created with its folder), one JSON line each, on disk per line.

    ``fsync=True`` also asks the OS to put each line on the disk (survives a
    power cut, costs a few ms per line; a line per window is cheap enough).
    ``append=False`` truncates an existing file. ``fields`` go first in every
    record (a session id: sessions appended to one file stay apart). Thread-safe.
    A record that cannot be serialised raises TypeError and writes nothing; a
    failed write (disk full) raises :class:`ResultsLogError`. Lines go straight
    to the file descriptor, unbuffered, so nothing is left over for ``close()``
    to fail on.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        fsync: bool = False,
        append: bool = True,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.fields = dict(fields or {})
        self.lines_written = 0
        self._lock = threading.Lock()
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC) | getattr(os, "O_CLOEXEC", 0)
        self._fd: int | None = os.open(self.path, flags, 0o644)
        log.info("writing results to %s", self.path)

    @property
    def closed(self) -> bool:
        return self._fd is None

    def write(self, record: BaseModel | Mapping[str, Any]) -> None:
        body = to_jsonable(record)
        if self.fields and isinstance(body, dict):
            body = {**to_jsonable(self.fields), **body}
        line = (dumps_line(body) + "\n").encode("utf-8")  # serialise before touching the file: no half lines
        with self._lock:
            if self._fd is None:
                raise ValueError(f"JsonlWriter({self.path}) is closed")
            try:
                view = memoryview(line)
                while view:
                    view = view[os.write(self._fd, view) :]
                if self.fsync:
                    os.fsync(self._fd)
            except OSError as exc:
                error = ResultsLogError(f"cannot write to the results log {self.path}: {exc.strerror or exc}")
                error.errno = exc.errno
                raise error from None
            self.lines_written += 1

    def close(self) -> None:
        """Close (safe to call twice; never raises: every line was written, or its write raised)."""
        with self._lock:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                try:
                    os.close(fd)
                except OSError as exc:
                    log.warning("closing %s: %s", self.path, exc)
                log.info("wrote %d line(s) to %s", self.lines_written, self.path)

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The records of a JSON Lines file; a truncated last line (a crash mid-write by another
    writer) is skipped with a warning."""
    out: list[dict[str, Any]] = []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                log.warning("%s: last line is incomplete, skipping it", path)
            else:
                raise
    return out
