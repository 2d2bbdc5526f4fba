"""Token pooling heads: NV-Embed latent attention pooling and, as its inverse, Perceiver/PMA pooling.

``LatentAttentionPooling`` (NV-Embed orientation): every token is a QUERY; a
learnable latent array supplies the keys and values. Each token is rewritten as
a mixture of learned "dictionary" entries, then the tokens are mean-pooled. The
latents never attend to each other or to the tokens, so a token's output
depends on that token alone: padding cannot leak in and every pooled
contribution is attributable to one token.

``PMAPooling`` is the other way round (Perceiver / Set Transformer PMA): a few
learned queries attend over the tokens. Kept as an ablation only.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from scoligait_edge.research.models.layers.attention import masked_softmax
from scoligait_edge.research.models.layers.mlp import GEGLU


class PoolOutput(NamedTuple):
    """What a pooling layer returns (a tuple, so it traces and exports)."""

    pooled: torch.Tensor
    """[B, D] the sequence embedding."""
    attention: torch.Tensor | None
    """None for plain mean pooling; latent pooling: [B, heads, N_tokens, num_latents];
    PMA: [B, heads, num_queries, N_tokens]."""
    saliency: torch.Tensor
    """[B, N] per-token score, 0 on padding (definition in each class)."""
    tokens: torch.Tensor | None
    """[B, N, D] per-token vectors whose masked mean is ``pooled`` (None where pooling is not a mean)."""


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of ``x`` [B, N, D] over valid tokens; returns (pooled [B, D], weights [B, N]).

    The weights are ``mask / n_valid`` (``n_valid`` clamped to 1 so an all-padding
    sample pools to zeros, not NaN); they are what makes pooled contributions exact.
    """
    if mask is None:
        weights = torch.ones_like(x[..., 0]) / x.shape[1]
    else:
        m = mask.to(x.dtype)
        weights = m / m.sum(dim=1, keepdim=True).clamp(min=1.0)
    return (x * weights.unsqueeze(-1)).sum(dim=1), weights


def pooled_share(tokens: torch.Tensor, weights: torch.Tensor, pooled: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Each token's share of a mean-pooled vector, measured along the pooled direction.

    ``s_i = w_i <y_i, p> / |p|^2`` with ``p = sum_i w_i y_i``, so the shares sum to
    1 over valid tokens (exactly, up to ``eps``); a negative share is a token that
    pulls against the consensus. Gradient-free and a few elementwise ops in ONNX.
    """
    dots = (tokens * pooled.unsqueeze(1)).sum(dim=-1)
    return weights * dots / (pooled.pow(2).sum(dim=-1, keepdim=True) + eps)


class _LearnedArrayCrossAttention(nn.Module):
    """The parts both poolings share: a learned ``[count, dim]`` array, two pre-norms, q / kv / output
    projections and a GEGLU block. The learned array and the second norm keep each pooling's own
    attribute name (``latents`` / ``norm_latents``, ``queries`` / ``norm_kv``) so saved checkpoints load."""

    def __init__(
        self,
        dim: int,
        count: int,
        heads: int,
        mlp_ratio: float,
        dropout: float,
        attention_dropout: float,
        learned_name: str,
        second_norm_name: str,
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads, self.head_dim = heads, dim // heads
        self.scale = self.head_dim**-0.5
        self.register_parameter(learned_name, nn.Parameter(torch.randn(count, dim) * 0.02))
        self.norm_q = nn.LayerNorm(dim)
        self.add_module(second_norm_name, nn.LayerNorm(dim))
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.attn_drop = nn.Dropout(attention_dropout)
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = GEGLU(dim, int(dim * mlp_ratio), dropout=dropout)


class LatentAttentionPooling(_LearnedArrayCrossAttention):
    """NV-Embed latent attention pooling: tokens query a learned latent array, then masked mean.

    ``y = x + CrossAttn(q=LN(x), kv=LN(latents))``; ``y = y + GEGLU(LN(y))``;
    ``pooled = masked_mean(y)``. ``saliency`` is :func:`pooled_share` of each
    token (signed, sums to 1 over valid tokens).
    """

    latents: nn.Parameter
    norm_latents: nn.LayerNorm

    def __init__(
        self,
        dim: int,
        num_latents: int = 512,
        heads: int = 8,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
    ) -> None:
        super().__init__(dim, num_latents, heads, mlp_ratio, dropout, attention_dropout, "latents", "norm_latents")

    @property
    def num_latents(self) -> int:
        return self.latents.shape[0]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> PoolOutput:
        """``x`` [B, N, D] tokens, ``mask`` [B, N] bool (True = valid) -> :class:`PoolOutput`."""
        b, n, d = x.shape
        q = self.q(self.norm_q(x)).reshape(b, n, self.heads, self.head_dim).transpose(1, 2)  # [B, H, N, Dh]
        kv = self.kv(self.norm_latents(self.latents)).reshape(-1, 2, self.heads, self.head_dim).permute(1, 2, 0, 3)
        k, v = kv[0], kv[1]  # [H, L, Dh]: shared by the whole batch
        attn = torch.matmul(q * self.scale, k.transpose(-2, -1)).softmax(dim=-1)  # [B, H, N, L]
        out = torch.matmul(self.attn_drop(attn), v).transpose(1, 2).reshape(b, n, d)
        y = x + self.proj(out)
        y = y + self.ff(self.norm_ff(y))
        pooled, weights = masked_mean(y, mask)
        return PoolOutput(pooled, attn, pooled_share(y, weights, pooled), y)


class PMAPooling(_LearnedArrayCrossAttention):
    """Perceiver/PMA pooling, the INVERSE orientation: ``num_queries`` learned queries attend over the tokens.

    ``o = q + CrossAttn(q=LN(q), kv=LN(x), key_mask)``; ``o = o + GEGLU(LN(o))``;
    ``pooled = mean over queries``. ``saliency`` is the attention each token
    receives, averaged over heads and queries (>= 0, sums to 1 over valid tokens).
    """

    queries: nn.Parameter
    norm_kv: nn.LayerNorm

    def __init__(
        self,
        dim: int,
        num_queries: int = 1,
        heads: int = 8,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
    ) -> None:
        super().__init__(dim, num_queries, heads, mlp_ratio, dropout, attention_dropout, "queries", "norm_kv")

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> PoolOutput:
        """``x`` [B, N, D] tokens, ``mask`` [B, N] bool (True = valid) -> :class:`PoolOutput`."""
        b, n, d = x.shape
        nq = self.queries.shape[0]
        q = self.q(self.norm_q(self.queries)).reshape(nq, self.heads, self.head_dim).transpose(0, 1)  # [H, Q, Dh]
        kv = self.kv(self.norm_kv(x)).reshape(b, n, 2, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        k, v = kv[0], kv[1]  # [B, H, N, Dh]
        attn = masked_softmax(torch.matmul(q * self.scale, k.transpose(-2, -1)), mask)  # [B, H, Q, N]
        out = torch.matmul(self.attn_drop(attn), v).transpose(1, 2).reshape(b, nq, d)
        o = self.queries + self.proj(out)
        o = o + self.ff(self.norm_ff(o))
        return PoolOutput(o.mean(dim=1), attn, attn.mean(dim=(1, 2)), None)
