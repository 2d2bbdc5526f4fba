"""The kinematic knowledge map's 238 features, each with its clinical meaning.

The schema is the single source of truth: the builder compiles it into index
arrays once, so the names a clinician reads are exactly what is computed.

Schema v2 follows the paper's text (see ``docs/FEATURE_SCHEMA.md``):

* motion space (140): body-size-normalised joint positions (32), their
  velocities (34) and Euclidean distances between clinically paired joints (74);
* self-skeleton (32): segment tilts and inter-segmental angles by trigonometry,
  chosen as a forest over the segments so that no angle is the sum or
  difference of others;
* cross-correlation (66): normalised cross-correlation of 22 clinically paired
  signals over a trailing window of about one gait cycle, as the peak value,
  the lag at the peak and the zero-lag value.

Conventions: coordinates are hip-centred (origin = mid-hip), divided by the
subject's body size (trunk length plus mean leg length, a trailing mean), x to
the image's right, y UP. Angles are radians, counter-clockwise positive in that
y-up frame. Every row of the map describes one frame.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Literal

from pydantic import BaseModel, ConfigDict

from scoligait_edge.core.constants import MAP_FPS
from scoligait_edge.core.skeleton import COCO17_NAMES

SCHEMA_VERSION = "kkm-2.0"
CROSS_WINDOW = 32
"""Trailing window (frames at 30 Hz) of the cross-correlation domain: ~1 gait cycle (1.07 s)."""
MAX_LAG = 8
"""Lags searched by the cross-correlation domain: -MAX_LAG..MAX_LAG frames (+-0.27 s, a quarter cycle), so
the window of lags holds exactly one extremum of a periodic pair's correlation."""
MIN_CROSS_FRAMES = 8
"""Warm-up rule: a row is valid once its trailing window holds this many valid frames (0.27 s); until the
window is full its statistics are computed from the frames available. A 96-frame clip thus has at most 7
invalid warm-up rows (92.7% valid), above the 90% window-quality rule."""
MIN_LAG_PAIRS = 6
"""A lag enters the peak search only with at least this many valid frame pairs."""
MIN_PEAK = 0.05
"""Below this |correlation| at every lag there is no peak to speak of: the peak is the zero-lag value, lag 0."""
VELOCITY_STEP = 2
"""Velocities are backward differences over this many frames (then 1 frame, then 0 when no earlier frame)."""
SIZE_WINDOW = 60
"""Trailing window (frames) over which the body size is averaged."""

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
        "left_shoulder",
        "right_shoulder",
        "left_elbow",
        "right_elbow",
        "left_wrist",
        "right_wrist",
        "left_hip",
        "right_hip",
        "left_knee",
        "right_knee",
        "left_ankle",
        "right_ankle",
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
POSITION_JOINTS: tuple[str, ...] = tuple(j for j in COCO17_NAMES if j != "right_hip")
"""Joints whose hip-centred position is a column. Hip-centring makes right_hip = -left_hip exactly, so only the
left hip is kept (its x is half the pelvis width, its y half the pelvic obliquity)."""
VELOCITY_POINTS: tuple[str, ...] = (*POSITION_JOINTS, "mid_hip")
"""Points whose velocity is a column: the hip-centred joints (motion relative to the pelvis) and the mid-hip
itself in the image (pelvis sway and progression), all in body sizes per second."""

