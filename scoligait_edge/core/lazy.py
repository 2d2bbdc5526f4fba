"""Package faces that import nothing up front: names resolve to their submodule on first use (PEP 562).

Why: importing one small module (``scoligait_edge.kinematics.resample``) must not load its whole
folder, and ``import scoligait_edge.research.evaluation`` must not pull in matplotlib. A package
``__init__`` lists where each public name lives and hands this helper the list.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any


def lazy_face(
    package: str, lazy: Mapping[str, str], moved_from: Mapping[str, str] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package``.

    ``lazy`` maps a submodule (relative to ``package``) to the public names it defines, space-separated;
    ``moved_from`` maps a module (absolute) to names that left ``package`` in 0.2 for it: they still
    resolve, with a ``FutureWarning`` (a deprecation shim, removed in 0.3).
    """
    names = {name: module for module, listed in lazy.items() for name in listed.split()}
    moved = {name: module for module, listed in (moved_from or {}).items() for name in listed.split()}

    def __getattr__(name: str) -> Any:
        if name in moved:
            warnings.warn(
                f"{package}.{name} moved to {moved[name]}.{name}; the old name goes in 0.3", FutureWarning, stacklevel=2
            )
            return getattr(importlib.import_module(moved[name]), name)
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def __dir__() -> list[str]:
        return sorted(names)

    return __getattr__, __dir__, sorted(names)
