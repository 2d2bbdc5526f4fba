"""Export: ONNX, fp16, ORT mobile, TensorRT and model bundles (installed as scoligait_edge.export).

Names are imported from their submodules on first use (PEP 562), so
``import scoligait_edge.export`` costs nothing and never imports
:mod:`scoligait_edge.runtimes`. The bundle contract (manifest, specs,
loading, signature checks) is :mod:`scoligait_edge.bundle`, re-exported here.
ONNX export and conversion need the ``export`` extra
(``pip install 'scoligait-edge[export]'``) and torch the ``train`` extra; the
functions that need them import them when called (``export_onnx`` needs
torch, ``build_engine``/``ensure_engine`` need TensorRT and raise
:class:`~scoligait_edge.errors.OptionalDependencyError` with the install
command otherwise). CLI: ``python -m scoligait_edge.export --help``.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> the submodule that defines it
_LAZY: dict[str, str] = {
    "FORMATS": "scoligait_edge.export.build",
    "add_formats": "scoligait_edge.export.build",
    "create_bundle": "scoligait_edge.export.build",
    "parse_formats": "scoligait_edge.export.build",
    "BUNDLE_SCHEMA_VERSION": "scoligait_edge.export.bundle",
    "Bundle": "scoligait_edge.export.bundle",
    "BundleLimits": "scoligait_edge.export.bundle",
    "BundleManifest": "scoligait_edge.export.bundle",
    "DEFAULT_LABELS": "scoligait_edge.export.bundle",
    "DEFAULT_LIMITS": "scoligait_edge.export.bundle",
    "FORMAT_FILES": "scoligait_edge.export.bundle",
    "FeatureSchemaRef": "scoligait_edge.export.bundle",
    "FileEntry": "scoligait_edge.export.bundle",
    "MANIFEST_NAME": "scoligait_edge.export.bundle",
    "SIMULATED_PROVENANCE": "scoligait_edge.export.bundle",
    "TextAssets": "scoligait_edge.export.bundle",
    "Threshold": "scoligait_edge.export.bundle",
    "load_bundle": "scoligait_edge.export.bundle",
    "sha256_file": "scoligait_edge.export.bundle",
    "sign_bundle": "scoligait_edge.export.bundle",
    "update_bundle": "scoligait_edge.export.bundle",
    "write_bundle": "scoligait_edge.export.bundle",
    "convert_to_fp16": "scoligait_edge.export.fp16",
    "export_onnx": "scoligait_edge.export.onnx_export",
    "onnx_metadata": "scoligait_edge.export.onnx_export",
    "random_batch": "scoligait_edge.export.onnx_export",
    "torch_outputs": "scoligait_edge.export.onnx_export",
    "convert_to_ort": "scoligait_edge.export.ort_mobile",
    "ParityResult": "scoligait_edge.export.parity",
    "compare_backends": "scoligait_edge.export.parity",
    "compare_outputs": "scoligait_edge.export.parity",
    "format_table": "scoligait_edge.export.parity",
    "SIGNATURE_NAME": "scoligait_edge.export.signing",
    "SignatureCheck": "scoligait_edge.export.signing",
    "generate_keypair": "scoligait_edge.export.signing",
    "TensorSpec": "scoligait_edge.bundle.specs",
    "WindowSpec": "scoligait_edge.bundle.specs",
    "input_specs": "scoligait_edge.bundle.specs",
    "output_specs": "scoligait_edge.bundle.specs",
    "EngineMetadata": "scoligait_edge.runtimes.tensorrt_engine",
    "EngineOptions": "scoligait_edge.runtimes.tensorrt_engine",
    "ProfileRange": "scoligait_edge.runtimes.tensorrt_engine",
    "build_engine": "scoligait_edge.export.tensorrt",
    "ensure_engine": "scoligait_edge.export.tensorrt",
    "load_engine": "scoligait_edge.export.tensorrt",
}

__all__ = [
    "BUNDLE_SCHEMA_VERSION",
    "DEFAULT_LABELS",
    "DEFAULT_LIMITS",
    "FORMATS",
    "FORMAT_FILES",
    "MANIFEST_NAME",
    "SIGNATURE_NAME",
    "SIMULATED_PROVENANCE",
    "Bundle",
    "BundleLimits",
    "BundleManifest",
    "EngineMetadata",
    "FeatureSchemaRef",
    "FileEntry",
    "ParityResult",
    "ProfileRange",
    "SignatureCheck",
    "TensorSpec",
    "TextAssets",
    "Threshold",
    "WindowSpec",
    "add_formats",
    "build_engine",
    "compare_backends",
    "compare_outputs",
    "convert_to_fp16",
    "convert_to_ort",
    "create_bundle",
    "ensure_engine",
    "export_onnx",
    "format_table",
    "generate_keypair",
    "input_specs",
    "load_bundle",
    "load_engine",
    "onnx_metadata",
    "output_specs",
    "parse_formats",
    "random_batch",
    "sha256_file",
    "sign_bundle",
    "torch_outputs",
    "update_bundle",
    "write_bundle",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
