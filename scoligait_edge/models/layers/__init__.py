"""Reusable layers (RoPE attention, pooling, patch embeddings) the model assemblies are built from."""

from scoligait_edge.models.layers.attention import (
    MultiHeadSelfAttention,
    RopeTransformer,
    TransformerBlock,
    mask_value,
    masked_softmax,
)
from scoligait_edge.models.layers.drop import DropPath
from scoligait_edge.models.layers.latent_pool import (
    LatentAttentionPooling,
    PMAPooling,
    PoolOutput,
    masked_mean,
    pooled_share,
)
from scoligait_edge.models.layers.mlp import GEGLU, Mlp
from scoligait_edge.models.layers.patch import (
    DEFAULT_GROUP_SIZES,
    KmToken,
    KnowledgeMapPatchEmbed,
    TubeletEmbed,
    TubeletToken,
)
from scoligait_edge.models.layers.rope import RotaryEmbedding, apply_rotary, rotate_half

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
