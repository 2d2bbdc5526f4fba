"""The ScoliGait screening model: per-modality encoders -> concatenated tokens -> fusion -> heads.

Outputs a screening logit (positive = Cobb angle >= 10 degrees, "refer for a
clinical examination"), a Cobb-angle estimate in degrees, a per-token
saliency and that saliency painted back onto the knowledge map.

Timebase: every video and knowledge-map token carries the centre frame index
of the frames it spans ("aligned"), so tokens of the same frames share a RoPE
position; "non_aligned" numbers each stream's tokens 0..n-1 instead (the
paper's ablation). Text tokens sit at the window's centre frame.

The forward is traceable for ``torch.onnx.export`` (legacy exporter, opset
18, dynamic batch): shapes depend only on the config, never on tensor values.
Input validation is skipped while tracing.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from scoligait_edge.bundle.model_config import ScreeningModelConfig
from scoligait_edge.core.schema import NUM_FEATURES
from scoligait_edge.research.models.encoders import KnowledgeMapEncoder, TextProjection, VideoEncoder
from scoligait_edge.research.models.fusion import TokenFusion
from scoligait_edge.research.models.layers.latent_pool import masked_mean
from scoligait_edge.research.models.layers.patch import KmToken, TubeletToken

Stream = Literal["km", "video", "text"]


class ScreeningOutput(NamedTuple):
    """Model outputs (a tuple, so it traces and exports; ONNX output names follow the field names)."""

    logit: torch.Tensor
    """[B] screening logit, positive class = Cobb >= 10 degrees."""
    prob: torch.Tensor
    """[B] sigmoid(logit). Uncalibrated until a threshold/calibration is fitted on validation data."""
    cobb: torch.Tensor
    """[B] Cobb-angle estimate, degrees."""
    token_saliency: torch.Tensor
    """[B, N] each token's additive contribution to ``logit`` (see :meth:`ScreeningModel.forward`)."""
    km_attention_map: torch.Tensor
    """[B, T, 238] token saliency painted onto the knowledge-map cells, 0 on invalid frames."""


def _encoders(
    cfg: ScreeningModelConfig,
) -> tuple[KnowledgeMapEncoder | None, VideoEncoder | None, TextProjection | None]:
    """The encoder of each modality the config uses (None for the others), built in token order; the
    knowledge-map and video encoders share one transformer set-up."""
    common: dict[str, Any] = dict(
        dim=cfg.dim,
        depth=cfg.encoder_depth,
        heads=cfg.heads,
        mlp_ratio=cfg.mlp_ratio,
        dropout=cfg.dropout,
        window_frames=cfg.window_frames,
        rope_base=cfg.rope_base,
        attention_dropout=cfg.attention_dropout,
        drop_path=cfg.drop_path,
    )
    km = (
        KnowledgeMapEncoder(**common, patch_frames=cfg.km_patch_frames, group_sizes=cfg.km_group_sizes)
        if cfg.uses_km
        else None
    )
    video = (
        VideoEncoder(
            **common,
            tubelet_frames=cfg.video_tubelet_frames,
            patch_size=cfg.video_patch_size,
            image_size=cfg.video_image_size,
            in_channels=cfg.video_channels,
        )
        if cfg.uses_video
        else None
    )
    text = (
        TextProjection(cfg.dim, cfg.text_dim, position=cfg.text_position, dropout=cfg.dropout)
        if cfg.uses_text
        else None
    )
    return km, video, text


