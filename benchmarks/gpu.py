"""GPU parity (issue 4) + performance table (issue 6) for the screening model: ONE plain script, no pytest.

A lent GPU machine runs just this::

    python3 benchmarks/gpu.py --out gpu.json --md gpu.md                 # builds a default-size bundle
    python3 benchmarks/gpu.py --bundle out/demo_bundle --out gpu.json    # or an existing bundle
    python3 benchmarks/gpu.py --cpu-smoke --out smoke.json               # CPU only: checks the script itself

It runs from a bare checkout (the ``export/`` and ``runtimes/`` folders are
mapped into ``scoligait_edge`` when the package is not installed); it needs
numpy, torch, onnx, onnxruntime, pydantic, scipy and opencv (headless is fine).

1. Parity: reference torch on CPU in fp32. Candidates: torch CUDA fp32 / fp16
   (autocast), torch CUDA graphs fp32 / fp16, ``torch.compile`` (Inductor, with
   and without CUDA graphs) fp16 / bf16, ONNX Runtime CUDA fp32 / fp16 (if
   the CUDA EP is present), ONNX Runtime TensorRT EP (if present), native
   TensorRT fp32 / fp16 (if ``tensorrt`` imports), and ONNX Runtime CPU fp32 /
   fp16. For each: max |logit| difference and label agreement at the bundle
   threshold over simulated + random windows.
2. Performance at each ``--batches`` size (default 1, 32 and 256 on GPU): warm-up
   first, then ``--iters`` timed calls per backend in interleaved rounds (one
   call of each backend per round, so drift hits all alike); CUDA events on
   GPU, perf_counter on CPU; median / p90 / p99 and throughput (windows/s from
   the median). ``e2e`` is ``infer(numpy) -> numpy`` with the host<->device
   copies; ``device`` (torch only) is the forward on GPU-resident tensors
   (for CUDA graphs: the graph replay). CPU backends are timed up to
   ``--cpu-max-batch`` only.

Anything missing (no ONNX Runtime CUDA EP, no TensorRT, a capture failure) is
reported as skipped, never fatal. Prints the tables, writes everything to
``--out`` (JSON) and, with ``--md``, the tables as markdown. Exit status 1 when
a parity check fails (label agreement < 95% or max |dlogit| > 5e-2).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TINY = dict(
    modalities="km+video+text",
    fusion="cat_latent",
    dim=32,
    heads=2,
    depth=1,
    window_frames=32,
    km_patch_frames=8,
    video_tubelet_frames=8,
    num_latents=8,
    latent_heads=4,
    dropout=0.0,
)
DEFAULT = dict(modalities="km+video+text", fusion="cat_latent", dropout=0.0)  # the shipped architecture
TEXT_TOKENS = 3
PARITY_MAX_DLOGIT = 5e-2
PARITY_MIN_AGREEMENT = 0.95
BUILD_NOTES: list[str] = []


def log(msg: str) -> None:
    print(msg, flush=True)


def bootstrap_package() -> None:
    """Make ``scoligait_edge`` (with its ``export`` and ``runtimes`` subpackages) importable from a bare checkout.

    pyproject maps the repo's top-level ``export/`` and ``runtimes/`` into the
    package; a machine where the package is not pip-installed gets the same
    mapping here, so nothing has to be installed (or built) to run this file.
    """
    if importlib.util.find_spec("scoligait_edge") is None:
        sys.path.insert(0, str(REPO))
    import scoligait_edge

    for sub in ("export", "runtimes"):
        name = f"scoligait_edge.{sub}"
        if name in sys.modules:
            continue
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        folder = Path(scoligait_edge.__file__).resolve().parents[1] / sub
        if found or not (folder / "__init__.py").is_file():
            continue
        spec = importlib.util.spec_from_file_location(
            name, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        setattr(scoligait_edge, sub, module)
        spec.loader.exec_module(module)


# ----------------------------------------------------------------- model, bundle, windows
def windows_for(cfg: dict[str, Any], n_random: int, n_clips: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Sliding windows over SIMULATED clips (knowledge map + silhouettes) plus random windows."""
    from scoligait_edge.export import input_specs, random_batch
    from scoligait_edge.kinematics.builder import build_knowledge_map
    from scoligait_edge.research.sim.simulate import crop_scoliosis1k, sample_subject, simulate_clip

    t = int(cfg["window_frames"])
    names = [s.name for s in input_specs(cfg)]
    rng = np.random.default_rng(seed)
    cols: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for i in range(n_clips):
        subj = sample_subject(np.random.default_rng(500 + i), f"gpu-{i}", cobb_deg=[0.0, 25.0][i % 2])
        clip = simulate_clip(
            subj,
            n_frames=t + 64,
            camera=("side", "frontal")[i % 2],
            seed=i,
            with_silhouettes=True,
            silhouette_scale=0.25,
        )
        kmap = build_knowledge_map(clip.keypoints, clip.fps)
        sil = np.asarray(crop_scoliosis1k(clip.silhouettes), dtype=np.uint8)  # the graph takes uint8
        for s in range(0, min(len(kmap), len(sil)) - t + 1, 32):
            row = {
                "km": kmap.values[s : s + t].astype(np.float32),
                "km_mask": kmap.valid[s : s + t],
                "video": sil[s : s + t, None],
                "text": (rng.standard_normal((TEXT_TOKENS, 384)) * 0.05).astype(np.float32),
                "text_mask": np.ones(TEXT_TOKENS, dtype=bool),
            }
            for n in names:
                cols[n].append(row[n])
    sim = {n: np.stack(v) for n, v in cols.items()} if cols[names[0]] else None
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
    """A bundle (checkpoint + ONNX fp32 + ONNX fp16) of a random model whose logits are spread like a trained one's."""
    import torch

    from scoligait_edge.core.schema import NUM_FEATURES
    from scoligait_edge.export import SIMULATED_PROVENANCE, create_bundle
    from scoligait_edge.research.models.io import save_checkpoint
    from scoligait_edge.research.models.screening import ScreeningModel, ScreeningModelConfig

    torch.manual_seed(0)
    model = ScreeningModel(ScreeningModelConfig(**cfg)).eval()
    if model.km_encoder is not None:
        g = torch.Generator().manual_seed(1)
        model.km_encoder.patch_embed.set_normalization(
            torch.randn(NUM_FEATURES, generator=g) * 0.3, torch.rand(NUM_FEATURES, generator=g) * 2.0 + 0.05
        )
    with torch.no_grad():  # spread the logits like a trained model's (std ~2 around 0)
        x = {k: torch.from_numpy(v[:32]) for k, v in windows.items()}
        logit = model(**x).logit
        scale = 2.0 / float(logit.std().clamp(min=1e-6))
        model.screen_head.weight.mul_(scale)
        model.screen_head.bias.mul_(scale)
        mid = model(**x).logit.sort().values  # centre between two middle windows: none sits on the threshold
        k = max(len(mid) // 2, 1)
        model.screen_head.bias.sub_((mid[k - 1] + mid[min(k, len(mid) - 1)]) / 2)
    save_checkpoint(model, root / "ckpt" / "model")
    bundle = root / "bundle"
    kw = dict(
        threshold=0.5, threshold_source="benchmarks/gpu.py: random model", provenance=SIMULATED_PROVENANCE, report=log
    )
    try:
        create_bundle(root / "ckpt" / "model", bundle, formats=["onnx", "onnx-fp16"], **kw)
    except Exception as exc:  # noqa: BLE001 - e.g. the fp16 converter failing on this torch's graph: go on without
        BUILD_NOTES.append(
            f"onnx-fp16 export failed here, so no fp16 ONNX rows: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}"
        )
        log(f"WARNING: {BUILD_NOTES[-1]}")
        shutil.rmtree(bundle, ignore_errors=True)
        create_bundle(root / "ckpt" / "model", bundle, formats=["onnx"], **kw)
    return bundle


# ----------------------------------------------------------------- environment
def _cmd(args: list[str], timeout: float = 10.0) -> str | None:
    if shutil.which(args[0]) is None:
        return None
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def nvidia_smi() -> list[dict[str, str]]:
    """One dict per GPU (name, driver, memory, clocks), [] without nvidia-smi."""
    fields = ["name", "driver_version", "memory.total", "clocks.max.sm", "power.limit", "pstate"]
    out = _cmd(["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader"])
    if not out or "NVIDIA-SMI has failed" in out:
        return []
    return [
        dict(zip(fields, (c.strip() for c in line.split(",")), strict=False))
        for line in out.splitlines()
        if line.strip()
    ]


def environment(cuda: bool, cpu_smoke: bool) -> dict[str, Any]:
    import onnxruntime as ort
    import torch

    env: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "onnxruntime": ort.__version__,
        "ort_providers": ort.get_available_providers(),
        "cpu_threads_torch": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "compute_capability": ".".join(map(str, torch.cuda.get_device_capability(0))) if cuda else None,
        "nvidia_smi": nvidia_smi(),
        "cpu_smoke": cpu_smoke,
    }
    try:
        import tensorrt

        env["tensorrt"] = tensorrt.__version__
    except ImportError:
        env["tensorrt"] = None
    return env


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


