"""ONNX -> ONNX Runtime mobile format (``.ort``) plus the required-operators config for reduced builds.

Runs ``python -m onnxruntime.tools.convert_onnx_models_to_ort`` (in a child
process: it is ORT's own tool and prints a lot) with the "Fixed" optimization
style, i.e. optimizations baked in for the target platform (``arm`` for the
Android demo; the result also runs on x86 CPUs). The operators config goes
into a reduced Android build with ``--include_ops_by_config``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Literal

from scoligait_edge.errors import BackendError


def convert_to_ort(
    onnx_path: str | Path,
    out_dir: str | Path,
    *,
    name: str = "model",
    target_platform: Literal["arm", "amd64"] = "arm",
    timeout_s: float = 300.0,
) -> tuple[Path, Path]:
    """Convert ``onnx_path``; returns ``(<out_dir>/<name>.ort, <out_dir>/<name>.required_operators.config)``."""
    onnx_path, out_dir = Path(onnx_path), Path(out_dir)
    if not onnx_path.is_file():
        raise BackendError(f"cannot convert to .ort: {onnx_path} not found")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="scoligait-ort-") as tmp:
        work = Path(tmp)
        shutil.copyfile(onnx_path, work / f"{name}.onnx")  # the tool converts every .onnx in a folder
        cmd = [
            sys.executable,
            "-m",
            "onnxruntime.tools.convert_onnx_models_to_ort",
            str(work / f"{name}.onnx"),
            "--output_dir",
            str(work / "out"),
            "--optimization_style",
            "Fixed",
            "--target_platform",
            target_platform,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        ort_file = work / "out" / f"{name}.ort"
        config = work / "out" / f"{name}.required_operators.config"
        if proc.returncode != 0 or not ort_file.is_file() or not config.is_file():
            tail = (proc.stdout + proc.stderr)[-2000:]
            raise BackendError(f"ORT mobile conversion of {onnx_path} failed (exit {proc.returncode}):\n{tail}")
        dst_ort, dst_cfg = out_dir / ort_file.name, out_dir / config.name
        shutil.copyfile(ort_file, dst_ort)
        shutil.copyfile(config, dst_cfg)
    return dst_ort, dst_cfg
