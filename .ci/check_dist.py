"""Checks what `make dist` built: one sdist and one wheel of this version, with the files the runtime needs.

`twine check` covers the metadata (the README renders); this covers the contents: a wheel that lost the demo
bundle, its signature, the pose models, the sample video, py.typed or the package-dir mapped subpackages
(runtimes/ -> scoligait_edge.runtimes, export/ -> scoligait_edge.export) would still pass twine. Whether the
wheel installs and runs without the source tree is .ci/runtime_wheel.sh's job (a fresh venv, no extras).

    python .ci/check_dist.py dist
"""

from __future__ import annotations

import re
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSION = re.search(r'^__version__ = "([^"]+)"', (ROOT / "scoligait_edge" / "__init__.py").read_text(), re.M)[1]

WHEEL_FILES = [
    "scoligait_edge/__init__.py",
    "scoligait_edge/py.typed",
    "scoligait_edge/screener.py",
    "scoligait_edge/run.py",
    "scoligait_edge/runtimes/__init__.py",
    "scoligait_edge/runtimes/onnxruntime_backend.py",
    "scoligait_edge/export/__init__.py",
    "scoligait_edge/bundle/load.py",
    "scoligait_edge/assets/models/demo/manifest.json",
    "scoligait_edge/assets/models/demo/manifest.json.sig",
    "scoligait_edge/assets/models/demo/model.onnx",
    "scoligait_edge/assets/models/demo/model.json",
    "scoligait_edge/assets/keys/demo_ed25519.pub",
    "scoligait_edge/assets/pose_models/pose_landmarker_lite.task",
    "scoligait_edge/assets/pose_models/pose_landmarker_full.task",
    "scoligait_edge/assets/sample/sports2d_walk_demo.mp4",
]
# the source layout: scoligait_edge.runtimes / .export are runtimes/ and export/ at the top level
SDIST_FILES = ["pyproject.toml", "README.md", "CHANGELOG.md"] + [
    re.sub(r"^scoligait_edge/(runtimes|export)/", r"\1/", f) for f in WHEEL_FILES
]


def main(dist: Path) -> int:
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    problems = []
    if len(wheels) != 1 or len(sdists) != 1:
        print(f"error: expected one wheel and one sdist in {dist}, found {[p.name for p in wheels + sdists]}")
        return 1
    wheel, sdist = wheels[0], sdists[0]
    for path in (wheel, sdist):
        if f"-{VERSION}" not in path.name:
            problems.append(f"{path.name}: not version {VERSION} (scoligait_edge.__version__)")

    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = z.read(meta[0]).decode() if meta else ""
    problems += [f"{wheel.name}: missing {f}" for f in WHEEL_FILES if f not in names]
    problems += [f"{wheel.name}: tests/ shipped" for n in names if n.startswith("tests/")][:1]
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    problems += [f"{wheel.name}: torch is a runtime dependency ({r})" for r in requires if "torch" in r]

    with tarfile.open(sdist) as t:
        prefix = f"{sdist.name.removesuffix('.tar.gz')}/"
        members = {m.name.removeprefix(prefix) for m in t.getmembers()}
    problems += [f"{sdist.name}: missing {f}" for f in SDIST_FILES if f not in members]

    for p in problems:
        print("error:", p)
    if not problems:
        print(
            f"dist ok: {wheel.name} ({wheel.stat().st_size / 1e6:.1f} MB, {len(names)} files), "
            f"{sdist.name} ({sdist.stat().st_size / 1e6:.1f} MB, {len(members)} files)"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "dist")))
