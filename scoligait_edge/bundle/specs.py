"""Names, shapes and dtypes of the exported graph's inputs and outputs (no torch needed).

One place decides what an exported :class:`~scoligait_edge.research.models.ScreeningModel`
takes and returns, so the ONNX exporter, the bundle manifest and every runtime
backend agree. Shapes use ``"batch"`` (and ``"text_tokens"``) for dynamic axes.

Inputs (only those the model's modalities use):

==============  ======================  =======  ==================================================
name            shape                   dtype    meaning
==============  ======================  =======  ==================================================
``km``          [batch, T, 238]         float32  raw kinematic knowledge map (feature schema order);
                                                 the model standardises it itself
``km_mask``     [batch, T]              bool     True where the frame is valid
``video``       [batch, T, C, 64, 44]   uint8    silhouette clip, 0..255; the graph scales it by 1/255
                                                 (bundles exported before took float32 in [0, 1])
``text``        [batch, S, 384]         float32  MiniLM sentence embeddings of the text prompts
``text_mask``   [batch, S]              bool     True where the sentence is present
==============  ======================  =======  ==================================================

Outputs: ``logit`` [batch] (positive = Cobb >= 10 degrees, "refer"), ``prob``
[batch] = sigmoid(logit), ``cobb`` [batch] degrees, and (models with a
knowledge map) ``km_attention`` [batch, T, 238]: each token's share of the
logit painted back onto the map cells, 0 on invalid frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from scoligait_edge.core.constants import MAX_FPS, SIL_SHAPE, WINDOW_FRAMES
from scoligait_edge.core.schema import NUM_FEATURES

DType = Literal["float32", "float16", "bool", "uint8", "int64"]
INPUT_ORDER = ("km", "km_mask", "video", "text", "text_mask")
# Graph output name -> the ScreeningOutput field it is read from (the exporter and the torch backend agree on it).
MODEL_OUTPUT_FIELDS = {"logit": "logit", "prob": "prob", "cobb": "cobb", "km_attention": "km_attention_map"}
# Range limits for numbers read from a manifest: generous for any model this package makes, small enough
# that no size computed from them (buffers, windows, engine profiles) can explode.
MAX_WINDOW_FRAMES = 4096
MAX_DIM = 1 << 20
Dim = Annotated[int, Field(ge=0, le=MAX_DIM)] | Annotated[str, Field(min_length=1, max_length=64)]


class TensorSpec(BaseModel):
    """One graph input or output: its name, shape (ints, or a name for a dynamic axis) and dtype."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=128)
    shape: tuple[Dim, ...] = Field(max_length=8)
    dtype: DType
    description: str = Field(default="", max_length=1000)

    def describe(self) -> str:
        dims = ", ".join(str(d) for d in self.shape)
        return f"{self.name} [{dims}] {self.dtype}"


def _cfg(config: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
    return config.model_dump(mode="json") if isinstance(config, BaseModel) else dict(config)


def input_specs(config: Mapping[str, Any] | BaseModel) -> list[TensorSpec]:
    """The graph inputs of a screening model with this config (a ``ScreeningModelConfig`` or its JSON dict)."""
    cfg = _cfg(config)
    modalities = str(cfg.get("modalities", "km+video+text"))
    t = int(cfg.get("window_frames", WINDOW_FRAMES))
    out: list[TensorSpec] = []
    if "km" in modalities:
        out.extend(_km_inputs(t))
    if "video" in modalities:
        out.append(_video_input(cfg, t))
    if "text" in modalities:
        out.extend(_text_inputs(cfg))
    return out


def _km_inputs(t: int) -> list[TensorSpec]:
    """The knowledge map of ``t`` frames and its frame mask."""
    return [
        TensorSpec(
            name="km",
            shape=("batch", t, NUM_FEATURES),
            dtype="float32",
            description="raw knowledge map, feature-schema column order; 0 on invalid frames",
        ),
        TensorSpec(
            name="km_mask",
            shape=("batch", t),
            dtype="bool",
            description="frame validity of the knowledge map (True = valid)",
        ),
    ]


def _video_input(cfg: dict[str, Any], t: int) -> TensorSpec:
    """The silhouette clip of ``t`` frames at the config's image size and channels."""
    h, w = cfg.get("video_image_size", SIL_SHAPE)
    c = int(cfg.get("video_channels", 1))
    return TensorSpec(
        name="video",
        shape=("batch", t, c, int(h), int(w)),
        dtype="uint8",
        description="silhouette clip, uint8 0..255 (the graph scales it to [0, 1])",
    )


def _text_inputs(cfg: dict[str, Any]) -> list[TensorSpec]:
    """The prompts' sentence embeddings (a dynamic number of sentences) and their mask."""
    d = int(cfg.get("text_dim", 384))
    return [
        TensorSpec(
            name="text",
            shape=("batch", "text_tokens", d),
            dtype="float32",
            description="sentence embeddings (all-MiniLM-L6-v2) of the text prompts",
        ),
        TensorSpec(
            name="text_mask",
            shape=("batch", "text_tokens"),
            dtype="bool",
            description="True where a sentence is present",
        ),
    ]


def output_specs(config: Mapping[str, Any] | BaseModel) -> list[TensorSpec]:
    """The graph outputs: logit, prob, cobb and (with a knowledge map) km_attention."""
    cfg = _cfg(config)
    t = int(cfg.get("window_frames", WINDOW_FRAMES))
    out = [
        TensorSpec(
            name="logit",
            shape=("batch",),
            dtype="float32",
            description="screening logit, positive class = Cobb angle >= 10 degrees (refer)",
        ),
        TensorSpec(
            name="prob",
            shape=("batch",),
            dtype="float32",
            description="sigmoid(logit); compare with the bundle's threshold",
        ),
        TensorSpec(name="cobb", shape=("batch",), dtype="float32", description="Cobb-angle estimate, degrees"),
    ]
    if "km" in str(cfg.get("modalities", "km+video+text")):
        out.append(
            TensorSpec(
                name="km_attention",
                shape=("batch", t, NUM_FEATURES),
                dtype="float32",
                description="each token's share of the logit painted onto the map cells",
            )
        )
    return out


class WindowSpec(BaseModel):
    """The time window a model sees: ``frames`` map rows at ``fps``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    frames: int = Field(ge=1, le=MAX_WINDOW_FRAMES)
    fps: float = Field(gt=0, le=MAX_FPS, allow_inf_nan=False)