Side = Literal["left", "right"]
# Euclidean distances between clinically paired points: (a, b, meaning, clinical prior). 74 in all.
_BILATERAL: tuple[tuple[str, str, str, str | None], ...] = (
    ("left_eye", "right_eye", "inter-eye distance (head turn)", None),
    ("left_ear", "right_ear", "inter-ear distance (head turn, ear line)", "ear_line_tilt"),
    ("left_shoulder", "right_shoulder", "shoulder width (shoulder girdle rotation)", "shoulder_tilt"),
    ("left_elbow", "right_elbow", "elbow separation (arm carriage)", None),
    ("left_wrist", "right_wrist", "wrist separation (arm swing, arm carriage)", "arm_swing_asymmetry"),
    ("left_hip", "right_hip", "pelvis width (pelvic rotation)", "pelvic_tilt"),
    ("left_knee", "right_knee", "knee separation", None),
    ("left_ankle", "right_ankle", "ankle separation: step width (frontal) / step length (side)", "step_width"),
)
_PER_SIDE: tuple[tuple[str, str, str, str | None], ...] = (
    ("shoulder", "elbow", "upper-arm length (projected)", None),
    ("elbow", "wrist", "forearm length (projected)", None),
    ("shoulder", "wrist", "shoulder-to-wrist reach (arm swing)", "arm_swing_asymmetry"),
    ("hip", "shoulder", "lateral trunk length (shortened on a concave side)", "trunk_lateral_shift"),
    ("hip", "knee", "thigh length (projected)", None),
    ("knee", "ankle", "shank length (projected)", None),
    ("hip", "ankle", "whole-leg length (leg-length difference, stance)", "ankle_height_difference"),
    ("ear", "shoulder", "neck-side length (ear to shoulder)", "shoulder_tilt"),
    ("wrist", "hip", "waist triangle: wrist to hip", "waist_triangle_asymmetry"),
    ("elbow", "hip", "waist triangle: elbow to hip", "waist_triangle_asymmetry"),
    ("shoulder", "knee", "shoulder to knee (trunk-thigh line)", None),
    ("ear", "hip", "ear to hip (lateral head-trunk length)", "head_pelvis_offset"),
    ("nose", "shoulder", "nose to shoulder (head offset)", "head_pelvis_offset"),
)
_OPPOSITE = {"left": "right", "right": "left"}
_CONTRALATERAL: tuple[tuple[str, str, str, str | None], ...] = (
    ("shoulder", "hip", "trunk diagonal (torsion, side bend)", "trunk_lateral_shift"),
    ("wrist", "ankle", "arm to opposite leg (contralateral coupling)", "arm_swing_asymmetry"),
    ("elbow", "knee", "elbow to opposite knee (contralateral coupling)", None),
    ("hip", "ankle", "hip to opposite ankle (stance/swing geometry)", "step_width"),
    ("knee", "ankle", "knee to opposite ankle (inter-limb geometry)", None),
    ("shoulder", "elbow", "shoulder to opposite elbow (shoulder girdle)", None),
    ("wrist", "hip", "wrist to opposite hip (arm across the pelvis)", None),
    ("shoulder", "knee", "shoulder to opposite knee (trunk diagonal, long)", None),
    ("ear", "shoulder", "ear to opposite shoulder (head lateral shift)", "head_pelvis_offset"),
)
_IPSILATERAL_EXTRA: tuple[tuple[str, str, str, str | None], ...] = (
    ("wrist", "ankle", "wrist to same-side ankle (ipsilateral arm-leg)", None),
)
_MIDLINE: tuple[tuple[str, str, str, str | None], ...] = (
    ("mid_hip", "mid_shoulder", "trunk length (trunk height)", "trunk_height"),
    ("mid_shoulder", "nose", "head height over the shoulders", None),
    ("mid_hip", "mid_ankle", "pelvis height over the base of support", None),
    ("nose", "mid_hip", "head to pelvis distance", "head_pelvis_offset"),
    ("mid_shoulder", "mid_ankle", "shoulders to base of support", None),
    ("nose", "mid_ankle", "stature (projected)", None),
)
_FROM_MIDPOINT: tuple[tuple[str, str, str, str | None], ...] = (
    ("mid_shoulder", "wrist", "arm hang from the shoulder centre", "waist_triangle_asymmetry"),
    ("mid_shoulder", "elbow", "elbow from the shoulder centre", None),
    ("mid_shoulder", "hip", "shoulder centre to hip (trunk shift over the pelvis)", "trunk_lateral_shift"),
    ("mid_shoulder", "ankle", "shoulder centre over each foot (coronal balance)", None),
    ("mid_hip", "wrist", "wrist from the pelvis centre", None),
    ("mid_hip", "knee", "knee from the pelvis centre", None),
    ("mid_hip", "ankle", "foot from the pelvis centre (base of support)", "step_width"),
)


def _distances() -> tuple[tuple[str, str, str, str | None], ...]:
    def side(s: str, joint: str) -> str:
        return joint if joint == "nose" else f"{s}_{joint}"

    out = list(_BILATERAL)
    for s in ("left", "right"):
        out += [(side(s, a), side(s, b), f"{s} {m}", p) for a, b, m, p in _PER_SIDE + _IPSILATERAL_EXTRA]
    for s in ("left", "right"):
        out += [(f"{s}_{a}", f"{_OPPOSITE[s]}_{b}", f"{s} {m}", p) for a, b, m, p in _CONTRALATERAL]
    out += list(_MIDLINE)
    for s in ("left", "right"):
        out += [(m, f"{s}_{b}", f"{s} {meaning}", p) for m, b, meaning, p in _FROM_MIDPOINT]
    return tuple(out)


DISTANCES: tuple[tuple[str, str, str, str | None], ...] = _distances()

