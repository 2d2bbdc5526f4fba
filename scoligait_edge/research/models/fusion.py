"""Fusion of concatenated modality tokens into one embedding (the paper's Cat / Cat+Att / Cat+Latent ablation).

All variants take the concatenated token sequence, its mask and its RoPE
positions and return a :class:`PoolOutput`:

- ``cat``: masked mean over all tokens.
- ``cat_att``: ``fusion_blocks`` (default 1) joint self-attention blocks with RoPE
  over all modalities, then masked mean. This is where aligned positions let a
  knowledge-map token and the video token of the same frames see each other
  at distance 0.
- ``cat_latent``: optional joint blocks (default 0), then NV-Embed
  :class:`LatentAttentionPooling`.
- ``cat_pma``: optional joint blocks, then :class:`PMAPooling` (the inverse
  orientation; ablation only).

Note: RoPE only enters through self-attention. Encoders always number their
tokens by frame; "aligned" vs "non_aligned" only changes the positions the
joint blocks see across modalities. With ``fusion_blocks=0`` the modalities
never attend to each other under RoPE, so the two are then the same model.
"""

from __future__ import annotations

import torch
from torch import nn

from scoligait_edge.bundle.model_config import FUSION_KINDS, FusionKind, default_fusion_blocks  # noqa: F401
from scoligait_edge.research.models.layers.attention import RopeTransformer
from scoligait_edge.research.models.layers.latent_pool import (
    LatentAttentionPooling,
    PMAPooling,
    PoolOutput,
    masked_mean,
    pooled_share,
)


class TokenFusion(nn.Module):
    """Concatenated tokens [B, N, D] + mask + positions -> :class:`PoolOutput` (pooled [B, D], ...)."""

    def __init__(
        self,
        kind: FusionKind,
        dim: int,
        heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        fusion_blocks: int | None = None,
        num_latents: int = 512,
        latent_heads: int = 8,
        pma_queries: int = 1,
        rope_base: float = 10_000.0,
        attention_dropout: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        if kind not in FUSION_KINDS:
            raise ValueError(f"unknown fusion {kind!r}; choose one of {FUSION_KINDS}")
        blocks = default_fusion_blocks(kind) if fusion_blocks is None else fusion_blocks
        if kind == "cat_att" and blocks < 1:
            raise ValueError("cat_att needs at least one fusion block")
        self.kind = kind
        self.joint = (
            RopeTransformer(dim, blocks, heads, mlp_ratio, dropout, rope_base, attention_dropout, drop_path)
            if blocks > 0
            else None
        )
        self.pool: nn.Module | None = None
        if kind == "cat_latent":
            self.pool = LatentAttentionPooling(dim, num_latents, latent_heads, mlp_ratio, dropout, attention_dropout)
        elif kind == "cat_pma":
            self.pool = PMAPooling(dim, pma_queries, latent_heads, mlp_ratio, dropout, attention_dropout)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor) -> PoolOutput:
        if self.joint is not None:
            tokens = self.joint(tokens, positions, mask)
        if self.pool is not None:
            return self.pool(tokens, mask)
        pooled, weights = masked_mean(tokens, mask)
        return PoolOutput(pooled, None, pooled_share(tokens, weights, pooled), tokens)
