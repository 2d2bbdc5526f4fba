"""The screening model's configuration as plain data (pydantic, no torch).

A bundle manifest stores it as JSON (``manifest.model``); the runtime needs
only its fields (modalities, window length, image size ...), and
:mod:`scoligait_edge.research.models` builds the torch model from the same class.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scoligait_edge.core.constants import SIL_SHAPE, WINDOW_FRAMES

Modalities = Literal["km", "video", "km+video", "km+video+text"]
FusionKind = Literal["cat", "cat_att", "cat_latent", "cat_pma"]
FUSION_KINDS: tuple[str, ...] = ("cat", "cat_att", "cat_latent", "cat_pma")
MINILM_DIM = 384
"""all-MiniLM-L6-v2 sentence embedding size."""
DEFAULT_GROUP_SIZES: dict[str, int] = {"motion": 10, "self_skeleton": 8, "cross_correlation": 6}
"""Even sizes keep every (x, y) / (dx, dy) pair in one group; 6 = two cross-correlation
pairs x (peak value, lag at the peak, zero-lag value), the schema kkm-2.0 statistics.
14 + 4 + 11 = 29 groups."""


def default_fusion_blocks(kind: str) -> int:
    """Joint attention blocks a fusion kind uses unless told otherwise (one for Cat+Att, none otherwise)."""
    return 1 if kind == "cat_att" else 0


class ScreeningModelConfig(BaseModel):
    """Everything needed to rebuild a :class:`ScreeningModel` (stored beside every checkpoint).

    ``depth`` left out resolves to 8 for one modality and 4 per encoder when
    several are fused (the paper's parameter matching); ``fusion_blocks`` left
    out resolves to 1 for ``cat_att`` and 0 otherwise. The resolved numbers are
    what gets stored.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    modalities: Modalities = "km+video+text"
    fusion: FusionKind = "cat_latent"
    rope: Literal["aligned", "non_aligned"] = "aligned"
    depth: int | None = Field(default=None, ge=1, description="transformer blocks per encoder")
    dim: int = Field(default=128, ge=8)
    heads: int = Field(default=4, ge=1)
    mlp_ratio: float = Field(default=4.0, gt=0)
    dropout: float = Field(default=0.1, ge=0, lt=1)
    attention_dropout: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="dropout on attention weights; 0 (timm's default) lets training use the fused attention kernel",
    )
    drop_path: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="stochastic depth per transformer block: one random draw per sample, cheap on CPUs",
    )
    window_frames: int = Field(default=WINDOW_FRAMES, ge=1)
    km_patch_frames: int = Field(default=8, ge=1)
    km_group_sizes: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_GROUP_SIZES))
    video_tubelet_frames: int = Field(default=8, ge=1)
    video_patch_size: tuple[int, int] = (16, 11)
    video_image_size: tuple[int, int] = SIL_SHAPE
    video_channels: Literal[1, 3] = 1
    fusion_blocks: int | None = Field(default=None, ge=0)
    num_latents: int = Field(default=512, ge=1)
    latent_heads: int = Field(default=8, ge=1)
    pma_queries: int = Field(default=1, ge=1)
    text_dim: int = Field(default=MINILM_DIM, ge=1)
    rope_base: float = Field(default=10_000.0, gt=1)

    @model_validator(mode="before")
    @classmethod
    def _resolve_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            modalities = data.get("modalities", "km+video+text")
            if data.get("depth") is None:
                data["depth"] = 8 if "+" not in str(modalities) else 4
            if data.get("fusion_blocks") is None:
                data["fusion_blocks"] = default_fusion_blocks(str(data.get("fusion", "cat_latent")))
        return data

    @model_validator(mode="after")
    def _check(self) -> ScreeningModelConfig:
        if self.dim % self.heads or (self.dim // self.heads) % 2:
            raise ValueError(f"dim {self.dim} / heads {self.heads} must give an even head size (RoPE)")
        if self.fusion in ("cat_latent", "cat_pma") and self.dim % self.latent_heads:
            raise ValueError(f"dim {self.dim} is not divisible by latent_heads {self.latent_heads}")
        if self.window_frames % self.km_patch_frames or self.window_frames % self.video_tubelet_frames:
            raise ValueError("window_frames must be a multiple of km_patch_frames and video_tubelet_frames")
        if self.fusion == "cat_att" and not self.fusion_blocks:
            raise ValueError("fusion 'cat_att' needs fusion_blocks >= 1")
        return self

    @property
    def encoder_depth(self) -> int:
        assert self.depth is not None, "depth is always resolved by the validator"
        return int(self.depth)

    @property
    def uses_km(self) -> bool:
        return "km" in self.modalities

    @property
    def uses_video(self) -> bool:
        return "video" in self.modalities

    @property
    def uses_text(self) -> bool:
        return "text" in self.modalities

    @property
    def text_position(self) -> float:
        """The fixed RoPE position of text tokens: the window's centre frame."""
        return (self.window_frames - 1) / 2.0
