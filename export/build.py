"""Make a bundle from a checkpoint and add exported formats to it (what the CLI runs).

``create_bundle`` copies a safetensors checkpoint (``model.safetensors`` +
``model.json`` from :func:`scoligait_edge.research.models.save_checkpoint`) and the
caller's text assets into a new bundle with its manifest; ``add_formats``
exports ``onnx``, ``onnx-fp16``, ``onnx-int8``, ``ort`` into it (re-hashing the manifest) and
builds ``engine`` (TensorRT, cached beside the bundle, never listed in it).
Each step checks its result against the previous format and reports the
largest difference. Both take ``signing_key`` (an Ed25519 private key or its
PEM path) and sign the manifest they write; without it the bundle is left
unsigned and loads only with ``allow_unsigned=True`` until
:func:`~scoligait_edge.export.bundle.sign_bundle` signs it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from scoligait_edge.bundle.input_reference import INPUT_REFERENCE_NAME, InputReference
from scoligait_edge.core.constants import MAP_FPS
from scoligait_edge.errors import BundleError
from scoligait_edge.export.bundle import (
    FORMAT_FILES,
    Bundle,
    BundleManifest,
    FileSource,
    TextAssets,
    Threshold,
    _load_for_rewrite,
    load_bundle,
    update_bundle,
    write_bundle,
)
from scoligait_edge.export.signing import Ed25519PrivateKey, signing_key_of

if TYPE_CHECKING:
    from scoligait_edge.research.models.screening import ScreeningModel

FORMATS = ("onnx", "onnx-fp16", "onnx-int8", "ort", "engine")
Report = Callable[[str], None]


def parse_formats(text: str | Iterable[str]) -> list[str]:
    items = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    unknown = [s for s in items if s not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format(s) {unknown}; choose from {', '.join(FORMATS)}")
    return [f for f in FORMATS if f in items]  # canonical order: each step may use the previous one


def _checkpoint_paths(checkpoint: str | Path) -> tuple[Path, Path]:
    p = Path(checkpoint)
    stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def sentence_table_rows(src: Path) -> Path:
    """The ``.npy`` embedding rows a bundle's ``text.sentence_table`` names: the one format every reader takes
    (``np.load`` in the Screener, the Android core's npy reader). The table's JSON metadata
    (``sentences_v<N>.json``) stands for the rows it describes, checked against its checksum first."""
    if src.suffix.lower() != ".json":
        return src
    from scoligait_edge.text.embeddings import EmbeddingTableMeta, SentenceEmbeddingTable

    try:
        meta = EmbeddingTableMeta.model_validate_json(src.read_text())
        SentenceEmbeddingTable.load(src.parent, meta.text_schema_version)  # raises unless the rows match the metadata
    except (OSError, ValueError) as exc:
        raise BundleError(
            f"--sentence-table {src}: not a sentence-table metadata file with its .npy beside it ({exc})"
        ) from exc
    return src.parent / meta.embeddings_file


def _decision_and_provenance(
    sidecar: Path, threshold: float | None, threshold_source: str | None, provenance: Mapping[str, Any] | None
) -> tuple[float, str, Mapping[str, Any]]:
    """The arguments, else the checkpoint's extras; a bundle without a threshold, its source or provenance is refused."""
    extra = json.loads(sidecar.read_text()).get("extra", {}) if sidecar.is_file() else {}
    threshold = threshold if threshold is not None else extra.get("threshold")
    threshold_source = threshold_source or extra.get("threshold_source")
    provenance = provenance or extra.get("provenance")
    if threshold is None or not threshold_source:
        raise BundleError(
            "a bundle needs the decision threshold and where it came from: pass --threshold and "
            "--threshold-source (e.g. 'validation split, Youden J'), or store them in the checkpoint"
        )
    if not provenance:
        raise BundleError(
            "a bundle needs the training-data provenance: pass --provenance data=simulated (or "
            "--simulated), or store 'provenance' in the checkpoint extras"
        )
    return threshold, threshold_source, provenance


def _text_assets(
    uses_text: bool,
    sentence_table: str | Path | None,
    reference_statistics: str | Path | None,
    files: dict[str, FileSource],
    report: Report,
) -> TextAssets | None:
    """Add the text files to ``files`` under ``text/``; None when neither the model nor the caller has any."""
    if not (uses_text or sentence_table or reference_statistics):
        return None
    names = {}
    for key, src in (("sentence_table", sentence_table), ("reference_statistics", reference_statistics)):
        if src is not None:
            src = sentence_table_rows(Path(src)) if key == "sentence_table" else Path(src)
            names[key] = f"text/{src.name}"
            files[names[key]] = src
    text = TextAssets(**names)
    if uses_text and not names:
        report(
            "note: a text model without a sentence table or reference statistics; the caller must supply "
            "the text embeddings itself"
        )
    return text


def _load_screening_model(tensors: Path) -> ScreeningModel:
    """The checkpoint's model (its files, config and feature schema validated); only a ScreeningModel is bundled."""
    from scoligait_edge.research.models.io import load_checkpoint
    from scoligait_edge.research.models.screening import ScreeningModel

    model = load_checkpoint(tensors)
    if not isinstance(model, ScreeningModel):
        raise BundleError(f"a bundle holds a ScreeningModel; {tensors} is a {type(model).__name__} checkpoint")
    return model


def _checkpoint_files(tensors: Path, sidecar: Path) -> tuple[dict[str, FileSource], dict[str, str]]:
    """The checkpoint's tensors and, when present, its config sidecar: bundle files and their formats."""
    files: dict[str, FileSource] = {FORMAT_FILES["checkpoint"]: tensors}
    formats_map = {"checkpoint": FORMAT_FILES["checkpoint"]}
    if sidecar.is_file():
        files[FORMAT_FILES["checkpoint-config"]] = sidecar
        formats_map["checkpoint-config"] = FORMAT_FILES["checkpoint-config"]
    return files, formats_map


def _input_reference_source(tensors: Path, input_reference: str | Path | None) -> Path | None:
    """The given input statistics, else the training run's file beside the checkpoint, else None."""
    beside = tensors.with_name(INPUT_REFERENCE_NAME)
    return Path(input_reference) if input_reference is not None else (beside if beside.is_file() else None)


def create_bundle(
    checkpoint: str | Path,
    target: str | Path,
    *,
    threshold: float | None = None,
    threshold_source: str | None = None,
    provenance: Mapping[str, Any] | None = None,
    sentence_table: str | Path | None = None,
    reference_statistics: str | Path | None = None,
    fps: float = MAP_FPS,
    formats: Iterable[str] = (),
    report: Report = print,
    signing_key: Ed25519PrivateKey | str | Path | None = None,
    input_reference: str | Path | None = None,
) -> Bundle:
    """A new bundle at ``target`` (folder, or ``.zip``) from a checkpoint; then ``add_formats(formats)``.

    ``signing_key`` signs the manifest (and every later rewrite by ``add_formats``).
    ``input_reference`` (the training windows' input statistics, for the out-of-distribution flag) defaults to
    ``input_reference.json`` beside the checkpoint when there is one.

    ``threshold``/``threshold_source``/``provenance`` default to the checkpoint
    JSON's ``extra`` entries of the same names, and must be given one way or
    the other.
    """
    sign_key = signing_key_of(signing_key)
    tensors, sidecar = _checkpoint_paths(checkpoint)
    model = _load_screening_model(tensors)
    threshold, threshold_source, provenance = _decision_and_provenance(sidecar, threshold, threshold_source, provenance)
    files, formats_map = _checkpoint_files(tensors, sidecar)
    text = _text_assets(model.config.uses_text, sentence_table, reference_statistics, files, report)
    manifest = BundleManifest.for_model(
        model.config, Threshold(value=float(threshold), source=threshold_source), provenance, fps=fps, text=text
    )
    manifest.formats = formats_map
    ref_src = _input_reference_source(tensors, input_reference)
    if ref_src is not None:
        files[INPUT_REFERENCE_NAME] = _checked_input_reference(ref_src)
        manifest.input_reference = INPUT_REFERENCE_NAME
    write_bundle(target, files, manifest, signing_key=sign_key)
    report(
        f"created bundle {target} from {tensors.name} ({sum(p.numel() for p in model.parameters()):,} "
        f"parameters, threshold {float(threshold):g} from {threshold_source!r}, "
        f"{'signed' if sign_key is not None else 'UNSIGNED'})"
    )
    if formats := list(formats):
        return add_formats(target, formats, report=report, signing_key=sign_key)
    return load_bundle(
        target,
        trusted_keys=[sign_key.public_key()] if sign_key is not None else None,
        allow_unsigned=sign_key is None,
        mark_unverified=False,
    )


def _checked_input_reference(path: str | Path) -> bytes:
    """The reference file's bytes, after checking it parses and fits this package's knowledge map."""
    from scoligait_edge.core.schema import NUM_FEATURES

    try:
        ref = InputReference.model_validate_json(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise BundleError(f"cannot use {path} as the input reference: {exc}") from exc
    if ref.n_columns != NUM_FEATURES:
        raise BundleError(f"{path} has {ref.n_columns} columns; the knowledge map has {NUM_FEATURES}")
    return (ref.model_dump_json(indent=1) + "\n").encode("utf-8")


def add_input_reference(
    bundle_path: str | Path,
    reference: str | Path,
    *,
    report: Report = print,
    signing_key: Ed25519PrivateKey | str | Path | None = None,
) -> Bundle:
    """Add (or replace) the input reference of an existing bundle; the model files are kept byte for byte,
    the manifest re-hashed and, with ``signing_key``, re-signed. Returns the reloaded bundle."""
    data = _checked_input_reference(reference)
    key = signing_key_of(signing_key)
    bundle = update_bundle(
        bundle_path, {INPUT_REFERENCE_NAME: data}, signing_key=key, input_reference=INPUT_REFERENCE_NAME
    )
    report(
        f"input reference: added {INPUT_REFERENCE_NAME} ({len(data):,} bytes) to {bundle_path}, "
        f"{'signed' if key is not None else 'UNSIGNED'}"
    )
    return bundle


def _random_windows(bundle: Bundle, n: int = 8) -> dict[str, np.ndarray]:
    from scoligait_edge.export.onnx_export import random_batch

    return random_batch(bundle.manifest.model, n, text_tokens=2, seed=123)


def _n(windows: Mapping[str, np.ndarray]) -> int:
    return int(next(iter(windows.values())).shape[0])


def _maxdiff(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> float:
    return float(max(np.max(np.abs(a[k] - b[k])) for k in a))


_DERIVED_FORMATS = ("onnx-fp16", "onnx-int8", "ort", "engine")
"""Formats converted from ``model.onnx``: they share its input/output interface."""


def _interface_update(bundle: Bundle, wanted: Iterable[str]) -> dict[str, Any]:
    """Manifest ``inputs``/``outputs`` for a fresh ONNX export when this package's graph interface differs from
    the bundle's (e.g. ``video`` became uint8); refuses to leave derived formats with the old interface."""
    from scoligait_edge.bundle.specs import input_specs, output_specs

    wanted = set(wanted)
    if "onnx" not in wanted:
        return {}
    cfg = bundle.manifest.model
    fresh = {"inputs": input_specs(cfg), "outputs": output_specs(cfg)}

    def signature(specs: Iterable[Any]) -> list[tuple[Any, ...]]:
        return [(s.name, tuple(s.shape), s.dtype) for s in specs]

    if signature(fresh["inputs"]) == signature(bundle.manifest.inputs) and signature(fresh["outputs"]) == signature(
        bundle.manifest.outputs
    ):
        return {}
    stale = [f for f in _DERIVED_FORMATS if bundle.has_format(f) and f not in wanted]
    if stale:
        old = "; ".join(s.describe() for s in bundle.manifest.inputs)
        new = "; ".join(s.describe() for s in fresh["inputs"])
        raise BundleError(
            f"the ONNX graph's interface changed ({old} -> {new}): re-export {', '.join(stale)} "
            f"together with onnx (--formats onnx,{','.join(stale)}) so every format takes the same inputs"
        )
    return {k: [s.model_dump(mode="json") for s in v] for k, v in fresh.items()}


@dataclass
class _Staged:
    """Files exported in this run, in a temporary folder, until the manifest is rewritten with them."""

    bundle: Bundle
    tmp: Path
    files: dict[str, FileSource] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)

    def current(self, fmt: str) -> Path:
        """The file of ``fmt`` that later formats derive from: the one exported in this run, else the bundle's."""
        return self.tmp / FORMAT_FILES[fmt] if FORMAT_FILES[fmt] in self.files else self.bundle.format_path(fmt)

    def put(self, fmt: str, path: Path) -> None:
        self.files[FORMAT_FILES[fmt]], self.formats[fmt] = path, FORMAT_FILES[fmt]


def _stage_onnx(st: _Staged, windows: dict[str, np.ndarray], report: Report) -> None:
    """Export the checkpoint to ONNX and check it against torch on the same windows."""
    from scoligait_edge.export.onnx_export import export_onnx, torch_outputs
    from scoligait_edge.research.models.io import load_checkpoint
    from scoligait_edge.research.models.screening import ScreeningModel
    from scoligait_edge.runtimes.onnxruntime_backend import OnnxRuntimeBackend

    model = load_checkpoint(st.bundle.checkpoint_stem, expected_config=st.bundle.manifest.model_config_object())
    assert isinstance(model, ScreeningModel)  # expected_config is a ScreeningModelConfig
    dst = export_onnx(model, st.tmp / FORMAT_FILES["onnx"], fps=st.bundle.manifest.window.fps)
    st.put("onnx", dst)
    with OnnxRuntimeBackend(dst, device="cpu") as ort_b:
        diff = _maxdiff(torch_outputs(model, windows), ort_b.infer(windows))
    report(
        f"onnx: wrote {FORMAT_FILES['onnx']} ({dst.stat().st_size / 1e6:.2f} MB, opset 18, dynamic "
        f"batch); max |torch - onnxruntime| = {diff:.2e} on {_n(windows)} random windows"
    )


def _stage_fp16(st: _Staged, windows: dict[str, np.ndarray], report: Report) -> None:
    """Convert the fp32 graph to fp16 and report the largest output difference."""
    from scoligait_edge.export.fp16 import convert_to_fp16
    from scoligait_edge.runtimes.onnxruntime_backend import OnnxRuntimeBackend

    src = st.current("onnx")
    dst = convert_to_fp16(src, st.tmp / FORMAT_FILES["onnx-fp16"])
    st.put("onnx-fp16", dst)
    with OnnxRuntimeBackend(src, device="cpu") as a, OnnxRuntimeBackend(dst, device="cpu") as b:
        diff = _maxdiff(a.infer(windows), b.infer(windows))
    report(
        f"onnx-fp16: wrote {FORMAT_FILES['onnx-fp16']} ({dst.stat().st_size / 1e6:.2f} MB, fp32 I/O, "
        f"LayerNorm/softmax/RoPE in fp32); max |fp32 - fp16| = {diff:.2e}"
    )


def _stage_int8(st: _Staged, report: Report) -> None:
    """Quantize the fp32 graph and check decisions at the bundle's threshold on simulated windows
    (random windows would not say whether labels flip)."""
    from scoligait_edge.export.int8 import int8_parity_of_files, quantize_int8, simulated_windows

    src = st.current("onnx")
    dst = quantize_int8(src, st.tmp / FORMAT_FILES["onnx-int8"])
    st.put("onnx-int8", dst)
    sim = simulated_windows(st.bundle.manifest.model)
    r = int8_parity_of_files(src, dst, sim, st.bundle.threshold)
    report(
        f"onnx-int8: wrote {FORMAT_FILES['onnx-int8']} ({dst.stat().st_size / 1e6:.2f} MB; dynamic int8 "
        f"MatMul/Gemm weights, per channel; offline ORT_ENABLE_BASIC); parity vs fp32 on "
        f"{r.n_windows} simulated windows at threshold {r.threshold:g}: max |dprob| = {r.max_abs_prob:.2e}, "
        f"max |dlogit| = {r.max_abs_logit:.2e}, label agreement {100 * r.label_agreement:.1f}%"
    )


def _stage_ort(st: _Staged, windows: dict[str, np.ndarray], report: Report) -> None:
    """Convert the fp32 graph to the ORT mobile format with its operator list, and compare outputs."""
    from scoligait_edge.export.ort_mobile import convert_to_ort
    from scoligait_edge.runtimes.onnxruntime_backend import OnnxRuntimeBackend

    src = st.current("onnx")
    ort_file, ops = convert_to_ort(src, st.tmp / "ort")
    st.put("ort", ort_file)
    st.put("ort-operators", ops)
    with OnnxRuntimeBackend(src, device="cpu") as a, OnnxRuntimeBackend(ort_file, device="cpu") as b:
        diff = _maxdiff(a.infer(windows), b.infer(windows))
    report(
        f"ort: wrote {FORMAT_FILES['ort']} ({ort_file.stat().st_size / 1e6:.2f} MB) and "
        f"{FORMAT_FILES['ort-operators']}; max |onnx - ort| = {diff:.2e}"
    )


def _build_engines(bundle: Bundle, engine_precisions: Iterable[str], report: Report) -> None:
    """One TensorRT engine per precision, built for this GPU (or found in its cache)."""
    from scoligait_edge.export.tensorrt import ensure_engine

    for precision in engine_precisions:
        path, meta = ensure_engine(bundle, precision)  # type: ignore[arg-type]
        report(
            f"engine: {path} (TensorRT {meta.tensorrt_version}, {meta.device_name}, "
            f"sm {meta.compute_capability}, {meta.precision}, {meta.typing}); metadata in {path.name}.json"
        )


def add_formats(
    bundle_path: str | Path,
    formats: Iterable[str] | str,
    *,
    engine_precisions: Iterable[str] = ("fp16",),
    report: Report = print,
    signing_key: Ed25519PrivateKey | str | Path | None = None,
) -> Bundle:
    """Export the requested formats into the bundle (re-hashing and, with ``signing_key``, re-signing its
    manifest); returns the reloaded bundle."""
    wanted = parse_formats(formats)
    key = signing_key_of(signing_key)
    if "engine" in wanted:  # fail before spending minutes on the other formats
        from scoligait_edge.runtimes.tensorrt_engine import cuda_device_info, require_tensorrt

        require_tensorrt()
        cuda_device_info()
    bundle = _load_for_rewrite(Path(bundle_path), key, None)
    interface = _interface_update(bundle, wanted)
    windows = _random_windows(bundle)
    with tempfile.TemporaryDirectory(prefix="scoligait-export-") as tmp_name:
        st = _Staged(bundle=bundle, tmp=Path(tmp_name))
        if "onnx" in wanted or ({"onnx-fp16", "onnx-int8", "ort"} & set(wanted) and not bundle.has_format("onnx")):
            _stage_onnx(st, windows, report)
        if "onnx-fp16" in wanted:
            _stage_fp16(st, windows, report)
        if "onnx-int8" in wanted:
            _stage_int8(st, report)
        if "ort" in wanted:
            _stage_ort(st, windows, report)
        if st.files:
            bundle.close()
            bundle = update_bundle(bundle_path, st.files, formats=st.formats, signing_key=key, **interface)
            report(
                f"updated the manifest of {bundle_path}: {len(bundle.manifest.files)} files, sha256 of each, "
                f"{'signed' if key is not None else 'UNSIGNED'}"
            )
    if "engine" in wanted:
        _build_engines(bundle, engine_precisions, report)
    return bundle
