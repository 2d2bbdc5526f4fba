"""Every subpackage ships in the wheel (setuptools only installs what pyproject lists)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_every_package_directory_is_listed_in_pyproject():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    found = set()
    for top, name in (
        ("scoligait_edge", "scoligait_edge"),
        ("export", "scoligait_edge.export"),
        ("runtimes", "scoligait_edge.runtimes"),
    ):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
    assert found <= listed, f"add to pyproject [tool.setuptools] packages: {sorted(found - listed)}"


def test_bundled_assets_carry_their_licences():
    from scoligait_edge.assets import POSE_MODELS_DIR, SAMPLE_DIR, pose_model_path, sample_video_path

    assert pose_model_path("lite").stat().st_size > 1_000_000
    assert pose_model_path("full").stat().st_size > 1_000_000
    assert (POSE_MODELS_DIR / "LICENSE.Apache-2.0").is_file() and (POSE_MODELS_DIR / "PROVENANCE.md").is_file()
    assert sample_video_path().is_file() and (SAMPLE_DIR / "LICENSE.sports2d").is_file()


def test_unknown_or_heavy_pose_model_gives_a_clear_error(tmp_path):
    import pytest

    from scoligait_edge.assets import pose_model_path
    from scoligait_edge.errors import PoseModelError

    with pytest.raises(PoseModelError, match="not bundled"):
        pose_model_path("heavy")
    with pytest.raises(PoseModelError, match="not found"):
        pose_model_path(tmp_path / "nope.task")


def test_exactly_one_opencv_distribution_is_installed():
    """Two cv2 wheels overwrite each other's files; mediapipe's opencv-contrib must be the only one."""
    from importlib import metadata

    names = {"opencv-python", "opencv-contrib-python", "opencv-python-headless", "opencv-contrib-python-headless"}
    installed = sorted({d.metadata["Name"].lower() for d in metadata.distributions()} & names)
    assert len(installed) == 1, installed
