"""The finite, versioned sentence set of the text modality, and the text features it describes.

Why a finite set: the paper's clinical text is encoded by all-MiniLM-L6-v2; if
every sentence a window can receive is known in advance, its embeddings are a
stored table and the edge device needs no text transformer (see
``embeddings.py``). A sentence is ``text feature x direction x severity`` (plus
one "typical" sentence per feature and one "not assessable" sentence).

Each text feature is a named statistic over named knowledge-map columns (by
``FEATURE_SCHEMA`` name, never by index), computed over a window's valid rows
(``features.py``). Signs are anatomical: a positive value always means the
feature's ``positive`` direction (e.g. "to the left", "left shoulder higher"),
whatever the camera view.

Stability rules: sentence ids are assigned in the order below and never reused;
changing any text needs a new ``TEXT_SCHEMA_VERSION`` and a rebuilt embedding
table (the sentence hash changes and the tests pin it); changing a feature
definition or threshold changes ``text_features_hash`` and needs refitted
reference statistics; new features are appended so earlier ids keep their meaning.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scoligait_edge.core.schema import CLINICAL_PRIORS, FEATURE_NAMES

TEXT_SCHEMA_VERSION = 1
"""Bump on any change to the sentences: it names the embedding table. Changes to the text features' definitions
or thresholds change :func:`text_features_hash`, which fitted reference statistics record and are checked against
(with the knowledge-map schema hash), so the sentences and their table can stay (as for knowledge-map v2)."""

Severity = Literal["typical", "mild", "moderate", "pronounced"]
SEVERITIES: tuple[Severity, ...] = ("mild", "moderate", "pronounced")
SEVERITY_THRESHOLDS: dict[Severity, float] = {"mild": 1.5, "moderate": 2.5, "pronounced": 3.5}
"""Minimum |z| (robust z-score against training negatives) for each severity."""

DirectionSign = Literal[1, -1]
View = Literal["toward", "away", "side_right", "side_left"]
"""Camera view of a window, from its own kinematics: walking toward / away from the
camera, or side-on with the subject's right / left side nearer the camera."""
VIEWS: tuple[View, ...] = ("toward", "away", "side_right", "side_left")
FRONTAL_VIEWS: tuple[View, ...] = ("toward", "away")
Statistic = Literal["mean", "std"]

MIN_VALID_ROWS = 16
"""A window with fewer usable rows (about half a gait cycle at 30 Hz) is not assessable."""
FRONTAL_MIN_WIDTH = 0.13
"""A window is frontal when the median of the subject's left-minus-right x, averaged over
shoulders and hips (body-size units), reaches this; side-on it is near 0. On simulated
walks frontal windows gave |width| >= 0.17 and side-on ones <= 0.11."""

NOT_ASSESSABLE_ID = 0
NOT_ASSESSABLE_TEXT = "gait kinematics not assessable in this window"


class Term(BaseModel):
    """One knowledge-map column's contribution to a text feature's per-row signal."""

    model_config = ConfigDict(frozen=True)

    column: str = Field(description="FEATURE_SCHEMA name, e.g. 'mid_hip->mid_shoulder.dx'.")
    coef: float = 1.0
    magnitude: bool = Field(False, description="Use |value| (e.g. unsigned widths, mirrored angles).")

    @model_validator(mode="after")
    def _known_column(self) -> Term:
        if self.column not in FEATURE_NAMES:
            raise ValueError(f"unknown knowledge-map column {self.column!r}")
        return self


class DirectionSpec(BaseModel):
    """How one sign of a text feature is phrased; ``template`` has a ``{severity}`` slot."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="Short anatomical direction, e.g. 'left', 'reduced'.")
    template: str


class TextFeature(BaseModel):
    """A window-level summary of knowledge-map columns for one clinical prior.

    Per valid row: ``signal = sum(coef * (|col| if magnitude else col))``; the
    window value is ``statistic`` of that signal over the rows. Rows missing an
    optional joint (a ``presence`` column exactly 0: the map zero-fills NaN) are
    skipped. ``frontal_only`` features are not observable side-on; with
    ``mirror`` the value is an image-x quantity that is turned into the subject's
    own left (+) / right (-) using the window's shoulder and hip lines.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    label: str
    prior: str | None = Field(description="CLINICAL_PRIORS key, or None for literature-only priors.")
    terms: tuple[Term, ...]
    statistic: Statistic = "mean"
    frontal_only: bool = False
    mirror: bool = False
    presence: tuple[str, ...] = ()
    positive: DirectionSpec | None
    negative: DirectionSpec | None
    typical: str

    @model_validator(mode="after")
    def _check(self) -> TextFeature:
        if self.prior is not None and self.prior not in CLINICAL_PRIORS:
            raise ValueError(f"{self.id}: unknown clinical prior {self.prior!r}")
        for c in self.presence:
            if c not in FEATURE_NAMES:
                raise ValueError(f"{self.id}: unknown presence column {c!r}")
        if self.positive is None and self.negative is None:
            raise ValueError(f"{self.id}: needs at least one direction")
        return self

    def direction(self, sign: int) -> DirectionSpec | None:
        return self.positive if sign > 0 else self.negative


