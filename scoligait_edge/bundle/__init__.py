"""The bundle contract, torch-free: manifest, tensor specs, model config as data, loading and verification.

What every device needs to trust and run an exported model, with nothing
heavier than numpy, pydantic and cryptography:

* :mod:`~scoligait_edge.bundle.manifest`: ``manifest.json`` (:class:`BundleManifest`) and :class:`BundleLimits`;
* :mod:`~scoligait_edge.bundle.specs`: the graph's inputs and outputs (:class:`TensorSpec`);
* :mod:`~scoligait_edge.bundle.model_config`: :class:`ScreeningModelConfig` as plain data;
* :mod:`~scoligait_edge.bundle.signing`: trusted keys and Ed25519 signature checks;
* :mod:`~scoligait_edge.bundle.input_reference`: training input statistics, the out-of-distribution flag;
* :mod:`~scoligait_edge.bundle.load`: :func:`load_bundle` and the verified :class:`Bundle`.

Writing and signing bundles is :mod:`scoligait_edge.export` (needs the
``export`` extra for ONNX); :mod:`scoligait_edge.research.models` builds the torch
model from the same config class (``train`` extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scoligait_edge.core.lazy import lazy_face

if TYPE_CHECKING:
    from scoligait_edge.bundle.input_reference import INPUT_REFERENCE_NAME, InputReference, fit_input_reference
    from scoligait_edge.bundle.load import Bundle, load_bundle
    from scoligait_edge.bundle.manifest import (
        BUNDLE_SCHEMA_VERSION,
        DEFAULT_LABELS,
        DEFAULT_LIMITS,
        FORMAT_FILES,
        MANIFEST_NAME,
        SIMULATED_PROVENANCE,
        BundleLimits,
        BundleManifest,
        FeatureSchemaRef,
        FileEntry,
        TextAssets,
        Threshold,
        sha256_file,
    )
    from scoligait_edge.bundle.model_config import ScreeningModelConfig
    from scoligait_edge.bundle.signing import SIGNATURE_NAME, TRUSTED_KEYS_ENV, SignatureCheck, trusted_public_keys
    from scoligait_edge.bundle.specs import TensorSpec, WindowSpec, input_specs, output_specs

_NAMES: dict[str, str] = {
    "BUNDLE_SCHEMA_VERSION": "manifest",
    "Bundle": "load",
    "BundleLimits": "manifest",
    "BundleManifest": "manifest",
    "DEFAULT_LABELS": "manifest",
    "DEFAULT_LIMITS": "manifest",
    "FORMAT_FILES": "manifest",
    "FeatureSchemaRef": "manifest",
    "FileEntry": "manifest",
    "INPUT_REFERENCE_NAME": "input_reference",
    "InputReference": "input_reference",
    "MANIFEST_NAME": "manifest",
    "SIGNATURE_NAME": "signing",
    "SIMULATED_PROVENANCE": "manifest",
    "ScreeningModelConfig": "model_config",
    "SignatureCheck": "signing",
    "TRUSTED_KEYS_ENV": "signing",
    "TensorSpec": "specs",
    "TextAssets": "manifest",
    "Threshold": "manifest",
    "WindowSpec": "specs",
    "fit_input_reference": "input_reference",
    "input_specs": "specs",
    "load_bundle": "load",
    "output_specs": "specs",
    "sha256_file": "manifest",
    "trusted_public_keys": "signing",
}
"""Public name -> the submodule that defines it (imported on first use)."""

__getattr__, __dir__ = lazy_face(__name__, _NAMES)

__all__ = [
    "BUNDLE_SCHEMA_VERSION",
    "Bundle",
    "BundleLimits",
    "BundleManifest",
    "DEFAULT_LABELS",
    "DEFAULT_LIMITS",
    "FORMAT_FILES",
    "FeatureSchemaRef",
    "FileEntry",
    "INPUT_REFERENCE_NAME",
    "InputReference",
    "MANIFEST_NAME",
    "SIGNATURE_NAME",
    "SIMULATED_PROVENANCE",
    "ScreeningModelConfig",
    "SignatureCheck",
    "TRUSTED_KEYS_ENV",
    "TensorSpec",
    "TextAssets",
    "Threshold",
    "WindowSpec",
    "fit_input_reference",
    "input_specs",
    "load_bundle",
    "output_specs",
    "sha256_file",
    "trusted_public_keys",
]