class ScreeningModel(nn.Module):
    """Knowledge map (+ video, + text) screening model. Token order: km tokens, video tokens, text tokens."""

    def __init__(self, config: ScreeningModelConfig | None = None) -> None:
        super().__init__()
        cfg = self.config = config if config is not None else ScreeningModelConfig()
        self.km_encoder, self.video_encoder, self.text_projection = _encoders(cfg)
        n_mod = int(cfg.uses_km) + int(cfg.uses_video) + int(cfg.uses_text)
        self.modality_embed = nn.Parameter(torch.zeros(n_mod, cfg.dim))
        nn.init.trunc_normal_(self.modality_embed, std=0.02)
        self.fusion = TokenFusion(
            cfg.fusion,
            cfg.dim,
            cfg.heads,
            cfg.mlp_ratio,
            cfg.dropout,
            cfg.fusion_blocks,
            cfg.num_latents,
            cfg.latent_heads,
            cfg.pma_queries,
            cfg.rope_base,
            cfg.attention_dropout,
            cfg.drop_path,
        )
        self.head_norm = nn.LayerNorm(cfg.dim)
        self.screen_head = nn.Linear(cfg.dim, 1)
        self.cobb_head = nn.Linear(cfg.dim, 1)
        self.apply(_init_weights)

    # ----------------------------------------------------------------- layout
    @property
    def num_km_tokens(self) -> int:
        return 0 if self.km_encoder is None else self.km_encoder.patch_embed.num_tokens

    @property
    def num_video_tokens(self) -> int:
        return 0 if self.video_encoder is None else self.video_encoder.patch_embed.num_tokens

    @property
    def km_token_layout(self) -> tuple[KmToken, ...]:
        """Frames and map columns of each knowledge-map token (token ``i`` of the output is ``km_token_layout[i]``)."""
        return () if self.km_encoder is None else self.km_encoder.patch_embed.token_layout

    @property
    def video_token_layout(self) -> tuple[TubeletToken, ...]:
        """Frames and pixels of each video token; they follow the km tokens in the output."""
        return () if self.video_encoder is None else self.video_encoder.patch_embed.token_layout

    def token_slices(self) -> dict[Stream, slice]:
        """Where each modality's tokens sit in ``token_saliency`` (text runs to the end)."""
        out: dict[Stream, slice] = {}
        start = 0
        counts: tuple[tuple[Stream, int], ...] = (("km", self.num_km_tokens), ("video", self.num_video_tokens))
        for name, n in counts:
            if n:
                out[name] = slice(start, start + n)
                start += n
        if self.text_projection is not None:
            out["text"] = slice(start, None)
        return out

    def stream_offset(self, stream: Stream) -> float:
        """Frames added to a stream's positions where the modalities meet (the joint fusion blocks).

        "aligned": 0 for every stream, so a km token and the video token of the
        same frames sit at distance 0. "non_aligned": the streams are laid end
        to end (km, then video, then text, one window length apart), as a plain
        concatenation would number them. Inside each encoder positions are
        always frame indices, so this is the only thing the ablation changes.
        """
        if self.config.rope == "aligned":
            return 0.0
        order = [
            name
            for name, used in (("km", self.km_encoder), ("video", self.video_encoder), ("text", self.text_projection))
            if used is not None
        ]
        return float(order.index(stream) * self.config.window_frames)

    def stream_positions(self, stream: Literal["km", "video"], batch: int) -> torch.Tensor:
        """RoPE positions [batch, N] a stream's tokens have in the joint fusion blocks.

        The encoder's own positions (centre frame index of each token's frames)
        plus :meth:`stream_offset`.
        """
        encoder = self.km_encoder if stream == "km" else self.video_encoder
        if encoder is None:
            raise ValueError(f"this model has no {stream} stream (modalities {self.config.modalities!r})")
        table = encoder.patch_embed.positions + self.stream_offset(stream)
        return table.unsqueeze(0).expand(batch, -1)

    # ----------------------------------------------------------------- forward
    def forward(
        self,
        km: torch.Tensor | None = None,
        km_mask: torch.Tensor | None = None,
        video: torch.Tensor | None = None,
        text: torch.Tensor | None = None,
        text_mask: torch.Tensor | None = None,
        video_mask: torch.Tensor | None = None,
    ) -> ScreeningOutput:
        """Screen one batch of windows.

        ``km`` [B, T, 238] raw knowledge map (NaN allowed on invalid frames),
        ``km_mask`` [B, T] bool (None = all valid), ``video`` [B, T, C, 64, 44]
        uint8 or float in [0, 1], ``text`` [B, S, 384] or [B, 384] sentence
        embeddings with ``text_mask`` [B, S], ``video_mask`` [B, T] (None = all
        frames valid). T must equal ``config.window_frames``.

        ``token_saliency`` is exact: every fusion ends in a masked mean
        ``p = sum_i w_i y_i`` followed by LayerNorm and a linear head, and
        LayerNorm is affine in ``p`` once its spread ``sigma(p)`` is fixed, so
        ``logit = bias + sum_i s_i`` with
        ``s_i = w_i (y_i - mean(y_i)) . (gamma * w_head) / sigma(p)``.
        Positive = evidence for "refer". (For ``cat_pma`` it is instead the
        attention each token receives.)
        """
        if not (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()):
            self._validate(km, km_mask, video, text, text_mask)
        streams, km_mask = self._encode(km, km_mask, video, video_mask, text, text_mask)
        tokens = [t + self.modality_embed[i] for i, (t, _, _) in enumerate(streams)]

        x = torch.cat(tokens, dim=1)
        mask = torch.cat([m for _, m, _ in streams], dim=1)
        # encoders used frame positions; the joint blocks see them shifted per stream (0 when aligned)
        pos = torch.cat(
            [p + self.stream_offset(name) for (_, _, p), name in zip(streams, self.token_slices(), strict=True)], dim=1
        )
        fused = self.fusion(x, mask, pos)
        z = self.head_norm(fused.pooled)
        logit = self.screen_head(z).squeeze(-1)
        cobb = self.cobb_head(z).squeeze(-1)
        if fused.tokens is not None:
            saliency = self._logit_contributions(fused.tokens, mask, fused.pooled)
        else:
            saliency = fused.saliency
        km_map = self._saliency_on_map(saliency, km_mask, km if km is not None else video, x.dtype)
        return ScreeningOutput(logit, torch.sigmoid(logit), cobb, saliency, km_map)

    def _encode(
        self,
        km: torch.Tensor | None,
        km_mask: torch.Tensor | None,
        video: torch.Tensor | None,
        video_mask: torch.Tensor | None,
        text: torch.Tensor | None,
        text_mask: torch.Tensor | None,
    ) -> tuple[list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], torch.Tensor | None]:
        """Each used modality's (tokens, mask, positions), in token order, and the km mask (all valid when
        omitted for a km model)."""
        streams: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        if self.km_encoder is not None:
            assert km is not None  # _validate: a km model needs km
            if km_mask is None:
                km_mask = torch.ones_like(km[..., 0], dtype=torch.bool)
            streams.append(self.km_encoder(km, km_mask))
        if self.video_encoder is not None:
            streams.append(self.video_encoder(video, video_mask))
        if self.text_projection is not None:
            streams.append(self.text_projection(text, text_mask))
        return streams, km_mask

    def _saliency_on_map(
        self,
        saliency: torch.Tensor,
        km_mask: torch.Tensor | None,
        batch_ref: torch.Tensor | None,
        dtype: torch.dtype,
    ) -> torch.Tensor:
        """[B, T, 238]: the km tokens' saliency painted onto the map cells, 0 on invalid frames; all zeros for a
        model without a knowledge map (the output keeps one shape for every model)."""
        if self.km_encoder is not None:
            km_map = self.km_encoder.patch_embed.remap(saliency[:, : self.num_km_tokens])
            assert km_mask is not None  # set in _encode for a km model
            return km_map * km_mask.unsqueeze(-1).to(km_map.dtype)
        assert batch_ref is not None  # _validate: km or video is given
        return batch_ref.new_zeros((batch_ref.shape[0], self.config.window_frames, NUM_FEATURES), dtype=dtype)

    def _logit_contributions(self, y: torch.Tensor, mask: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        """Exact per-token split of the screening logit (bias excluded); see :meth:`forward`."""
        _, weights = masked_mean(y, mask)
        norm = self.head_norm
        sigma = torch.sqrt(pooled.var(dim=-1, unbiased=False, keepdim=True) + norm.eps)  # [B, 1]
        direction = norm.weight * self.screen_head.weight[0]  # [D]
        centred = y - y.mean(dim=-1, keepdim=True)
        return weights * (centred * direction).sum(dim=-1) / sigma

    def logit_bias(self) -> torch.Tensor:
        """The part of the logit no token accounts for: ``head.w . LN.beta + head.b`` (scalar)."""
        return self.screen_head.weight[0] @ self.head_norm.bias + self.screen_head.bias[0]

    def _validate(
        self,
        km: torch.Tensor | None,
        km_mask: torch.Tensor | None,
        video: torch.Tensor | None,
        text: torch.Tensor | None,
        text_mask: torch.Tensor | None,
    ) -> None:
        cfg, t = self.config, self.config.window_frames
        if cfg.uses_km:
            if km is None:
                raise ValueError(f"modalities {cfg.modalities!r} need a knowledge map `km` [B, {t}, {NUM_FEATURES}]")
            if km.dim() != 3 or tuple(km.shape[1:]) != (t, NUM_FEATURES):
                raise ValueError(f"km must be [B, {t}, {NUM_FEATURES}], got {tuple(km.shape)}")
            if km_mask is not None and (km_mask.dtype != torch.bool or tuple(km_mask.shape) != tuple(km.shape[:2])):
                raise ValueError(f"km_mask must be bool [B, {t}], got {km_mask.dtype} {tuple(km_mask.shape)}")
        if cfg.uses_video:
            shape = (t, cfg.video_channels, *cfg.video_image_size)
            accepted = {shape, (t, *cfg.video_image_size)} if cfg.video_channels == 1 else {shape}
            if video is None or tuple(video.shape[1:]) not in accepted:
                got = None if video is None else tuple(video.shape)
                want = ", ".join(map(str, shape))
                raise ValueError(f"modalities {cfg.modalities!r} need `video` [B, {want}], got {got}")
        if cfg.uses_text:
            if text is None or text.shape[-1] != cfg.text_dim:
                got = None if text is None else tuple(text.shape)
                want = f"[B, S, {cfg.text_dim}]"
                raise ValueError(f"modalities {cfg.modalities!r} need `text` {want} embeddings, got {got}")
            if text_mask is not None and text_mask.dtype != torch.bool:
                raise ValueError("text_mask must be bool")

    # ----------------------------------------------------------------- export helpers
    def example_inputs(self, batch_size: int = 1, text_tokens: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
        """Random inputs keyed by forward argument name (only the modalities in use), video as uint8 0/255.

        For export pass them as ``kwargs=`` (a video-only model has no ``km``
        positional argument); the exported graph takes the dtypes traced here.
        """
        cfg, g = self.config, torch.Generator().manual_seed(seed)
        out: dict[str, torch.Tensor] = {}
        if cfg.uses_km:
            out["km"] = torch.randn(batch_size, cfg.window_frames, NUM_FEATURES, generator=g)
            out["km_mask"] = torch.ones(batch_size, cfg.window_frames, dtype=torch.bool)
        if cfg.uses_video:
            shape = (batch_size, cfg.window_frames, cfg.video_channels, *cfg.video_image_size)
            out["video"] = (torch.rand(shape, generator=g) > 0.5).to(torch.uint8) * 255
        if cfg.uses_text:
            out["text"] = torch.randn(batch_size, text_tokens, cfg.text_dim, generator=g)
            out["text_mask"] = torch.ones(batch_size, text_tokens, dtype=torch.bool)
        return out


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


class ScreeningLossOutput(NamedTuple):
    total: torch.Tensor
    bce: torch.Tensor
    cobb: torch.Tensor


class ScreeningLoss(nn.Module):
    """BCE on the screening logit plus a smooth-L1 Cobb regression on ``cobb / cobb_scale`` degrees.

    ``pos_weight`` counters class imbalance; ``cobb_weight = 0`` (or no Cobb
    target) trains the classifier alone. NaN Cobb targets (datasets that publish
    none, e.g. Scoliosis1K) are left out of the regression term, not propagated.
    """

    pos_weight: torch.Tensor | None  # buffer

    def __init__(self, cobb_weight: float = 0.5, cobb_scale: float = 10.0, pos_weight: float | None = None) -> None:
        super().__init__()
        self.cobb_weight, self.cobb_scale = cobb_weight, cobb_scale
        self.register_buffer("pos_weight", None if pos_weight is None else torch.tensor(float(pos_weight)))

    def forward(
        self, output: ScreeningOutput, label: torch.Tensor, cobb_deg: torch.Tensor | None = None
    ) -> ScreeningLossOutput:
        """``label`` [B] 0/1 (1 = Cobb >= 10 deg); ``cobb_deg`` [B] radiographic Cobb angle or None."""
        bce = F.binary_cross_entropy_with_logits(output.logit, label.to(output.logit.dtype), pos_weight=self.pos_weight)
        known = None if cobb_deg is None else torch.isfinite(cobb_deg)
        if known is None or self.cobb_weight == 0 or not bool(known.any()):
            reg = output.logit.new_zeros(())
        else:
            assert cobb_deg is not None  # known is set only with a Cobb target
            reg = F.smooth_l1_loss(
                output.cobb[known] / self.cobb_scale, cobb_deg[known].to(output.cobb.dtype) / self.cobb_scale
            )
        return ScreeningLossOutput(bce + self.cobb_weight * reg, bce, reg)
