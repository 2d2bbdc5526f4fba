"""Every example config in configs/ parses into its model (docs/DATA.md: one per loader)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("yaml")

from scoligait_edge.research.training.config import TrainConfig, load_config  # noqa: E402

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_example_config_loads(path):
    cfg = load_config(path, TrainConfig)
    assert cfg.data.kind in ("simulated", "scoligait", "scoliosis1k")


def test_every_loader_has_an_example():
    kinds = {load_config(p, TrainConfig).data.kind for p in CONFIGS}
    assert kinds == {"simulated", "scoligait", "scoliosis1k"}
