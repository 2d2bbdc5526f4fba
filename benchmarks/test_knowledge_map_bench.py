"""Per-frame cost of the streaming knowledge map against recomputing a 96-frame window.

Run: ``make bench`` (or ``pytest benchmarks --benchmark-only``). ``make test``
runs this file once with ``--benchmark-disable`` so it cannot rot.
"""

from __future__ import annotations

import numpy as np
import pytest

from scoligait_edge.kinematics.builder import KnowledgeMapBuilder, build_knowledge_map
from tests.kinematics_helpers import swaying_clip

WINDOW = 96


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return swaying_clip(2000, seed=11)


@pytest.mark.benchmark(group="knowledge-map")
def test_streaming_update_per_frame(benchmark, clip):
    builder = KnowledgeMapBuilder()
    for frame in clip[:WINDOW]:
        builder.update(frame)
    frames = iter(np.concatenate([clip[WINDOW:]] * 50))

    row = benchmark(lambda: builder.update(next(frames)))
    assert row.values.shape == (238,) and row.valid


@pytest.mark.benchmark(group="knowledge-map")
def test_batch_recompute_96_frames(benchmark, clip):
    window = clip[:WINDOW]
    kmap = benchmark(build_knowledge_map, window, 30.0)
    assert kmap.values.shape == (WINDOW, 238)
