"""Patch embeddings that keep every token traceable to the frames (and features) it came from.

``KnowledgeMapPatchEmbed`` cuts the [T, 238] knowledge map into 2-D patches of
(``patch_frames`` frames x one feature group). Groups never straddle a domain
boundary (motion 0-139, self-skeleton 140-171, cross-correlation 172-237), and
the last group of a domain is zero-padded, so each token reads as "these
features of this domain during these frames" and a saliency score can be
painted back onto exactly those map cells (``token_layout``).

``TubeletEmbed`` does the same for silhouette (or RGB) clips: tubelets of
``tubelet_frames`` x ``patch_size`` pixels.

Both return token positions on the shared frame-index timebase: the centre
frame of the span, e.g. 3.5 for frames 0..7.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from scoligait_edge.bundle.model_config import DEFAULT_GROUP_SIZES
from scoligait_edge.core.constants import SIL_SHAPE, SILHOUETTE_MAX, WINDOW_FRAMES
from scoligait_edge.core.schema import DOMAIN_SIZES, DOMAINS, FEATURE_NAMES, NUM_FEATURES, Domain, domain_slices


@dataclass(frozen=True)
class KmToken:
    """Where one knowledge-map token comes from."""

    index: int
    time_index: int
    group_index: int
    frame_start: int
    frame_stop: int
    """Exclusive."""
    feature_indices: tuple[int, ...]
    """Real map columns only (the zero padding of a domain's last group is not listed)."""
    domain: str
    position: float
    """Centre frame index, the token's RoPE position when streams are aligned."""

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(FEATURE_NAMES[i] for i in self.feature_indices)


@dataclass(frozen=True)
class TubeletToken:
    """Where one video token comes from (pixel ranges are exclusive at the stop)."""

    index: int
    time_index: int
    frame_start: int
    frame_stop: int
    row_start: int
    row_stop: int
    col_start: int
    col_stop: int
    position: float


def _centre(start: int, stop: int) -> float:
    return (start + stop - 1) / 2.0


def _span_mask(frame_mask: torch.Tensor, n_spans: int, span: int) -> torch.Tensor:
    """[B, T] frame validity -> [B, n_spans]: a span is valid if any of its frames is."""
    return frame_mask.to(torch.float32).reshape(-1, n_spans, span).amax(dim=-1) > 0


class KnowledgeMapPatchEmbed(nn.Module):
    """[B, T, 238] map + [B, T] frame mask -> tokens [B, N, D], token mask [B, N], positions [B, N].

    Tokens are time-major: token ``t * G + g`` is time patch ``t``, feature group
    ``g``. Invalid frames are zeroed (NaN included) before projection, so their
    contents cannot reach the output. Per-feature ``mean``/``std`` buffers
    (identity until :meth:`set_normalization`) standardise the mixed units
    (body sizes, radians, correlations) inside the model, so an exported graph
    takes the raw map.
    """

    # buffers
    mean: torch.Tensor
    std: torch.Tensor
    positions: torch.Tensor
    cell_token: torch.Tensor

    def __init__(
        self,
        dim: int,
        window_frames: int = WINDOW_FRAMES,
        patch_frames: int = 8,
        group_sizes: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__()
        group_sizes = dict(DEFAULT_GROUP_SIZES if group_sizes is None else group_sizes)
        if set(group_sizes) != set(DOMAINS):
            raise ValueError(f"group_sizes needs exactly the domains {DOMAINS}, got {sorted(group_sizes)}")
        if window_frames % patch_frames:
            raise ValueError(f"window_frames {window_frames} is not a multiple of patch_frames {patch_frames}")
        self.window_frames, self.patch_frames = window_frames, patch_frames
        self.num_time_patches = window_frames // patch_frames
        slices = domain_slices()
        self._domains: list[tuple[str, int, int, int, int]] = []  # (domain, start, stop, group size, n groups)
        groups: list[tuple[Domain, tuple[int, ...]]] = []
        for d in DOMAINS:
            gs = int(group_sizes[d])
            if not 1 <= gs <= DOMAIN_SIZES[d]:
                raise ValueError(f"group size for {d} must be in 1..{DOMAIN_SIZES[d]}, got {gs}")
            sl = slices[d]
            n = math.ceil(DOMAIN_SIZES[d] / gs)
            self._domains.append((d, sl.start, sl.stop, gs, n))
            groups += [(d, tuple(range(sl.start + i * gs, min(sl.start + (i + 1) * gs, sl.stop)))) for i in range(n)]
        self.group_sizes = group_sizes
        self.num_groups = len(groups)
        self.proj = nn.ModuleDict({d: nn.Linear(patch_frames * gs, dim) for d, _, _, gs, _ in self._domains})
        self.group_embed = nn.Parameter(torch.zeros(self.num_groups, dim))
        nn.init.trunc_normal_(self.group_embed, std=0.02)
        self.register_buffer("mean", torch.zeros(NUM_FEATURES))
        self.register_buffer("std", torch.ones(NUM_FEATURES))

        layout: list[KmToken] = []
        for t in range(self.num_time_patches):
            f0, f1 = t * patch_frames, (t + 1) * patch_frames
            for g, (d, cols) in enumerate(groups):
                layout.append(KmToken(len(layout), t, g, f0, f1, cols, d, _centre(f0, f1)))
        self.token_layout: tuple[KmToken, ...] = tuple(layout)
        self.register_buffer("positions", torch.tensor([tok.position for tok in layout]), persistent=False)
        # Each (frame, feature) cell belongs to exactly one token: the gather index for remapping saliency.
        cell = torch.empty(window_frames, NUM_FEATURES, dtype=torch.long)
        for tok in layout:
            cell[tok.frame_start : tok.frame_stop, list(tok.feature_indices)] = tok.index
        self.register_buffer("cell_token", cell.flatten(), persistent=False)

    @property
    def num_tokens(self) -> int:
        return len(self.token_layout)

    @torch.no_grad()
    def set_normalization(self, mean: torch.Tensor, std: torch.Tensor, min_std: float = 1e-6) -> None:
        """Store per-feature statistics (from the training set) used to standardise the raw map."""
        self.mean.copy_(torch.as_tensor(mean, dtype=self.mean.dtype))
        self.std.copy_(torch.as_tensor(std, dtype=self.std.dtype).clamp(min=min_std))

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x`` [B, T, 238] float, ``frame_mask`` [B, T] bool -> (tokens, token_mask, positions)."""
        x = ((x - self.mean) / self.std).masked_fill(~frame_mask.unsqueeze(-1), 0.0)
        tp, pt = self.num_time_patches, self.patch_frames
        parts = []
        for d, start, stop, gs, n in self._domains:
            xd = x[:, :, start:stop]
            if n * gs > stop - start:
                xd = F.pad(xd, (0, n * gs - (stop - start)))
            xd = xd.reshape(-1, tp, pt, n, gs).permute(0, 1, 3, 2, 4).reshape(-1, tp, n, pt * gs)
            parts.append(self.proj[d](xd))
        tokens = (torch.cat(parts, dim=2) + self.group_embed).flatten(1, 2)  # [B, Tp * G, D]
        span = _span_mask(frame_mask, tp, pt)  # [B, Tp]
        token_mask = span.unsqueeze(-1).expand(-1, -1, self.num_groups).flatten(1)
        positions = self.positions.unsqueeze(0).expand(x.shape[0], -1)
        return tokens, token_mask, positions

    def remap(self, token_scores: torch.Tensor) -> torch.Tensor:
        """Paint per-token scores [B, N] back onto the map cells: [B, T, 238] (each cell gets its token's score)."""
        return token_scores.index_select(1, self.cell_token).reshape(-1, self.window_frames, NUM_FEATURES)


_FORCE_CONV3D = False


@contextlib.contextmanager
def conv3d_tubelets() -> Iterator[None]:
    """Project tubelets with the ``Conv3d`` kernel, the path before reshape + matmul (for parity tests and the
    legacy configuration of ``benchmarks/test_training_bench.py``); same weights, same tokens."""
    global _FORCE_CONV3D
    before, _FORCE_CONV3D = _FORCE_CONV3D, True
    try:
        yield
    finally:
        _FORCE_CONV3D = before


class TubeletEmbed(nn.Module):
    """Silhouette/RGB clip [B, T, C, H, W] -> tokens [B, N, D], token mask [B, N], positions [B, N].

    uint8 input is scaled by 1/255 (ScoNet's convention); float input is taken
    as already in [0, 1]. A [B, T, H, W] clip is read as one channel. Tokens are
    time-major then row-major over the spatial grid; a learned spatial
    embedding marks the grid cell, RoPE marks time.
    """

    positions: torch.Tensor  # buffer

    def __init__(
        self,
        dim: int,
        window_frames: int = WINDOW_FRAMES,
        tubelet_frames: int = 8,
        patch_size: tuple[int, int] = (16, 11),
        image_size: tuple[int, int] = SIL_SHAPE,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        (h, w), (ph, pw) = image_size, patch_size
        if window_frames % tubelet_frames or h % ph or w % pw:
            raise ValueError(f"clip {window_frames}x{h}x{w} is not divisible into tubelets {tubelet_frames}x{ph}x{pw}")
        self.window_frames, self.tubelet_frames = window_frames, tubelet_frames
        self.image_size, self.patch_size, self.in_channels = (h, w), (ph, pw), in_channels
        self.num_time_patches, self.grid = window_frames // tubelet_frames, (h // ph, w // pw)
        n_spatial = self.grid[0] * self.grid[1]
        self.proj = nn.Conv3d(in_channels, dim, kernel_size=(tubelet_frames, ph, pw), stride=(tubelet_frames, ph, pw))
        self.spatial_embed = nn.Parameter(torch.zeros(n_spatial, dim))
        nn.init.trunc_normal_(self.spatial_embed, std=0.02)
        layout: list[TubeletToken] = []
        for t in range(self.num_time_patches):
            f0, f1 = t * tubelet_frames, (t + 1) * tubelet_frames
            for r in range(self.grid[0]):
                for c in range(self.grid[1]):
                    rows, cols = (r * ph, (r + 1) * ph), (c * pw, (c + 1) * pw)
                    layout.append(TubeletToken(len(layout), t, f0, f1, *rows, *cols, _centre(f0, f1)))
        self.token_layout: tuple[TubeletToken, ...] = tuple(layout)
        self.register_buffer("positions", torch.tensor([tok.position for tok in layout]), persistent=False)

    @property
    def num_tokens(self) -> int:
        return len(self.token_layout)

    def _project(self, video: torch.Tensor, scale: float | None = None) -> torch.Tensor:
        """[B, T, C, H, W] -> [B, Tp * Hp * Wp, D]: the strided Conv3d as one matrix product over cut-out tubelets.

        Same weights and result as ``self.proj`` (non-overlapping tubelets), but
        CPU Conv3d kernels with a 32 x 16 x 11 kernel ran ~10x slower than this
        reshape + matmul in training (backward above all). The tubelets are cut
        out in the input's dtype (uint8: a quarter of the bytes to move) and
        ``scale`` (1/255 for uint8) is applied to the product, ``(x W) s = (x s) W``,
        instead of to every pixel.
        """
        b, t, c, h, w = video.shape
        if _FORCE_CONV3D:  # the kernel path, [B, C, T, H, W] -> [B, D, Tp, Hp, Wp] -> [B, N, D]
            x = video.to(self.proj.weight.dtype) * (1.0 if scale is None else scale)
            return self.proj(x.transpose(1, 2)).flatten(2).transpose(1, 2)
        (tp, gh, gw), (pt, ph, pw) = (self.num_time_patches, *self.grid), (self.tubelet_frames, *self.patch_size)
        x = video.reshape(b, tp, pt, c, gh, ph, gw, pw).permute(0, 1, 4, 6, 3, 2, 5, 7)  # [B,Tp,Hp,Wp,C,pt,ph,pw]
        x = x.reshape(b, tp * gh * gw, c * pt * ph * pw).to(self.proj.weight.dtype)
        weight = self.proj.weight.reshape(self.proj.out_channels, -1)
        if scale is None:
            return F.linear(x, weight, self.proj.bias)
        out = F.linear(x, weight) * scale
        return out if self.proj.bias is None else out + self.proj.bias

    def forward(
        self, video: torch.Tensor, frame_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``video`` [B, T, C, H, W] (or [B, T, H, W]) uint8 or float; ``frame_mask`` [B, T] bool, None = all valid."""
        if video.dim() == 4:
            video = video.unsqueeze(2)
        # the exported graph takes uint8 (scaled by 1/255 after the projection: see _project)
        scale = 1.0 / SILHOUETTE_MAX if video.dtype == torch.uint8 else None
        if frame_mask is not None:  # x * keep rather than masked_fill: same zeros, ~20x faster broadcast on CPUs
            video = video * frame_mask.to(video.dtype)[:, :, None, None, None]
        tp, s = self.num_time_patches, self.spatial_embed.shape[0]
        tokens = self._project(video, scale).reshape(-1, tp, s, self.proj.out_channels) + self.spatial_embed
        tokens = tokens.flatten(1, 2)
        b = tokens.shape[0]
        if frame_mask is None:
            token_mask = torch.ones_like(tokens[..., 0], dtype=torch.bool)
        else:
            token_mask = _span_mask(frame_mask, tp, self.tubelet_frames).unsqueeze(-1).expand(-1, -1, s).flatten(1)
        return tokens, token_mask, self.positions.unsqueeze(0).expand(b, -1)
