"""Export: ONNX, fp16, ORT mobile, TensorRT and model bundles (installed as scoligait_edge.export).

Everything importable here works without torch and without TensorRT; the
functions that need them import them when called (``export_onnx`` needs
torch, ``build_engine``/``ensure_engine`` need TensorRT and raise
:class:`~scoligait_edge.errors.OptionalDependencyError` with the install
command otherwise). CLI: ``python -m scoligait_edge.export --help``.
"""

from scoligait_edge.export.build import FORMATS, add_formats, create_bundle, parse_formats
from scoligait_edge.export.bundle import (
    BUNDLE_SCHEMA_VERSION,
    DEFAULT_LABELS,
    DEFAULT_LIMITS,
    FORMAT_FILES,
    MANIFEST_NAME,
    SIMULATED_PROVENANCE,
    Bundle,
    BundleLimits,
    BundleManifest,
    FeatureSchemaRef,
    FileEntry,
    TextAssets,
    Threshold,
    load_bundle,
    sha256_file,
    sign_bundle,
    update_bundle,
    write_bundle,
)
from scoligait_edge.export.fp16 import convert_to_fp16
from scoligait_edge.export.onnx_export import export_onnx, onnx_metadata, random_batch, torch_outputs
from scoligait_edge.export.ort_mobile import convert_to_ort
from scoligait_edge.export.parity import ParityResult, compare_backends, compare_outputs, format_table
from scoligait_edge.export.signing import SIGNATURE_NAME, SignatureCheck, generate_keypair
from scoligait_edge.export.specs import TensorSpec, WindowSpec, input_specs, output_specs
from scoligait_edge.export.tensorrt import EngineMetadata, ProfileRange, build_engine, ensure_engine, load_engine

__all__ = [
    "BUNDLE_SCHEMA_VERSION", "DEFAULT_LABELS", "DEFAULT_LIMITS", "FORMATS", "FORMAT_FILES", "MANIFEST_NAME",
    "SIGNATURE_NAME", "SIMULATED_PROVENANCE", "Bundle", "BundleLimits", "BundleManifest", "EngineMetadata", "FeatureSchemaRef", "FileEntry", "ParityResult", "ProfileRange", "SignatureCheck",
    "TensorSpec", "TextAssets", "Threshold", "WindowSpec", "add_formats", "build_engine", "compare_backends",
    "compare_outputs", "convert_to_fp16", "convert_to_ort", "create_bundle", "ensure_engine", "export_onnx",
    "format_table", "generate_keypair", "input_specs", "load_bundle", "load_engine", "onnx_metadata", "output_specs", "parse_formats", "random_batch",
    "sha256_file", "sign_bundle", "torch_outputs", "update_bundle", "write_bundle",
]