# ---------------------------------------------------------------- self-skeleton
# (id, kind, vector 1, vector 2 or None, meaning, clinical prior). Kinds:
#   "tilt": a left->right line's atan2(dy, |dx|); positive = left side higher;
#   "up"/"down": a vector's signed angle from vertical up/down (positive = toward +x);
#   "between": signed angle from vector 1 to vector 2 (0 when they are parallel).
# Each angle is an edge between two segment orientations (or a segment and the vertical); the 32 edges form a
# forest, so no angle is a sum or difference of others (a test checks it): e.g. knee flexion is kept and the
# shank's tilt is not, since shank tilt = thigh tilt - knee flexion.
AngleSpec = tuple[str, str, tuple[str, str], tuple[str, str] | None, str, str | None]
ANGLES: tuple[AngleSpec, ...] = (
    (
        "trunk_lean",
        "up",
        ("mid_hip", "mid_shoulder"),
        None,
        "trunk lean from vertical (trunk lateral shift)",
        "trunk_lateral_shift",
    ),
    (
        "pelvic_tilt",
        "tilt",
        ("left_hip", "right_hip"),
        None,
        "pelvic tilt (obliquity), left side up positive",
        "pelvic_tilt",
    ),
    (
        "shoulder_tilt",
        "tilt",
        ("left_shoulder", "right_shoulder"),
        None,
        "shoulder tilt, left side up positive",
        "shoulder_tilt",
    ),
    ("ear_line_tilt", "tilt", ("left_ear", "right_ear"), None, "ear-line tilt, left side up positive", "ear_line_tilt"),
    ("eye_line_tilt", "tilt", ("left_eye", "right_eye"), None, "eye-line tilt (head roll)", None),
    ("elbow_line_tilt", "tilt", ("left_elbow", "right_elbow"), None, "elbow-line tilt (arm carriage)", None),
    (
        "wrist_line_tilt",
        "tilt",
        ("left_wrist", "right_wrist"),
        None,
        "wrist-line tilt (arm hang)",
        "waist_triangle_asymmetry",
    ),
    ("knee_line_tilt", "tilt", ("left_knee", "right_knee"), None, "knee-line tilt", None),
    (
        "ankle_line_tilt",
        "tilt",
        ("left_ankle", "right_ankle"),
        None,
        "ankle-line tilt (ankle height difference)",
        "ankle_height_difference",
    ),
    (
        "head_vs_trunk",
        "between",
        ("mid_hip", "mid_shoulder"),
        ("mid_shoulder", "nose"),
        "head relative to the trunk axis",
        "head_pelvis_offset",
    ),
    ("head_over_pelvis", "up", ("mid_hip", "nose"), None, "head over the pelvis, from vertical", "head_pelvis_offset"),
    (
        "shoulders_over_base",
        "down",
        ("mid_shoulder", "mid_ankle"),
        None,
        "shoulder centre over the base of support, from vertical (coronal balance)",
        "trunk_lateral_shift",
    ),
    (
        "pelvis_over_base",
        "down",
        ("mid_hip", "mid_ankle"),
        None,
        "pelvis over the base of support, from vertical",
        None,
    ),
    (
        "trunk_diagonals",
        "between",
        ("left_shoulder", "right_hip"),
        ("right_shoulder", "left_hip"),
        "angle between the trunk diagonals (torsion, side bend)",
        "trunk_lateral_shift",
    ),
    *(
        (
            f"{s}_{aid}",
            kind,
            (v1a.format(s=s, o=_OPPOSITE[s]), v1b.format(s=s, o=_OPPOSITE[s])),
            None if v2a is None or v2b is None else (v2a.format(s=s, o=_OPPOSITE[s]), v2b.format(s=s, o=_OPPOSITE[s])),
            f"{s} {m}",
            p,
        )
        for s in ("left", "right")
        for aid, kind, v1a, v1b, v2a, v2b, m, p in (
            (
                "trunk_side_lean",
                "up",
                "{s}_hip",
                "{s}_shoulder",
                None,
                None,
                "trunk-side lean from vertical",
                "trunk_lateral_shift",
            ),
            (
                "neck_shoulder",
                "between",
                "{s}_shoulder",
                "{o}_shoulder",
                "{s}_shoulder",
                "{s}_ear",
                "neck-shoulder angle (shoulder line to ear)",
                "shoulder_tilt",
            ),
            (
                "shoulder_angle",
                "between",
                "{s}_shoulder",
                "{s}_hip",
                "{s}_shoulder",
                "{s}_elbow",
                "shoulder angle (upper arm vs trunk side)",
                "arm_swing_asymmetry",
            ),
            ("elbow_flexion", "between", "{s}_shoulder", "{s}_elbow", "{s}_elbow", "{s}_wrist", "elbow flexion", None),
            (
                "arm_swing",
                "down",
                "{s}_shoulder",
                "{s}_wrist",
                None,
                None,
                "whole-arm angle from vertical (arm swing)",
                "arm_swing_asymmetry",
            ),
            (
                "waist_triangle",
                "between",
                "{s}_hip",
                "{s}_shoulder",
                "{s}_hip",
                "{s}_wrist",
                "waist-triangle angle at the hip",
                "waist_triangle_asymmetry",
            ),
            (
                "hip_angle",
                "between",
                "{s}_shoulder",
                "{s}_hip",
                "{s}_hip",
                "{s}_knee",
                "hip angle (thigh vs trunk side)",
                None,
            ),
            ("knee_flexion", "between", "{s}_hip", "{s}_knee", "{s}_knee", "{s}_ankle", "knee flexion", None),
            (
                "leg_vs_pelvis",
                "between",
                "{o}_hip",
                "{s}_hip",
                "{s}_hip",
                "{s}_ankle",
                "leg axis vs the pelvis line (hip ab/adduction)",
                "pelvic_tilt",
            ),
        )
    ),
)
ANGLE_IDS: tuple[str, ...] = tuple(a[0] for a in ANGLES)

