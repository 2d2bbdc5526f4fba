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

from scoligait_edge.core.lazy import lazy_face

_LAZY: dict[str, str] = {
    "input_reference": "INPUT_REFERENCE_NAME InputReference fit_input_reference",
    "load": "Bundle load_bundle",
    "manifest": "BUNDLE_SCHEMA_VERSION BundleLimits BundleManifest DEFAULT_LABELS DEFAULT_LIMITS FORMAT_FILES FeatureSchemaRef FileEntry MANIFEST_NAME SIMULATED_PROVENANCE TextAssets Threshold sha256_file",
    "model_config": "ScreeningModelConfig",
    "signing": "SIGNATURE_NAME SignatureCheck TRUSTED_KEYS_ENV trusted_public_keys",
    "specs": "TensorSpec WindowSpec input_specs output_specs",
}
"""Submodule -> the public names it defines (imported on first use)."""

__getattr__, __dir__, __all__ = lazy_face(__name__, _LAZY)
