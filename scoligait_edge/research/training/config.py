"""Training configuration: one pydantic model, read from YAML or JSON.

Everything that changes a result is in here (data, model, optimisation, seed),
so a run is reproducible from its saved ``train_config.json`` alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scoligait_edge.core.constants import WINDOW_FRAMES
from scoligait_edge.errors import ScoliGaitError
from scoligait_edge.research.models.screening import ScreeningModelConfig

if TYPE_CHECKING:
    from scoligait_edge.research.sim.cohort import Cohort


class ConfigError(ScoliGaitError, ValueError):
    """A training/evaluation config file is missing, unreadable or invalid."""


class SimulatedData(BaseModel):
    """A simulated cohort (see docs/SIMULATION.md): labelled as simulated everywhere."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["simulated"] = "simulated"
    n_subjects: int = Field(default=120, ge=6)
    prevalence: float = Field(default=0.5, gt=0, lt=1)
    clips_per_train_subject: int = Field(default=3, ge=1)
    n_frames: int = Field(default=160, ge=WINDOW_FRAMES)
    val_fraction: float = Field(default=0.15, gt=0, lt=1)
    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    seed: int = 0
    camera_mix: dict[Literal["frontal", "side"], float] | None = Field(
        default=None,
        description="share of clips per camera, e.g. {frontal: 0.8, side: 0.2}; "
        "None: make_cohort's default (80 % frontal, 20 % side)",
    )
    workers: int = Field(default=1, ge=1, description="processes that simulate uncached clips")

    def make_cohort(self) -> Cohort:
        """The SIMULATED cohort these settings describe (the one place a config becomes a cohort)."""
        from scoligait_edge.research.sim.cohort import make_cohort

        return make_cohort(
            self.n_subjects,
            prevalence=self.prevalence,
            clips_per_train_subject=self.clips_per_train_subject,
            seed=self.seed,
            val_fraction=self.val_fraction,
            test_fraction=self.test_fraction,
            n_frames=self.n_frames,
            camera_mix=self.camera_mix,
        )


class FolderData(BaseModel):
    """A ScoliGait-style folder: videos + a CSV (clip_id, subject_id, cobb_deg, sex, age, split)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["scoligait"] = "scoligait"
    root: Path
    csv: Path | None = None


class Scoliosis1KData(BaseModel):
    """Scoliosis1K in the OpenGait layout (see docs/DATA.md): silhouettes, optional poses, an official partition.

    ``partition``: one of the published JSON files (e.g. ``Scoliosis1K_118.json``,
    TRAIN_SET / TEST_SET of sequence ids); test = its TEST_SET, and validation is
    carved from its TRAIN_SET by sequence id (``val_fraction``, stratified by
    class, ``seed``), never from TEST_SET. Sequence ids are not person ids, so
    person-disjointness cannot be proven (the summary says so).
    ``pose_root`` (Scoliosis1K-Pose, same layout) gives the knowledge map: a
    model that uses it needs poses; without poses the quality rule cannot run.
    """

    model_config = ConfigDict(extra="forbid")
    kind: Literal["scoliosis1k"] = "scoliosis1k"
    root: Path = Field(description="silhouettes: <root>/<seq id>/<class>/000_180/000_180.pkl")
    pose_root: Path | None = Field(default=None, description="Scoliosis1K-Pose in the same layout")
    partition: Path = Field(description="official partition JSON with TRAIN_SET and TEST_SET")
    val_fraction: float = Field(default=0.15, gt=0, lt=1, description="share of TRAIN_SET sequences moved to val")
    seed: int = Field(default=0, description="which TRAIN_SET sequences go to val")
    fps: float = Field(default=30.0, gt=0)
    workers: int = Field(default=1, ge=1, description="processes for preprocessing")


DataSource = Annotated[SimulatedData | FolderData | Scoliosis1KData, Field(discriminator="kind")]


class WindowingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    length: int = WINDOW_FRAMES
    hop: int = 16
    require_quality: bool = True


class OptimConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    epochs: int = Field(default=10, ge=1)
    batch_size: int = Field(default=16, ge=1)
    lr: float = Field(default=3e-4, gt=0)
    weight_decay: float = Field(default=0.05, ge=0)
    warmup_fraction: float = Field(default=0.1, ge=0, lt=1)
    patience: int = Field(default=4, ge=1, description="epochs without validation improvement before stopping")
    class_weighting: bool = True
    cobb_weight: float = Field(default=0.25, ge=0)
    grad_clip: float = Field(default=1.0, gt=0)
    threshold_criterion: Literal["youden", "macro_f1"] = "youden"
    max_train_windows: int | None = Field(default=None, ge=1, description="subsample training windows (quick runs)")
    km_noise: float = Field(
        default=0.0, ge=0, description="training pose jitter: map noise in training SDs per feature"
    )
    frame_drop: float = Field(default=0.0, ge=0, lt=1, description="training share of frames dropped (masked)")
    threads: int | None = Field(default=None, ge=1)
    device: Literal["cpu", "cuda", "auto"] = Field(
        default="cpu", description="where to train; 'auto' takes CUDA when torch sees a GPU"
    )
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        default="fp32", description="autocast dtype on CUDA (fp16 with loss scaling); the CPU always trains in fp32"
    )


class TrainConfig(BaseModel):
    """``python -m scoligait_edge.research.train --config FILE`` reads this."""

    model_config = ConfigDict(extra="forbid")
    name: str = "screening"
    seed: int = 0
    model: ScreeningModelConfig = Field(default_factory=ScreeningModelConfig)
    data: DataSource = Field(default_factory=SimulatedData)
    windows: WindowingConfig = Field(default_factory=WindowingConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    cache_dir: Path | None = None
    max_text_sentences: int = Field(default=4, ge=1)

    @model_validator(mode="after")
    def _window_length(self) -> TrainConfig:
        """Training windows must be the length the model (and so its bundle's window.frames) is built for."""
        if self.windows.length != self.model.window_frames:
            raise ValueError(
                f"windows.length={self.windows.length} differs from model.window_frames="
                f"{self.model.window_frames}: set both to the same number of frames"
            )
        return self

    @model_validator(mode="after")
    def _poses_for_the_map(self) -> TrainConfig:
        needs_poses = self.model.uses_km or self.model.uses_text
        if isinstance(self.data, Scoliosis1KData) and self.data.pose_root is None and needs_poses:
            raise ValueError(
                f"model.modalities {self.model.modalities!r} uses the knowledge map (text is "
                "written from it), which needs "
                "poses: set data.pose_root (Scoliosis1K-Pose) or use modalities: video"
            )
        return self


_M = TypeVar("_M", bound=BaseModel)


@overload
def load_config(path: str | Path) -> TrainConfig: ...
@overload
def load_config(path: str | Path, model_type: type[_M]) -> _M: ...
def load_config(path: str | Path, model_type: type[BaseModel] = TrainConfig) -> BaseModel:
    """Read a YAML or JSON config; errors name the file and the offending field."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            try:
                import yaml  # type: ignore[import-untyped]  # no types-PyYAML in the dev extras (yet)
            except ImportError:
                raise ConfigError(f"{path}: YAML configs need PyYAML: pip install 'scoligait-edge[train]'") from None
            raw = yaml.safe_load(text) or {}
        else:
            raw = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - any parse error becomes one clear message
        raise ConfigError(f"{path}: cannot parse ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return model_type.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: invalid config: {problems}") from None
