"""GPU parity + latency check for the exported screening model (one plain script, no pytest).

Run on a machine with a GPU (torch with CUDA; onnxruntime-gpu and TensorRT used when present)::

    python benchmarks/gpu_check.py --out gpu_check.json                 # builds a default-size bundle
    python benchmarks/gpu_check.py --bundle out/demo_bundle --out gpu_check.json
    python benchmarks/gpu_check.py --cpu-smoke --out smoke.json         # CPU only: checks the script itself

Reference: torch on CPU in fp32. Candidates: torch CUDA fp32 / fp16 (autocast),
torch CUDA graphs fp32 / fp16, ONNX Runtime CUDA fp32 / fp16 (if the CUDA EP is
present), ONNX Runtime TensorRT EP (if present), native TensorRT fp32 / fp16 (if
``tensorrt`` imports), and ONNX Runtime CPU fp32 / fp16. For each: max |logit|
difference and label agreement at the bundle threshold over simulated + random
windows, then latency at batch 1 and 32 (warm-up first; medians and p90 of
``--iters`` runs; CUDA events on GPU, perf_counter on CPU). ``e2e`` includes the
host<->device copies of ``infer(numpy) -> numpy``; ``device`` (torch only) is
the forward on GPU-resident tensors. Anything missing is reported as skipped,
never fatal. Writes everything to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

TINY = dict(modalities="km+video+text", fusion="cat_latent", dim=32, heads=2, depth=1, window_frames=32,
            km_patch_frames=8, video_tubelet_frames=8, num_latents=8, latent_heads=4, dropout=0.0)
DEFAULT = dict(modalities="km+video+text", fusion="cat_latent", dropout=0.0)  # the shipped architecture
TEXT_TOKENS = 3


def log(msg: str) -> None:
    print(msg, flush=True)


# ----------------------------------------------------------------- model, bundle, windows
def windows_for(cfg: dict[str, Any], n_random: int, n_clips: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Sliding windows over SIMULATED clips (knowledge map + silhouettes) plus random windows."""
    from scoligait_edge.data.simulate import crop_scoliosis1k, sample_subject, simulate_clip
    from scoligait_edge.export import input_specs
    from scoligait_edge.kinematics import build_knowledge_map

    t = int(cfg["window_frames"])
    names = [s.name for s in input_specs(cfg)]
    rng = np.random.default_rng(seed)
    cols: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for i in range(n_clips):
        subj = sample_subject(np.random.default_rng(500 + i), f"gpu-{i}", cobb_deg=[0.0, 25.0][i % 2])
        clip = simulate_clip(subj, n_frames=t + 64, camera=("side", "frontal")[i % 2], seed=i,
                             with_silhouettes=True, silhouette_scale=0.25)
        kmap = build_knowledge_map(clip.keypoints, clip.fps)
        sil = crop_scoliosis1k(clip.silhouettes).astype(np.float32) / 255.0
        for s in range(0, min(len(kmap), len(sil)) - t + 1, 32):
            row = {"km": kmap.values[s : s + t].astype(np.float32), "km_mask": kmap.valid[s : s + t],
                   "video": sil[s : s + t, None],
                   "text": (rng.standard_normal((TEXT_TOKENS, 384)) * 0.05).astype(np.float32),
                   "text_mask": np.ones(TEXT_TOKENS, dtype=bool)}
            for n in names:
                cols[n].append(row[n])
    sim = {n: np.stack(v) for n, v in cols.items()} if cols[names[0]] else None
    from scoligait_edge.export import random_batch

    rnd = random_batch(cfg, n_random, text_tokens=TEXT_TOKENS, seed=seed + 1)
    if "km" in rnd:
        rnd["km"] *= 0.5
        rnd["km"][~rnd["km_mask"]] = 0.0
    if "text" in rnd:
        rnd["text"] *= 0.05
    if sim is None:
        return rnd
    return {n: np.concatenate([sim[n], rnd[n]]) for n in names}


