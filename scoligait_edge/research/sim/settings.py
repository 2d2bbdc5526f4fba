"""Settings of the SIMULATED walker: effect sizes, confounder rates, noise.

Everything here parameterises *simulated* data. The numbers are plausible
orders of magnitude chosen by hand, not estimates fitted to any clinical
cohort; see ``docs/SIMULATION.md`` for the reasoning and for why the defaults
make the two classes overlap.

Sign conventions (used by every posture quantity in this package):
``+`` means *toward the subject's right* / *right side higher* / *right side
forward* / *right side swings more*. A right (convex-right) curve therefore
produces positive shoulder-height difference, trunk shift and lean.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScoliosisEffects(_Frozen):
    """Posture and gait changes per degree of Cobb angle (linear in Cobb).

    Each subject's effects are further multiplied by a log-normal severity
    factor shared by all effects (``severity_sigma``) and an independent one per
    effect (``effect_sigma``): the same Cobb angle shows very differently in
    different people.
    """

    shoulder_height_mm_per_deg: float = Field(
        0.35, description="Convex-side shoulder higher by this many mm per degree (40 deg -> 14 mm)."
    )
    trunk_shift_mm_per_deg: float = Field(
        0.25, description="Thorax translated toward the convex side, mm per degree (40 deg -> 10 mm)."
    )
    trunk_lean_deg_per_deg: float = Field(
        0.03, description="Trunk (mid-hip to mid-shoulder) leans toward the convex side (40 deg -> 1.2 deg)."
    )
    pelvic_obliquity_deg_per_deg: float = Field(
        0.03, description="Convex-side hip lower, degrees per degree (40 deg -> 1.2 deg)."
    )
    arm_swing_reduction_per_deg: float = Field(
        0.005, description="Fractional reduction of convex-side arm swing per degree (40 deg -> 20 %)."
    )
    trunk_rotation_deg_per_deg: float = Field(
        0.12, description="Static thorax axial rotation, convex-side shoulder backward (40 deg -> 4.8 deg)."
    )
    trunk_counter_rotation_reduction_per_deg: float = Field(
        0.006, description="Fractional loss of dynamic thorax counter-rotation per degree."
    )
    head_compensation: float = Field(
        0.6, ge=0.0, le=1.0, description="Fraction of the trunk shift the head undoes (head kept over the pelvis)."
    )
    waist_asymmetry_mm_per_deg: float = Field(
        0.6,
        description="SILHOUETTE ONLY: concave-side waist crease deeper than the convex side's by this many "
        "mm per degree (25 deg -> 15 mm, ~0.6 px at 64 px body height). Keypoints unchanged.",
    )
    rib_prominence_mm_per_deg: float = Field(
        0.4,
        description="SILHOUETTE ONLY: convex-side thoracic flank bulges outward (and, side-on, the back "
        "bulges backward) by this many mm per degree (25 deg -> 10 mm, ~0.4 px). Keypoints unchanged.",
    )
    severity_sigma: float = Field(0.45, ge=0.0, description="Log-normal sigma of the subject-level severity factor.")
    effect_sigma: float = Field(0.35, ge=0.0, description="Log-normal sigma of each effect's own factor.")
    right_curve_fraction: float = Field(
        0.8, ge=0.0, le=1.0, description="Share of curves convex to the right (right thoracic is commonest)."
    )


class NaturalAsymmetry(_Frozen):
    """Normal postural asymmetry of every subject (Gaussian SDs, any label)."""

    shoulder_height_sd_mm: float = 7.0
    trunk_shift_sd_mm: float = 9.0
    trunk_lean_sd_deg: float = 1.0
    pelvic_obliquity_sd_deg: float = 0.8
    arm_swing_asymmetry_sd: float = 0.10
    trunk_rotation_sd_deg: float = 2.0
    waist_asymmetry_sd_mm: float = Field(
        8.0, description="SILHOUETTE ONLY: normal left/right difference of the waist crease depth."
    )
    rib_prominence_sd_mm: float = Field(
        5.0, description="SILHOUETTE ONLY: normal one-sided flank/back contour prominence (signed by side)."
    )


class Confounders(_Frozen):
    """Rates (per subject) of look-alike conditions, separately by class.

    They are what keeps a single asymmetry feature from separating the classes:
    a one-strap backpack or a habitual shoulder drop looks like a mild curve.
    """

    limp_rate_negative: float = Field(0.06, ge=0.0, le=1.0)
    limp_rate_positive: float = Field(0.03, ge=0.0, le=1.0)
    fast_walk_rate_negative: float = Field(0.10, ge=0.0, le=1.0)
    fast_walk_rate_positive: float = Field(0.10, ge=0.0, le=1.0)
    backpack_rate_negative: float = Field(0.12, ge=0.0, le=1.0)
    backpack_rate_positive: float = Field(0.10, ge=0.0, le=1.0)
    habitual_asymmetry_rate_negative: float = Field(
        0.15, ge=0.0, le=1.0, description="Healthy subjects with a marked habitual shoulder drop / trunk shift."
    )
    habitual_asymmetry_rate_positive: float = Field(0.05, ge=0.0, le=1.0)
    habitual_shoulder_mm: tuple[float, float] = Field(
        (7.0, 17.0), description="Uniform range of the habitual shoulder drop (mm)."
    )
    habitual_shift_mm: tuple[float, float] = (5.0, 15.0)
    backpack_forward_lean_deg: tuple[float, float] = (5.0, 10.0)
    backpack_one_strap_fraction: float = Field(
        0.5, ge=0.0, le=1.0, description="Backpacks carried on one shoulder (shoulder drop + lateral lean)."
    )
    backpack_shoulder_mm: tuple[float, float] = (6.0, 16.0)
    limp_step_asymmetry: tuple[float, float] = Field(
        (0.06, 0.16), description="Fractional step-length difference between the legs."
    )
    limp_phase_shift: tuple[float, float] = Field(
        (0.02, 0.05), description="Shift of the affected leg's heel strike away from half a cycle."
    )
    limp_trunk_lean_deg: tuple[float, float] = Field(
        (2.0, 5.0), description="Dynamic lateral trunk lean over the affected leg during its stance."
    )
    fast_walk_cadence_factor: tuple[float, float] = (1.12, 1.25)
    fast_walk_step_factor: tuple[float, float] = (1.05, 1.15)


class Population(_Frozen):
    """Subject-level (between-person) variation."""

    default_prevalence: float = Field(
        0.5, ge=0.0, le=1.0, description="P(positive) when sample_subject gets no Cobb angle."
    )
    female_rate_positive: float = Field(
        0.55,
        ge=0.0,
        le=1.0,
        description="Share of girls among positives. Equal rates (default) keep sex from being a shortcut; "
        "0.79 / 0.20 reproduces ScoliGait's confound (384 F / 104 M positives, 72 F / 290 M negatives).",
    )
    female_rate_negative: float = Field(0.55, ge=0.0, le=1.0, description="Share of girls among negatives.")
    height_female_m: tuple[float, float] = (1.58, 0.06)
    height_male_m: tuple[float, float] = (1.68, 0.08)
    proportion_sd: float = Field(0.03, description="SD of the multiplicative segment-proportion factors.")
    cadence_spm: tuple[float, float] = (114.0, 7.0)
    step_length_per_height: tuple[float, float] = (0.40, 0.03)
    arm_swing_deg: tuple[float, float] = (16.0, 5.0)
    positive_cobb_shape: float = Field(1.5, description="Positives: Cobb = 10 + Gamma(shape, scale), capped.")
    positive_cobb_scale: float = 10.0
    positive_cobb_max: float = 80.0
    negative_zero_fraction: float = Field(
        0.45, ge=0.0, le=1.0, description="Negatives with Cobb exactly 0; the rest uniform in [1, 9.9]."
    )


class ClipVariation(_Frozen):
    """Within-subject (clip-to-clip) variation: clips of one person differ a little."""

    speed_sd: float = 0.04
    cadence_sd: float = 0.025
    arm_swing_sd: float = 0.10
    posture_shoulder_sd_mm: float = 2.0
    posture_shift_sd_mm: float = 3.0
    posture_lean_sd_deg: float = 0.4
    forward_lean_sd_deg: float = 0.7
    stride_time_cv: float = Field(0.015, description="Stride-to-stride timing variability.")
    step_length_sd_m: float = Field(0.012, description="Per-step foothold noise (fore-aft).")
    step_width_sd_m: float = 0.012


class SensorNoise(_Frozen):
    """2-D pose-estimator imperfections applied to the projected keypoints."""

    pixel_sd_per_body_height: float = Field(
        0.004, description="Gaussian jitter SD as a fraction of the subject's height in pixels."
    )
    far_side_noise_factor: float = 1.8
    outlier_rate: float = Field(0.004, description="Per joint and frame.")
    outlier_size: tuple[float, float] = Field((0.05, 0.25), description="Outlier displacement, body heights.")
    left_right_swap_rate: float = Field(0.01, description="Side view: frames whose legs are labelled swapped.")
    dropout_start_rate: float = Field(0.004, description="Per joint and frame: a short dropout starts.")
    far_side_dropout_factor: float = 3.0
    dropout_mean_frames: float = 3.0
    long_dropout_clip_rate: float = Field(0.15, description="P(one far-side distal joint vanishes for long).")
    long_dropout_frames: tuple[int, int] = (15, 45)
    score_near: tuple[float, float] = (0.92, 0.04)
    score_far: tuple[float, float] = (0.55, 0.12)
    score_face_hidden: tuple[float, float] = (0.30, 0.12)


class SimulationSettings(_Frozen):
    """All knobs of the simulated walker (SIMULATED data, no clinical validity).

    Defaults are documented in ``docs/SIMULATION.md``. ``label = cobb_deg >= positive_cobb_deg``.
    """

    positive_cobb_deg: float = Field(10.0, description="SRS definition of scoliosis: Cobb >= 10 deg.")
    scoliosis: ScoliosisEffects = ScoliosisEffects()
    asymmetry: NaturalAsymmetry = NaturalAsymmetry()
    confounders: Confounders = Confounders()
    population: Population = Population()
    clip: ClipVariation = ClipVariation()
    noise: SensorNoise = SensorNoise()
    focal_length_px: float | None = Field(
        None, description="None: from a 60 deg horizontal field of view of the image width."
    )
    side_distance_m: float | None = Field(
        None, description="Side camera distance; None: far enough to keep the whole walk in frame."
    )
    frontal_near_distance_m: float | None = Field(
        None, description="Closest approach in frontal clips; None: the body fills 85 % of the height."
    )
    camera_jitter_deg: float = Field(2.0, description="SD of random camera yaw/pitch (roll: half).")
