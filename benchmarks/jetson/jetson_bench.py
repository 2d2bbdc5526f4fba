"""Per-stage latency on an NVIDIA Jetson (JetPack 6, TensorRT 10), trtexec-style, with tegrastats logging.

    python3 benchmarks/jetson/jetson_bench.py --out out/jetson            # everything
    python3 benchmarks/jetson/jetson_bench.py --out out/jetson --trtexec  # + trtexec on the built engines
    python3 benchmarks/jetson/jetson_bench.py --smoke --out /tmp/js       # a few iterations (checks the script)

What it does, in order:

1. Records the device: model, L4T release, ``nvpmodel -q`` (power mode),
   ``jetson_clocks --show`` (and whether the clocks are pinned), TensorRT /
   CUDA / library versions.
2. Starts ``tegrastats --interval <ms>`` in the background, logging to
   ``<out>/tegrastats.log`` (GPU/CPU load, EMC, temperatures, power rails), and
   stops it at the end.
3. Builds the TensorRT engines ON THE DEVICE from the bundle's ONNX with
   :func:`scoligait_edge.export.tensorrt.ensure_engine` (TensorRT 10: fp32, and
   fp16 via ``BuilderFlag.FP16`` with LayerNorm/softmax pinned to fp32), timing
   each build; engines are cached in ``<out>/bundle/engines`` (a copy of the bundle).
4. Times each stage like trtexec does (warm-up for ``--warmup-s``, then at least
   ``--iters`` calls and ``--duration-s`` seconds): min / mean / median / p90 /
   p95 / p99 / max ms and throughput. Stages: video decode, pose lite and full
   (MediaPipe, CPU), subject tracking, silhouette crop, knowledge-map update,
   text lookup, the classifier (TensorRT fp32/fp16, ONNX Runtime with the best
   provider it has, torch CUDA) at batch 1/8/32 with CUDA-event timing beside
   the host clock, and the whole ``Screener.process`` per frame (lite pose,
   TensorRT fp16 classifier).
5. Writes ``<out>/jetson_bench.json`` (all numbers + the device record) and
   prints a table. With ``--trtexec`` also runs ``trtexec --loadEngine`` on each
   engine (``<out>/trtexec_<precision>.log``).

Needs: JetPack's TensorRT 10 Python bindings, a CUDA build of torch for Jetson
(device buffers), onnxruntime-gpu for Jetson (optional), mediapipe (CPU). See
README.md beside this file. Anything missing is recorded as skipped.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # benchmarks/: gpu.py (package bootstrap), bench_util, conftest helpers

from bench_util import FIRST_FRAME, FRAME_MS, N_FRAMES, FrameCycle  # noqa: E402
from gpu import bootstrap_package  # noqa: E402


def log(msg: str) -> None:
    print(msg, flush=True)


def _run(args: list[str], timeout: float = 20.0) -> str | None:
    if shutil.which(args[0]) is None:
        return None
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"failed: {exc}"
    return ((out.stdout or "") + (out.stderr or "")).strip() or None


# ----------------------------------------------------------------- device record
def device_record() -> dict[str, Any]:
    sys.path.insert(0, str(HERE.parent))
    from conftest import jetson_info, machine_details  # the same record every benchmark JSON carries

    rec: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "machine": machine_details(),
        "jetson": jetson_info(),
        "jetpack": _run(["dpkg-query", "-W", "-f=${Version}", "nvidia-jetpack"]),
        "nvpmodel_q": _run(["nvpmodel", "-q"]),
        "jetson_clocks_show": _run(["jetson_clocks", "--show"]),
    }
    try:
        import tensorrt

        rec["tensorrt"] = tensorrt.__version__
    except ImportError:
        rec["tensorrt"] = None
    try:
        import torch

        rec["torch_cuda"] = torch.version.cuda
        rec["cuda_device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        rec["torch_cuda"] = rec["cuda_device"] = None
    return rec


class Tegrastats:
    """``tegrastats --interval ms`` writing to a file while the benchmark runs (no-op where it is absent)."""

    def __init__(self, path: Path, interval_ms: int) -> None:
        self.path, self.interval_ms, self.proc, self.fh = path, interval_ms, None, None

    def __enter__(self) -> Tegrastats:
        exe = shutil.which("tegrastats")
        if exe is None:
            log("tegrastats not found: no power/utilisation log (not a Jetson?)")
            return self
        self.fh = open(self.path, "w")  # noqa: SIM115 - closed in __exit__
        self.proc = subprocess.Popen(
            [exe, "--interval", str(self.interval_ms)], stdout=self.fh, stderr=subprocess.STDOUT
        )
        log(f"tegrastats (pid {self.proc.pid}) -> {self.path}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.fh is not None:
            self.fh.close()


# ----------------------------------------------------------------- trtexec-style timing
def trtexec_stats(ms: list[float], per_call: int = 1) -> dict[str, Any]:
    a = np.asarray(ms, dtype=np.float64)
    return {
        "n": int(a.size),
        "min_ms": float(a.min()),
        "mean_ms": float(a.mean()),
        "median_ms": float(np.median(a)),
        "p90_ms": float(np.percentile(a, 90)),
        "p95_ms": float(np.percentile(a, 95)),
        "p99_ms": float(np.percentile(a, 99)),
        "max_ms": float(a.max()),
        "throughput_per_s": float(per_call * 1e3 / a.mean()),
    }


def time_stage(
    fn: Callable[[], Any], *, warmup_s: float, duration_s: float, min_iters: int, cuda_events: bool = False
) -> tuple[list[float], list[float] | None, Any]:
    """Host milliseconds per call (and CUDA-event ms when asked), after warming up for ``warmup_s``."""
    result = None
    t_end = time.perf_counter() + warmup_s
    while True:
        result = fn()
        if time.perf_counter() >= t_end:
            break
    host, dev = [], [] if cuda_events else None
    ev = None
    if cuda_events:
        import torch

        ev = torch.cuda.Event
    t_stop = time.perf_counter() + duration_s
    while len(host) < min_iters or time.perf_counter() < t_stop:
        if ev is not None:
            s, e = ev(enable_timing=True), ev(enable_timing=True)
            s.record()
        t0 = time.perf_counter()
        result = fn()
        host.append((time.perf_counter() - t0) * 1e3)
        if ev is not None:
            e.record()
            e.synchronize()
            dev.append(float(s.elapsed_time(e)))
    return host, dev, result


# ----------------------------------------------------------------- stages
def stages(args: argparse.Namespace, bundle_path: Path, report: dict[str, Any]) -> None:
    from scoligait_edge.assets import sample_video_path
    from scoligait_edge.bundle.load import load_bundle
    from scoligait_edge.stream.video_file import iter_video_frames

    timing = dict(warmup_s=args.warmup_s, duration_s=args.duration_s, min_iters=args.iters)
    out = report["stages"]

    def record(name: str, host: list[float], dev: list[float] | None = None, per_call: int = 1, **extra: Any):
        row = {"host": trtexec_stats(host, per_call), **extra}
        if dev:
            row["cuda_events"] = trtexec_stats(dev, per_call)
        out[name] = row
        h = row["host"]
        log(
            f"[{name}] min {h['min_ms']:.3f} ms, mean {h['mean_ms']:.3f}, median {h['median_ms']:.3f}, "
            f"p90 {h['p90_ms']:.3f}, p95 {h['p95_ms']:.3f}, p99 {h['p99_ms']:.3f}, max {h['max_ms']:.3f} "
            f"(n={h['n']}, {h['throughput_per_s']:.1f}/s)"
            + (f"; GPU-event median {row['cuda_events']['median_ms']:.3f} ms" if dev else "")
        )

    def guarded(name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - a missing piece skips its stage, never the run
            report["skipped"][name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            log(f"[{name}] skipped: {report['skipped'][name]}")
            if args.verbose:
                traceback.print_exc()

    video = sample_video_path()
    frames = [f.image for f in iter_video_frames(video, max_frames=FIRST_FRAME + N_FRAMES) if f.index >= FIRST_FRAME]

    # 1. decode
    def decode() -> None:
        state = {"it": iter_video_frames(video)}

        def nxt():
            try:
                return next(state["it"])
            except StopIteration:
                state["it"] = iter_video_frames(video)
                return next(state["it"])

        host, _, _ = time_stage(nxt, **timing)
        record("decode", host)

    guarded("decode", decode)

    # 2. pose (and a cache of PoseFrames for tracking / silhouettes)
    cache: dict[str, Any] = {}

    def pose(variant: str, masks: bool) -> Callable[[], None]:
        def run() -> None:
            from scoligait_edge.pose.estimator import PoseEstimator

            cyc = FrameCycle(frames)
            with PoseEstimator(model=variant, output_masks=masks) as est:
                host, _, _ = time_stage(lambda: est.detect(*cyc.next()), **timing)
            record(f"pose-{variant}" + ("-masks" if masks else ""), host)

        return run

    for variant, masks in (("lite", False), ("full", False), ("lite", True)):
        guarded(f"pose-{variant}" + ("-masks" if masks else ""), pose(variant, masks))

    def cache_poses() -> None:
        from scoligait_edge.pose.estimator import PoseEstimator
        from scoligait_edge.pose.tracker import SubjectTracker

        cyc, tracker, raw, masks = FrameCycle(frames), SubjectTracker(), [], []
        with PoseEstimator(model="lite", output_masks=True) as est:
            for _ in range(40 if args.smoke else len(cyc.order)):
                p = est.detect(*cyc.next())
                if p is None:
                    continue
                raw.append(p.model_copy(update={"people": [q.model_copy(update={"mask": None}) for q in p.people]}))
                s = tracker.update(p).subject
                if s is not None and s.mask is not None and len(masks) < 12:
                    masks.append((s.mask, s.bbox))
        cache.update(raw=raw, masks=masks)

    guarded("pose-cache", cache_poses)

    def tracking() -> None:
        from scoligait_edge.pose.tracker import SubjectTracker

        tracker, clock, i = SubjectTracker(), [0.0], [0]

        def step():
            clock[0] += FRAME_MS
            f = cache["raw"][i[0] % len(cache["raw"])].model_copy(update={"timestamp_ms": clock[0]})
            i[0] += 1
            return tracker.update(f)

        host, _, _ = time_stage(step, **timing)
        record("tracking (incl. a PoseFrame copy)", host)

    guarded("tracking", tracking)

    def silhouette() -> None:
        from scoligait_edge.video.silhouette import person_silhouette

        i = [0]

        def step():
            m, b = cache["masks"][i[0] % len(cache["masks"])]
            i[0] += 1
            return person_silhouette(m, b)

        host, _, _ = time_stage(step, **timing)
        record("silhouette", host)

    guarded("silhouette", silhouette)

    def kmap() -> None:
        from scoligait_edge.kinematics.builder import KnowledgeMapBuilder, build_knowledge_map
        from scoligait_edge.research.sim.simulate import sample_subject, simulate_clip

        clip = simulate_clip(
            sample_subject(np.random.default_rng(1), "j", cobb_deg=10.0), n_frames=600, camera="side", seed=1
        ).keypoints
        b, i = KnowledgeMapBuilder(), [0]
        for f in clip[:96]:
            b.update(f)

        def step():
            i[0] += 1
            return b.update(clip[96 + i[0] % (len(clip) - 96)])

        host, _, _ = time_stage(step, **timing)
        record("kmap-update", host)
        host, _, _ = time_stage(lambda: build_knowledge_map(clip[:96], 30.0), **timing)
        record("kmap-recompute-96", host)
        out["kmap-update"]["recompute_over_update"] = (
            out["kmap-recompute-96"]["host"]["median_ms"] / out["kmap-update"]["host"]["median_ms"]
        )

    guarded("kmap", kmap)

    bundle = load_bundle(bundle_path)
    cfg = bundle.manifest.model_config_object()

    def text() -> None:
        from scoligait_edge.kinematics.builder import build_knowledge_map
        from scoligait_edge.text.describe import describe_window
        from scoligait_edge.text.embeddings import default_embedding_table
        from scoligait_edge.text.reference import ReferenceStats

        ref = ReferenceStats.load(bundle.path(bundle.manifest.text.reference_statistics))
        table = default_embedding_table()
        from scoligait_edge.research.sim.simulate import sample_subject, simulate_clip

        kp = simulate_clip(sample_subject(np.random.default_rng(2), "t"), n_frames=200, seed=2).keypoints
        km = build_knowledge_map(kp, 30.0)
        w, v = km.values[100:196], km.valid[100:196]

        def step():
            d = describe_window(w, v, ref)
            ids = np.asarray(d.sentence_ids)[None]
            return table.lookup(ids, np.ones_like(ids, bool))

        host, _, _ = time_stage(step, **timing)
        record("text", host)

    if cfg.uses_text:
        guarded("text", text)

    # 3. classifier per backend x precision x batch
    from scoligait_edge.bundle.specs import input_specs
    from scoligait_edge.runtimes import dummy_batch

    def classifier(label: str, make: Callable[[], Any], on_gpu: bool) -> Callable[[], None]:
        def run() -> None:
            backend = make()
            try:
                for b in args.batches:
                    feed = dummy_batch(input_specs(cfg), b, text_tokens=4)
                    host, dev, o = time_stage(lambda feed=feed: backend.infer(feed), cuda_events=on_gpu, **timing)
                    assert np.isfinite(o["prob"]).all()
                    record(f"classifier {label} b{b}", host, dev, per_call=b)
            finally:
                backend.close()

        return run

    from scoligait_edge.runtimes import load_backend

    def trt(precision: str) -> Any:
        from scoligait_edge.export.tensorrt import ProfileRange

        t0 = time.perf_counter()
        # the Screener's default profile, so the pipeline stage below reuses this engine from the same cache
        be = load_backend(
            bundle, backend="tensorrt", precision=precision, batch=ProfileRange(1, 8, max(64, max(args.batches)))
        )
        report["engines"][precision] = {
            "path": str(be.engine_path),
            "load_or_build_s": time.perf_counter() - t0,
            "metadata": json.loads(be.engine_metadata.to_json()),
        }
        return be

    for prec in ("fp32", "fp16"):
        guarded(f"classifier tensorrt {prec}", classifier(f"tensorrt {prec}", lambda p=prec: trt(p), True))
    for prec in ("fp32", "fp16"):
        guarded(
            f"classifier onnxruntime {prec}",
            classifier(
                f"onnxruntime {prec}", lambda p=prec: load_backend(bundle, backend="onnxruntime", precision=p), False
            ),
        )
    guarded(
        "classifier torch-cuda fp16",
        classifier(
            "torch-cuda fp16", lambda: load_backend(bundle, backend="torch", precision="fp16", device="cuda"), True
        ),
    )

    # 4. the whole pipeline
    def pipeline() -> None:
        from scoligait_edge.screener import Screener

        backend = "tensorrt" if "fp16" in report["engines"] else "auto"
        cyc = FrameCycle(frames)
        with Screener(
            bundle_path, backend=backend, pose_model="lite", precision="fp16" if backend == "tensorrt" else "fp32"
        ) as s:
            host, _, _ = time_stage(lambda: s.process(*cyc.next()), **timing)
            summary = s.summary()
            record(f"screener.process lite + {s.backend.name}", host, windows=summary.windows_total)

    guarded("pipeline", pipeline)
    bundle.close()


def run_trtexec(report: dict[str, Any], out_dir: Path, batch: int = 1) -> None:
    exe = shutil.which("trtexec") or (
        "/usr/src/tensorrt/bin/trtexec" if Path("/usr/src/tensorrt/bin/trtexec").is_file() else None
    )
    if exe is None:
        report["skipped"]["trtexec"] = "trtexec not found (it is in /usr/src/tensorrt/bin on JetPack)"
        return
    for prec, eng in report["engines"].items():

        def dims(shape: list[int]) -> str:  # dynamic axes: batch first, then the sentence count (4)
            return "x".join(str(batch if d == -1 and k == 0 else 4 if d == -1 else d) for k, d in enumerate(shape))

        shapes = ",".join(f"{i['name']}:{dims(i['shape'])}" for i in eng["metadata"]["inputs"])
        logf = out_dir / f"trtexec_{prec}.log"
        cmd = [
            exe,
            f"--loadEngine={eng['path']}",
            f"--shapes={shapes}",
            "--warmUp=500",
            "--duration=5",
            "--percentile=90,95,99",
            "--useSpinWait",
        ]
        text = _run(cmd, timeout=300) or ""
        logf.write_text(" ".join(cmd) + "\n\n" + text)
        report["trtexec"][prec] = {
            "cmd": cmd,
            "log": str(logf),
            "summary": [
                ln for ln in text.splitlines() if "Latency:" in ln or "Throughput:" in ln or "GPU Compute Time:" in ln
            ],
        }
        log(f"trtexec {prec}: " + " | ".join(report["trtexec"][prec]["summary"]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--out", default="out/jetson", help="folder for the JSON, tegrastats log, bundle copy + engines, trtexec logs"
    )
    p.add_argument("--bundle", help="model bundle (default: the bundled demo model)")
    p.add_argument("--batches", default="1,8,32", help="classifier batch sizes")
    p.add_argument("--warmup-s", type=float, default=2.0, help="warm-up per stage (trtexec: --warmUp)")
    p.add_argument(
        "--duration-s", type=float, default=5.0, help="minimum timed seconds per stage (trtexec: --duration)"
    )
    p.add_argument("--iters", type=int, default=100, help="minimum timed calls per stage (trtexec: --iterations)")
    p.add_argument("--tegrastats-ms", type=int, default=500, help="tegrastats sampling interval")
    p.add_argument("--trtexec", action="store_true", help="also run trtexec --loadEngine on the built engines")
    p.add_argument("--smoke", action="store_true", help="a few iterations of everything (checks the script)")
    p.add_argument("--verbose", action="store_true", help="tracebacks for skipped stages")
    args = p.parse_args(argv)
    args.batches = [int(b) for b in args.batches.split(",") if b.strip()]
    if args.smoke:
        args.warmup_s, args.duration_s, args.iters, args.batches = 0.0, 0.0, 3, args.batches[:1]
    bootstrap_package()
    from scoligait_edge.screener import demo_bundle_path

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    bundle_path = Path(args.bundle) if args.bundle else demo_bundle_path()
    if bundle_path.is_dir():  # work on a copy: engines are cached in <bundle>/engines, never in the package
        copy = out_dir / "bundle"
        shutil.copytree(bundle_path, copy, dirs_exist_ok=True, ignore=shutil.ignore_patterns("engines"))
        bundle_path = copy
    report: dict[str, Any] = {
        "device": device_record(),
        "bundle": str(bundle_path),
        "settings": {k: v for k, v in vars(args).items() if k != "verbose"},
        "engines": {},
        "stages": {},
        "trtexec": {},
        "skipped": {},
        "ran_on_jetson": Path("/etc/nv_tegra_release").is_file(),
    }
    dev = report["device"]
    log(
        f"device: {(dev.get('jetson') or {}).get('model') or platform.machine()}; nvpmodel: "
        f"{(dev.get('nvpmodel_q') or 'n/a').splitlines()[:2]}; TensorRT {dev.get('tensorrt')}; "
        f"jetson_clocks on: {(dev.get('jetson') or {}).get('jetson_clocks_on')}"
    )
    t0 = time.perf_counter()
    with Tegrastats(out_dir / "tegrastats.log", args.tegrastats_ms):
        stages(args, bundle_path, report)
        if args.trtexec:
            run_trtexec(report, out_dir)
    report["total_s"] = time.perf_counter() - t0
    path = out_dir / "jetson_bench.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    log(f"\n{'stage':48s} {'median ms':>10s} {'p90':>9s} {'p99':>9s} {'per s':>9s}")
    for name, row in report["stages"].items():
        h = row["host"]
        log(f"{name:48s} {h['median_ms']:10.3f} {h['p90_ms']:9.3f} {h['p99_ms']:9.3f} {h['throughput_per_s']:9.1f}")
    if report["skipped"]:
        log("skipped: " + "; ".join(f"{k} ({v})" for k, v in report["skipped"].items()))
    log(f"wrote {path} ({report['total_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
