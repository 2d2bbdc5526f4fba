"""How much the knowledge map holds: numerical rank and near-constant columns over a cohort.

Used by ``tests/test_map_information.py`` and quoted in ``docs/FEATURE_SCHEMA.md``;
run it on your own cohort with :func:`map_information` to see which columns
carry nothing there.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from scoligait_edge.core.constants import WINDOW_FRAMES
from scoligait_edge.core.schema import FEATURE_NAMES, FEATURE_SCHEMA, NUM_FEATURES

NEAR_CONSTANT_RATIO = 1e-6
"""A column is near-constant when its SD is below this fraction of its scale: the largest |value| among the
columns of its unit (a column that is 0 up to rounding has no scale of its own to speak of)."""
RANK_RTOL = 1e-6
"""Numerical rank: singular values above this fraction of the largest. The map is float32 (rounding ~1e-7), so
a column that is an exact combination of others leaves a singular value near 1e-7 and must not count."""
EFFECTIVE_RTOL = 1e-3
"""Singular values above this fraction of the largest count towards the effective rank (near-dependence)."""


class MapInformation(BaseModel):
    """Rank of the pooled valid rows (columns z-scored; ``RANK_RTOL``), effective rank (``EFFECTIVE_RTOL``:
    near-dependence) and the columns that carry nothing (near-constant) over the rows given."""

    rows: int
    rank: int
    effective_rank: int
    near_constant: list[str]
    singular_values: list[float]


def map_information(rows: np.ndarray) -> MapInformation:
    """Numerical rank and near-constant columns of ``rows [N, 238]`` (valid map rows pooled over clips)."""
    x = np.asarray(rows, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != NUM_FEATURES or x.shape[0] < NUM_FEATURES:
        raise ValueError(f"need at least {NUM_FEATURES} rows of {NUM_FEATURES} columns, got shape {x.shape}")
    sd = x.std(axis=0)
    peak = np.abs(x).max(axis=0)
    units = np.array([f.unit for f in FEATURE_SCHEMA])
    scale = np.array([peak[units == u].max() for u in units])
    near = sd <= NEAR_CONSTANT_RATIO * np.where(scale > 0, scale, 1.0)
    z = (x - x.mean(axis=0)) / np.where(near, 1.0, sd)
    z[:, near] = 0.0
    s = np.linalg.svd(z, compute_uv=False)
    return MapInformation(
        rows=int(x.shape[0]),
        rank=int((s > RANK_RTOL * s.max()).sum()),
        effective_rank=int((s > EFFECTIVE_RTOL * s.max()).sum()),
        near_constant=[FEATURE_NAMES[i] for i in np.flatnonzero(near)],
        singular_values=[float(v) for v in s],
    )


def simulated_cohort_rows(n_subjects: int = 60, *, seed: int = 3, n_frames: int = WINDOW_FRAMES) -> np.ndarray:
    """Valid map rows pooled over one clip per subject of a SIMULATED cohort (half side, half frontal view):
    the reference measurement quoted in ``docs/FEATURE_SCHEMA.md``."""
    from scoligait_edge.kinematics.builder import build_knowledge_map
    from scoligait_edge.research.sim.cohort import make_cohort
    from scoligait_edge.research.sim.simulate import simulate_clip

    cohort = make_cohort(
        n_subjects, clips_per_train_subject=1, seed=seed, n_frames=n_frames, camera_mix={"side": 0.5, "frontal": 0.5}
    )
    rows = []
    for spec in cohort.clips:
        clip = simulate_clip(
            cohort.subjects[spec.subject_id],
            n_frames=n_frames,
            camera=spec.camera,
            direction=spec.direction,
            seed=spec.seed,
        )
        kmap = build_knowledge_map(clip.keypoints, clip.fps)
        rows.append(kmap.values[kmap.valid])
    return np.concatenate(rows)
