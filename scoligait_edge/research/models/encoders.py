"""Per-modality encoders: ViTs over knowledge-map patches and video tubelets, and a text projection.

The two ViTs differ only in their patch embedding (as in the paper). Each
returns its tokens together with their mask and RoPE positions so the
assembly can concatenate modalities and keep one shared timebase.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from scoligait_edge.bundle.model_config import MINILM_DIM
from scoligait_edge.core.constants import SIL_SHAPE, WINDOW_FRAMES
from scoligait_edge.research.models.layers.attention import RopeTransformer
from scoligait_edge.research.models.layers.patch import KnowledgeMapPatchEmbed, TubeletEmbed


class EncoderOutput(NamedTuple):
    tokens: torch.Tensor
    """[B, N, D]"""
    mask: torch.Tensor
    """[B, N] bool, True = valid"""
    positions: torch.Tensor
    """[B, N] RoPE positions the tokens were encoded with"""


class KnowledgeMapEncoder(nn.Module):
    """ViT over :class:`KnowledgeMapPatchEmbed` tokens with RoPE on (by default) centre-frame positions."""

    def __init__(
        self,
        dim: int,
        depth: int,
        heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        window_frames: int = WINDOW_FRAMES,
        patch_frames: int = 8,
        group_sizes: Mapping[str, int] | None = None,
        rope_base: float = 10_000.0,
        attention_dropout: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.patch_embed = KnowledgeMapPatchEmbed(dim, window_frames, patch_frames, group_sizes)
        self.transformer = RopeTransformer(
            dim, depth, heads, mlp_ratio, dropout, rope_base, attention_dropout, drop_path
        )

    def forward(self, km: torch.Tensor, km_mask: torch.Tensor, positions: torch.Tensor | None = None) -> EncoderOutput:
        """``km`` [B, T, 238], ``km_mask`` [B, T]; ``positions`` [B, N] overrides the centre-frame positions."""
        tokens, mask, pos = self.patch_embed(km, km_mask)
        pos = pos if positions is None else positions
        return EncoderOutput(self.transformer(tokens, pos, mask), mask, pos)


class VideoEncoder(nn.Module):
    """ViT over :class:`TubeletEmbed` tokens (silhouettes, or RGB with ``in_channels=3``)."""

    def __init__(
        self,
        dim: int,
        depth: int,
        heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        window_frames: int = WINDOW_FRAMES,
        tubelet_frames: int = 8,
        patch_size: tuple[int, int] = (16, 11),
        image_size: tuple[int, int] = SIL_SHAPE,
        in_channels: int = 1,
        rope_base: float = 10_000.0,
        attention_dropout: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.patch_embed = TubeletEmbed(dim, window_frames, tubelet_frames, patch_size, image_size, in_channels)
        self.transformer = RopeTransformer(
            dim, depth, heads, mlp_ratio, dropout, rope_base, attention_dropout, drop_path
        )

    def forward(
        self, video: torch.Tensor, video_mask: torch.Tensor | None = None, positions: torch.Tensor | None = None
    ) -> EncoderOutput:
        """``video`` [B, T, C, H, W]; ``video_mask`` [B, T] or None (all frames valid)."""
        tokens, mask, pos = self.patch_embed(video, video_mask)
        pos = pos if positions is None else positions
        return EncoderOutput(self.transformer(tokens, pos, mask), mask, pos)


class TextProjection(nn.Module):
    """Precomputed sentence embeddings [B, S, 384] (or [B, 384]) -> D-d tokens; no text transformer at inference.

    Sentence-Transformers runs offline (or once per prompt set) and only its
    384-d embeddings enter the model, which keeps the edge graph small.
    Embeddings are L2-normalised first (MiniLM's own convention, so raw and
    normalised inputs agree). Text has no time, so every text token sits at one
    fixed RoPE ``position``; the assembly uses the window's centre frame,
    ``(window_frames - 1) / 2``, which keeps text equally far from both ends of
    the clip instead of tying it to the first frames.
    """

    def __init__(self, dim: int, text_dim: int = MINILM_DIM, position: float = 47.5, dropout: float = 0.0) -> None:
        super().__init__()
        self.text_dim, self.position = text_dim, float(position)
        self.fc1 = nn.Linear(text_dim, dim)
        self.fc2 = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, text: torch.Tensor, text_mask: torch.Tensor | None = None) -> EncoderOutput:
        """``text`` [B, S, text_dim] or [B, text_dim]; ``text_mask`` [B, S] or None (all valid)."""
        if text.dim() == 2:
            text = text.unsqueeze(1)
        if text_mask is not None:  # zero padding first: a NaN there would still reach attention values
            text = text.masked_fill(~text_mask.unsqueeze(-1), 0.0)
        text = F.normalize(text, dim=-1, eps=1e-6)
        tokens = self.norm(self.fc2(self.drop(F.gelu(self.fc1(text)))))
        mask = torch.ones_like(tokens[..., 0], dtype=torch.bool) if text_mask is None else text_mask
        positions = torch.full_like(tokens[..., 0], self.position)
        return EncoderOutput(tokens, mask, positions)
