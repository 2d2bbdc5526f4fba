"""SIMULATED walker, part 1: subjects, 3-D body model and gait kinematics.

Nothing here is clinical data. A subject is a set of parameters
(:class:`SubjectParams`); :func:`walk` turns one subject plus per-clip variation
into world-space COCO-21 joint positions over time.

World frame (metres): X = direction of walking, Y = the subject's LEFT, Z = up,
floor at Z = 0. The subject always walks toward +X; the camera is placed around
the path (see :mod:`scoligait_edge.research.sim.camera`).

How the legs move: each foot has planted footholds (stance) joined by smooth
swing trajectories; the stance foot rolls over the heel, lies flat, then rolls
over the toe (heel rocker / foot flat / toe rocker). Hip joints follow the
pelvis (forward progression at ``step_length x cadence``; height as high as the
legs allow, which gives the vertical oscillation; lateral sway, pelvic rotation
and obliquity) and the knee comes from two-link
inverse kinematics. Driving the feet (rather than integrating joint-angle
curves) keeps the stance foot from sliding, makes heel strike and toe-off exact
and known, and the hip/knee/ankle sagittal angles that result follow the
familiar normative shapes (knee: loading-response bump, ~60 deg in swing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.special import betainc

from scoligait_edge.core.skeleton import (
    L_ANKLE,
    L_EAR,
    L_ELBOW,
    L_EYE,
    L_HEEL,
    L_HIP,
    L_KNEE,
    L_SHOULDER,
    L_TOE,
    L_WRIST,
    NOSE,
    NUM_COCO_FEET,
    R_ANKLE,
    R_EAR,
    R_ELBOW,
    R_EYE,
    R_HEEL,
    R_HIP,
    R_KNEE,
    R_SHOULDER,
    R_TOE,
    R_WRIST,
)
from scoligait_edge.research.sim.settings import (
    ClipVariation,
    Confounders,
    NaturalAsymmetry,
    Population,
    ScoliosisEffects,
    SimulationSettings,
)

CurveSide = Literal["left", "right", "none"]

CONFOUNDER_NAMES = ("limp", "fast_walk", "backpack", "backpack_one_strap", "habitual_asymmetry")

# Segment proportions as fractions of standing height (adult anthropometric tables,
# rounded; COCO "hips" and "shoulders" sit a little wider than joint centres).
_P = dict(
    ankle_h=0.039,
    ankle_fwd=0.040,
    foot_len=0.135,
    thigh=0.245,
    shank=0.246,
    hip_half=0.060,
    shoulder_half=0.115,
    trunk=0.288,
    head=0.110,
    upper_arm=0.186,
    forearm=0.146,
)
# Gait-cycle landmarks (fractions of the cycle) that are not subject parameters.
_FOOT_FLAT = 0.07  # heel rocker ends
_HEEL_OFF = 0.34  # toe rocker starts
_MIDSTANCE = 0.28  # ankle passes under the pelvis
_SWING_FOOT_SETTLE = 0.75  # share of swing after which the foot pitch holds its strike angle


class SubjectParams(BaseModel):
    """One SIMULATED person: body, gait style, posture, Cobb angle, confounders.

    Posture signs: + = toward the subject's right / right side higher / right
    shoulder forward / right arm swings more (see ``sim_settings``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    provenance: Literal["simulated"] = "simulated"
    subject_id: str
    sex: Literal["F", "M"]
    height_m: float = Field(gt=0.5, lt=2.5)
    leg_scale: float = 1.0
    trunk_scale: float = 1.0
    shoulder_scale: float = 1.0
    hip_scale: float = 1.0
    arm_scale: float = 1.0
    # gait
    cadence_spm: float = Field(gt=40, lt=220, description="Steps per minute.")
    step_length_m: float = Field(gt=0.1, lt=1.5)
    stance_fraction: float = Field(0.61, gt=0.5, lt=0.75)
    step_width_m: float = 0.09
    toe_out_deg: float = 6.0
    arm_swing_deg: float = Field(16.0, ge=0, description="Shoulder flexion amplitude (half peak-to-peak).")
    elbow_flex_deg: float = 18.0
    arm_abduction_deg: float = 8.0
    forward_lean_deg: float = 3.0
    pelvic_rotation_deg: float = 5.0
    pelvic_obliquity_amp_deg: float = 4.0
    trunk_counter_rotation_deg: float = 4.0
    trunk_sway_deg: float = 1.5
    loading_dip_m: float = Field(0.005, description="Extra pelvis drop in loading response (knee flexion).")
    lateral_sway_m: float = 0.025
    swing_clearance_m: float = 0.05
    heel_strike_foot_deg: float = 18.0
    toe_off_foot_deg: float = -40.0
    # condition
    cobb_deg: float = Field(0.0, ge=0.0, le=120.0)
    curve_side: CurveSide = "none"
    label: int = Field(0, ge=0, le=1)
    # static posture (all sources summed: natural + scoliosis + confounders)
    shoulder_height_diff_mm: float = Field(0.0, description="Right minus left shoulder height.")
    trunk_shift_mm: float = Field(0.0, description="Mid-shoulder lateral offset from the pelvis, + = right.")
    trunk_lean_deg: float = Field(0.0, description="Lateral trunk lean, + = toward the right.")
    pelvic_obliquity_deg: float = Field(0.0, description="Static pelvic obliquity, + = right hip higher.")
    arm_swing_asymmetry: float = Field(0.0, description="(right - left) / mean arm-swing amplitude.")
    trunk_rotation_deg: float = Field(0.0, description="Static thorax yaw vs pelvis, + = right shoulder forward.")
    # silhouette-only torso shape (never moves a keypoint; see sim_camera.render_silhouette)
    waist_asymmetry_mm: float = Field(
        0.0,
        description="Left minus right waist-crease depth: + = right waist flatter / left crease deeper "
        "(as in a right-convex curve). Silhouette only.",
    )
    rib_prominence_mm: float = Field(
        0.0,
        description="Flank/rib prominence, + = right side bulges, - = left; side-on the back bulges by "
        "its magnitude. Silhouette only.",
    )
    # confounders
    confounders: tuple[str, ...] = ()
    limp_side: CurveSide = "none"
    limp_step_asymmetry: float = 0.0
    limp_phase_shift: float = 0.0
    limp_trunk_lean_deg: float = 0.0

    @property
    def walking_speed_mps(self) -> float:
        return self.step_length_m * self.cadence_spm / 60.0


def label_for(cobb_deg: float, settings: SimulationSettings | None = None) -> int:
    s = settings or SimulationSettings()
    return int(cobb_deg >= s.positive_cobb_deg)


def sample_cobb(rng: np.random.Generator, positive: bool, settings: SimulationSettings | None = None) -> float:
    """A Cobb angle from the class-conditional distribution of the settings."""
    pop = (settings or SimulationSettings()).population
    g, u, z = rng.gamma(pop.positive_cobb_shape, pop.positive_cobb_scale), rng.random(), rng.random()
    if positive:
        return float(min(10.0 + g, pop.positive_cobb_max))
    return 0.0 if z < pop.negative_zero_fraction else float(1.0 + 8.9 * u)


@dataclass
class _Posture:
    """Static trunk and pelvis asymmetry: natural variation, then the curve and confounders add to it."""

    shoulder: float
    shift: float
    lean: float
    obliq: float
    arm_asym: float
    rot: float

    def fields(self) -> dict[str, Any]:
        return {
            "shoulder_height_diff_mm": float(self.shoulder),
            "trunk_shift_mm": float(self.shift),
            "trunk_lean_deg": float(self.lean),
            "pelvic_obliquity_deg": float(self.obliq),
            "arm_swing_asymmetry": float(np.clip(self.arm_asym, -1.5, 1.5)),
            "trunk_rotation_deg": float(self.rot),
        }


@dataclass
class _GaitStyle:
    """The walk's pace and carriage, which fast walking and backpacks scale."""

    cadence: float
    step: float
    arm_swing: float
    forward_lean: float


@dataclass
class _Curve:
    """The curve's side and what it does to trunk counter-rotation; ``z_severity`` is reused for the torso shape."""

    side: CurveSide
    counter_rot_factor: float
    z_severity: float


@dataclass
class _Confounders:
    """Which confounders a subject has, and the limp's parameters (zero without a limp)."""

    names: list[str] = field(default_factory=list)
    limp_side: CurveSide = "none"
    limp_asym: float = 0.0
    limp_shift: float = 0.0
    limp_lean: float = 0.0

    def fields(self) -> dict[str, Any]:
        return {
            "confounders": tuple(self.names),
            "limp_side": self.limp_side,
            "limp_step_asymmetry": float(self.limp_asym),
            "limp_phase_shift": float(self.limp_shift),
            "limp_trunk_lean_deg": float(self.limp_lean),
        }


def _draw_cobb_for_subject(rng: np.random.Generator, cobb_deg: float | None, s: SimulationSettings) -> float:
    """The class and Cobb draws always happen, so a given ``cobb_deg`` leaves later draws where they were."""
    u_class = rng.random()
    cobb_drawn = sample_cobb(rng, u_class < s.population.default_prevalence, s)
    cobb = float(cobb_drawn if cobb_deg is None else cobb_deg)
    if not (0.0 <= cobb <= 120.0):
        raise ValueError(f"cobb_deg must be in [0, 120], got {cobb}")
    return cobb


def _draw_body(
    rng: np.random.Generator, pop: Population, positive: bool
) -> tuple[Literal["F", "M"], float, np.ndarray]:
    """Sex (class-specific rate), standing height and five segment-proportion factors."""
    u_sex = rng.random()
    sex: Literal["F", "M"] = (
        "F" if u_sex < (pop.female_rate_positive if positive else pop.female_rate_negative) else "M"
    )
    h_mu, h_sd = pop.height_female_m if sex == "F" else pop.height_male_m
    height = float(np.clip(rng.normal(h_mu, h_sd), 1.30, 2.05))
    props = np.exp(rng.normal(0.0, pop.proportion_sd, size=5))
    if sex == "M":
        props[2] *= 1.04  # broader shoulders
    else:
        props[3] *= 1.04  # broader hips
    return sex, height, props


def _draw_gait_style(rng: np.random.Generator, pop: Population, height: float) -> tuple[_GaitStyle, np.ndarray]:
    """Cadence, step length and the 16 style draws every per-person gait detail is taken from."""
    cadence = float(np.clip(rng.normal(*pop.cadence_spm), 90, 140))
    step = float(np.clip(rng.normal(*pop.step_length_per_height), 0.30, 0.50)) * height
    style = rng.normal(size=16)
    arm_swing = float(np.clip(pop.arm_swing_deg[0] + pop.arm_swing_deg[1] * style[0], 4, 32))
    return _GaitStyle(cadence=cadence, step=step, arm_swing=arm_swing, forward_lean=3.0 + 1.5 * style[1]), style


def _draw_natural_posture(rng: np.random.Generator, asym: NaturalAsymmetry) -> _Posture:
    """Everyone's own asymmetry, so a level trunk alone does not give the class away."""
    nat = rng.normal(size=6)
    return _Posture(
        shoulder=asym.shoulder_height_sd_mm * nat[0],
        shift=asym.trunk_shift_sd_mm * nat[1],
        lean=asym.trunk_lean_sd_deg * nat[2],
        obliq=asym.pelvic_obliquity_sd_deg * nat[3],
        arm_asym=asym.arm_swing_asymmetry_sd * nat[4],
        rot=asym.trunk_rotation_sd_deg * nat[5],
    )


def _apply_curve(rng: np.random.Generator, eff: ScoliosisEffects, cobb: float, posture: _Posture) -> _Curve:
    """Add the curve's effects, linear in Cobb with individual gains; the draws happen even at Cobb 0."""
    u_side = rng.random()
    z_severity = rng.normal()
    gains = np.exp(eff.severity_sigma * z_severity + eff.effect_sigma * rng.normal(size=7))
    curve_side: CurveSide = "none"
    counter_rot_factor = 1.0
    if cobb > 0:
        curve_side = "right" if u_side < eff.right_curve_fraction else "left"
        sg = 1.0 if curve_side == "right" else -1.0
        posture.shoulder += sg * eff.shoulder_height_mm_per_deg * cobb * gains[0]
        posture.shift += sg * eff.trunk_shift_mm_per_deg * cobb * gains[1]
        posture.lean += sg * eff.trunk_lean_deg_per_deg * cobb * gains[2]
        posture.obliq -= sg * eff.pelvic_obliquity_deg_per_deg * cobb * gains[3]
        red = min(eff.arm_swing_reduction_per_deg * cobb * gains[4], 0.8)
        posture.arm_asym -= sg * 2.0 * red / (2.0 - red)  # convex arm swings (1 - red) of the other
        posture.rot -= sg * eff.trunk_rotation_deg_per_deg * cobb * gains[5]
        counter_rot_factor = max(1.0 - eff.trunk_counter_rotation_reduction_per_deg * cobb * gains[6], 0.2)
    return _Curve(side=curve_side, counter_rot_factor=counter_rot_factor, z_severity=z_severity)


def _apply_limp(conf: Confounders, cv: np.ndarray, out: _Confounders) -> None:
    out.names.append("limp")
    out.limp_side = "left" if cv[0] < 0.5 else "right"
    out.limp_asym = conf.limp_step_asymmetry[0] + cv[1] * (conf.limp_step_asymmetry[1] - conf.limp_step_asymmetry[0])
    out.limp_shift = conf.limp_phase_shift[0] + cv[2] * (conf.limp_phase_shift[1] - conf.limp_phase_shift[0])
    out.limp_lean = conf.limp_trunk_lean_deg[0] + cv[3] * (conf.limp_trunk_lean_deg[1] - conf.limp_trunk_lean_deg[0])


def _apply_fast_walk(conf: Confounders, cv: np.ndarray, gait: _GaitStyle) -> None:
    lo, hi = conf.fast_walk_cadence_factor
    gait.cadence *= lo + cv[4] * (hi - lo)
    lo, hi = conf.fast_walk_step_factor
    gait.step *= lo + cv[5] * (hi - lo)
    gait.arm_swing *= 1.3


def _apply_backpack(conf: Confounders, cv: np.ndarray, gait: _GaitStyle, posture: _Posture, out: _Confounders) -> None:
    """A backpack leans the walker forward; one strap also drops that shoulder and leans the trunk to it."""
    out.names.append("backpack")
    lo, hi = conf.backpack_forward_lean_deg
    gait.forward_lean += lo + cv[6] * (hi - lo)
    gait.arm_swing *= 0.75
    if cv[7] < conf.backpack_one_strap_fraction:
        out.names.append("backpack_one_strap")
        sg = 1.0 if cv[8] < 0.5 else -1.0
        lo, hi = conf.backpack_shoulder_mm
        drop = lo + cv[9] * (hi - lo)
        posture.shoulder -= sg * drop  # strap shoulder drops ...
        posture.lean += sg * 0.12 * drop  # ... and the trunk leans toward it
        posture.shift += sg * 0.4 * drop


def _apply_habitual_asymmetry(conf: Confounders, uc: np.ndarray, cv: np.ndarray, posture: _Posture) -> None:
    sg = 1.0 if cv[10] < 0.5 else -1.0
    lo, hi = conf.habitual_shoulder_mm
    posture.shoulder += sg * (lo + cv[11] * (hi - lo))
    posture.shift += sg * (conf.habitual_shift_mm[0] + uc[4] * (conf.habitual_shift_mm[1] - conf.habitual_shift_mm[0]))


def _apply_confounders(
    rng: np.random.Generator, conf: Confounders, positive: bool, gait: _GaitStyle, posture: _Posture
) -> _Confounders:
    """Draw for everyone (fixed draw count), apply each confounder at its class-specific rate."""
    uc = rng.random(size=5)
    cv = rng.random(size=12)
    out = _Confounders()
    if uc[0] < (conf.limp_rate_positive if positive else conf.limp_rate_negative):
        _apply_limp(conf, cv, out)
    if uc[1] < (conf.fast_walk_rate_positive if positive else conf.fast_walk_rate_negative):
        out.names.append("fast_walk")
        _apply_fast_walk(conf, cv, gait)
    if uc[2] < (conf.backpack_rate_positive if positive else conf.backpack_rate_negative):
        _apply_backpack(conf, cv, gait, posture, out)
    if uc[3] < (conf.habitual_asymmetry_rate_positive if positive else conf.habitual_asymmetry_rate_negative):
        out.names.append("habitual_asymmetry")
        _apply_habitual_asymmetry(conf, uc, cv, posture)
    return out


def _draw_torso_shape(
    rng: np.random.Generator, s: SimulationSettings, cobb: float, curve: _Curve
) -> tuple[float, float]:
    """Waist asymmetry and rib prominence (mm), seen only in silhouettes.

    Drawn after every other draw, so these parameters leave the rest of a seeded subject unchanged.
    """
    eff, asym = s.scoliosis, s.asymmetry
    nat_sil = rng.normal(size=2)
    sil_gains = np.exp(eff.severity_sigma * curve.z_severity + eff.effect_sigma * rng.normal(size=2))
    waist = asym.waist_asymmetry_sd_mm * nat_sil[0]
    rib = asym.rib_prominence_sd_mm * nat_sil[1]
    if cobb > 0:
        sg = 1.0 if curve.side == "right" else -1.0
        waist += sg * eff.waist_asymmetry_mm_per_deg * cobb * sil_gains[0]
        rib += sg * eff.rib_prominence_mm_per_deg * cobb * sil_gains[1]
    return float(waist), float(rib)


def _proportion_fields(props: np.ndarray) -> dict[str, Any]:
    return {
        "leg_scale": float(props[0]),
        "trunk_scale": float(props[1]),
        "shoulder_scale": float(props[2]),
        "hip_scale": float(props[3]),
        "arm_scale": float(props[4]),
    }


def _style_fields(style: np.ndarray, height: float, counter_rot_factor: float) -> dict[str, Any]:
    """Per-person gait details from the style draws, each clipped to a plausible adult range."""
    return {
        "stance_fraction": float(np.clip(0.61 + 0.01 * style[2], 0.57, 0.65)),
        "step_width_m": float(np.clip(0.09 + 0.02 * style[3], 0.03, 0.16)),
        "toe_out_deg": float(np.clip(6.0 + 4.0 * style[4], -5, 18)),
        "elbow_flex_deg": float(np.clip(18 + 5 * style[5], 5, 35)),
        "arm_abduction_deg": float(np.clip(8 + 2.5 * style[6], 3, 16)),
        "pelvic_rotation_deg": float(np.clip(5 + 1.5 * style[7], 1.5, 10)),
        "pelvic_obliquity_amp_deg": float(np.clip(4 + 1.0 * style[8], 1.5, 8)),
        "trunk_counter_rotation_deg": float(np.clip(4 + 1.2 * style[9], 1, 8) * counter_rot_factor),
        "trunk_sway_deg": float(np.clip(1.5 + 0.5 * style[10], 0.3, 3)),
        "loading_dip_m": float(np.clip(0.005 + 0.0015 * style[11], 0.002, 0.01)) * height / 1.6,
        "lateral_sway_m": float(np.clip(0.025 + 0.006 * style[12], 0.01, 0.045)),
        "swing_clearance_m": float(np.clip(0.05 + 0.01 * style[13], 0.025, 0.08)) * height / 1.6,
        "heel_strike_foot_deg": float(np.clip(18 + 3 * style[14], 8, 28)),
        "toe_off_foot_deg": float(np.clip(-40 + 4 * style[15], -52, -28)),
    }


def sample_subject(
    rng: np.random.Generator,
    subject_id: str,
    cobb_deg: float | None = None,
    settings: SimulationSettings | None = None,
) -> SubjectParams:
    """Draw one SIMULATED subject.

    ``cobb_deg=None`` draws the class with ``settings.population.default_prevalence``
    and a Cobb angle from that class. Random numbers are always drawn in the same
    order, so the same generator state with a different ``cobb_deg`` gives the same
    person with a different curve (handy for dose-response checks).
    """
    s = settings or SimulationSettings()
    cobb = _draw_cobb_for_subject(rng, cobb_deg, s)
    label = label_for(cobb, s)
    sex, height, props = _draw_body(rng, s.population, bool(label))
    gait, style = _draw_gait_style(rng, s.population, height)
    posture = _draw_natural_posture(rng, s.asymmetry)
    curve = _apply_curve(rng, s.scoliosis, cobb, posture)
    confounders = _apply_confounders(rng, s.confounders, bool(label), gait, posture)
    waist, rib = _draw_torso_shape(rng, s, cobb, curve)
    return SubjectParams(
        subject_id=subject_id,
        sex=sex,
        height_m=height,
        **_proportion_fields(props),
        cadence_spm=float(gait.cadence),
        step_length_m=float(gait.step),
        arm_swing_deg=float(gait.arm_swing),
        forward_lean_deg=float(gait.forward_lean),
        **_style_fields(style, height, curve.counter_rot_factor),
        cobb_deg=cobb,
        curve_side=curve.side,
        label=label,
        **posture.fields(),
        waist_asymmetry_mm=waist,
        rib_prominence_mm=rib,
        **confounders.fields(),
    )


class ClipVariationDraw(BaseModel):
    """Per-clip deviations from the subject's typical walk (drawn from the clip seed)."""

    model_config = ConfigDict(frozen=True)

    speed_factor: float = 1.0
    cadence_factor: float = 1.0
    arm_swing_factor: float = 1.0
    shoulder_mm: float = 0.0
    shift_mm: float = 0.0
    lean_deg: float = 0.0
    forward_lean_deg: float = 0.0
    start_phase: float = 0.0
    lateral_offset_m: float = 0.0


def draw_clip_variation(rng: np.random.Generator, settings: SimulationSettings) -> ClipVariationDraw:
    c = settings.clip
    z = rng.normal(size=7)
    return ClipVariationDraw(
        speed_factor=float(np.clip(1 + c.speed_sd * z[0], 0.8, 1.2)),
        cadence_factor=float(np.clip(1 + c.cadence_sd * z[1], 0.85, 1.15)),
        arm_swing_factor=float(np.clip(1 + c.arm_swing_sd * z[2], 0.6, 1.4)),
        shoulder_mm=float(c.posture_shoulder_sd_mm * z[3]),
        shift_mm=float(c.posture_shift_sd_mm * z[4]),
        lean_deg=float(c.posture_lean_sd_deg * z[5]),
        forward_lean_deg=float(c.forward_lean_sd_deg * z[6]),
        start_phase=float(rng.random()),
        lateral_offset_m=float(rng.normal(0.0, 0.1)),
    )


def body_dimensions(subj: SubjectParams) -> dict[str, float]:
    """Segment lengths (metres) of a subject."""
    h = subj.height_m
    d = {k: v * h for k, v in _P.items()}
    d["thigh"] *= subj.leg_scale
    d["shank"] *= subj.leg_scale
    d["trunk"] *= subj.trunk_scale
    d["shoulder_half"] *= subj.shoulder_scale
    d["hip_half"] *= subj.hip_scale
    d["upper_arm"] *= subj.arm_scale
    d["forearm"] *= subj.arm_scale
    return d


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _rot2(theta: np.ndarray, vx: np.ndarray | float, vz: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    c, s = np.cos(theta), np.sin(theta)
    return c * vx - s * vz, s * vx + c * vz


_XZ = tuple[np.ndarray, np.ndarray]  # (x, z) per frame


class _Leg:
    """Foot trajectory of one leg (vectorised over frames)."""

    def __init__(self, dims: dict[str, float], subj: SubjectParams, stance: float) -> None:
        self.af, self.ah, self.lf = dims["ankle_fwd"], dims["ankle_h"], dims["foot_len"]
        self.s = stance
        self.hs = np.deg2rad(subj.heel_strike_foot_deg)
        self.to = np.deg2rad(subj.toe_off_foot_deg)
        self.clear = subj.swing_clearance_m

    def _stance_pts(self, q: np.ndarray, xh: np.ndarray) -> tuple[np.ndarray, _XZ, _XZ, _XZ]:
        w = np.clip((q - _HEEL_OFF) / (self.s - _HEEL_OFF), 0.0, 1.0)
        th = np.where(
            q < _FOOT_FLAT,
            self.hs * (1 - _smoothstep(q / _FOOT_FLAT)),
            np.where(q < _HEEL_OFF, 0.0, self.to * w * w),  # heel rise accelerates into toe-off
        )
        piv = np.where(q < _HEEL_OFF, 0.0, self.lf)  # pivot in foot frame: heel (0) or toe (lf)
        out = []
        for lx, lz in ((0.0, 0.0), (self.af, self.ah), (self.lf, 0.0)):  # heel, ankle, toe
            rx, rz = _rot2(th, lx - piv, lz)
            out.append((xh + piv + rx, rz))
        heel, ankle, toe = out
        return th, heel, ankle, toe

    def points(self, phase: np.ndarray, xh_of_k: np.ndarray, kmin: int) -> dict[str, np.ndarray]:
        k = np.floor(phase).astype(np.int64)
        q = phase - k
        idx = k - kmin
        xh0, xh1 = xh_of_k[idx], xh_of_k[idx + 1]
        th_st, heel_st, ank_st, toe_st = self._stance_pts(q, xh0)
        # Swing: the ankle goes from its toe-off pose (stride k) to its heel-strike pose
        # (stride k+1). Velocity and foot pitch rate are continuous at toe-off (the toe
        # leaves the floor from rest) and the foot comes to rest at heel strike.
        sw_len = 1.0 - self.s
        u = np.clip((q - self.s) / sw_len, 0.0, 1.0)
        vx, vz = self.af - self.lf, self.ah  # ankle relative to toe, foot frame
        a0x, a0z = _rot2(self.to, vx, vz)
        a0x = a0x + xh0 + self.lf
        dth = 2.0 * self.to / (self.s - _HEEL_OFF) * sw_len  # d(theta)/du at toe-off
        c, s_ = np.cos(self.to), np.sin(self.to)
        v0x, v0z = (-s_ * vx - c * vz) * dth, (c * vx - s_ * vz) * dth
        a1x, a1z = _rot2(self.hs, self.af, self.ah)
        a1x = a1x + xh1
        h10 = u * (1 - u) ** 2
        # fore-aft: fast early, brakes late into heel strike
        ax = a0x + (a1x - a0x) * betainc(1.8, 1.5, u) + v0x * h10
        # height: heel lifts high in initial swing, low toe clearance by mid-swing
        az = a0z + (a1z - a0z) * _smoothstep(u / 0.55) + v0z * h10 + self.clear * 29.19 * u**1.5 * (1 - u) ** 4.5
        v = np.clip(u / _SWING_FOOT_SETTLE, 0.0, 1.0)
        th_sw = (
            (2 * v**3 - 3 * v**2 + 1) * self.to
            + (v**3 - 2 * v**2 + v) * dth * _SWING_FOOT_SETTLE
            + (3 * v**2 - 2 * v**3) * self.hs
        )
        hx, hz = _rot2(th_sw, -self.af, -self.ah)
        tx, tz = _rot2(th_sw, self.lf - self.af, -self.ah)
        sw = q >= self.s
        toe_z = np.where(sw, np.maximum(az + tz, 0.0), toe_st[1])
        return {
            "stance": ~sw,
            "q": q,
            "idx": idx,
            "u": u,
            "theta": np.where(sw, th_sw, th_st),
            "heel_x": np.where(sw, ax + hx, heel_st[0]),
            "heel_z": np.where(sw, np.maximum(az + hz, 0.0), heel_st[1]),
            "ankle_x": np.where(sw, ax, ank_st[0]),
            "ankle_z": np.where(sw, az, ank_st[1]),
            "toe_x": np.where(sw, ax + tx, toe_st[0]),
            "toe_z": toe_z,
        }


def _two_link_ik(
    hip: np.ndarray,
    ankle: np.ndarray,
    l1: float,
    l2: float,
    hint: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Knee position from hip, ankle, segment lengths and a 'knee forward' hint.

    Returns (knee, reach_excess_m): excess > 0 where the ankle was out of reach
    and was pulled toward the hip.
    """
    d = ankle - hip
    dist = np.linalg.norm(d, axis=-1)
    lmax = (l1 + l2) * 0.9999
    excess = np.maximum(dist - lmax, 0.0)
    dist_c = np.clip(dist, abs(l1 - l2) + 1e-6, lmax)
    dh = d / np.maximum(dist, 1e-9)[..., None]
    cos_a = np.clip((l1 * l1 + dist_c * dist_c - l2 * l2) / (2 * l1 * dist_c), -1.0, 1.0)
    n = hint - np.sum(hint * dh, axis=-1, keepdims=True) * dh
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-9)
    knee = hip + l1 * (cos_a[..., None] * dh + np.sqrt(1 - cos_a * cos_a)[..., None] * n)
    return knee, excess


class WalkResult(BaseModel):
    """World-space output of :func:`walk` (SIMULATED)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    world: np.ndarray = Field(description="[T, 21, 3] COCO-21 joints, metres, world frame.")
    pelvis: np.ndarray = Field(description="[T, 3] mid-hip point.")
    phase: np.ndarray = Field(description="[T] right-leg gait phase (right heel strike at integers).")
    event_times_s: dict[str, dict[str, list[float]]]
    angles_deg: dict[str, np.ndarray]
    max_reach_excess_m: float


@dataclass(frozen=True)
class _Timing:
    """When each leg is in stance: the right leg's phase per frame, each leg's offset and stance share."""

    phase: np.ndarray  # right-leg gait phase (right heel strike at integers)
    strides_per_s: float
    step: float
    offset: dict[str, float]
    stance: dict[str, float]
    limp_sign: float  # +1 left limp, -1 right limp, 0 none

    @property
    def stride(self) -> float:
        return 2.0 * self.step


@dataclass(frozen=True)
class _Thorax:
    """The trunk's pose per frame, which the shoulders, head and arms hang from."""

    mid_shoulder: np.ndarray
    lateral_lean: np.ndarray  # radians
    forward_lean: float  # radians
    shift_m: float
    left_axis: np.ndarray
    forward_axis: np.ndarray
    rotation: np.ndarray  # radians


def _gait_timing(
    subj: SubjectParams, t: np.ndarray, var: ClipVariationDraw, rng: np.random.Generator, cs: ClipVariation
) -> _Timing:
    """Phase of the right leg with slow stride-time variability; a limp shifts the left leg and shortens stance."""
    cadence = subj.cadence_spm * var.cadence_factor
    step = subj.step_length_m * var.speed_factor / var.cadence_factor  # speed scales by speed_factor
    f = cadence / 120.0  # strides per second
    # stride-time variability: a few slow random sinusoids added to time
    nu = rng.uniform(0.08, 0.5, size=3)
    ph = rng.uniform(0, 2 * np.pi, size=3)
    amp = cs.stride_time_cv / (2 * np.pi * nu * np.sqrt(3))
    warp = np.sum(amp[:, None] * np.sin(2 * np.pi * nu[:, None] * t[None, :] + ph[:, None]), axis=0)
    p = var.start_phase + f * (t + warp)
    limp = subj.limp_side
    sgn_l = {"left": 1.0, "right": -1.0, "none": 0.0}[limp]
    # left heel strike half a cycle after the right one; a limp shifts it.
    off = {"right": 0.0, "left": 0.5 - sgn_l * subj.limp_phase_shift}
    stance = {
        "right": subj.stance_fraction - (0.03 if limp == "right" else 0.0),
        "left": subj.stance_fraction - (0.03 if limp == "left" else 0.0),
    }
    return _Timing(phase=p, strides_per_s=f, step=step, offset=off, stance=stance, limp_sign=sgn_l)


def _foot_tracks(
    subj: SubjectParams, dims: dict[str, float], timing: _Timing, rng: np.random.Generator, cs: ClipVariation
) -> dict[str, dict[str, np.ndarray]]:
    """Each foot's footholds (with step length and width noise) and its path between them, per frame."""
    limp = subj.limp_side
    step, stride = timing.step, timing.stride
    # footholds: heel x of stride k; the affected leg takes the shorter step
    heel_ahead = 2 * step * _MIDSTANCE - dims["ankle_fwd"]
    asym_half = 0.5 * subj.limp_step_asymmetry * step
    c_leg = {"right": -asym_half if limp == "right" else (asym_half if limp == "left" else 0.0)}
    c_leg["left"] = -c_leg["right"]
    x0 = 0.0
    legs: dict[str, dict[str, np.ndarray]] = {}
    for side in ("right", "left"):
        pl = timing.phase - timing.offset[side]
        kmin = int(np.floor(pl.min())) - 1
        kmax = int(np.floor(pl.max())) + 2
        ks: np.ndarray = np.arange(kmin, kmax + 1)
        xh = (
            x0
            + stride * (ks + timing.offset[side])
            + heel_ahead
            + c_leg[side]
            + rng.normal(0, cs.step_length_sd_m, size=ks.size)
        )
        y_foot = (1.0 if side == "left" else -1.0) * subj.step_width_m / 2 + rng.normal(
            0, cs.step_width_sd_m, size=ks.size
        )
        leg = _Leg(dims, subj, timing.stance[side]).points(pl, xh, kmin)
        idx = leg["idx"]
        leg["y"] = y_foot[idx] + (y_foot[idx + 1] - y_foot[idx]) * _smoothstep(leg["u"]) * (~leg["stance"])
        leg["xh_ref"] = np.where(leg["stance"], xh[idx], leg["heel_x"])
        leg["phase"] = pl
        legs[side] = leg
    return legs


def _hip_positions(
    subj: SubjectParams, var: ClipVariationDraw, dims: dict[str, float], timing: _Timing
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Hip joints in the floor plane and their height offsets, from pelvic progression, sway, rotation and obliquity.

    Returns ``(hip_xy, hip_dz, px, py)``: per side ``[T, 2]`` and ``[T]``, and the pelvis centre's x and y.
    """
    p, stride, limp = timing.phase, timing.stride, subj.limp_side
    tp = 2 * np.pi * p
    x0 = 0.0
    px = x0 + stride * p - 0.05 * stride / (4 * np.pi) * np.sin(2 * tp)
    py = var.lateral_offset_m - subj.lateral_sway_m * np.sin(tp - 0.12)
    psi = np.deg2rad(subj.pelvic_rotation_deg) * np.cos(tp)
    phi = np.deg2rad(subj.pelvic_obliquity_deg + subj.pelvic_obliquity_amp_deg * np.sin(tp + 0.3))
    if limp != "none":  # extra drop of the sound side while standing on the affected leg
        phi = phi + np.deg2rad(2.0) * timing.limp_sign * -np.sin(2 * np.pi * (p - timing.offset[limp]) + 0.3).clip(
            0, None
        )
    hh = dims["hip_half"]
    ey = np.stack([-np.sin(psi), np.cos(psi), np.zeros_like(psi)], axis=-1)
    hip_xy = {
        "left": np.stack([px, py], -1) + hh * np.cos(phi)[:, None] * ey[:, :2],
        "right": np.stack([px, py], -1) - hh * np.cos(phi)[:, None] * ey[:, :2],
    }
    hip_dz = {"left": -hh * np.sin(phi), "right": hh * np.sin(phi)}
    return hip_xy, hip_dz, px, py


def _pelvis_height(
    subj: SubjectParams,
    dims: dict[str, float],
    t: np.ndarray,
    timing: _Timing,
    legs: dict[str, dict[str, np.ndarray]],
    hip_xy: dict[str, np.ndarray],
    hip_dz: dict[str, np.ndarray],
) -> np.ndarray:
    """Pelvis height: as high as both legs allow, never above near-standing height.

    The stance legs' inverted-pendulum arcs make it lowest in double support;
    a small extra dip in each loading response stands for knee flexion after heel strike.
    """
    h = subj.height_m
    l1, l2 = dims["thigh"], dims["shank"]
    lmax = 0.9993 * (l1 + l2)
    zfeas = np.full(t.shape, np.inf)
    dip = np.zeros(t.shape)
    for side in ("left", "right"):
        lg = legs[side]
        dxy2 = (lg["ankle_x"] - hip_xy[side][:, 0]) ** 2 + (lg["y"] - hip_xy[side][:, 1]) ** 2
        zfeas = np.minimum(zfeas, lg["ankle_z"] + np.sqrt(np.maximum(lmax**2 - dxy2, 0.0)) - hip_dz[side])
        dip += np.where(lg["q"] < 0.3, np.sin(np.pi * lg["q"] / 0.3) ** 2, 0.0)
    standing = dims["ankle_h"] + l1 + l2
    # round the cusps: running min, then a moving average no wider (cannot exceed the min)
    win = max(int(round(0.06 * (t.size - 1) / max(t[-1] - t[0], 1e-9) / timing.strides_per_s)), 1)
    zb = uniform_filter1d(minimum_filter1d(zfeas, size=win, mode="nearest"), size=win, mode="nearest")
    top = standing - 0.002 * h
    k = 0.004 * h
    return -k * np.logaddexp(-zb / k, -top / k) - subj.loading_dip_m * dip  # soft min, <= both


def _place_legs(
    world: np.ndarray,
    angles: dict[str, np.ndarray],
    subj: SubjectParams,
    dims: dict[str, float],
    legs: dict[str, dict[str, np.ndarray]],
    hip_xy: dict[str, np.ndarray],
    hip_dz: dict[str, np.ndarray],
    pz: np.ndarray,
) -> float:
    """Write hips, knees (two-link IK), ankles, heels and toes into ``world`` and the sagittal leg angles
    into ``angles``; return how far (m) an ankle was ever out of the leg's reach."""
    l1, l2 = dims["thigh"], dims["shank"]
    max_excess = 0.0
    for side, (ih, ik, ia, ihe, ito) in {
        "left": (L_HIP, L_KNEE, L_ANKLE, L_HEEL, L_TOE),
        "right": (R_HIP, R_KNEE, R_ANKLE, R_HEEL, R_TOE),
    }.items():
        lg = legs[side]
        sg = 1.0 if side == "left" else -1.0
        hip = np.concatenate([hip_xy[side], (pz + hip_dz[side])[:, None]], axis=-1)
        toe_out = np.deg2rad(subj.toe_out_deg)
        out_y = sg * np.sin(toe_out)
        pts = {}
        for name in ("heel", "ankle", "toe"):
            x = lg[name + "_x"]
            pts[name] = np.stack([x, lg["y"] + (x - lg["xh_ref"]) * out_y, lg[name + "_z"]], axis=-1)
        hint = np.broadcast_to(np.array([np.cos(toe_out), sg * np.sin(toe_out), 0.0]), hip.shape)
        knee, excess = _two_link_ik(hip, pts["ankle"], l1, l2, hint)
        max_excess = max(max_excess, float(excess.max(initial=0.0)))
        world[:, ih], world[:, ik], world[:, ia] = hip, knee, pts["ankle"]
        world[:, ihe], world[:, ito] = pts["heel"], pts["toe"]
        thigh_a = np.arctan2(knee[:, 0] - hip[:, 0], hip[:, 2] - knee[:, 2])
        shank_a = np.arctan2(pts["ankle"][:, 0] - knee[:, 0], knee[:, 2] - pts["ankle"][:, 2])
        foot_a = np.arctan2(pts["toe"][:, 2] - pts["heel"][:, 2], pts["toe"][:, 0] - pts["heel"][:, 0])
        angles[f"{side}_hip_flexion"] = np.rad2deg(thigh_a)
        angles[f"{side}_knee_flexion"] = np.rad2deg(thigh_a - shank_a)
        angles[f"{side}_ankle_dorsiflexion"] = np.rad2deg(foot_a - shank_a)
    return max_excess


def _place_shoulders(
    world: np.ndarray,
    subj: SubjectParams,
    var: ClipVariationDraw,
    dims: dict[str, float],
    pelvis: np.ndarray,
    timing: _Timing,
    legs: dict[str, dict[str, np.ndarray]],
) -> _Thorax:
    """Lean the trunk (forward and lateral, static plus dynamic over the stance leg), shift and rotate it;
    write the shoulders into ``world`` with the subject's height difference."""
    tp = 2 * np.pi * timing.phase
    limp = subj.limp_side
    lean_lat = subj.trunk_lean_deg + var.lean_deg + subj.trunk_sway_deg * np.sin(tp - 0.3)
    if limp != "none":
        stance_aff = legs[limp]["stance"].astype(float)
        lean_lat = lean_lat + (-timing.limp_sign) * subj.limp_trunk_lean_deg * _smooth_box(stance_aff)
    lam = np.deg2rad(lean_lat)
    fwd = np.deg2rad(subj.forward_lean_deg + var.forward_lean_deg)
    shift_m = (subj.trunk_shift_mm + var.shift_mm) / 1000.0
    u_trunk = np.stack([np.sin(fwd) * np.ones_like(lam), -np.sin(lam) * np.cos(fwd), np.cos(lam) * np.cos(fwd)], -1)
    mid_sh = pelvis + dims["trunk"] * u_trunk
    mid_sh[:, 1] -= shift_m
    psi_t = np.deg2rad(subj.trunk_rotation_deg - subj.trunk_counter_rotation_deg * np.cos(tp - 0.15))
    et = np.stack([-np.sin(psi_t), np.cos(psi_t), np.zeros_like(psi_t)], -1)  # thorax left axis
    ef = np.stack([np.cos(psi_t), np.sin(psi_t), np.zeros_like(psi_t)], -1)  # thorax forward axis
    dh = (subj.shoulder_height_diff_mm + var.shoulder_mm) / 1000.0
    sh_half = dims["shoulder_half"]
    l_sh = mid_sh + sh_half * et
    r_sh = mid_sh - sh_half * et
    l_sh[:, 2] -= dh / 2
    r_sh[:, 2] += dh / 2
    world[:, L_SHOULDER], world[:, R_SHOULDER] = l_sh, r_sh
    return _Thorax(
        mid_shoulder=mid_sh,
        lateral_lean=lam,
        forward_lean=fwd,
        shift_m=shift_m,
        left_axis=et,
        forward_axis=ef,
        rotation=psi_t,
    )


def _place_head(world: np.ndarray, dims: dict[str, float], h: float, thorax: _Thorax, head_compensation: float) -> None:
    """The face points: the head follows the thorax, partly re-centred over the pelvis and kept upright."""
    lam, fwd = thorax.lateral_lean, thorax.forward_lean
    one = np.ones_like(lam)
    head_c = thorax.mid_shoulder + dims["head"] * np.stack([np.sin(fwd * 0.5) * one, 0 * one, one], -1)
    head_c[:, 1] += head_compensation * (thorax.shift_m + dims["trunk"] * np.sin(lam) * np.cos(fwd))
    psi_h = 0.4 * thorax.rotation
    hf = np.stack([np.cos(psi_h), np.sin(psi_h), np.zeros_like(psi_h)], -1)
    hl = np.stack([-np.sin(psi_h), np.cos(psi_h), np.zeros_like(psi_h)], -1)
    up = np.array([0.0, 0.0, 1.0])
    world[:, NOSE] = head_c + 0.060 * h * hf - 0.015 * h * up
    world[:, L_EYE] = head_c + 0.045 * h * hf + 0.010 * h * up + 0.020 * h * hl
    world[:, R_EYE] = head_c + 0.045 * h * hf + 0.010 * h * up - 0.020 * h * hl
    world[:, L_EAR] = head_c + 0.045 * h * hl - 0.005 * h * up
    world[:, R_EAR] = head_c - 0.045 * h * hl - 0.005 * h * up


def _place_arms(
    world: np.ndarray,
    angles: dict[str, np.ndarray],
    subj: SubjectParams,
    var: ClipVariationDraw,
    dims: dict[str, float],
    timing: _Timing,
    thorax: _Thorax,
) -> None:
    """Elbows and wrists: each arm swings in phase with the opposite leg (right arm back at right heel strike)."""
    tp = 2 * np.pi * timing.phase
    et, ef = thorax.left_axis, thorax.forward_axis
    up = np.array([0.0, 0.0, 1.0])
    amp = subj.arm_swing_deg * var.arm_swing_factor
    a_r = amp * (1 + subj.arm_swing_asymmetry / 2)
    a_l = amp * (1 - subj.arm_swing_asymmetry / 2)
    c_arm = np.cos(tp - 2 * np.pi * 0.04)
    beta = np.deg2rad(subj.arm_abduction_deg)
    for side, alpha_deg, ish, iel, iwr in (
        ("left", 1.0 + a_l * c_arm, L_SHOULDER, L_ELBOW, L_WRIST),
        ("right", 1.0 - a_r * c_arm, R_SHOULDER, R_ELBOW, R_WRIST),
    ):
        sg = 1.0 if side == "left" else -1.0
        eps = np.maximum(subj.elbow_flex_deg + 0.5 * (alpha_deg - 1.0), 5.0)
        a1, a2 = np.deg2rad(alpha_deg), np.deg2rad(alpha_deg + eps)

        def direction(a: np.ndarray, sg: float = sg) -> np.ndarray:  # this side's sign, bound now
            return (
                (np.cos(beta) * np.sin(a))[:, None] * ef
                + sg * np.sin(beta) * et
                - (np.cos(beta) * np.cos(a))[:, None] * up
            )

        elbow = world[:, ish] + dims["upper_arm"] * direction(a1)
        world[:, iel] = elbow
        world[:, iwr] = elbow + dims["forearm"] * direction(a2)
        angles[f"{side}_shoulder_flexion"] = alpha_deg
        angles[f"{side}_elbow_flexion"] = eps


def _true_events(
    t: np.ndarray, timing: _Timing, legs: dict[str, dict[str, np.ndarray]]
) -> dict[str, dict[str, list[float]]]:
    """Exact event times: a leg's phase crosses k (heel strike) or k + its stance share (toe-off)."""
    events: dict[str, dict[str, list[float]]] = {}
    for side in ("left", "right"):
        pl = legs[side]["phase"]
        out: dict[str, list[float]] = {}
        for name, frac in (("heel_strike", 0.0), ("toe_off", timing.stance[side])):
            ks = np.arange(np.ceil(pl[0] - frac), np.floor(pl[-1] - frac) + 1) + frac
            out[name] = [float(v) for v in np.interp(ks, pl, t)]
        events[side] = out
    return events


def walk(
    subj: SubjectParams,
    times_s: np.ndarray,
    var: ClipVariationDraw,
    rng: np.random.Generator,
    settings: SimulationSettings,
) -> WalkResult:
    """Simulate the 3-D walk of ``subj`` at the given times (seconds).

    Feet first (footholds and swing paths), then the pelvis as high as the legs
    allow, the legs by inverse kinematics, and the trunk, head and arms on top.
    """
    t = np.asarray(times_s, dtype=np.float64)
    dims = body_dimensions(subj)
    timing = _gait_timing(subj, t, var, rng, settings.clip)
    legs = _foot_tracks(subj, dims, timing, rng, settings.clip)
    hip_xy, hip_dz, px, py = _hip_positions(subj, var, dims, timing)
    pz = _pelvis_height(subj, dims, t, timing, legs, hip_xy, hip_dz)
    pelvis = np.stack([px, py, pz], axis=-1)

    world = np.empty((t.size, NUM_COCO_FEET, 3))
    angles: dict[str, np.ndarray] = {}
    max_excess = _place_legs(world, angles, subj, dims, legs, hip_xy, hip_dz, pz)
    thorax = _place_shoulders(world, subj, var, dims, pelvis, timing, legs)
    _place_head(world, dims, subj.height_m, thorax, settings.scoliosis.head_compensation)
    _place_arms(world, angles, subj, var, dims, timing, thorax)
    return WalkResult(
        world=world,
        pelvis=pelvis,
        phase=timing.phase,
        event_times_s=_true_events(t, timing, legs),
        angles_deg=angles,
        max_reach_excess_m=max_excess,
    )


def _smooth_box(x: np.ndarray, width: int = 5) -> np.ndarray:
    if x.size < width:
        return x
    k = np.ones(width) / width
    return np.convolve(np.pad(x, width // 2, mode="edge"), k, mode="valid")
