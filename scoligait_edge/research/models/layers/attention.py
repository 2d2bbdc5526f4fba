"""Multi-head self-attention with RoPE and a key padding mask, and the pre-norm ViT block.

Attention is written as explicit matmul + softmax for export and whenever the
weights are asked for, so the legacy ONNX exporter (opset 17/18) emits plain
MatMul/Softmax nodes that every runtime (ORT, TensorRT) accepts. Eager training
and inference take ``F.scaled_dot_product_attention`` with the same finite
additive mask (identical maths, a fused kernel: about half the cost of the
explicit path on a 2-core CPU). Padding keys are filled with a large *finite* negative number instead of -inf,
so a fully padded row gives a uniform (not NaN) softmax, also in fp16.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from scoligait_edge.research.models.layers.drop import DropPath
from scoligait_edge.research.models.layers.mlp import Mlp
from scoligait_edge.research.models.layers.rope import RotaryEmbedding, apply_rotary


def mask_value(dtype: torch.dtype) -> float:
    """Finite fill for masked scores: the dtype's most negative number (finite in fp16, bf16 and fp32).

    ``masked_fill``/``where`` *replace* scores with it, nothing is added to it,
    so it cannot overflow to -inf; after the max-subtraction inside softmax it
    underflows to an exact 0 weight.
    """
    return float(torch.finfo(dtype).min)


def masked_softmax(scores: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
    """Softmax over the last axis, ignoring keys where ``key_mask`` ([B, Nk], True = valid) is False."""
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask[:, None, None, :], mask_value(scores.dtype))
    return scores.softmax(dim=-1)


_FORCE_EXPLICIT = False


@contextlib.contextmanager
def explicit_attention() -> Iterator[None]:
    """Run attention as explicit matmul + softmax inside the block (the pre-fused-kernel path, for comparisons)."""
    global _FORCE_EXPLICIT
    before, _FORCE_EXPLICIT = _FORCE_EXPLICIT, True
    try:
        yield
    finally:
        _FORCE_EXPLICIT = before


def _explicit_attention_needed() -> bool:
    """Export (tracing) needs plain MatMul/Softmax nodes; eager code may use the fused kernel."""
    return _FORCE_EXPLICIT or torch.jit.is_tracing() or torch.jit.is_scripting() or torch.onnx.is_in_onnx_export()


def additive_key_mask(key_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[B, Nk] bool (True = valid) -> [B, 1, 1, Nk] additive mask: 0 or the dtype's finite minimum.

    Adding the finite minimum to a (small) score stays finite, so a fully padded
    row is uniform, as in :func:`masked_softmax`.
    """
    zeros = torch.zeros(key_mask.shape, dtype=dtype, device=key_mask.device)
    return zeros.masked_fill(~key_mask, mask_value(dtype))[:, None, None, :]


class MultiHeadSelfAttention(nn.Module):
    """Self-attention whose queries and keys are rotated by RoPE at the given token positions."""

    def __init__(
        self, dim: int, heads: int, dropout: float = 0.0, qkv_bias: bool = True, attention_dropout: float = 0.0
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.attention_dropout = attention_dropout
        self.attn_drop = nn.Dropout(attention_dropout)
        self.proj_drop = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        key_mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``x`` [B, N, D]; ``rope`` = (cos, sin) from :class:`RotaryEmbedding`; ``key_mask`` [B, N] bool.

        Returns the output [B, N, D] and, if asked, the attention weights [B, H, N, N].
        """
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # [B, H, N, Dh]
        if rope is not None:
            cos, sin = rope
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if need_weights or _explicit_attention_needed():
            attn = masked_softmax(torch.matmul(q * self.scale, k.transpose(-2, -1)), key_mask)
            out = torch.matmul(self.attn_drop(attn), v)
        else:
            attn = None
            mask = None if key_mask is None else additive_key_mask(key_mask, q.dtype)
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=self.attention_dropout if self.training else 0.0, scale=self.scale
            )
        out = out.transpose(1, 2).reshape(b, n, d)
        return self.proj_drop(self.proj(out)), attn


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + attn(LN(x))`` then ``x + MLP(LN(x))``.

    Pre-norm keeps the residual stream un-normalised, which trains stably
    without warm-up tricks at the small depths used here.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, heads, dropout=dropout, attention_dropout=attention_dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dropout=dropout)
        self.drop_path = DropPath(drop_path)

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        key_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), rope=rope, key_mask=key_mask)[0])
        return x + self.drop_path(self.mlp(self.norm2(x)))


class RopeTransformer(nn.Module):
    """A stack of :class:`TransformerBlock` sharing one RoPE table per forward, then a final LayerNorm."""

    def __init__(
        self,
        dim: int,
        depth: int,
        heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        rope_base: float = 10_000.0,
        attention_dropout: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.rope = RotaryEmbedding(dim // heads, base=rope_base)
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, heads, mlp_ratio, dropout, attention_dropout, drop_path) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` [B, N, D], ``positions`` [B, N] frame indices, ``key_mask`` [B, N] -> [B, N, D]."""
        rope = self.rope(positions, dtype=x.dtype)
        for block in self.blocks:
            x = block(x, rope=rope, key_mask=key_mask)
        return self.norm(x)
