"""Our own ScoNet / ScoNet-MT baseline (Scoliosis1K), written from the published description.

Silhouettes 64x44 (a 64x64 frame with 10 px cut off each side), scaled /255 ->
a per-frame ResNet-9-like backbone (one basic block per stage, 64/128/256/512
channels, strides 1/2/2/1) -> temporal max pooling over the frame *set* (frame
order does not matter: training samples 30 unordered frames, testing uses all)
-> horizontal pyramid pooling into 16 strips (mean + max) -> a separate FC per
strip (512 -> 256) -> a separate BN-neck classifier per strip over 3 classes
(positive / neutral / negative). Inference averages the strip logits.

The heads and losses follow OpenGait's ScoNet-MT (``configs/sconet/sconet_scoliosis1k.yaml``;
facts, our own code): the BN-neck classifier is normalised (cosine between the L2-normalised
neck feature and L2-normalised class weights) and its logits are scaled by 16; the
cross-entropy uses label smoothing 0.1; ScoNet-MT adds OpenGait's triplet loss (every
anchor-positive-negative triple of the batch, margin 0.2, averaged over the triples that
violate the margin) on the pre-BN strip embeddings with IDENTITY labels (which sequence or
person a sample came from), not class labels. ``norm_classifier=False``, ``label_smoothing=0``
and ``triplet='batch_hard'`` on class labels give the earlier variant for comparison.

``width`` scales every channel count so tests can run a tiny network.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from scoligait_edge.core.constants import SIL_SHAPE

SCONET_CLASSES: tuple[str, ...] = ("positive", "neutral", "negative")
"""Class index order of ScoNet's logits."""


def crop_silhouettes(frames: torch.Tensor, cut: int = 10) -> torch.Tensor:
    """[..., 64, 64] -> [..., 64, 44]: drop ``cut`` columns on each side, as ScoNet's preprocessing does."""
    return frames[..., cut : frames.shape[-1] - cut]


class ScoNetConfig(BaseModel):
    """Architecture of a :class:`ScoNet` (the loss choice, ScoNet vs ScoNet-MT, lives in :class:`ScoNetLoss`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    width: float = Field(default=1.0, gt=0, description="channel multiplier; 1.0 = 64/128/256/512")
    in_channels: int = Field(default=1, ge=1)
    num_classes: int = Field(default=3, ge=2)
    bins: int = Field(default=16, ge=1)
    embed_dim: int = Field(default=256, ge=1)
    image_size: tuple[int, int] = SIL_SHAPE
    norm_classifier: bool = Field(
        default=True, description="OpenGait's SeparateBNNecks(norm=True): cosine logits x logit_scale"
    )
    logit_scale: float = Field(default=16.0, gt=0, description="OpenGait's CrossEntropyLoss scale (16)")

    @model_validator(mode="after")
    def _check(self) -> ScoNetConfig:
        h, w = self.image_size
        if h % 4 or w % 4:
            raise ValueError(f"image size {self.image_size} must be divisible by 4 (two stride-2 stages)")
        if ((h // 4) * (w // 4)) % self.bins:
            raise ValueError(f"the {h // 4}x{w // 4} feature map cannot be cut into {self.bins} horizontal bins")
        return self

    @property
    def channels(self) -> tuple[int, int, int, int]:
        return tuple(max(1, round(c * self.width)) for c in (64, 128, 256, 512))  # type: ignore[return-value]


class BasicBlock(nn.Module):
    """ResNet basic block (two 3x3 convs) with a 1x1 projection shortcut when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = (
            nn.Identity()
            if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class SetBackbone(nn.Module):
    """Per-frame ResNet-9-like CNN: 3x3 stem, then one basic block per stage, strides 1/2/2/1."""

    def __init__(self, in_channels: int, channels: tuple[int, int, int, int]) -> None:
        super().__init__()
        c0 = channels[0]
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c0, 3, 1, 1, bias=False), nn.BatchNorm2d(c0), nn.ReLU())
        cins = (c0, *channels[:-1])
        self.stages = nn.Sequential(
            *(BasicBlock(ci, co, s) for ci, co, s in zip(cins, channels, (1, 2, 2, 1), strict=True))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))


class ScoNetOutput(NamedTuple):
    embeddings: torch.Tensor
    """[B, embed_dim, bins] per-strip embeddings (the triplet loss works on these)."""
    part_logits: torch.Tensor
    """[B, num_classes, bins] per-strip classifier logits."""
    logits: torch.Tensor
    """[B, num_classes] strip logits averaged: the inference output (order ``SCONET_CLASSES``)."""


