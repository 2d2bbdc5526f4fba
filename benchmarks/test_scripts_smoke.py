"""The plain scripts beside the suites (gpu.py, jetson/jetson_bench.py, summarize.py) still run.

Not benchmarks (``make bench`` skips them with --benchmark-only); ``make test``
runs them in smoke mode on the CPU so they cannot rot between GPU/Jetson loans.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def test_gpu_script_cpu_smoke(tmp_path, screening_bundle_path):
    import gpu

    out = tmp_path / "gpu.json"
    rc = gpu.main(
        [
            "--cpu-smoke",
            "--bundle",
            str(screening_bundle_path),
            "--out",
            str(out),
            "--md",
            str(tmp_path / "gpu.md"),
            "--iters",
            "2",
            "--warmup",
            "1",
            "--batches",
            "1,2",
            "--clips",
            "1",
            "--random-windows",
            "4",
        ]
    )
    assert rc == 0
    report = json.loads(out.read_text())
    assert {p["candidate"] for p in report["parity"]} == {"onnxruntime-cpu fp32", "onnxruntime-cpu fp16"}
    assert all(p["label_agreement"] >= 0.95 for p in report["parity"])
    rows = {(r["backend"], r["batch"]) for r in report["latency"]}
    assert ("torch-cpu fp32", 2) in rows and ("onnxruntime-cpu fp32", 1) in rows
    assert all(np.isfinite(r["e2e"]["median_ms"]) and r["e2e"]["windows_per_s"] > 0 for r in report["latency"])
    assert "torch-cuda-graphs fp16" in report["skipped"]
    assert "| backend | batch |" in (tmp_path / "gpu.md").read_text()


def test_gpu_check_is_an_alias_of_gpu():
    text = (HERE / "gpu_check.py").read_text()
    assert "from gpu import main" in text


def test_jetson_script_smoke(tmp_path):
    sys.path.insert(0, str(HERE / "jetson"))
    import jetson_bench

    assert jetson_bench.main(["--smoke", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "jetson_bench.json").read_text())
    assert "nvpmodel_q" in report["device"] and "machine" in report["device"]
    for stage in ("decode", "pose-lite", "kmap-update"):
        row = report["stages"][stage]["host"]
        assert row["n"] >= 3 and 0 < row["min_ms"] <= row["median_ms"] <= row["max_ms"]
    assert any(k.startswith("screener.process") for k in report["stages"]) or "pipeline" in report["skipped"]
    if not report["ran_on_jetson"]:
        assert "classifier tensorrt fp16" in report["skipped"]


def _bench(name: str, group: str, seconds: list[float], extra: dict | None = None) -> dict:
    a = np.asarray(seconds)
    return {
        "name": name,
        "group": group,
        "extra_info": extra or {},
        "stats": {
            "median": float(np.median(a)),
            "mean": float(a.mean()),
            "min": float(a.min()),
            "rounds": len(a),
            "iterations": 1,
            "data": seconds,
        },
    }


def test_summarize_ratios_and_targets(tmp_path):
    import summarize

    pipe = {
        "threads": None,
        "frames": 10,
        "fps_sustained": 32.0,
        "sdk_share": 0.08,
        "windows_screened": 1,
        "total_ms": {"mean": 31.25, "p50": 31.0},
        "pose_ms": {"mean": 28.75, "p50": 28.5},
        "sdk_ms": {"mean": 2.5, "p50": 2.5},
    }
    doc = {
        "datetime": "2026-01-01T00:00:00",
        "version": "5",
        "machine_info": {"scoligait": {"cpu_model": "X"}},
        "benchmarks": [
            _bench("test_streaming_update_per_frame", "knowledge-map", [20e-6] * 5),
            _bench("test_batch_recompute_96_frames", "knowledge-map", [2.4e-3] * 5),
            _bench("test_classifier[torch-fp32-b1]", "classifier-b1", [10e-3] * 5),
            _bench("test_classifier[onnxruntime-fp32-b1]", "classifier-b1", [5e-3] * 5),
            _bench("test_screener_process_per_frame[ort-default-threads]", "pipeline", [31e-3] * 5, pipe),
            _bench("test_pose_alone_same_frames[as-screener]", "pipeline", [28e-3] * 5),
            _bench("test_pose_alone_same_frames[no-masks]", "pipeline", [20e-3] * 5),
        ],
    }
    res = summarize.analyse(doc)
    t = res["targets"]
    assert t["KnowledgeMapBuilder.update >= 100x cheaper than the 96-frame recompute"][0]
    assert t["ONNX Runtime classifier at batch 1 faster than torch eager"][0]
    assert t["pipeline >= 30 frames/s sustained (lite pose)"][0] and t["SDK <= 10% of a frame's time"][0]
    assert abs(res["ratios"]["96-frame batch recompute / streaming update (p50)"][0] - 120.0) < 1e-9
    key = "Screener.process <= 1.25x lite pose alone without masks on the camera frame (p50, same full-size frames)"
    ok, figure = t[key]
    assert not ok and figure.startswith("1.55x") and "separate runs" in figure
    paired = dict(
        pipe,
        bare_pose_ms={"mean": 20.0, "p50": 20.0},
        bare_sized_pose_ms={"mean": 19.0, "p50": 19.375},
        frame_size=[1768, 994],
        pose_input_size=[884, 497],
    )
    doc["benchmarks"][4] = _bench(
        "test_screener_process_per_frame[ort-default-threads]", "pipeline", [31e-3] * 5, paired
    )
    res = summarize.analyse(doc)
    ok, figure = res["targets"][key]
    assert not ok and figure.startswith("1.55x") and "paired calls" in figure and "1.43x bare pose" in figure
    assert "884 x 497 of 1768 x 994" in figure
    sized = "Screener.process p50 / bare lite pose p50 on the frame the Screener gives MediaPipe (paired)"
    assert abs(res["ratios"][sized][0] - 1.6) < 1e-9
    src = tmp_path / "b.json"
    src.write_text(json.dumps(doc))
    footprint = tmp_path / "footprint.json"
    footprint.write_text(
        json.dumps(
            {
                "main job": [{"peak_rss_mb": m, "startup_s": 1.0} for m in (440.0, 460.0, 430.0)],
                "main job, pose on the camera frame": [{"peak_rss_mb": 520.0, "startup_s": 1.1}],
            }
        )
    )
    ok, figure = summarize.footprint_target(footprint)[1]
    assert ok and figure.startswith("440 MB (median of 3") and "camera frame: 520 MB" in figure
    out = tmp_path / "R.md"
    assert summarize.main([str(src), "-o", str(out), "--footprint", str(footprint)]) == 0
    text = out.read_text()
    assert "## Targets" in text and "met" in text and "| knowledge-map |" in text
    assert "peak RSS of `run`" in text and "| main job, pose on the camera frame | 520 (520-520) |" in text


def test_runtime_footprint_main_job_probe(tmp_path):
    """One fresh process of the main job on 40 frames: start-up and peak RSS come back, torch stays out,
    and matplotlib.pyplot is never executed (MediaPipe's import of it is deferred)."""
    import runtime_footprint

    (tmp_path / "out").mkdir()
    args = [
        "{spawn}",
        "--headless",
        "--backend",
        "onnxruntime",
        "--max-frames",
        "40",
        "--output",
        str(tmp_path / "out" / "r.jsonl"),
    ]
    r = runtime_footprint._probe(sys.executable, runtime_footprint._MAIN_JOB, args)
    assert r["exit_code"] in (0, 3) and 0 < r["startup_s"] < 60 and r["peak_rss_mb"] > 50  # 3: no window yet
    assert not r["torch_imported"] and not r["scipy_imported"] and not r["pyplot_executed"], r
    text = runtime_footprint.table({"main job": [r, r]})
    assert "| main job |" in text and "| 2 |" in text