def build_bundle(cfg: dict[str, Any], root: Path, windows: dict[str, np.ndarray]) -> Path:
    import torch

    from scoligait_edge.export import SIMULATED_PROVENANCE, create_bundle
    from scoligait_edge.kinematics.schema import NUM_FEATURES
    from scoligait_edge.models import ScreeningModel, ScreeningModelConfig, save_checkpoint

    torch.manual_seed(0)
    model = ScreeningModel(ScreeningModelConfig(**cfg)).eval()
    if model.km_encoder is not None:
        g = torch.Generator().manual_seed(1)
        model.km_encoder.patch_embed.set_normalization(torch.randn(NUM_FEATURES, generator=g) * 0.3,
                                                       torch.rand(NUM_FEATURES, generator=g) * 2.0 + 0.05)
    with torch.no_grad():  # spread the logits like a trained model's (std ~2 around 0)
        x = {k: torch.from_numpy(v[:32]) for k, v in windows.items()}
        logit = model(**x).logit
        scale = 2.0 / float(logit.std().clamp(min=1e-6))
        model.screen_head.weight.mul_(scale)
        model.screen_head.bias.mul_(scale)
        mid = model(**x).logit.sort().values  # centre between the two middle windows: none sits on the threshold
        model.screen_head.bias.sub_((mid[(len(mid) - 1) // 2] + mid[len(mid) // 2]) / 2)
    save_checkpoint(model, root / "ckpt" / "model")
    bundle = root / "bundle"
    create_bundle(root / "ckpt" / "model", bundle, threshold=0.5, threshold_source="gpu_check: random model",
                  provenance=SIMULATED_PROVENANCE, formats=["onnx", "onnx-fp16"], report=log)
    return bundle


# ----------------------------------------------------------------- timing
def _percentile(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q))


def measure_once(fn: Callable[[], Any], cuda: bool) -> float:
    """Milliseconds of one call: CUDA events on GPU (the call itself synchronises), perf_counter on CPU."""
    if cuda:
        import torch

        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return float(start.elapsed_time(end))
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def summarize(times: list[float], cuda: bool) -> dict[str, Any]:
    return {"median_ms": statistics.median(times), "p90_ms": _percentile(times, 90), "min_ms": min(times),
            "iters": len(times), "clock": "cuda-events" if cuda else "perf_counter"}


def device_only_timer(backend: Any, feed: dict[str, np.ndarray]) -> Callable[[], Any] | None:
    """For torch CUDA backends: the forward on GPU-resident tensors (no host copies)."""
    import torch

    if not backend.name.startswith("torch-cuda"):
        return None
    if getattr(backend, "cuda_graphs", False):
        backend.infer(feed)  # captures (or reuses) the graph for this shape; it is now the most recent one
        graph = next(reversed(backend._graphs.values()))[0]
        return graph.replay
    staged = {k: torch.from_numpy(v).to(backend._dev) for k, v in feed.items()}

    def run() -> Any:
        with torch.inference_mode():
            return backend._forward(staged)

    return run


# ----------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", help="existing bundle (folder/zip) with onnx (+ onnx-fp16); default: build one")
    p.add_argument("--config", choices=["tiny", "default"], help="model size when building (default: 'default' "
                   "on GPU, 'tiny' with --cpu-smoke)")
    p.add_argument("--out", default="gpu_check.json", help="JSON report path")
    p.add_argument("--cpu-smoke", action="store_true", help="skip every GPU part (checks the script on CPU)")
    p.add_argument("--batches", default="1,32", help="batch sizes for latency")
    p.add_argument("--iters", type=int, default=50, help="timed runs per backend and batch size")
    p.add_argument("--warmup", type=int, default=10, help="untimed runs first")
    p.add_argument("--random-windows", type=int, default=48, help="random windows added to the simulated ones")
    p.add_argument("--clips", type=int, default=4, help="simulated clips for parity windows")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch and ONNX Runtime CPU")
    p.add_argument("--keep-bundle", action="store_true", help="keep the bundle built here (path is printed)")
    args = p.parse_args(argv)

    import onnxruntime as ort
    import torch

    from scoligait_edge.errors import ScoliGaitError
    from scoligait_edge.export import load_bundle
    from scoligait_edge.export.parity import compare_outputs, format_table, run_windows
    from scoligait_edge.runtimes.onnxruntime_backend import OnnxRuntimeBackend
    from scoligait_edge.runtimes.torch_backend import TorchBackend

    cuda = torch.cuda.is_available() and not args.cpu_smoke
    if args.threads:
        torch.set_num_threads(args.threads)
    env = {
        "python": platform.python_version(), "platform": platform.platform(), "torch": torch.__version__,
        "torch_cuda": torch.version.cuda, "onnxruntime": ort.__version__,
        "ort_providers": ort.get_available_providers(), "cpu_threads_torch": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "compute_capability": ".".join(map(str, torch.cuda.get_device_capability(0))) if cuda else None,
        "cpu_smoke": args.cpu_smoke,
    }
    try:
        import tensorrt

        env["tensorrt"] = tensorrt.__version__
    except ImportError:
        env["tensorrt"] = None
    log(f"environment: {json.dumps(env)}")
    if not torch.cuda.is_available() and not args.cpu_smoke:
        log("WARNING: torch sees no CUDA GPU; only the CPU parts will run")

    tmp = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    t0 = time.perf_counter()
    if args.bundle:
        bundle = load_bundle(args.bundle)
        cfg = dict(bundle.manifest.model)
        windows = windows_for(cfg, args.random_windows, args.clips)
    else:
        cfg = TINY if (args.config or ("tiny" if args.cpu_smoke else "default")) == "tiny" else DEFAULT
        from scoligait_edge.models import ScreeningModelConfig

        cfg = ScreeningModelConfig(**cfg).model_dump(mode="json")
        windows = windows_for(cfg, args.random_windows, args.clips)
        bundle = load_bundle(build_bundle(cfg, tmp, windows))
    n_windows = len(next(iter(windows.values())))
    log(f"bundle {bundle.source}: {cfg['modalities']} {cfg['fusion']} dim {cfg['dim']} depth {cfg['depth']} "
        f"T {cfg['window_frames']}; {n_windows} windows; setup {time.perf_counter() - t0:.1f}s")
    threshold = bundle.threshold
    report: dict[str, Any] = {"environment": env, "config": cfg, "n_windows": n_windows, "threshold": threshold,
                              "parity": [], "latency": [], "skipped": {}}

    # backends to try: (label, factory)
    ort_kw = {"threads": args.threads} if args.threads else {}
    factories: list[tuple[str, Callable[[], Any]]] = [
        ("onnxruntime-cpu fp32", lambda: OnnxRuntimeBackend.from_bundle(bundle, "fp32", device="cpu", **ort_kw)),
        ("onnxruntime-cpu fp16", lambda: OnnxRuntimeBackend.from_bundle(bundle, "fp16", device="cpu", **ort_kw)),
    ]
    gpu_factories: list[tuple[str, Callable[[], Any]]] = [
        ("torch-cuda fp32", lambda: TorchBackend.from_bundle(bundle, "fp32", device="cuda")),
        ("torch-cuda fp16", lambda: TorchBackend.from_bundle(bundle, "fp16", device="cuda")),
        ("torch-cuda-graphs fp32", lambda: TorchBackend.from_bundle(bundle, "fp32", device="cuda", cuda_graphs=True)),
        ("torch-cuda-graphs fp16", lambda: TorchBackend.from_bundle(bundle, "fp16", device="cuda", cuda_graphs=True)),
        ("onnxruntime-cuda fp32", lambda: OnnxRuntimeBackend.from_bundle(bundle, "fp32", device="cuda")),
        ("onnxruntime-cuda fp16", lambda: OnnxRuntimeBackend.from_bundle(bundle, "fp16", device="cuda")),
        ("onnxruntime-trt-ep fp32", lambda: OnnxRuntimeBackend.from_bundle(bundle, "fp32", device="tensorrt")),
        ("tensorrt fp32", lambda: _trt(bundle, "fp32")),
        ("tensorrt fp16", lambda: _trt(bundle, "fp16")),
    ]
    if cuda:
        factories = gpu_factories + factories
    else:
        for label, _ in gpu_factories:
            report["skipped"][label] = "--cpu-smoke" if args.cpu_smoke else "no CUDA GPU"

    log("reference: torch-cpu fp32")
    reference = TorchBackend.from_bundle(bundle, "fp32", device="cpu")
    ref_out = run_windows(reference, windows, batch_size=32)
    backends: list[tuple[str, Any]] = [("torch-cpu fp32", reference)]
    results = []
    for label, make in factories:
        try:
            t_start = time.perf_counter()
            backend = make()
            out = run_windows(backend, windows, batch_size=32)
            res = compare_outputs(ref_out, out, threshold, reference_name="torch-cpu fp32", candidate_name=label)
            results.append(res)
            backends.append((label, backend))
            log(f"  {label}: max|dlogit| {res.max_abs_logit:.2e}, labels {100 * res.label_agreement:.1f}% "
                f"({time.perf_counter() - t_start:.1f}s)")
        except Exception as exc:  # noqa: BLE001 - record and go on: missing EPs, no TensorRT, capture failures
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            report["skipped"][label] = reason
            log(f"  {label}: skipped ({reason})")
            if not isinstance(exc, (ScoliGaitError, ImportError)):  # unexpected: show where
                traceback.print_exc(limit=5)
    report["parity"] = [r.model_dump() for r in results]

    # Latency: backends are timed in interleaved rounds (one call each per round), so a noisy, shared
    # machine slows them alike and their ratio stays meaningful.
    batch_sizes = [int(b) for b in args.batches.split(",") if b.strip()]
    for b in batch_sizes:
        feed = {k: np.ascontiguousarray(np.resize(v, (b, *v.shape[1:]))) for k, v in windows.items()}
        timers: list[tuple[str, str, Callable[[], Any], bool]] = []
        for label, backend in backends:
            on_gpu = str(getattr(backend, "device", "cpu")).startswith("cuda")
            try:
                for _ in range(args.warmup):
                    backend.infer(feed)
                timers.append((label, "e2e", lambda backend=backend: backend.infer(feed), on_gpu))
                dev_fn = device_only_timer(backend, feed) if on_gpu else None
                if dev_fn is not None:
                    for _ in range(args.warmup):
                        dev_fn()
                    timers.append((label, "device", dev_fn, True))
            except Exception as exc:  # noqa: BLE001
                report["skipped"][f"{label} latency b{b}"] = f"{type(exc).__name__}: {exc}"
        samples: dict[tuple[str, str], list[float]] = {(lab, kind): [] for lab, kind, _, _ in timers}
        for _ in range(args.iters):
            for lab, kind, fn, on_gpu in timers:
                samples[(lab, kind)].append(measure_once(fn, on_gpu))
        for label, _ in backends:
            if (label, "e2e") not in samples:
                continue
            row: dict[str, Any] = {"backend": label, "batch": b}
            for lab, kind, _, on_gpu in timers:
                if lab == label:
                    row[kind] = summarize(samples[(lab, kind)], on_gpu)
            report["latency"].append(row)
    for _, backend in backends:
        backend.close()

    # ---- tables
    log("\nPARITY vs torch-cpu fp32 (threshold %.3g, %d windows)" % (threshold, n_windows))
    log(format_table(results))
    log("\nLATENCY (ms; median / p90; e2e = numpy in -> numpy out; device = GPU-resident forward)")
    by = {(r["backend"], r["batch"]): r for r in report["latency"]}
    header = f"{'backend':28s}" + "".join(f"  b{b:<3d} e2e med/p90     " + ("dev med  " if cuda else "")
                                            for b in batch_sizes)
    log(header)
    for label, _ in backends:
        cells = []
        for b in batch_sizes:
            r = by.get((label, b))
            if r is None:
                cells.append(f"  {'-':22s}" + ("         " if cuda else ""))
                continue
            cell = f"  {r['e2e']['median_ms']:8.3f} / {r['e2e']['p90_ms']:8.3f}   "
            if cuda:
                cell += f"{r['device']['median_ms']:7.3f}  " if "device" in r else "   -     "
            cells.append(cell)
        log(f"{label:28s}" + "".join(cells))
    ref_lat = {b: by[("torch-cpu fp32", b)]["e2e"]["median_ms"] for b in batch_sizes if ("torch-cpu fp32", b) in by}
    ratios = {}
    for label, _ in backends[1:]:
        for b in batch_sizes:
            if (label, b) in by and b in ref_lat:
                ratios[f"{label} b{b}"] = ref_lat[b] / by[(label, b)]["e2e"]["median_ms"]
    report["speedup_vs_torch_cpu"] = ratios
    log("\nspeed-up vs torch-cpu fp32 (x, e2e medians, same run): " +
        ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    if report["skipped"]:
        log("\nskipped: " + "; ".join(f"{k} ({v})" for k, v in report["skipped"].items()))
    bundle.close()
    if not args.keep_bundle:
        shutil.rmtree(tmp, ignore_errors=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, default=str) + "\n")
    log(f"\nwrote {args.out}")
    failed = [r for r in results if r.label_agreement < 0.95 or r.max_abs_logit > 5e-2]
    if failed:
        log("PARITY PROBLEMS: " + ", ".join(r.candidate for r in failed))
    return 1 if failed else 0


def _trt(bundle: Any, precision: str) -> Any:
    from scoligait_edge.runtimes.tensorrt_backend import TensorRTBackend

    return TensorRTBackend(bundle, precision)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