def _d(name: str, template: str) -> DirectionSpec:
    return DirectionSpec(name=name, template=template)


def _t(column: str, coef: float = 1.0, magnitude: bool = False) -> Term:
    return Term(column=column, coef=coef, magnitude=magnitude)


# Order matters: it fixes the sentence ids. Append only.
TEXT_FEATURES: tuple[TextFeature, ...] = (
    TextFeature(
        id="trunk_lateral_shift",
        label="trunk lateral shift",
        prior="trunk_lateral_shift",
        terms=(_t("left_shoulder.x", 0.5), _t("right_shoulder.x", 0.5)),
        frontal_only=True,
        mirror=True,  # mid-shoulder x
        positive=_d("left", "{severity} trunk lateral shift to the left"),
        negative=_d("right", "{severity} trunk lateral shift to the right"),
        typical="trunk lateral shift within the typical range",
    ),
    TextFeature(
        id="shoulder_height_difference",
        label="shoulder height difference",
        prior="shoulder_tilt",
        terms=(_t("left_shoulder.y"), _t("right_shoulder.y", -1.0)),  # left.y - right.y: + = left higher
        positive=_d("left higher", "{severity} elevation of the left shoulder"),
        negative=_d("right higher", "{severity} elevation of the right shoulder"),
        typical="shoulders level",
    ),
    TextFeature(
        id="pelvic_tilt",
        label="pelvic obliquity",
        prior="pelvic_tilt",
        terms=(_t("left_hip.y", 2.0),),  # hip-centred: left.y - right.y = 2 left.y
        positive=_d("left higher", "{severity} pelvic obliquity with the left hip higher"),
        negative=_d("right higher", "{severity} pelvic obliquity with the right hip higher"),
        typical="pelvis level",
    ),
    TextFeature(
        id="head_pelvis_offset",
        label="head-pelvis lateral offset",
        prior="head_pelvis_offset",
        terms=(_t("nose.x"),),
        frontal_only=True,
        mirror=True,
        presence=("nose.y",),
        positive=_d("left", "{severity} lateral offset of the head to the left of the pelvis"),
        negative=_d("right", "{severity} lateral offset of the head to the right of the pelvis"),
        typical="head centred over the pelvis",
    ),
    TextFeature(
        id="ear_line_tilt",
        label="ear-line tilt",
        prior="ear_line_tilt",
        terms=(_t("left_ear.y"), _t("right_ear.y", -1.0)),
        presence=("left_ear.y", "right_ear.y"),
        positive=_d("left higher", "{severity} ear-line tilt with the left ear higher"),
        negative=_d("right higher", "{severity} ear-line tilt with the right ear higher"),
        typical="ear line level",
    ),
    TextFeature(
        # wrist speed relative to the pelvis, left minus right: + = the left arm swings more
        id="arm_swing_asymmetry",
        label="arm swing asymmetry",
        prior="arm_swing_asymmetry",
        terms=(
            _t("vel:left_wrist.x", 0.5, magnitude=True),
            _t("vel:left_wrist.y", 0.5, magnitude=True),
            _t("vel:right_wrist.x", -0.5, magnitude=True),
            _t("vel:right_wrist.y", -0.5, magnitude=True),
        ),
        positive=_d("right reduced", "{severity} reduction of right arm swing"),
        negative=_d("left reduced", "{severity} reduction of left arm swing"),
        typical="symmetric arm swing",
    ),
    TextFeature(
        # frontal only: seen from the side the ankles' x gap is step length, not width
        id="step_width",
        label="step width",
        prior="step_width",
        terms=(_t("dist[left_ankle | right_ankle]"),),
        frontal_only=True,
        positive=_d("increased", "{severity} increase in step width"),
        negative=_d("reduced", "{severity} reduction in step width"),
        typical="step width within the typical range",
    ),
    TextFeature(
        id="ankle_height_difference",
        label="ankle height difference",
        prior="ankle_height_difference",
        terms=(_t("left_ankle.y"), _t("right_ankle.y", -1.0)),
        positive=_d("left higher", "{severity} ankle height difference with the left ankle higher"),
        negative=_d("right higher", "{severity} ankle height difference with the right ankle higher"),
        typical="ankle heights symmetric",
    ),
    TextFeature(
        # the waist triangle is a frontal-plane gap; its angles are mirrored, hence |left| - |right|
        id="waist_triangle_asymmetry",
        label="waist-triangle asymmetry",
        prior="waist_triangle_asymmetry",
        terms=(_t("angle:left_waist_triangle", magnitude=True), _t("angle:right_waist_triangle", -1.0, magnitude=True)),
        frontal_only=True,
        positive=_d("left larger", "{severity} waist-triangle asymmetry with the larger gap on the left"),
        negative=_d("right larger", "{severity} waist-triangle asymmetry with the larger gap on the right"),
        typical="waist triangles symmetric",
    ),
    TextFeature(
        id="trunk_height_variability",
        label="trunk height variability",
        prior="trunk_height",
        terms=(_t("dist[mid_hip | mid_shoulder]"),),
        statistic="std",
        positive=_d("increased", "{severity} increase in trunk height variability"),
        negative=_d("reduced", "{severity} reduction in trunk height variability"),
        typical="trunk height variability within the typical range",
    ),
    TextFeature(
        # normal gait alternates (anti-phase, corr near -1): value = -mean corr; only a loss is a finding
        id="left_right_coordination",
        label="left/right coordination",
        prior=None,
        terms=(
            _t("xcorr0[left_wrist.x | right_wrist.x]", -1 / 3),
            _t("xcorr0[left_ankle.y | right_ankle.y]", -1 / 3),
            _t("xcorr0[left_hip_angle | right_hip_angle]", -1 / 3),
        ),
        positive=None,
        negative=_d("reduced", "{severity} reduction of left/right coordination"),
        typical="left/right coordination within the typical range",
    ),
)
TEXT_FEATURE_IDS: tuple[str, ...] = tuple(f.id for f in TEXT_FEATURES)
NUM_TEXT_FEATURES = len(TEXT_FEATURES)


