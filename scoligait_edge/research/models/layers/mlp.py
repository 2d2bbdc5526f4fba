"""Feed-forward blocks: the ViT GELU MLP and the gated GEGLU of NV-Embed's pooling head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Mlp(nn.Module):
    """Linear -> GELU -> dropout -> Linear -> dropout (the ViT block's feed-forward)."""

    def __init__(self, dim: int, hidden_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(F.gelu(self.fc1(x)))))


class GEGLU(nn.Module):
    """Gated feed-forward ``W2 (a * gelu(g))`` with ``[a, g] = W1 x``.

    The gate lets each hidden unit switch itself off per token, which is what
    NV-Embed uses after the latent cross-attention.
    """

    def __init__(self, dim: int, hidden_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, 2 * hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, gate = self.fc1(x).chunk(2, dim=-1)
        return self.drop(self.fc2(self.drop(a * F.gelu(gate))))
