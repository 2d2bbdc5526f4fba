"""Runtimes: one Backend contract, input validation, load_backend's choice, the fp16 session-creation crash guard,
clear errors for missing/corrupt models; CUDA / TensorRT checks skip here with the reason."""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from scoligait_edge.errors import BackendError, BundleError, OptionalDependencyError  # noqa: E402
from scoligait_edge.export import load_bundle  # noqa: E402
from scoligait_edge.export.parity import compare_outputs, run_windows  # noqa: E402
from scoligait_edge.runtimes import Backend, load_backend  # noqa: E402
from scoligait_edge.runtimes.onnxruntime_backend import OnnxRuntimeBackend, available_providers  # noqa: E402
from scoligait_edge.runtimes.torch_backend import TorchBackend  # noqa: E402
from tests.export_helpers import T  # noqa: E402
from tests.signing_helpers import fixture_signing_key  # noqa: E402

HAS_TRT = importlib.util.find_spec("tensorrt") is not None


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


NO_CUDA = "no CUDA GPU here (the GPU checks are in benchmarks/gpu_check.py)"


@pytest.fixture(scope="module")
def ort_cpu(tiny_bundle):
    with load_backend(tiny_bundle.path, "onnxruntime", device="cpu") as b:
        yield b


def few(tiny_bundle, n=4, start=0):
    return {k: v[start : start + n].copy() for k, v in tiny_bundle.windows.items()}


# ----------------------------------------------------------------- choice and contract
def test_auto_picks_the_best_backend_present_and_says_why(tiny_bundle, caplog):
    with caplog.at_level(logging.INFO, logger="scoligait_edge.runtimes"):
        backend = load_backend(tiny_bundle.path)
    with backend:
        if not HAS_TRT and "CUDAExecutionProvider" not in available_providers():
            assert backend.name == "onnxruntime-cpu" and backend.device == "cpu"
            assert any("tensorrt: not installed" in r for r in backend.selection)
        assert "load_backend: using" in caplog.text and backend.name in caplog.text
        assert backend.threshold == 0.5 and backend.labels == ("no_referral", "refer")
    cpu = load_backend(tiny_bundle.path, device="cpu", threads=1)
    assert cpu.device == "cpu" and any("device='cpu'" in r for r in cpu.selection)
    cpu.close()


def test_every_backend_implements_the_protocol(tiny_bundle, ort_cpu):
    torch_b = load_backend(tiny_bundle.path, "torch", device="cpu")
    for b in (torch_b, ort_cpu):
        assert isinstance(b, Backend)
        assert b.precision == "fp32" and b.device == "cpu" and b.name
        out = b.infer(few(tiny_bundle, 3))
        assert set(out) == {"logit", "prob", "cobb", "km_attention"}
        assert out["km_attention"].shape == (3, T, 238) and all(v.dtype == np.float32 for v in out.values())
        b.warmup(batch_sizes=(1, 2), iterations=1)
    with torch_b:
        pass
    with pytest.raises(BackendError, match="closed"):
        torch_b.infer(few(tiny_bundle, 1))


def test_backends_agree_on_simulated_windows(tiny_bundle, ort_cpu):
    torch_b = TorchBackend.from_bundle(tiny_bundle.path)
    r = compare_outputs(
        run_windows(torch_b, tiny_bundle.windows, 32), run_windows(ort_cpu, tiny_bundle.windows, 32), 0.5
    )
    assert r.max_abs_logit <= 1e-4 and r.label_agreement == 1.0


def test_session_options_threads_and_optimisation_level(tiny_bundle, ort_cpu):
    x = few(tiny_bundle, 5)
    ref = ort_cpu.infer(x)
    for level in ("disable", "basic", "extended"):
        with load_backend(
            tiny_bundle.path, "onnxruntime", device="cpu", threads=1, graph_optimization_level=level
        ) as b:
            got = b.infer(x)
            assert abs(got["logit"] - ref["logit"]).max() <= 1e-5, level
    with pytest.raises(BackendError, match="graph_optimization_level"):
        load_backend(tiny_bundle.path, "onnxruntime", device="cpu", graph_optimization_level="max")


