"""The runtime works without torch (and without the onnx export tools): issue 12, "a torch-free runtime".

Both tests run a fresh interpreter. The first hides torch, onnx, onnxscript,
safetensors, sentence-transformers and ray from the import system (as if they were
not installed: ``find_spec`` says None, ``import`` raises
ModuleNotFoundError) and runs the main job on the bundled sample video with
the ONNX Runtime backend. The second keeps them installed and checks that the
runtime's imports and a Screener never load them. No skip when torch is
missing: these tests are what proves the runtime does not need it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HIDDEN = ("torch", "onnx", "onnxscript", "safetensors", "sentence_transformers", "ray")

_HIDE = f"""
import sys
HIDDEN = {HIDDEN!r}


class _Hide:
    '''Wraps a meta-path finder so the HIDDEN packages look uninstalled.'''

    def __init__(self, finder):
        self._finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            return None
        return self._finder.find_spec(name, path, target)

    def __getattr__(self, attr):
        return getattr(self._finder, attr)


sys.meta_path[:] = [_Hide(f) if hasattr(f, "find_spec") else f for f in sys.meta_path]
"""

_MAIN_JOB = """
import importlib.util
import json
import sys

assert importlib.util.find_spec("torch") is None, "torch is still importable"
from scoligait_edge.run import EXIT_NOTHING_SCREENED, EXIT_OK, main

rc = main(sys.argv[1:])
# 60 frames end before the sample's walker is fully in view, so no window reaches the classifier:
# run one through the same backend the job used, to cover inference as well.
from scoligait_edge.runtimes import dummy_batch, load_backend
from scoligait_edge.screener import demo_bundle_path

with load_backend(demo_bundle_path(), backend="onnxruntime", threads=1) as backend:
    out = backend.infer(dummy_batch(backend.inputs))
print("RESULT " + json.dumps({
    "rc": rc, "ok_codes": [EXIT_OK, EXIT_NOTHING_SCREENED], "prob": float(out["prob"][0]),
    "loaded": sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in HIDDEN}
                     | ({"scoligait_edge.research.models"} & set(sys.modules))),
}))
"""

_IMPORTS_ONLY = """
import json
import sys

import numpy as np

import scoligait_edge.bundle
import scoligait_edge.export
import scoligait_edge.run
import scoligait_edge.runtimes
from scoligait_edge.screener import Screener

with Screener(backend="auto", pose=False) as screener:
    screener.process_keypoints(np.full((21, 3), np.nan), 0.0)
    config = screener.model_config
print("RESULT " + json.dumps({
    "backend": screener.backend.name, "config": type(config).__module__,
    "loaded": sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in HIDDEN}
                     | ({"scoligait_edge.research.models"} & set(sys.modules))),
}))
"""


def _run(script: str, args: list[str], tmp_path: Path, timeout: float) -> dict:
    path = tmp_path / "job.py"
    path.write_text(script)
    proc = subprocess.run(
        [sys.executable, str(path), *args], cwd=tmp_path, capture_output=True, text=True, timeout=timeout
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(lines[-1][len("RESULT ") :])


def test_main_job_runs_with_torch_uninstalled(tmp_path: Path) -> None:
    script = _HIDE + textwrap.dedent(_MAIN_JOB)
    out = tmp_path / "results.jsonl"
    result = _run(
        script,
        ["--max-frames", "60", "--headless", "--backend", "onnxruntime", "--output", str(out)],
        tmp_path,
        timeout=300,
    )
    assert result["rc"] in result["ok_codes"], result  # 0, or 3 "nothing screened" on 60 frames
    assert 0.0 <= result["prob"] <= 1.0
    assert result["loaded"] == [], f"loaded with torch hidden: {result['loaded']}"
    assert out.is_file()


def test_runtime_never_imports_torch_even_when_installed(tmp_path: Path) -> None:
    script = f"HIDDEN = {HIDDEN!r}\n" + textwrap.dedent(_IMPORTS_ONLY)
    result = _run(script, [], tmp_path, timeout=120)
    assert result["backend"].startswith("onnxruntime"), result
    assert result["config"] == "scoligait_edge.bundle.model_config"
    assert result["loaded"] == [], f"the runtime imported {result['loaded']}"
