"""Reusable layers (RoPE attention, pooling, patch embeddings) the model assemblies are built from."""

from __future__ import annotations

from scoligait_edge.core.lazy import lazy_face

_LAZY: dict[str, str] = {
    "attention": "MultiHeadSelfAttention RopeTransformer TransformerBlock mask_value masked_softmax",
    "drop": "DropPath",
    "latent_pool": "LatentAttentionPooling PMAPooling PoolOutput masked_mean pooled_share",
    "mlp": "GEGLU Mlp",
    "patch": "DEFAULT_GROUP_SIZES KmToken KnowledgeMapPatchEmbed TubeletEmbed TubeletToken",
    "rope": "RotaryEmbedding apply_rotary rotate_half",
}
"""Submodule -> the public names it defines (imported on first use)."""

__getattr__, __dir__, __all__ = lazy_face(__name__, _LAZY)