def test_torch_fp16_autocast_on_cpu_is_close(tiny_bundle):
    ref = TorchBackend.from_bundle(tiny_bundle.path).infer(few(tiny_bundle, 8))
    got = TorchBackend.from_bundle(tiny_bundle.path, precision="fp16").infer(few(tiny_bundle, 8))
    assert abs(got["logit"] - ref["logit"]).max() <= 5e-2


# ----------------------------------------------------------------- input validation
@pytest.mark.parametrize("backend_name", ["torch", "onnxruntime"])
def test_wrong_inputs_give_clear_errors(tiny_bundle, backend_name):
    b = load_backend(tiny_bundle.path, backend_name, device="cpu")
    x = few(tiny_bundle, 2)
    cases = [
        ({**x, "km": x["km"].astype(np.float64)}, r"'km' has dtype float64, expected float32"),
        ({**x, "km_mask": x["km_mask"].astype(np.float32)}, r"'km_mask' has dtype float32, expected bool"),
        ({**x, "km": x["km"][:, :-1]}, rf"'km' has shape \(2, {T - 1}, 238\), expected km \[batch, {T}, 238\]"),
        ({**x, "video": x["video"][:, :, 0]}, r"'video' has shape"),
        ({**x, "text_mask": x["text_mask"][:1]}, r"batch=1 but 'km' has 2"),
        ({**x, "text_mask": x["text_mask"][:, :2]}, r"text_tokens=2 but 'text' has 3"),
        ({**x, "kmap": x["km"]}, r"unknown input\(s\) \['kmap'\]; this model takes: km \[batch"),
        ({k: v for k, v in x.items() if k != "video"}, r"missing input 'video'"),
        ({**x, "km": x["km"].tolist()}, r"'km' must be a numpy array"),
        ([1, 2], r"dict of numpy arrays"),
    ]
    for bad, pattern in cases:
        with pytest.raises(BackendError, match=pattern):
            b.infer(bad)
    km = x["km"].copy()
    km[0, 3, 5] = np.nan
    with pytest.raises(BackendError, match="NaN or infinity on entries its mask 'km_mask' marks valid"):
        b.infer({**x, "km": km, "km_mask": np.ones_like(x["km_mask"])})
    b.close()


def test_masks_may_be_omitted_and_nan_is_fine_on_invalid_frames(tiny_bundle, ort_cpu):
    x = few(tiny_bundle, 3, start=40)  # random windows, all frames of window 0 valid
    full = {**x, "km_mask": np.ones_like(x["km_mask"]), "text_mask": np.ones_like(x["text_mask"])}
    no_masks = {k: v for k, v in full.items() if not k.endswith("_mask")}
    np.testing.assert_array_equal(ort_cpu.infer(no_masks)["logit"], ort_cpu.infer(full)["logit"])
    mask = x["km_mask"].copy()
    mask[:, :4] = False
    km_nan = x["km"].copy()
    km_nan[:, :4] = np.nan  # invalid frames may hold NaN: they are masked out and zeroed
    a = ort_cpu.infer({**x, "km_mask": mask})
    b = ort_cpu.infer({**x, "km_mask": mask, "km": km_nan})
    np.testing.assert_allclose(a["logit"], b["logit"], atol=1e-6)


def test_batch_size_does_not_change_results(tiny_bundle, ort_cpu):
    x = few(tiny_bundle, 9)
    whole = ort_cpu.infer(x)["logit"]
    parts = np.concatenate([ort_cpu.infer({k: v[i : i + 1] for k, v in x.items()})["logit"] for i in range(9)])
    assert abs(whole - parts).max() <= 1e-5