# ---------------------------------------------------------------- cross-correlation
CROSS_PAIRS: tuple[tuple[str, str, str, str | None], ...] = (
    # (signal a, signal b, meaning, clinical prior); a signal is "<point>.x|y" (hip-centred) or "angle:<id>"
    # left vs right limbs
    ("left_wrist.x", "right_wrist.x", "left/right arm swing (wrist x)", "arm_swing_asymmetry"),
    ("left_wrist.y", "right_wrist.y", "left/right wrist height", "arm_swing_asymmetry"),
    ("left_elbow.y", "right_elbow.y", "left/right elbow height", None),
    ("left_knee.x", "right_knee.x", "left/right knee progression", None),
    ("left_knee.y", "right_knee.y", "left/right knee height", None),
    ("left_ankle.x", "right_ankle.x", "left/right foot progression (step symmetry)", "step_width"),
    ("left_ankle.y", "right_ankle.y", "left/right ankle height (foot clearance)", "ankle_height_difference"),
    ("left_shoulder.y", "right_shoulder.y", "left/right shoulder height", "shoulder_tilt"),
    ("angle:left_arm_swing", "angle:right_arm_swing", "left/right arm-swing angle", "arm_swing_asymmetry"),
    ("angle:left_elbow_flexion", "angle:right_elbow_flexion", "left/right elbow flexion", None),
    ("angle:left_hip_angle", "angle:right_hip_angle", "left/right hip angle", None),
    ("angle:left_knee_flexion", "angle:right_knee_flexion", "left/right knee flexion", None),
    ("angle:left_trunk_side_lean", "angle:right_trunk_side_lean", "left/right trunk-side lean", "trunk_lateral_shift"),
    (
        "angle:left_waist_triangle",
        "angle:right_waist_triangle",
        "left/right waist triangle",
        "waist_triangle_asymmetry",
    ),
    # arm vs contralateral leg
    ("left_wrist.x", "right_ankle.x", "left arm vs right leg (contralateral)", "arm_swing_asymmetry"),
    ("right_wrist.x", "left_ankle.x", "right arm vs left leg (contralateral)", "arm_swing_asymmetry"),
    (
        "angle:left_arm_swing",
        "angle:right_hip_angle",
        "left arm swing vs right hip angle (contralateral)",
        "arm_swing_asymmetry",
    ),
    (
        "angle:right_arm_swing",
        "angle:left_hip_angle",
        "right arm swing vs left hip angle (contralateral)",
        "arm_swing_asymmetry",
    ),
    # shoulder vs pelvis, trunk and head
    ("angle:shoulder_tilt", "angle:pelvic_tilt", "shoulder tilt vs pelvic tilt", "shoulder_tilt"),
    ("angle:trunk_lean", "angle:pelvic_tilt", "trunk lean vs pelvic tilt (compensation of pelvic drop)", "pelvic_tilt"),
    ("angle:shoulder_tilt", "angle:trunk_lean", "shoulder tilt vs trunk lean", "trunk_lateral_shift"),
    ("angle:head_vs_trunk", "angle:trunk_lean", "head vs trunk lean (head compensation)", "head_pelvis_offset"),
)
CROSS_STATS: tuple[tuple[str, str, str], ...] = (
    (
        "xcorr_peak",
        "1",
        f"normalised cross-correlation at the lag of largest |r| within +-{MAX_LAG} frames "
        f"(+-{MAX_LAG / MAP_FPS:.2f} s), over the trailing {CROSS_WINDOW} frames",
    ),
    (
        "xcorr_lag",
        "s",
        f"lag of that peak in seconds (> 0: b follows a, i.e. a leads); 0 when no |r| reaches {MIN_PEAK}",
    ),
    ("xcorr0", "1", f"zero-lag (Pearson) correlation over the trailing {CROSS_WINDOW} frames"),
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


def _build() -> tuple[FeatureSpec, ...]:
    specs: list[FeatureSpec] = []

    def add(name: str, domain: Domain, unit: str, meaning: str, prior: str | None) -> None:
        specs.append(
            FeatureSpec(index=len(specs), name=name, domain=domain, unit=unit, meaning=meaning, clinical_prior=prior)
        )

    for joint in POSITION_JOINTS:
        words = joint.replace("_", " ")
        add(
            f"{joint}.x",
            "motion",
            "body-size",
            f"{words} horizontal position from mid-hip",
            "head_pelvis_offset" if joint == "nose" else None,
        )
        add(
            f"{joint}.y",
            "motion",
            "body-size",
            f"{words} height above mid-hip",
            "pelvic_tilt" if joint == "left_hip" else "shoulder_tilt" if joint.endswith("shoulder") else None,
        )
    for point in VELOCITY_POINTS:
        words = point.replace("_", " ")
        frame = "in the image (sway, progression)" if point == "mid_hip" else "relative to the mid-hip"
        for axis, direction in (("x", "horizontal"), ("y", "vertical")):
            add(
                f"vel:{point}.{axis}",
                "motion",
                "body-size/s",
                f"{words} {direction} velocity {frame}",
                "trunk_lateral_shift" if (point == "mid_hip" and axis == "x") else None,
            )
    for a, b, meaning, prior in DISTANCES:
        add(f"dist[{a} | {b}]", "motion", "body-size", meaning, prior)
    for angle_id, _kind, _v1, _v2, meaning, prior in ANGLES:
        add(f"angle:{angle_id}", "self_skeleton", "rad", meaning, prior)
    for a, b, meaning, prior in CROSS_PAIRS:
        for stat, unit, stat_meaning in CROSS_STATS:
            short_a, short_b = a.removeprefix("angle:"), b.removeprefix("angle:")
            add(f"{stat}[{short_a} | {short_b}]", "cross_correlation", unit, f"{meaning}: {stat_meaning}", prior)
    return tuple(specs)


FEATURE_SCHEMA: tuple[FeatureSpec, ...] = _build()
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURE_SCHEMA)
NUM_FEATURES = len(FEATURE_SCHEMA)