class Sentence(BaseModel):
    """One entry of the sentence set; ``id`` is also its row in the embedding table."""

    model_config = ConfigDict(frozen=True)

    id: int
    text: str
    feature: str | None = Field(description="Text feature id; None for the 'not assessable' sentence.")
    direction: str | None = None
    sign: int = Field(0, description="+1 / -1 for a direction, 0 for typical / not assessable.")
    severity: Severity | None = None


def _build_sentences() -> tuple[Sentence, ...]:
    out = [Sentence(id=NOT_ASSESSABLE_ID, text=NOT_ASSESSABLE_TEXT, feature=None)]

    def add(**kw: object) -> None:
        out.append(Sentence(id=len(out), **kw))

    for f in TEXT_FEATURES:
        add(text=f.typical, feature=f.id, severity="typical")
        for sign in (1, -1):
            d = f.direction(sign)
            if d is None:
                continue
            for sev in SEVERITIES:
                add(text=d.template.format(severity=sev), feature=f.id, direction=d.name, sign=sign, severity=sev)
    return tuple(out)


SENTENCES: tuple[Sentence, ...] = _build_sentences()
SENTENCE_TEXTS: tuple[str, ...] = tuple(s.text for s in SENTENCES)
NUM_SENTENCES = len(SENTENCES)

assert len(set(SENTENCE_TEXTS)) == NUM_SENTENCES, "sentence texts must be unique"
assert len(set(TEXT_FEATURE_IDS)) == NUM_TEXT_FEATURES, "text feature ids must be unique"


@cache
def _index() -> dict[tuple[str | None, int, str | None], int]:
    return {(s.feature, s.sign, s.severity): s.id for s in SENTENCES}


def sentence_id(feature: str, sign: int = 0, severity: Severity = "typical") -> int:
    """Id of ``feature``'s sentence for a direction sign (+1/-1) and severity; sign 0 = typical."""
    key = (feature, 0 if severity == "typical" else int(sign), severity)
    try:
        return _index()[key]
    except KeyError:
        raise KeyError(f"no sentence for feature={feature!r} sign={sign} severity={severity!r}") from None


def _sha(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@cache
def sentence_set_hash() -> str:
    """sha256 over the version, ids and texts: what an embedding table depends on."""
    return _sha({"version": TEXT_SCHEMA_VERSION, "sentences": [[s.id, s.text] for s in SENTENCES]})


@cache
def text_features_hash() -> str:
    """sha256 over the sentences, feature definitions and severity thresholds:
    what fitted reference statistics and descriptions depend on."""
    return _sha(
        {
            "version": TEXT_SCHEMA_VERSION,
            "sentences": [s.model_dump() for s in SENTENCES],
            "features": [f.model_dump() for f in TEXT_FEATURES],
            "thresholds": SEVERITY_THRESHOLDS,
            "min_valid_rows": MIN_VALID_ROWS,
            "frontal_min_width": FRONTAL_MIN_WIDTH,
        }
    )