class ScoNet(nn.Module):
    """ScoNet / ScoNet-MT network (they share it; the loss differs)."""

    def __init__(self, config: ScoNetConfig | None = None) -> None:
        super().__init__()
        cfg = self.config = config if config is not None else ScoNetConfig()
        c = cfg.channels
        self.backbone = SetBackbone(cfg.in_channels, c)
        self.fc = nn.Parameter(nn.init.xavier_uniform_(torch.empty(cfg.bins, c[-1], cfg.embed_dim)))
        self.bn_neck = nn.BatchNorm1d(cfg.embed_dim * cfg.bins)
        self.classifier = nn.Parameter(nn.init.xavier_uniform_(torch.empty(cfg.bins, cfg.embed_dim, cfg.num_classes)))

    def forward(self, silhouettes: torch.Tensor, frame_mask: torch.Tensor | None = None) -> ScoNetOutput:
        """``silhouettes`` [B, T, H, W] or [B, T, C, H, W], uint8 (scaled /255) or float; ``frame_mask`` [B, T]."""
        x = silhouettes if silhouettes.dim() == 5 else silhouettes.unsqueeze(2)
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        b, t = x.shape[:2]
        feats = self.backbone(x.flatten(0, 1))  # [B*T, C, h, w]
        feats = feats.reshape(b, t, *feats.shape[1:])
        if frame_mask is not None:  # set pooling: padded frames can never be the max
            feats = feats.masked_fill(~frame_mask[:, :, None, None, None], torch.finfo(feats.dtype).min)
        feats = feats.amax(dim=1)  # temporal max pooling -> [B, C, h, w]
        strips = feats.flatten(2).reshape(b, feats.shape[1], self.config.bins, -1)  # horizontal bins, row-major
        parts = strips.mean(-1) + strips.amax(-1)  # [B, C, P]
        emb = torch.matmul(parts.permute(2, 0, 1), self.fc).permute(1, 2, 0)  # [B, E, P]
        neck = self.bn_neck(emb.flatten(1)).reshape_as(emb)
        weights: torch.Tensor = self.classifier
        if self.config.norm_classifier:  # cosine classifier, scaled as OpenGait's softmax loss scales it
            neck = F.normalize(neck, dim=1)
            weights = F.normalize(weights, dim=1)
        part_logits = torch.matmul(neck.permute(2, 0, 1), weights).permute(1, 2, 0)  # [B, K, P]
        if self.config.norm_classifier:
            part_logits = part_logits * self.config.logit_scale
        return ScoNetOutput(emb, part_logits, part_logits.mean(dim=-1))


def batch_hard_triplet(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 0.2) -> torch.Tensor:
    """Batch-hard triplet loss per strip, averaged: ``relu(max d(a, p) - min d(a, n) + margin)``.

    ``embeddings`` [B, E, P]; anchors without both a positive and a negative in
    the batch are skipped (0 if none qualifies).
    """
    e = embeddings.permute(2, 0, 1)  # [P, B, E]
    sq = e.pow(2).sum(-1)
    dist = (sq.unsqueeze(-1) + sq.unsqueeze(-2) - 2 * e @ e.transpose(1, 2)).clamp(min=1e-12).sqrt()  # [P, B, B]
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    pos, neg = same & ~eye, ~same
    hardest_pos = dist.masked_fill(~pos, 0.0).amax(-1)
    hardest_neg = dist.masked_fill(~neg, float("inf")).amin(-1)
    valid = pos.any(1) & neg.any(1)
    if not bool(valid.any()):
        return embeddings.new_zeros(())
    return F.relu(hardest_pos - hardest_neg + margin)[:, valid].mean()


def batch_all_triplet(embeddings: torch.Tensor, ids: torch.Tensor, margin: float = 0.2) -> torch.Tensor:
    """OpenGait's triplet loss: ``relu(d(a, p) - d(a, n) + margin)`` over EVERY anchor, positive and
    negative of the batch, per strip, averaged over the triples with a non-zero loss (0 if none), then
    over strips. ``embeddings`` [B, E, P]; ``ids`` [B] identity labels (same id = positive pair)."""
    e = embeddings.permute(2, 0, 1)  # [P, B, E]
    sq = e.pow(2).sum(-1)
    dist = (sq.unsqueeze(-1) + sq.unsqueeze(-2) - 2 * e @ e.transpose(1, 2)).clamp(min=1e-12).sqrt()  # [P, B, B]
    same = ids.unsqueeze(0) == ids.unsqueeze(1)
    eye = torch.eye(len(ids), dtype=torch.bool, device=ids.device)
    pos, neg = same & ~eye, ~same
    triples = pos.unsqueeze(2) & neg.unsqueeze(1)  # [B(anchor), B(pos), B(neg)]
    if not bool(triples.any()):
        return embeddings.new_zeros(())
    loss = F.relu(dist.unsqueeze(3) - dist.unsqueeze(2) + margin)  # [P, a, p, n]
    loss = loss * triples.unsqueeze(0)
    nonzero = (loss > 0).flatten(1).sum(-1)  # per strip
    per_strip = loss.flatten(1).sum(-1) / nonzero.clamp(min=1)
    return per_strip.mean()


class ScoNetLossOutput(NamedTuple):
    total: torch.Tensor
    ce: torch.Tensor
    triplet: torch.Tensor


class ScoNetLoss(nn.Module):
    """Cross-entropy over every strip's logits with label smoothing (ScoNet), plus ``triplet_weight`` x
    the triplet loss on identities (ScoNet-MT). Defaults: OpenGait's (smoothing 0.1, margin 0.2, all triples)."""

    def __init__(
        self,
        multi_task: bool = True,
        margin: float = 0.2,
        triplet_weight: float = 1.0,
        *,
        label_smoothing: float = 0.1,
        triplet: Literal["batch_all", "batch_hard"] = "batch_all",
    ) -> None:
        super().__init__()
        self.multi_task, self.margin, self.triplet_weight = multi_task, margin, triplet_weight
        self.label_smoothing, self.triplet = label_smoothing, triplet

    def forward(self, output: ScoNetOutput, labels: torch.Tensor, ids: torch.Tensor | None = None) -> ScoNetLossOutput:
        """``labels`` [B] class indices in ``SCONET_CLASSES`` order; ``ids`` [B] identities for the triplet
        loss (OpenGait: the person / sequence; None falls back to the class labels, the earlier variant)."""
        p = output.part_logits.shape[-1]
        ce = F.cross_entropy(
            output.part_logits, labels.unsqueeze(1).expand(-1, p), label_smoothing=self.label_smoothing
        )
        if self.multi_task:
            who = labels if ids is None else ids
            fn = batch_all_triplet if self.triplet == "batch_all" else batch_hard_triplet
            tri = fn(output.embeddings, who, self.margin)
        else:
            tri = ce.new_zeros(())
        return ScoNetLossOutput(ce + self.triplet_weight * tri, ce, tri)
