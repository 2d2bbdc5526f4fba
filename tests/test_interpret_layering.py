"""Issue 12: the attention-to-feature interpretation lives in one torch-free runtime module.

The Screener and evaluation both call :mod:`scoligait_edge.interpret`; plotting is only in ``viz/``; the
dependency direction is viz -> runtime and evaluation -> runtime (-> viz for figures), never runtime -> viz,
runtime -> evaluation or viz -> evaluation.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np

PKG = Path(__file__).resolve().parents[1] / "scoligait_edge"


def _imports(path: Path) -> set[str]:
    """Every module a file imports (top level and inside functions)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def test_dependency_direction():
    for f in sorted((PKG / "viz").glob("*.py")):
        bad = {m for m in _imports(f) if m.startswith("scoligait_edge.research.evaluation")}
        assert not bad, f"{f.name} (viz) imports evaluation: {bad}"
    for f in (PKG / "interpret.py", PKG / "screener.py", PKG / "session_report.py"):
        bad = {m for m in _imports(f) if m.startswith(("scoligait_edge.research.evaluation", "torch", "matplotlib"))}
        bad |= {m for m in _imports(f) if m.startswith("scoligait_edge.viz") and f.name != "session_report.py"}
        assert not bad, f"{f.name} (runtime) imports {bad}"
    assert "def plot_" not in (PKG / "interpret.py").read_text()


def test_runtime_interpretation_imports_no_torch_no_plotting_no_evaluation():
    code = (
        "import sys, scoligait_edge.interpret, scoligait_edge.screener, scoligait_edge.viz.report; "
        "bad = [m for m in ('torch', 'matplotlib', 'scipy', 'scoligait_edge.research.evaluation') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_evaluation_and_screener_share_one_interpretation():
    from scoligait_edge import interpret
    from scoligait_edge.core.schema import NUM_FEATURES

    training_pipeline = PKG / "research" / "training" / "pipeline.py"
    assert "scoligait_edge.interpret" in _imports(training_pipeline)  # one interpretation, not a copy
    att = np.zeros((96, NUM_FEATURES))
    att[40:50, 7] = 2.0
    valid = np.ones(96, bool)
    (h,) = [h for h in interpret.feature_highlights(att, valid, window_start_frame=30) if h.evidence == 2.0]
    (s,) = [s for s in interpret.top_features(att, valid, window_start_frame=30) if s.peak_evidence == 2.0]
    assert (h.name, h.start_s, h.stop_s) == (s.name, s.start_s, s.stop_s) == (s.name, 70 / 30, 80 / 30)