# ----------------------------------------------------------------- bad model files
def test_missing_or_corrupt_onnx_gives_clear_errors(tiny_bundle, tmp_path):
    with pytest.raises(BackendError, match="model file not found"):
        OnnxRuntimeBackend(tmp_path / "nope.onnx")
    good = load_bundle(tiny_bundle.path).format_path("onnx").read_bytes()
    for name, data in (
        ("garbage.onnx", b"this is not a protobuf" * 50),
        ("truncated.onnx", good[: len(good) // 3]),
        ("empty.onnx", b""),
    ):
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(BackendError, match="cannot load .*re-export it"):
            OnnxRuntimeBackend(p)
    with pytest.raises(BackendError, match="fp32 model but precision='fp16'"):
        OnnxRuntimeBackend(load_bundle(tiny_bundle.path).format_path("onnx"), precision="fp16")


def test_bundle_without_a_format_or_with_a_damaged_model_is_refused(tiny_bundle, tmp_path):
    import shutil

    b = tmp_path / "bundle"
    shutil.copytree(tiny_bundle.path, b)
    (b / "model.onnx").write_bytes(b"\x00" * 10)
    with pytest.raises(BundleError, match="model.onnx"):
        load_backend(b, "onnxruntime")
    from scoligait_edge.export import update_bundle

    shutil.rmtree(b)
    shutil.copytree(tiny_bundle.path, b)
    update_bundle(b, remove=["model.fp16.onnx"], signing_key=fixture_signing_key())
    with pytest.raises(BundleError, match="no 'onnx-fp16' model .*--formats onnx-fp16"):
        load_backend(b, "onnxruntime", "fp16")
    update_bundle(b, remove=["model.int8.onnx"], signing_key=fixture_signing_key())
    for backend in ("auto", "onnxruntime"):  # a clear error naming the export command, never a silent fallback
        with pytest.raises(BackendError, match="no int8 model .*--formats onnx-int8"):
            load_backend(b, backend, "int8")
    with pytest.raises(BackendError, match="int8.*onnxruntime"):
        load_backend(tiny_bundle.path, "torch", "int8")


# ----------------------------------------------------------------- the ORT fp16 session-creation crash
CRASH_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from scoligait_edge.runtimes.onnxruntime_backend import OnnxRuntimeBackend
    b = OnnxRuntimeBackend(sys.argv[1])          # our loader, default settings (ORT_ENABLE_ALL)
    out = b.infer({"km": np.zeros((2, WINDOW, 238), np.float32), "km_mask": np.ones((2, WINDOW), bool)})
    assert np.isfinite(out["logit"]).all() and b.precision == "fp16"
    print("ok")
""").replace("WINDOW", str(T))


def test_fp16_session_creation_does_not_crash(tmp_path):
    """ORT 1.32 segfaults creating an ORT_ENABLE_ALL session for this fp16 cross-attention (PMA) graph; our loader
    must not. Run in a child process so a segfault fails this test instead of killing pytest."""
    from scoligait_edge.export import convert_to_fp16, export_onnx
    from tests.export_helpers import make_model

    fp32 = export_onnx(make_model(modalities="km", fusion="cat_pma"), tmp_path / "pma.onnx")
    fp16 = convert_to_fp16(fp32, tmp_path / "pma.fp16.onnx")
    proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT, str(fp16)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"exit {proc.returncode} (negative = killed by a signal): {proc.stderr[-2000:]}"
    assert proc.stdout.strip().endswith("ok")


# ----------------------------------------------------------------- optional accelerators
@pytest.mark.skipif(HAS_TRT, reason="tensorrt is installed here")
def test_tensorrt_backend_without_tensorrt_says_what_to_install(tiny_bundle):
    with pytest.raises(OptionalDependencyError, match=r"pip install tensorrt-cu1[23]") as err:
        load_backend(tiny_bundle.path, backend="tensorrt")
    assert "JetPack" in str(err.value)
    from scoligait_edge.runtimes.tensorrt_backend import TensorRTBackend

    with pytest.raises(OptionalDependencyError, match="tensorrt"):
        TensorRTBackend(tiny_bundle.path)


def test_tensorrt_backend_refuses_int8(tiny_bundle):
    # engines are fp32/fp16: an int8 request must be refused, not served by an fp32 engine labelled 'int8'
    from scoligait_edge.runtimes.tensorrt_backend import TensorRTBackend

    with pytest.raises(BackendError, match="int8"):
        TensorRTBackend(tiny_bundle.path, precision="int8")


@pytest.mark.skipif(not HAS_TRT, reason="tensorrt not installed (pip install tensorrt-cu12 on a CUDA machine)")
def test_tensorrt_backend_parity(tiny_bundle, tmp_path):
    if not _cuda():
        pytest.skip(NO_CUDA)
    import shutil

    b = tmp_path / "bundle"
    shutil.copytree(tiny_bundle.path, b)
    ref = run_windows(TorchBackend.from_bundle(b), tiny_bundle.windows)
    for precision, atol in (("fp32", 1e-3), ("fp16", 2e-2)):
        with load_backend(b, "tensorrt", precision) as trt_b:
            r = compare_outputs(ref, run_windows(trt_b, tiny_bundle.windows), 0.5)
            assert r.max_abs_logit <= atol and r.label_agreement >= 0.99, (precision, r)


@pytest.mark.skipif(
    "CUDAExecutionProvider" not in available_providers(),
    reason="onnxruntime has no CUDAExecutionProvider (pip install onnxruntime-gpu)",
)
def test_onnxruntime_cuda_parity(tiny_bundle):
    ref = run_windows(TorchBackend.from_bundle(tiny_bundle.path), tiny_bundle.windows)
    with load_backend(tiny_bundle.path, "onnxruntime", device="cuda") as b:
        assert b.name == "onnxruntime-cuda"
        r = compare_outputs(ref, run_windows(b, tiny_bundle.windows), 0.5)
        assert r.max_abs_logit <= 1e-3 and r.label_agreement == 1.0


@pytest.mark.gpu
@pytest.mark.parametrize(
    "precision,cuda_graphs,atol", [("fp32", False, 1e-3), ("fp16", False, 2e-2), ("fp32", True, 1e-3)]
)
def test_torch_cuda_parity(tiny_bundle, precision, cuda_graphs, atol):
    if not _cuda():
        pytest.skip(NO_CUDA)
    ref = run_windows(TorchBackend.from_bundle(tiny_bundle.path), tiny_bundle.windows)
    with TorchBackend.from_bundle(tiny_bundle.path, precision=precision, device="cuda", cuda_graphs=cuda_graphs) as b:
        r = compare_outputs(ref, run_windows(b, tiny_bundle.windows), 0.5)
        assert r.max_abs_logit <= atol and r.label_agreement >= 0.99, r


def test_cuda_requests_fail_clearly_without_cuda(tiny_bundle):
    if _cuda():
        pytest.skip("CUDA present")
    with pytest.raises(BackendError, match="no CUDA"):
        load_backend(tiny_bundle.path, "torch", device="cuda")
    if "CUDAExecutionProvider" not in available_providers():
        with pytest.raises(OptionalDependencyError, match="pip install onnxruntime-gpu"):
            load_backend(tiny_bundle.path, "onnxruntime", device="cuda")
    with pytest.raises(BackendError, match="no backend can run"):
        load_backend(tiny_bundle.path, device="cuda")


# ----------------------------------------------------------------- torch paths: bf16 autocast, torch.compile
def test_torch_bf16_autocast_and_compile_options(tiny_bundle):
    x = few(tiny_bundle, 4)
    ref = TorchBackend.from_bundle(tiny_bundle.path).infer(x)
    got = TorchBackend.from_bundle(tiny_bundle.path, precision="bf16").infer(x)
    assert abs(got["logit"] - ref["logit"]).max() <= 5e-2
    with pytest.raises(BackendError, match="compile must be one of"):
        TorchBackend.from_bundle(tiny_bundle.path, compile="fastest")
    with pytest.raises(BackendError, match="choose one"):
        TorchBackend.from_bundle(tiny_bundle.path, compile="reduce-overhead", cuda_graphs=True)


@pytest.mark.skipif(
    not (torch.cuda.is_available() or os.environ.get("SCOLIGAIT_TEST_COMPILE")),
    reason="Inductor compiles C++ for ~2 min on a 2-core CPU: GPU machines, or SCOLIGAIT_TEST_COMPILE=1",
)
def test_torch_compile_matches_eager(tiny_bundle):
    x = few(tiny_bundle, 4)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    ref = TorchBackend.from_bundle(tiny_bundle.path, device=device).infer(x)
    with TorchBackend.from_bundle(tiny_bundle.path, device=device, compile="default") as b:
        got = b.infer(x)
        assert b.name.endswith("-compile")
    assert abs(got["logit"] - ref["logit"]).max() <= 1e-4
