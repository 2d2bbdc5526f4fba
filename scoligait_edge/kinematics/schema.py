"""The kinematic knowledge map's 238 features, each with its clinical meaning.

The schema is the single source of truth: the builder compiles it into index
arrays once, so the names a clinician reads are exactly what is computed.

Conventions (after normalisation, see ``normalize.py``): coordinates are
hip-centred (origin = mid-hip), divided by the subject's body size (trunk length
plus mean leg length, a trailing mean), x to the image's right, y UP. Angles are
radians, counter-clockwise positive in that y-up frame. "L->R" vectors run from
the left joint to the right one. Cross-correlation features are computed per
frame over a trailing window of ``CROSS_WINDOW`` frames (about one gait cycle at
30 Hz), so every row of the map describes one frame.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict

from scoligait_edge.pose.skeleton import COCO17_NAMES

SCHEMA_VERSION = "kkm-1.0"
MAP_FPS = 30.0
CROSS_WINDOW = 32
"""Trailing window (frames at 30 Hz) of the cross-correlation domain: ~1 gait cycle."""
SIZE_WINDOW = 60
"""Trailing window (frames) over which the body size is averaged."""
MIN_WINDOW_FRACTION = 0.5
"""A row is valid only if at least this fraction of its cross window is valid."""

Domain = Literal["motion", "self_skeleton", "cross_correlation"]
DOMAINS: tuple[Domain, ...] = ("motion", "self_skeleton", "cross_correlation")
DOMAIN_SIZES = {"motion": 140, "self_skeleton": 32, "cross_correlation": 66}

# Points the map is built from: the 17 COCO joints, then three derived midpoints.
MID_SHOULDER, MID_HIP, MID_ANKLE = 17, 18, 19
POINT_NAMES: tuple[str, ...] = COCO17_NAMES + ("mid_shoulder", "mid_hip", "mid_ankle")
_P = {n: i for i, n in enumerate(POINT_NAMES)}

# Joints that must be present for a row to be valid (all the map's signals use them).
CORE_JOINTS: tuple[int, ...] = tuple(
    _P[n]
    for n in (
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
    )
)


class FeatureSpec(BaseModel):
    """One column of the knowledge map."""

    model_config = ConfigDict(frozen=True)

    index: int
    name: str
    domain: Domain
    unit: str
    meaning: str
    clinical_prior: str | None = None


# ---------------------------------------------------------------- motion space
# 53 signed vectors (from, to, meaning, clinical prior: one for both axes or (dx, dy)).
PriorTag = str | None | tuple[str | None, str | None]
PAIR_VECTORS: tuple[tuple[str, str, str, PriorTag], ...] = (
    # left -> right symmetric pairs (8)
    ("left_eye", "right_eye", "eye line (head roll)", None),
    ("left_ear", "right_ear", "ear line; dy = ear-line height difference", (None, "ear_line_tilt")),
    ("left_shoulder", "right_shoulder", "shoulder line; dy = shoulder height difference", (None, "shoulder_tilt")),
    ("left_elbow", "right_elbow", "elbow separation", None),
    ("left_wrist", "right_wrist", "wrist separation; dx tracks arm swing (side view)", ("arm_swing_asymmetry", None)),
    ("left_hip", "right_hip", "pelvis line; dy = pelvic obliquity", (None, "pelvic_tilt")),
    ("left_knee", "right_knee", "knee separation", None),
    ("left_ankle", "right_ankle", "dx = step width (frontal) / step length (side); dy = ankle height difference", ("step_width", "ankle_height_difference")),
    # per-side segments (12 x 2)
    *(
        (a if a == "nose" else f"{s}_{a}", f"{s}_{b}", f"{s} {m}", p)
        for s in ("left", "right")
        for a, b, m, p in (
            ("shoulder", "elbow", "upper arm", None),
            ("elbow", "wrist", "forearm", None),
            ("shoulder", "wrist", "whole arm (arm swing)", "arm_swing_asymmetry"),
            ("shoulder", "hip", "trunk side (lateral trunk length)", None),
            ("hip", "knee", "thigh", None),
            ("knee", "ankle", "shank", None),
            ("hip", "ankle", "whole leg", None),
            ("ear", "shoulder", "neck side", None),
            ("eye", "ear", "head side", None),
            ("nose", "eye", "face", None),
            ("wrist", "hip", "waist triangle: wrist to hip", "waist_triangle_asymmetry"),
            ("elbow", "hip", "waist triangle: elbow to hip", "waist_triangle_asymmetry"),
        )
    ),
    # trunk, head and base of support (3)
    ("mid_hip", "mid_shoulder", "trunk vector: dx = trunk lateral shift, dy = trunk height", ("trunk_lateral_shift", "trunk_height")),
    ("mid_shoulder", "nose", "head offset over the shoulders", ("head_pelvis_offset", None)),
    ("mid_hip", "mid_ankle", "pelvis over the base of support", None),
    # diagonals and contralateral links (18)
    ("left_shoulder", "right_hip", "trunk diagonal (torsion, side bend)", None),
    ("right_shoulder", "left_hip", "trunk diagonal (torsion, side bend)", None),
    ("left_wrist", "right_ankle", "contralateral arm-leg coupling", None),
    ("right_wrist", "left_ankle", "contralateral arm-leg coupling", None),
    ("left_wrist", "left_ankle", "ipsilateral arm-leg coupling", None),
    ("right_wrist", "right_ankle", "ipsilateral arm-leg coupling", None),
    ("left_elbow", "right_knee", "contralateral elbow-knee coupling", None),
    ("right_elbow", "left_knee", "contralateral elbow-knee coupling", None),
    ("left_hip", "right_ankle", "stance/swing geometry", None),
    ("right_hip", "left_ankle", "stance/swing geometry", None),
    ("left_knee", "right_ankle", "inter-limb geometry", None),
    ("right_knee", "left_ankle", "inter-limb geometry", None),
    ("left_shoulder", "right_elbow", "shoulder girdle to opposite arm", None),
    ("right_shoulder", "left_elbow", "shoulder girdle to opposite arm", None),
    ("left_wrist", "right_hip", "arm across the pelvis", None),
    ("right_wrist", "left_hip", "arm across the pelvis", None),
    ("left_shoulder", "left_knee", "ipsilateral trunk-thigh line", None),
    ("right_shoulder", "right_knee", "ipsilateral trunk-thigh line", None),
)

# ---------------------------------------------------------------- self-skeleton
# (id, kind, vector 1, vector 2 or None, meaning, clinical prior). Kinds:
#   "tilt": a left->right line's atan2(dy, |dx|); positive = left side higher;
#   "up"/"down": a vector's signed angle from vertical up/down (positive = toward +x);
#   "between": signed angle from vector 1 to vector 2 (0 when they are parallel).
AngleSpec = tuple[str, str, tuple[str, str], tuple[str, str] | None, str, str | None]
ANGLES: tuple[AngleSpec, ...] = (
    ("shoulder_tilt", "tilt", ("left_shoulder", "right_shoulder"), None, "shoulder tilt, left side up positive", "shoulder_tilt"),
    ("pelvic_tilt", "tilt", ("left_hip", "right_hip"), None, "pelvic tilt (obliquity), left side up positive", "pelvic_tilt"),
    ("ear_line_tilt", "tilt", ("left_ear", "right_ear"), None, "ear-line tilt, left side up positive", "ear_line_tilt"),
    ("eye_line_tilt", "tilt", ("left_eye", "right_eye"), None, "eye-line tilt (head roll)", None),
    ("elbow_line_tilt", "tilt", ("left_elbow", "right_elbow"), None, "elbow-line tilt", None),
    ("wrist_line_tilt", "tilt", ("left_wrist", "right_wrist"), None, "wrist-line tilt", None),
    ("knee_line_tilt", "tilt", ("left_knee", "right_knee"), None, "knee-line tilt", None),
    ("ankle_line_tilt", "tilt", ("left_ankle", "right_ankle"), None, "ankle-line tilt (ankle height difference)", "ankle_height_difference"),
    ("trunk_lean", "up", ("mid_hip", "mid_shoulder"), None, "trunk lean from vertical", "trunk_lateral_shift"),
    ("shoulder_vs_pelvis", "between", ("left_hip", "right_hip"), ("left_shoulder", "right_shoulder"), "shoulder line relative to the pelvis line", "shoulder_tilt"),
    ("head_vs_trunk", "between", ("mid_hip", "mid_shoulder"), ("mid_shoulder", "nose"), "head relative to the trunk axis", "head_pelvis_offset"),
    ("head_lean", "up", ("mid_shoulder", "nose"), None, "head lean from vertical", "head_pelvis_offset"),
    *(
        (f"{s}_{aid}", kind, (f"{s}_{a}", f"{s}_{b}"), None if c is None else (f"{s}_{c}", f"{s}_{d}"), f"{s} {m}", p)
        for s in ("left", "right")
        for aid, kind, a, b, c, d, m, p in (
            ("shoulder_angle", "between", "shoulder", "hip", "shoulder", "elbow", "shoulder angle (upper arm vs trunk side)", "arm_swing_asymmetry"),
            ("elbow_flexion", "between", "shoulder", "elbow", "elbow", "wrist", "elbow flexion", None),
            ("upper_arm", "down", "shoulder", "elbow", None, None, "upper-arm angle from vertical (arm swing)", "arm_swing_asymmetry"),
            ("forearm", "down", "elbow", "wrist", None, None, "forearm angle from vertical", None),
            ("hip_angle", "between", "shoulder", "hip", "hip", "knee", "hip angle (thigh vs trunk side)", None),
            ("knee_flexion", "between", "hip", "knee", "knee", "ankle", "knee flexion", None),
            ("thigh", "down", "hip", "knee", None, None, "thigh angle from vertical", None),
            ("shank", "down", "knee", "ankle", None, None, "shank angle from vertical", None),
            ("trunk_side_lean", "up", "hip", "shoulder", None, None, "trunk-side lean from vertical", "trunk_lateral_shift"),
            ("waist_triangle", "between", "hip", "shoulder", "hip", "wrist", "waist-triangle angle at the hip", "waist_triangle_asymmetry"),
        )
    ),
)
ANGLE_IDS: tuple[str, ...] = tuple(a[0] for a in ANGLES)

# ---------------------------------------------------------------- cross-correlation
CROSS_PAIRS: tuple[tuple[str, str, str, str | None], ...] = (
    # (signal a, signal b, meaning, clinical prior); a signal is "<point>.x|y" or "angle:<id>"
    ("left_wrist.x", "right_wrist.x", "left/right arm swing (wrist x)", "arm_swing_asymmetry"),
    ("left_wrist.y", "right_wrist.y", "left/right wrist height", "arm_swing_asymmetry"),
    ("left_elbow.x", "right_elbow.x", "left/right elbow swing", "arm_swing_asymmetry"),
    ("left_elbow.y", "right_elbow.y", "left/right elbow height", None),
    ("left_knee.x", "right_knee.x", "left/right knee progression", None),
    ("left_knee.y", "right_knee.y", "left/right knee height", None),
    ("left_ankle.x", "right_ankle.x", "left/right foot progression (step symmetry)", "step_width"),
    ("left_ankle.y", "right_ankle.y", "left/right ankle height (foot clearance)", "ankle_height_difference"),
    ("left_shoulder.y", "right_shoulder.y", "left/right shoulder height", "shoulder_tilt"),
    ("left_hip.y", "right_hip.y", "left/right hip height (pelvic obliquity)", "pelvic_tilt"),
    ("angle:left_upper_arm", "angle:right_upper_arm", "left/right upper-arm swing angle", "arm_swing_asymmetry"),
    ("angle:left_thigh", "angle:right_thigh", "left/right thigh angle", None),
    ("angle:left_shank", "angle:right_shank", "left/right shank angle", None),
    ("angle:left_knee_flexion", "angle:right_knee_flexion", "left/right knee flexion", None),
    ("angle:left_elbow_flexion", "angle:right_elbow_flexion", "left/right elbow flexion", None),
    ("angle:left_waist_triangle", "angle:right_waist_triangle", "left/right waist triangle", "waist_triangle_asymmetry"),
    ("angle:left_trunk_side_lean", "angle:right_trunk_side_lean", "left/right trunk-side lean", "trunk_lateral_shift"),
    ("left_wrist.x", "right_ankle.x", "upper/lower: left arm vs right leg (contralateral)", "arm_swing_asymmetry"),
    ("right_wrist.x", "left_ankle.x", "upper/lower: right arm vs left leg (contralateral)", "arm_swing_asymmetry"),
    ("left_wrist.x", "left_ankle.x", "upper/lower: left arm vs left leg (ipsilateral)", None),
    ("right_wrist.x", "right_ankle.x", "upper/lower: right arm vs right leg (ipsilateral)", None),
    ("angle:shoulder_tilt", "angle:pelvic_tilt", "upper/lower: shoulder tilt vs pelvic tilt", "shoulder_tilt"),
)
CROSS_STATS: tuple[tuple[str, str, str], ...] = (
    ("corr", "1", "Pearson correlation over the trailing window"),
    ("asym", "1", "amplitude asymmetry (sd_a - sd_b)/(sd_a + sd_b)"),
    ("mdiff", "same as signal", "mean difference a - b over the trailing window"),
)

CLINICAL_PRIORS: dict[str, str] = {
    "trunk_lateral_shift": "shoulder-centre x minus hip-centre x; trunk lean",
    "trunk_height": "vertical mid-hip to mid-shoulder distance (mean, spread and range over time)",
    "shoulder_tilt": "shoulder height difference / shoulder-line tilt",
    "pelvic_tilt": "pelvic obliquity (hip-line tilt)",
    "head_pelvis_offset": "lateral offset of the head over the pelvis",
    "ear_line_tilt": "tilt of the line through the ears",
    "arm_swing_asymmetry": "left/right arm-swing amplitude and timing",
    "step_width": "distance between the feet (frontal) / step length (side)",
    "ankle_height_difference": "vertical difference between the ankles",
    "waist_triangle_asymmetry": "asymmetry of the space between arm and trunk",
}


def _unit_of_signal(signal: str) -> str:
    return "rad" if signal.startswith("angle:") else "body-size"


def _build() -> tuple[FeatureSpec, ...]:
    specs: list[FeatureSpec] = []

    def add(name: str, domain: Domain, unit: str, meaning: str, prior: str | None) -> None:
        specs.append(FeatureSpec(index=len(specs), name=name, domain=domain, unit=unit, meaning=meaning, clinical_prior=prior))

    for joint in COCO17_NAMES:
        prior = "head_pelvis_offset" if joint == "nose" else None
        add(f"{joint}.x", "motion", "body-size", f"{joint.replace('_', ' ')} horizontal position from mid-hip", prior)
        add(f"{joint}.y", "motion", "body-size", f"{joint.replace('_', ' ')} height above mid-hip", None)
    for a, b, meaning, prior in PAIR_VECTORS:
        per_axis = prior if isinstance(prior, tuple) else (prior, prior)
        for axis, axis_prior in zip(("dx", "dy"), per_axis):
            add(f"{a}->{b}.{axis}", "motion", "body-size", meaning, axis_prior)
    for angle_id, _kind, _v1, _v2, meaning, prior in ANGLES:
        add(f"angle:{angle_id}", "self_skeleton", "rad", meaning, prior)
    for a, b, meaning, prior in CROSS_PAIRS:
        for stat, unit, stat_meaning in CROSS_STATS:
            u = _unit_of_signal(a) if unit == "same as signal" else unit
            short_a, short_b = a.removeprefix("angle:"), b.removeprefix("angle:")
            add(f"{stat}[{short_a} | {short_b}]", "cross_correlation", u, f"{meaning}: {stat_meaning}", prior)
    return tuple(specs)


FEATURE_SCHEMA: tuple[FeatureSpec, ...] = _build()
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURE_SCHEMA)
NUM_FEATURES = len(FEATURE_SCHEMA)


def domain_slices() -> dict[str, slice]:
    """Column range of each domain, in map order."""
    out, start = {}, 0
    for d in DOMAINS:
        out[d] = slice(start, start + DOMAIN_SIZES[d])
        start += DOMAIN_SIZES[d]
    return out


def schema_hash() -> str:
    """sha256 over the schema and the parameters that change its numbers; goes into every bundle."""
    payload = {
        "version": SCHEMA_VERSION,
        "fps": MAP_FPS,
        "cross_window": CROSS_WINDOW,
        "size_window": SIZE_WINDOW,
        "min_window_fraction": MIN_WINDOW_FRACTION,
        "features": [f.model_dump() for f in FEATURE_SCHEMA],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def features_for_prior(prior: str) -> list[FeatureSpec]:
    """All columns tagged with a clinical prior (e.g. 'trunk_lateral_shift')."""
    if prior not in CLINICAL_PRIORS:
        raise KeyError(f"unknown clinical prior {prior!r}; known: {sorted(CLINICAL_PRIORS)}")
    return [f for f in FEATURE_SCHEMA if f.clinical_prior == prior]


assert len(PAIR_VECTORS) == 53, len(PAIR_VECTORS)
assert len(ANGLES) == 32, len(ANGLES)
assert len(CROSS_PAIRS) * len(CROSS_STATS) == 66
assert NUM_FEATURES == 238
assert len(set(FEATURE_NAMES)) == NUM_FEATURES, "feature names must be unique"
