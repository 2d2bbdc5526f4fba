"""Files shipped inside the package: pose models and the sample video, each with
its licence and provenance beside it (see the folders' README/PROVENANCE)."""

from __future__ import annotations

from pathlib import Path

from scoligait_edge.errors import PoseModelError

ASSETS_DIR = Path(__file__).resolve().parent
POSE_MODELS_DIR = ASSETS_DIR / "pose_models"
SAMPLE_DIR = ASSETS_DIR / "sample"

BUNDLED_POSE_MODELS = {
    "lite": POSE_MODELS_DIR / "pose_landmarker_lite.task",
    "full": POSE_MODELS_DIR / "pose_landmarker_full.task",
}


def pose_model_path(variant: str | Path) -> Path:
    """Resolve 'lite' / 'full' to the bundled model, or check a user-given path
    (e.g. the heavy model, which is not bundled)."""
    if isinstance(variant, str) and variant in BUNDLED_POSE_MODELS:
        path = BUNDLED_POSE_MODELS[variant]
    else:
        path = Path(variant).expanduser()
        if str(variant) == "heavy":
            raise PoseModelError(
                "The heavy pose model is not bundled (30 MB). Pass its path instead, e.g. "
                "--pose-model /path/to/pose_landmarker_heavy.task"
            )
    if not path.is_file():
        raise PoseModelError(
            f"Pose model not found: {path}. Use 'lite', 'full' or the path of a MediaPipe pose landmarker .task bundle."
        )
    return path


def sample_video_path() -> Path:
    """The bundled real walking video (BSD-3, sports2d demo; licence beside it)."""
    return SAMPLE_DIR / "sports2d_walk_demo.mp4"
