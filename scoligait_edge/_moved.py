"""DEPRECATION SHIM: the modules that moved in 0.2, importable under their old names until 0.3.

One import hook instead of a stub file per old path: ``import scoligait_edge.data.simulate`` (or
``python -m scoligait_edge.train``) warns once with a ``FutureWarning`` naming the new module, and the
old name is an alias of the new module object (one module, one set of classes: ``isinstance`` and
pickles keep working). CHANGELOG.md lists the moves; ``tests/test_architecture.py`` imports every old
name. The import-linter contracts and ``tools/import_graph.py`` leave this file out.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import CodeType, ModuleType

REMOVED_IN = "0.3"

MOVED: dict[str, str] = {
    # the ground floor
    "scoligait_edge.pose.skeleton": "scoligait_edge.core.skeleton",
    "scoligait_edge.kinematics.schema": "scoligait_edge.core.schema",
    # the research wing
    "scoligait_edge.pose.extract": "scoligait_edge.research.extract",
    "scoligait_edge.kinematics.information": "scoligait_edge.research.information",
    "scoligait_edge.data": "scoligait_edge.research.data",
    "scoligait_edge.data.sim_body": "scoligait_edge.research.sim.body",
    "scoligait_edge.data.sim_camera": "scoligait_edge.research.sim.camera",
    "scoligait_edge.data.sim_cohort": "scoligait_edge.research.sim.cohort",
    "scoligait_edge.data.simulate": "scoligait_edge.research.sim.simulate",
    "scoligait_edge.data.sim_settings": "scoligait_edge.research.sim.settings",
    "scoligait_edge.data.signal_audit": "scoligait_edge.research.sim.signal_audit",
    "scoligait_edge.data.cache": "scoligait_edge.research.data.cache",
    "scoligait_edge.data.engines": "scoligait_edge.research.data.engines",
    "scoligait_edge.data.ray_engine": "scoligait_edge.research.data.ray_engine",
    "scoligait_edge.data.windows": "scoligait_edge.research.data.windows",
    "scoligait_edge.data.datasets": "scoligait_edge.research.data",
    "scoligait_edge.models": "scoligait_edge.research.models",
    "scoligait_edge.training": "scoligait_edge.research.training",
    "scoligait_edge.evaluation": "scoligait_edge.research.evaluation",
    "scoligait_edge.evaluation.interpret": "scoligait_edge.interpret",
    # the research commands (`scoligait <command>` is the new form)
    "scoligait_edge.ablate": "scoligait_edge.research.ablate",
    "scoligait_edge.train": "scoligait_edge.research.train",
    "scoligait_edge.evaluate": "scoligait_edge.research.evaluate",
    "scoligait_edge.baselines": "scoligait_edge.research.run_baselines",
    "scoligait_edge.preprocess": "scoligait_edge.research.preprocess",
    "scoligait_edge.kmap_demo": "scoligait_edge.research.kmap_demo",
    # the bundle contract lives in bundle/, not export/
    "scoligait_edge.export.specs": "scoligait_edge.bundle.specs",
}
"""Old module name -> new module name. Submodules of a moved package follow it (``models.layers``...)."""


def new_name(old: str) -> str | None:
    """The new name of a moved module (or of a submodule of a moved package), else None."""
    if old in MOVED:
        return MOVED[old]
    head = old.rpartition(".")[0]
    while head:
        if head in MOVED:
            return f"{MOVED[head]}.{old[len(head) + 1 :]}"
        head = head.rpartition(".")[0]
    return None


class _Alias(importlib.abc.Loader):
    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def _warn(self) -> None:
        warnings.warn(f"{self.old} moved to {self.new}; the old name goes in {REMOVED_IN}", FutureWarning, stacklevel=4)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        self._warn()
        module = importlib.import_module(self.new)
        self._spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self._spec  # the import system stamped the old spec on the shared module

    def get_code(self, fullname: str) -> CodeType | None:
        """``python -m <old name>`` runs the new module's code."""
        self._warn()
        spec = importlib.util.find_spec(self.new)
        loader = spec.loader if spec else None
        get_code = getattr(loader, "get_code", None)
        return get_code(self.new) if get_code else None

    def is_package(self, fullname: str) -> bool:
        spec = importlib.util.find_spec(self.new)
        return bool(spec and spec.submodule_search_locations is not None)


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith("scoligait_edge."):
            return None
        new = new_name(fullname)
        if new is None:
            return None
        loader = _Alias(fullname, new)
        return importlib.machinery.ModuleSpec(fullname, loader, is_package=loader.is_package(fullname))


def install() -> None:
    """Put the alias finder first on ``sys.meta_path`` (first, so an old name never loads a second copy)."""
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder())
