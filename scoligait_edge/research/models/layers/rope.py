"""Rotary position embedding (RoPE) driven by explicit per-token positions.

Positions are frame indices on a shared timebase (a token's position is the
centre frame index of the frames it spans), never min-max scaled to [0, 1]:
scaling a 96-frame window into [0, 1] leaves the rotations almost at zero and
throws the temporal signal away. Because RoPE only sees position *differences*
in the attention scores, the caller decides what "aligned" means simply by the
positions it hands in (see ``ScreeningModel``).
"""

from __future__ import annotations

import torch
from torch import nn


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) on the two halves of the last axis (NeoX layout: plain Slice/Concat in ONNX)."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate queries or keys ``x`` [B, H, N, Dh] by angles given as ``cos``/``sin`` [B, 1, N, Dh]."""
    return x * cos + rotate_half(x) * sin


class RotaryEmbedding(nn.Module):
    """Turns per-token positions into the cos/sin tables used by :func:`apply_rotary`.

    ``head_dim`` must be even; frequency ``i`` is ``base ** (-2i / head_dim)``, so
    with the default base the fastest pair turns once every ~6 frames and the
    slowest ones hardly turn at all inside a window (content-only channels).
    """

    inv_freq: torch.Tensor  # buffer

    def __init__(self, head_dim: int, base: float = 10_000.0) -> None:
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"RoPE needs an even head dimension, got {head_dim}")
        self.head_dim = head_dim
        self.base = float(base)
        inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, positions: torch.Tensor, dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``positions`` [B, N] (int or float frame indices) -> ``(cos, sin)`` each [B, 1, N, head_dim].

        Angles are computed in fp32 (large positions times small frequencies lose
        precision in fp16) and only then cast to ``dtype``.
        """
        angles = positions.to(torch.float32).unsqueeze(-1) * self.inv_freq  # [B, N, Dh/2]
        angles = torch.cat((angles, angles), dim=-1).unsqueeze(1)  # [B, 1, N, Dh]
        cos, sin = angles.cos(), angles.sin()
        if dtype is not None:
            cos, sin = cos.to(dtype), sin.to(dtype)
        return cos, sin

    def extra_repr(self) -> str:
        return f"head_dim={self.head_dim}, base={self.base:g}"