def domain_slices() -> dict[str, slice]:
    """Column range of each domain, in map order."""
    out: dict[str, slice] = {}
    start = 0
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
        "max_lag": MAX_LAG,
        "min_cross_frames": MIN_CROSS_FRAMES,
        "min_lag_pairs": MIN_LAG_PAIRS,
        "min_peak": MIN_PEAK,
        "velocity_step": VELOCITY_STEP,
        "size_window": SIZE_WINDOW,
        "features": [f.model_dump() for f in FEATURE_SCHEMA],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def features_for_prior(prior: str) -> list[FeatureSpec]:
    """All columns tagged with a clinical prior (e.g. 'trunk_lateral_shift')."""
    if prior not in CLINICAL_PRIORS:
        raise KeyError(f"unknown clinical prior {prior!r}; known: {sorted(CLINICAL_PRIORS)}")
    return [f for f in FEATURE_SCHEMA if f.clinical_prior == prior]


assert len(POSITION_JOINTS) * 2 + len(VELOCITY_POINTS) * 2 + len(DISTANCES) == DOMAIN_SIZES["motion"], len(DISTANCES)
assert len(ANGLES) == DOMAIN_SIZES["self_skeleton"], len(ANGLES)
assert len(CROSS_PAIRS) * len(CROSS_STATS) == DOMAIN_SIZES["cross_correlation"]
assert NUM_FEATURES == 238
assert len(set(FEATURE_NAMES)) == NUM_FEATURES, "feature names must be unique"
assert len({frozenset(d[:2]) for d in DISTANCES}) == len(DISTANCES), "a distance is listed twice"
assert (
    2 * MAX_LAG < CROSS_WINDOW and MIN_LAG_PAIRS <= MIN_CROSS_FRAMES and 0 < MIN_PEAK < 1 and not math.isnan(MIN_PEAK)
)
