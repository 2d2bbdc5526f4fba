"""What the Screener hands an app: pydantic models with a stable JSON form.

Every result carries the model's provenance (the demo model: "trained on
simulated gait") and the screening-aid notice, so no number travels without
its caveats.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from scoligait_edge import SCREENING_NOTICE

RESULT_SCHEMA_VERSION = "scoligait-result/1"

Decision = Literal["refer", "no_referral"]
WindowStatus = Literal["screened", "skipped", "error"]
QualityFlag = Literal["not_walking", "body_not_fully_visible", "too_few_gait_cycles"]
TrackingState = Literal["searching", "locked", "lost", "external"]
"""'searching': no subject yet (or the last one gone for the tracker's ``max_lost_s``); 'locked': the walking
subject is seen in this frame; 'lost': briefly unseen, still kept; 'external': keypoints came from the caller
(:meth:`Screener.process_keypoints`), so there is no tracker."""
ImageEdge = Literal["top", "bottom", "left", "right"]


class FrameGuidance(BaseModel):
    """What one frame says about the scene, for live guidance ("step back", "walk now").

    Computed from the subject once the tracker has locked, before that from the
    most prominent person in view (the largest), so a station can guide a child
    who stands still before the first step. ``body_in_frame`` is the rule that
    makes a knowledge-map row valid (every core joint, shoulders to ankles, inside
    the image), the same rule behind a window's "whole body visible" check.
    """

    model_config = ConfigDict(frozen=True)

    people_in_view: int | None = Field(description="people the pose model found (None: keypoints from the caller)")
    body_in_frame: bool = Field(description="every core joint (shoulders to ankles) of the person inside the image")
    cut_at: list[ImageEdge] = Field(
        default_factory=list, description="image edges that cut the person off (e.g. 'bottom': the feet are out)"
    )
    walking: bool | None = Field(
        default=None, description="the tracker's walking score reaches its lock score (None: no tracker or nobody)"
    )
    row_valid: bool | None = Field(
        default=None, description="validity of the newest knowledge-map row (None: no row made by this frame)"
    )
    recording: bool = Field(
        default=False,
        description="frames feed windows: a subject has been tracked (before that nothing is counted)",
    )


class FeatureHighlight(BaseModel):
    """A knowledge-map feature the model leaned on, with when and what it means."""

    model_config = ConfigDict(frozen=True)
    name: str
    domain: str
    meaning: str
    clinical_prior: str | None = None
    start_s: float
    stop_s: float
    evidence: float


class ScreeningResult(BaseModel):
    """One 96-frame window: screened, skipped (with the reasons) or failed (with the error)."""

    schema_version: str = RESULT_SCHEMA_VERSION
    window_index: int
    status: WindowStatus
    start_ms: float
    end_ms: float
    first_frame: int = Field(description="index of the window's first 30 Hz row in the session")
    probability: float | None = None
    decision: Decision | None = None
    threshold: float
    cobb_estimate_deg: float | None = None
    steps: int = 0
    complete_cycles: int = 0
    cadence_spm: float | None = None
    valid_fraction: float = 0.0
    reasons: list[str] = Field(default_factory=list, description="why the window was skipped, in words")
    quality_flags: list[QualityFlag] = Field(default_factory=list, description="why the window was skipped, as codes")
    error: str | None = None
    description: list[str] = Field(default_factory=list, description="the window's clinical sentences (text modality)")
    top_features: list[FeatureHighlight] = Field(default_factory=list)
    input_unusual: bool | None = Field(
        default=None,
        description="the window's input lies far outside the "
        "training data (None: not scored, e.g. the bundle has no input reference)",
    )
    input_unusual_fraction: float | None = Field(
        default=None,
        description="share of knowledge-map columns far from the training centre (robust |z| > the bundle's far_z)",
    )
    backend: str | None = None
    provenance: str
    notice: str = SCREENING_NOTICE


class SessionSummary(BaseModel):
    """The session's aggregate; ``decision`` is None when nothing could be screened, and ``reason`` says why."""

    schema_version: str = RESULT_SCHEMA_VERSION
    decision: Decision | None
    reason: str | None = None
    probability_mean: float | None = None
    probability_sd: float | None = None
    probability_min: float | None = None
    probability_max: float | None = None
    threshold: float
    windows_total: int
    windows_screened: int
    windows_skipped: int
    windows_failed: int
    gait_cycles: int
    steps: int
    frames_processed: int
    frames_with_subject: int
    duration_s: float
    quality_flags: dict[str, int] = Field(default_factory=dict, description="skip codes and how many windows had each")
    windows_input_unusual: int | None = Field(
        default=None,
        description="screened windows whose input was unlike "
        "the training data (None: the bundle has no input reference)",
    )
    top_features: list[FeatureHighlight] = Field(default_factory=list)
    backend: str | None = None
    provenance: str
    notes: list[str] = Field(
        default_factory=list,
        description="what to know about the input, e.g. a video that ended before its container's frame count",
    )
    notice: str = SCREENING_NOTICE
