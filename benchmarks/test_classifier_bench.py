"""The screening classifier per backend x precision x batch on CPU (the bundled demo model when present).

Every backend runs with ONE intra-op thread: on a 2-core machine shared with
the pose model (and, here, with other jobs), a second thread mostly waits at
barriers for a descheduled sibling, and torch's eager CPU path then costs 10-100x
more (see ``test_classifier_default_threads``, which keeps that on record).
"""

from __future__ import annotations

import numpy as np
import pytest

BATCHES = (1, 8, 32)
CONFIGS = [
    ("torch", "fp32"),
    ("torch", "fp16"),
    ("onnxruntime", "fp32"),
    ("onnxruntime", "fp16"),
    ("onnxruntime", "int8"),
]
TEXT_TOKENS = 4


@pytest.fixture(scope="module")
def window(screening_bundle, sim_knowledge_map):
    """One realistic input window: a simulated walk's map, a silhouette clip, four sentence embeddings."""
    from scoligait_edge.bundle.specs import input_specs
    from scoligait_edge.runtimes import dummy_batch
    from scoligait_edge.text.embeddings import default_embedding_table

    cfg = screening_bundle.manifest.model_config_object()
    feed = dummy_batch(input_specs(cfg), 1, text_tokens=TEXT_TOKENS)
    km, valid = sim_knowledge_map
    t = feed["km"].shape[1]
    feed["km"][0], feed["km_mask"][0] = km[:t], valid[:t]
    if "video" in feed:
        rng = np.random.default_rng(0)
        feed["video"][:] = (rng.random(feed["video"].shape) > 0.7).astype(np.float32)
    if "text" in feed:
        feed["text"][0] = default_embedding_table().lookup(np.arange(TEXT_TOKENS))
    return feed


def _batch(window: dict[str, np.ndarray], b: int) -> dict[str, np.ndarray]:
    return {k: np.ascontiguousarray(np.repeat(v, b, axis=0)) for k, v in window.items()}


@pytest.fixture(scope="module")
def int8_bundle(screening_bundle, tmp_path_factory):
    """The benchmarked bundle itself when it has an int8 model, else an UNSIGNED copy in a temp folder with
    ``onnx-int8`` added by the exporter (the shipped bundle is never modified)."""
    import shutil

    from scoligait_edge.bundle.load import load_bundle

    if screening_bundle.has_format("onnx-int8"):
        return screening_bundle
    pytest.importorskip("onnx")
    from scoligait_edge.export import add_formats

    copy = tmp_path_factory.mktemp("int8-bundle") / "bundle"
    shutil.copytree(screening_bundle.root, copy, ignore=shutil.ignore_patterns("engines"))
    add_formats(copy, ["onnx-int8"], report=lambda s: None).close()
    return load_bundle(copy, allow_unsigned=True)


@pytest.fixture(scope="module")
def backends(screening_bundle, request):
    """Opened lazily, one per (backend, precision), closed at the end; torch's thread count restored."""
    import torch

    from scoligait_edge.runtimes import load_backend

    threads_before = torch.get_num_threads()
    opened: dict[tuple[str, str], object] = {}

    def get(name: str, precision: str):
        if (name, precision) not in opened:
            bundle = request.getfixturevalue("int8_bundle") if precision == "int8" else screening_bundle
            opened[(name, precision)] = load_backend(bundle, backend=name, precision=precision, device="cpu", threads=1)
        return opened[(name, precision)]

    yield get
    for b in opened.values():
        b.close()
    torch.set_num_threads(threads_before)


@pytest.mark.parametrize("batch", BATCHES, ids=[f"b{b}" for b in BATCHES])
@pytest.mark.parametrize("name,precision", CONFIGS, ids=[f"{n}-{p}" for n, p in CONFIGS])
def test_classifier(benchmark, backends, window, name, precision, batch):
    benchmark.group = f"classifier-b{batch}"
    try:
        backend = backends(name, precision)
        feed = _batch(window, batch)
        backend.infer(feed)  # warm-up (and: does this combination run at all here?)
    except Exception as exc:  # noqa: BLE001 - e.g. a CPU without fp16 kernels: recorded as a skip, not a failure
        pytest.skip(f"{name} {precision} does not run on this CPU: {type(exc).__name__}: {exc}")
    benchmark.extra_info.update(
        {
            "backend": backend.name,
            "precision": precision,
            "batch": batch,
            "threads": 1,
            "model": str(backend.bundle.source),
        }
    )
    out = benchmark(backend.infer, feed)
    assert out["prob"].shape == (batch,) and np.isfinite(out["prob"]).all()
    assert ((out["prob"] >= 0) & (out["prob"] <= 1)).all()


@pytest.mark.benchmark(group="classifier-threads")
@pytest.mark.parametrize("name", ["torch", "onnxruntime"])
def test_classifier_default_threads(benchmark, screening_bundle, window, name):
    """Batch 1 with the libraries' default thread counts (torch: one per core; ONNX Runtime: its default)."""
    import os

    import torch

    from scoligait_edge.runtimes import load_backend

    before = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    try:
        with load_backend(screening_bundle, backend=name, precision="fp32", device="cpu") as backend:
            backend.infer(window)
            benchmark.extra_info.update(
                {"backend": backend.name, "threads": "default", "batch": 1, "torch_threads": torch.get_num_threads()}
            )
            out = benchmark.pedantic(backend.infer, args=(window,), rounds=5, warmup_rounds=1)
    finally:
        torch.set_num_threads(before)
    assert out["prob"].shape == (1,) and np.isfinite(out["prob"]).all()
