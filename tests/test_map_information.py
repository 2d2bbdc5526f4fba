"""The knowledge map carries information: full numerical rank, no dead columns, angles with no cycles."""

from __future__ import annotations

import re

import numpy as np
import pytest

from scoligait_edge.core.schema import ANGLES, domain_slices
from scoligait_edge.kinematics.schema_doc import INFORMATION_NOTE
from scoligait_edge.research.information import map_information, simulated_cohort_rows


@pytest.fixture(scope="module")
def cohort_rows() -> np.ndarray:
    return simulated_cohort_rows(60, seed=3)  # SIMULATED: 60 subjects, one 96-frame clip each


def test_rank_and_near_constant_columns_match_the_doc(cohort_rows):
    info = map_information(cohort_rows)
    assert info.rank >= 200 and info.near_constant == []
    stated = re.search(
        r"over (\d+) valid rows.*?rank \*\*(\d+) of 238\*\*.*?effective rank (\d+).*?\*\*(\d+) near-constant",
        INFORMATION_NOTE,
    )
    assert stated is not None
    assert tuple(int(v) for v in stated.groups()) == (
        info.rows,
        info.rank,
        info.effective_rank,
        len(info.near_constant),
    ), "docs/FEATURE_SCHEMA.md quotes other figures: update INFORMATION_NOTE and run `make schema-doc`"


def test_each_domain_has_full_rank(cohort_rows):
    for name, sl in domain_slices().items():
        block = np.zeros_like(cohort_rows)
        block[:, sl] = cohort_rows[:, sl]
        padded = map_information(block)
        assert padded.rank == sl.stop - sl.start, name


def _segment(v: tuple[str, str]) -> frozenset[str]:
    return frozenset(v)  # a line, whichever way it is read


def test_angles_form_a_forest_over_segments():
    """No angle is a sum or difference of others: as edges between segment orientations (tilt/up/down: to the
    vertical) the 32 angles have no cycle."""
    parent: dict[object, object] = {}

    def root(x: object) -> object:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for angle_id, _kind, v1, v2, _m, _p in ANGLES:
        a = _segment(v1)
        b = "vertical" if v2 is None else _segment(v2)
        ra, rb = root(a), root(b)
        assert ra != rb, f"angle {angle_id} closes a cycle of angles"
        parent[ra] = rb


def test_information_rejects_too_few_rows():
    with pytest.raises(ValueError, match="at least 238 rows"):
        map_information(np.zeros((10, 238)))
