"""Import MediaPipe Tasks without paying for ``matplotlib.pyplot`` up front.

``mediapipe.tasks.python.vision`` imports its drawing utilities, which import
``matplotlib.pyplot`` at module level: ~0.3-0.6 s of the runtime's start-up on a
2-core machine, for plotting the runtime never does (the ``--report`` figures
import pyplot themselves). While MediaPipe is imported, ``matplotlib.pyplot`` is
given to it as a :class:`importlib.util.LazyLoader` module: the real module runs
on first attribute access, by MediaPipe or by anyone else, so behaviour is
unchanged; only the cost moves to whoever plots.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

_DEFERRED = "matplotlib.pyplot"


class _LazyPyplotFinder(importlib.abc.MetaPathFinder):
    """Finds ``matplotlib.pyplot`` as usual, but hands out a lazily executed module."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _DEFERRED:
            return None
        for finder in sys.meta_path:  # the regular finders, after this one
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is None:
                    return spec
                spec.loader = importlib.util.LazyLoader(spec.loader)
                return spec
        return None


def import_mediapipe_vision() -> Any:
    """``mediapipe.tasks.python.vision`` with ``matplotlib.pyplot`` deferred (see the module docstring)."""
    if "mediapipe.tasks.python.vision" in sys.modules or _DEFERRED in sys.modules:
        from mediapipe.tasks.python import vision

        return vision
    finder = _LazyPyplotFinder()
    sys.meta_path.insert(0, finder)
    try:
        from mediapipe.tasks.python import vision
    finally:
        sys.meta_path.remove(finder)
    return vision