def summarize(times: list[float], cuda: bool, batch: int = 1) -> dict[str, Any]:
    med = statistics.median(times)
    return {
        "median_ms": med,
        "p90_ms": _percentile(times, 90),
        "p99_ms": _percentile(times, 99),
        "min_ms": min(times),
        "mean_ms": statistics.fmean(times),
        "iters": len(times),
        "windows_per_s": batch * 1e3 / med if med > 0 else None,
        "clock": "cuda-events" if cuda else "perf_counter",
    }


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


def kernel_profile(backends: list[tuple[str, Any]], feed: dict[str, np.ndarray], labels: str) -> dict[str, str]:
    """Where the device time of one batch-1 call goes: the profiler's CUDA kernel table per backend asked for
    (comma-separated labels), to find work that does not belong in a model this size."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    out = {}
    wanted = {s.strip() for s in labels.split(",")}
    for label, backend in backends:
        if label not in wanted:
            continue
        for _ in range(5):
            backend.infer(feed)
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for _ in range(20):
                backend.infer(feed)
            torch.cuda.synchronize()
        out[label] = prof.key_averages().table(sort_by="cuda_time_total", row_limit=25)
        log(f"\nKERNELS, {label}, batch 1, 20 calls:\n{out[label]}")
    return out


def feed_of(windows: dict[str, np.ndarray], batch: int) -> dict[str, np.ndarray]:
    return {k: np.ascontiguousarray(np.resize(v, (batch, *v.shape[1:]))) for k, v in windows.items()}


# ----------------------------------------------------------------- tables
def format_perf_table(
    rows: list[dict[str, Any]], labels: list[str], batch_sizes: list[int], cuda: bool, markdown: bool = False
) -> str:
    """One line per backend and batch: e2e median / p90 / p99, device median, windows/s."""
    head = ["backend", "batch", "e2e p50 ms", "e2e p90 ms", "e2e p99 ms", "windows/s"]
    if cuda:
        head += ["device p50 ms", "device windows/s"]
    by = {(r["backend"], r["batch"]): r for r in rows}
    body = []
    for label in labels:
        for b in batch_sizes:
            r = by.get((label, b))
            if r is None:
                continue
            e = r["e2e"]
            cells = [
                label,
                str(b),
                f"{e['median_ms']:.3f}",
                f"{e['p90_ms']:.3f}",
                f"{e['p99_ms']:.3f}",
                f"{e['windows_per_s']:.1f}",
            ]
            if cuda:
                d = r.get("device")
                cells += [f"{d['median_ms']:.3f}", f"{d['windows_per_s']:.1f}"] if d else ["-", "-"]
            body.append(cells)
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
        lines += ["| " + " | ".join(c) + " |" for c in body]
        return "\n".join(lines)
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([fmt(head), *(fmt(c) for c in body)])


def perf_ratios(rows: list[dict[str, Any]], batch_sizes: list[int]) -> dict[str, float]:
    """Speed-ups (x, e2e medians from the same run): each backend over torch eager fp32 on the same device
    kind, fp16 over fp32, CUDA graphs over eager, ONNX Runtime over torch."""
    by = {(r["backend"], r["batch"]): r["e2e"]["median_ms"] for r in rows}
    pairs = [
        ("torch-cuda fp16 over torch-cuda fp32", "torch-cuda fp32", "torch-cuda fp16"),
        ("torch-cuda-graphs fp32 over torch-cuda fp32", "torch-cuda fp32", "torch-cuda-graphs fp32"),
        ("torch-cuda-graphs fp16 over torch-cuda fp32", "torch-cuda fp32", "torch-cuda-graphs fp16"),
        ("torch-cuda-graphs fp16 over torch-cuda fp16", "torch-cuda fp16", "torch-cuda-graphs fp16"),
        ("onnxruntime-cuda fp32 over torch-cuda fp32", "torch-cuda fp32", "onnxruntime-cuda fp32"),
        ("onnxruntime-cuda fp16 over torch-cuda fp16", "torch-cuda fp16", "onnxruntime-cuda fp16"),
        ("tensorrt fp16 over torch-cuda fp16", "torch-cuda fp16", "tensorrt fp16"),
        ("tensorrt fp16 over torch-cuda-graphs fp16", "torch-cuda-graphs fp16", "tensorrt fp16"),
        ("torch-cuda fp32 over torch-cpu fp32", "torch-cpu fp32", "torch-cuda fp32"),
        ("onnxruntime-cpu fp32 over torch-cpu fp32", "torch-cpu fp32", "onnxruntime-cpu fp32"),
        ("onnxruntime-cpu fp16 over onnxruntime-cpu fp32", "onnxruntime-cpu fp32", "onnxruntime-cpu fp16"),
    ]
    out = {}
    for b in batch_sizes:
        for name, base, cand in pairs:
            if (base, b) in by and (cand, b) in by:
                out[f"{name} b{b}"] = by[(base, b)] / by[(cand, b)]
    return out


# ----------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", help="existing bundle (folder/zip) with onnx (+ onnx-fp16); default: build one")
    p.add_argument(
        "--config",
        choices=["tiny", "default"],
        help="model size when building (default: 'default' on GPU, 'tiny' with --cpu-smoke)",
    )
    p.add_argument("--out", default="gpu.json", help="JSON report path")
    p.add_argument("--md", help="also write the tables as markdown here")
    p.add_argument("--cpu-smoke", action="store_true", help="skip every GPU part (checks the script on CPU)")
    p.add_argument("--batches", help="batch sizes timed (default '1,32,256' on GPU, '1,8' with --cpu-smoke)")
    p.add_argument("--cpu-max-batch", type=int, default=32, help="largest batch timed on CPU backends")
    p.add_argument(
        "--iters", type=int, default=None, help="timed calls per backend and batch (default 100; 20 with --cpu-smoke)"
    )
    p.add_argument("--warmup", type=int, default=10, help="untimed calls first")
    p.add_argument("--random-windows", type=int, default=48, help="random windows added to the simulated ones")
    p.add_argument("--clips", type=int, default=4, help="simulated clips for parity windows")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch and ONNX Runtime CPU")
    p.add_argument("--skip-parity", action="store_true", help="performance only (parity rows are left empty)")
    p.add_argument("--only", help="comma-separated backend labels to run (e.g. 'torch-cuda fp16,tensorrt fp16')")
    p.add_argument("--engine-cache", help="folder for TensorRT engines (reused between runs; default: temporary)")
    p.add_argument("--keep-bundle", action="store_true", help="keep the bundle built here (path is printed)")
    p.add_argument("--save-bundle", help="build the bundle into this folder, keep it, and go on")
    p.add_argument(
        "--profile",
        help="comma-separated backend labels whose batch-1 CUDA kernel table is printed "
        "and saved (e.g. 'torch-cuda-graphs fp16,torch-compile-graphs fp16')",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bootstrap_package()
    import torch

    from scoligait_edge.errors import ScoliGaitError
    from scoligait_edge.export import load_bundle
    from scoligait_edge.export.parity import compare_outputs, format_table, run_windows
    from scoligait_edge.runtimes.onnxruntime_backend import OnnxRuntimeBackend
    from scoligait_edge.runtimes.torch_backend import TorchBackend

    t_script = time.perf_counter()
    cuda = torch.cuda.is_available() and not args.cpu_smoke
    if args.threads:
        torch.set_num_threads(args.threads)
    iters = args.iters or (20 if args.cpu_smoke or not cuda else 100)
    batch_sizes = [int(b) for b in (args.batches or ("1,32,256" if cuda else "1,8")).split(",") if b.strip()]
    env = environment(cuda, args.cpu_smoke)
    log(f"environment: {json.dumps(env)}")
    if not torch.cuda.is_available() and not args.cpu_smoke:
        log("WARNING: torch sees no CUDA GPU; only the CPU parts will run")

    tmp = Path(tempfile.mkdtemp(prefix="gpu-bench-"))
    t0 = time.perf_counter()
    if args.bundle:
        bundle = load_bundle(args.bundle)
        cfg = dict(bundle.manifest.model)
        windows = windows_for(cfg, args.random_windows, args.clips)
    else:
        cfg = TINY if (args.config or ("tiny" if args.cpu_smoke else "default")) == "tiny" else DEFAULT
        from scoligait_edge.research.models.screening import ScreeningModelConfig

        cfg = ScreeningModelConfig(**cfg).model_dump(mode="json")
        windows = windows_for(cfg, args.random_windows, args.clips)
        root = Path(args.save_bundle) if args.save_bundle else tmp
        bundle = load_bundle(build_bundle(cfg, root, windows), allow_unsigned=True)  # built here, unsigned
    n_windows = len(next(iter(windows.values())))
    log(
        f"bundle {bundle.source}: {cfg['modalities']} {cfg['fusion']} dim {cfg['dim']} depth {cfg['depth']} "
        f"T {cfg['window_frames']} latents {cfg.get('num_latents')}; {n_windows} windows; "
        f"setup {time.perf_counter() - t0:.1f}s"
    )
    threshold = bundle.threshold
    report: dict[str, Any] = {
        "environment": env,
        "config": cfg,
        "n_windows": n_windows,
        "threshold": threshold,
        "batches": batch_sizes,
        "iters": iters,
        "warmup": args.warmup,
        "parity": [],
        "latency": [],
        "skipped": {},
        "notes": list(BUILD_NOTES),
    }

    ort_kw = {"threads": args.threads} if args.threads else {}
    engine_cache = Path(args.engine_cache) if args.engine_cache else tmp / "engines"
    cpu_factories: list[tuple[str, Callable[[], Any]]] = [
        ("onnxruntime-cpu fp32", lambda: OnnxRuntimeBackend.from_bundle(bundle, "fp32", device="cpu", **ort_kw)),
        ("onnxruntime-cpu fp16", lambda: OnnxRuntimeBackend.from_bundle(bundle, "fp16", device="cpu", **ort_kw)),
    ]
    gpu_factories: list[tuple[str, Callable[[], Any]]] = [
        ("torch-cuda fp32", lambda: TorchBackend.from_bundle(bundle, "fp32", device="cuda")),
        ("torch-cuda fp16", lambda: TorchBackend.from_bundle(bundle, "fp16", device="cuda")),
        ("torch-cuda-graphs fp32", lambda: TorchBackend.from_bundle(bundle, "fp32", device="cuda", cuda_graphs=True)),
        ("torch-cuda-graphs fp16", lambda: TorchBackend.from_bundle(bundle, "fp16", device="cuda", cuda_graphs=True)),
        # torch.compile (Inductor): fused kernels; "reduce-overhead" adds CUDA graphs; compiled per batch size
        (
            "torch-compile fp16",
            lambda: TorchBackend.from_bundle(bundle, "fp16", device="cuda", compile="max-autotune-no-cudagraphs"),
        ),
        (
            "torch-compile bf16",
            lambda: TorchBackend.from_bundle(bundle, "bf16", device="cuda", compile="max-autotune-no-cudagraphs"),
        ),
        (
            "torch-compile-graphs fp16",
            lambda: TorchBackend.from_bundle(bundle, "fp16", device="cuda", compile="reduce-overhead"),
        ),
        (
            "torch-compile-graphs bf16",
            lambda: TorchBackend.from_bundle(bundle, "bf16", device="cuda", compile="reduce-overhead"),
        ),
        ("onnxruntime-cuda fp32", lambda: OnnxRuntimeBackend.from_bundle(bundle, "fp32", device="cuda")),
        ("onnxruntime-cuda fp16", lambda: OnnxRuntimeBackend.from_bundle(bundle, "fp16", device="cuda")),
        ("onnxruntime-trt-ep fp32", lambda: OnnxRuntimeBackend.from_bundle(bundle, "fp32", device="tensorrt")),
        ("tensorrt fp32", lambda: _trt(bundle, "fp32", max(batch_sizes), engine_cache)),
        ("tensorrt fp16", lambda: _trt(bundle, "fp16", max(batch_sizes), engine_cache)),
    ]
    factories = list(cpu_factories)
    if cuda:
        factories = gpu_factories + factories
    else:
        for label, _ in gpu_factories:
            report["skipped"][label] = "--cpu-smoke" if args.cpu_smoke else "no CUDA GPU"
    if args.only:
        wanted = {s.strip() for s in args.only.split(",")}
        for label, _ in factories:
            if label not in wanted:
                report["skipped"][label] = "not in --only"
        factories = [(lab, f) for lab, f in factories if lab in wanted]

    # ---- 1. parity (issue 4)
    log("reference: torch-cpu fp32")
    reference = TorchBackend.from_bundle(bundle, "fp32", device="cpu")
    ref_out = None if args.skip_parity else run_windows(reference, windows, batch_size=32)
    backends: list[tuple[str, Any]] = [("torch-cpu fp32", reference)]
    results = []
    for label, make in factories:
        try:
            t_start = time.perf_counter()
            backend = make()
            if ref_out is not None:
                out = run_windows(backend, windows, batch_size=32)
                res = compare_outputs(ref_out, out, threshold, reference_name="torch-cpu fp32", candidate_name=label)
                results.append(res)
                log(
                    f"  {label}: max|dlogit| {res.max_abs_logit:.2e}, labels {100 * res.label_agreement:.1f}% "
                    f"({time.perf_counter() - t_start:.1f}s)"
                )
            else:
                backend.infer(feed_of(windows, 1))
            backends.append((label, backend))
        except Exception as exc:  # noqa: BLE001 - record and go on: missing EPs, no TensorRT, capture failures
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            report["skipped"][label] = reason
            log(f"  {label}: skipped ({reason})")
            if not isinstance(exc, (ScoliGaitError, ImportError)):  # unexpected: show where
                traceback.print_exc(limit=5)
    report["parity"] = [r.model_dump() for r in results]
    t_parity = time.perf_counter()

    # ---- 2. performance (issue 6): interleaved rounds per batch size, so a noisy machine slows all alike
    for b in batch_sizes:
        feed = feed_of(windows, b)
        timers: list[tuple[str, str, Callable[[], Any], bool]] = []
        for label, backend in backends:
            on_gpu = str(getattr(backend, "device", "cpu")).startswith("cuda")
            if not on_gpu and b > args.cpu_max_batch:
                report["skipped"][f"{label} b{b}"] = f"CPU backend: batch > --cpu-max-batch {args.cpu_max_batch}"
                continue
            try:
                for _ in range(args.warmup):
                    backend.infer(feed)
                timers.append((label, "e2e", lambda backend=backend, feed=feed: backend.infer(feed), on_gpu))
                dev_fn = device_only_timer(backend, feed) if on_gpu else None
                if dev_fn is not None:
                    for _ in range(args.warmup):
                        dev_fn()
                    timers.append((label, "device", dev_fn, True))
            except Exception as exc:  # noqa: BLE001
                report["skipped"][f"{label} b{b}"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
                log(f"  {label} b{b}: skipped ({report['skipped'][f'{label} b{b}']})")
        samples: dict[tuple[str, str], list[float]] = {(lab, kind): [] for lab, kind, _, _ in timers}
        # CPU calls at big batches are slow: time them less often (at least 5) so the GPU rows get their iters
        cpu_every = max(1, iters // 20) if b > 8 else 1
        for i in range(iters):
            for lab, kind, fn, on_gpu in timers:
                if on_gpu or i % cpu_every == 0:
                    samples[(lab, kind)].append(measure_once(fn, on_gpu))
        for label, _ in backends:
            if (label, "e2e") not in samples:
                continue
            row: dict[str, Any] = {"backend": label, "batch": b}
            for lab, kind, _, on_gpu in timers:
                if lab == label:
                    row[kind] = summarize(samples[(lab, kind)], on_gpu, b)
            report["latency"].append(row)
        log(f"  batch {b}: timed {len(timers)} series x {iters} rounds")
    if cuda and args.profile:
        report["kernel_profile"] = kernel_profile(backends, feed_of(windows, 1), args.profile)
    for _, backend in backends:
        backend.close()
    t_perf = time.perf_counter()

    # ---- tables
    labels = [lab for lab, _ in backends]
    parity_txt = format_table(results) if results else "(skipped)"
    perf_txt = format_perf_table(report["latency"], labels, batch_sizes, cuda)
    ratios = perf_ratios(report["latency"], batch_sizes)
    report["speedups"] = ratios
    ref_lat = {
        b: r["e2e"]["median_ms"] for r in report["latency"] for b in [r["batch"]] if r["backend"] == "torch-cpu fp32"
    }
    report["speedup_vs_torch_cpu"] = {
        f"{r['backend']} b{r['batch']}": ref_lat[r["batch"]] / r["e2e"]["median_ms"]
        for r in report["latency"]
        if r["backend"] != "torch-cpu fp32" and r["batch"] in ref_lat
    }
    report["timing_s"] = {
        "setup_and_parity": t_parity - t_script,
        "performance": t_perf - t_parity,
        "total": time.perf_counter() - t_script,
    }
    log(f"\nPARITY vs torch-cpu fp32 (threshold {threshold:.3g}, {n_windows} windows)")
    log(parity_txt)
    log(
        f"\nPERFORMANCE ({iters} interleaved rounds after {args.warmup} warm-up calls; e2e = numpy in -> numpy "
        "out; device = forward on GPU-resident tensors; windows/s from the median)"
    )
    log(perf_txt)
    log("\nspeed-ups (x, e2e medians, same run): " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    if report["skipped"]:
        log("\nskipped: " + "; ".join(f"{k} ({v})" for k, v in report["skipped"].items()))
    for note in report["notes"]:
        log(f"note: {note}")
    bundle.close()
    if not args.keep_bundle:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        log(f"bundle kept at {tmp / 'bundle'}")
    failed = [r for r in results if r.label_agreement < PARITY_MIN_AGREEMENT or r.max_abs_logit > PARITY_MAX_DLOGIT]
    report["parity_failed"] = [r.candidate for r in failed]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, default=str) + "\n")
    log(f"\nwrote {args.out} (total {report['timing_s']['total']:.0f}s)")
    if args.md:
        gpu = env["gpu"] or "no GPU"
        smi = env["nvidia_smi"][0] if env["nvidia_smi"] else {}
        md = [
            f"# GPU benchmark ({env['date']})",
            "",
            f"- GPU: {gpu}"
            + (f", driver {smi.get('driver_version')}" if smi else "")
            + f"; CPU: {env['cpu']} ({env['cpu_count']} threads)",
            f"- torch {env['torch']} (CUDA {env['torch_cuda']}), onnxruntime {env['onnxruntime']} "
            f"(providers: {', '.join(env['ort_providers'])}), tensorrt {env['tensorrt']}",
            f"- model: {cfg['modalities']} {cfg['fusion']}, dim {cfg['dim']}, depth {cfg['depth']}, "
            f"T {cfg['window_frames']}, latents {cfg.get('num_latents')}",
            "",
            f"## Parity vs torch-cpu fp32 ({n_windows} windows, threshold {threshold:.3g})",
            "",
            "```",
            parity_txt,
            "```",
            "",
            f"## Performance ({iters} interleaved rounds, {args.warmup} warm-up calls; "
            f"{'CUDA events' if cuda else 'perf_counter'})",
            "",
            format_perf_table(report["latency"], labels, batch_sizes, cuda, True),
            "",
            "Speed-ups (x, e2e medians, same run):",
            "",
        ]
        md += [f"- {k}: {v:.2f}" for k, v in ratios.items()]
        if report["skipped"]:
            md += ["", "Skipped: " + "; ".join(f"{k} ({v})" for k, v in report["skipped"].items())]
        md += [f"\nNote: {n}" for n in report["notes"]]
        Path(args.md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.md).write_text("\n".join(md) + "\n")
        log(f"wrote {args.md}")
    if failed:
        log("PARITY PROBLEMS: " + ", ".join(r.candidate for r in failed))
    return 1 if failed else 0


def _trt(bundle: Any, precision: str, max_batch: int, cache_dir: Path) -> Any:
    """The native TensorRT backend, its profile covering every timed batch size; engines cached in ``cache_dir``
    (default: a temporary folder, so nothing is written into the bundle)."""
    from scoligait_edge.export.tensorrt import ensure_engine
    from scoligait_edge.runtimes.tensorrt_backend import TensorRTBackend
    from scoligait_edge.runtimes.tensorrt_engine import EngineOptions, ProfileRange

    options = EngineOptions(batch=ProfileRange(1, min(32, max_batch), max(64, max_batch)), cache_dir=cache_dir)
    ensure_engine(bundle, precision, options)  # type: ignore[arg-type]  # built here: an export step
    return TensorRTBackend(bundle, precision, options)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
