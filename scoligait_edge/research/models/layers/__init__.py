"""Reusable layers (RoPE attention, pooling, patch embeddings) the model assemblies are built from."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scoligait_edge.core.lazy import lazy_face

if TYPE_CHECKING:
    from scoligait_edge.research.models.layers.attention import (
        MultiHeadSelfAttention,
        RopeTransformer,
        TransformerBlock,
        mask_value,
        masked_softmax,
    )
    from scoligait_edge.research.models.layers.drop import DropPath
    from scoligait_edge.research.models.layers.latent_pool import (
        LatentAttentionPooling,
        PMAPooling,
        PoolOutput,
        masked_mean,
        pooled_share,
    )
    from scoligait_edge.research.models.layers.mlp import GEGLU, Mlp
    from scoligait_edge.research.models.layers.patch import (
        DEFAULT_GROUP_SIZES,
        KmToken,
        KnowledgeMapPatchEmbed,
        TubeletEmbed,
        TubeletToken,
    )
    from scoligait_edge.research.models.layers.rope import RotaryEmbedding, apply_rotary, rotate_half

_NAMES: dict[str, str] = {
    "DEFAULT_GROUP_SIZES": "patch",
    "DropPath": "drop",
    "GEGLU": "mlp",
    "KmToken": "patch",
    "KnowledgeMapPatchEmbed": "patch",
    "LatentAttentionPooling": "latent_pool",
    "Mlp": "mlp",
    "MultiHeadSelfAttention": "attention",
    "PMAPooling": "latent_pool",
    "PoolOutput": "latent_pool",
    "RopeTransformer": "attention",
    "RotaryEmbedding": "rope",
    "TransformerBlock": "attention",
    "TubeletEmbed": "patch",
    "TubeletToken": "patch",
    "apply_rotary": "rope",
    "mask_value": "attention",
    "masked_mean": "latent_pool",
    "masked_softmax": "attention",
    "pooled_share": "latent_pool",
    "rotate_half": "rope",
}
"""Public name -> the submodule that defines it (imported on first use)."""

__getattr__, __dir__ = lazy_face(__name__, _NAMES)

__all__ = [
    "DEFAULT_GROUP_SIZES",
    "DropPath",
    "GEGLU",
    "KmToken",
    "KnowledgeMapPatchEmbed",
    "LatentAttentionPooling",
    "Mlp",
    "MultiHeadSelfAttention",
    "PMAPooling",
    "PoolOutput",
    "RopeTransformer",
    "RotaryEmbedding",
    "TransformerBlock",
    "TubeletEmbed",
    "TubeletToken",
    "apply_rotary",
    "mask_value",
    "masked_mean",
    "masked_softmax",
    "pooled_share",
    "rotate_half",
]
