"""Out-of-distribution check: is a window's input like the model's training windows? (no torch)

A model trained on one kind of input (side/frontal walking, upright camera)
gives confident numbers on anything; this check says when the numbers rest on
input it never saw. :class:`InputReference` holds, per knowledge-map column,
a robust centre and scale of the *window-level column means* (mean over a
window's valid rows) of the TRAINING windows: the median and 1.4826 x MAD
(the MAD scaled to a standard deviation for normal data), the scale floored so
a near-constant column cannot make every deviation "far".

Scoring (:meth:`InputReference.score_window`): a column is *far* when the
window's column mean lies more than ``far_z`` robust standard deviations from
the training median; the window is *flagged* (input unlike the training data)
when more than ``flag_fraction`` of the scored columns are far. A few odd
columns are normal (a wild joint angle); more mean the camera, the person or
the pose estimate is unlike anything in training. The defaults (|z| > 8 in
more than 6 % of the columns, i.e. 15 of 238) are low because most of the map
is built from relative distances and angles, which barely move even when the
camera is upside down: on the demo model, training/val/test windows reach at
most 5 % far columns and upside-down walks at least 7 %; figures in docs/BUNDLES.md. A window with no valid rows or no scorable columns gets no verdict (None).

The reference travels in the bundle as ``input_reference.json``, listed and
hashed in the manifest (``BundleManifest.input_reference``) and so covered by
its signature; bundles without it load as before and their windows carry no flag.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

log = logging.getLogger(__name__)

INPUT_REFERENCE_NAME = "input_reference.json"
MAD_TO_SD = 1.4826
DEFAULT_FAR_Z = 8.0
DEFAULT_FLAG_FRACTION = 0.06


class InputReference(BaseModel):
    """Per-column robust statistics of training windows and the rule that flags an unusual window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["scoligait-input-reference/1"] = "scoligait-input-reference/1"
    statistic: Literal["window column mean over valid rows"] = "window column mean over valid rows"
    n_windows: int = Field(ge=1, description="training windows the statistics were fitted on")
    center: list[float] = Field(min_length=1, max_length=4096, description="median per column")
    scale: list[float] = Field(min_length=1, max_length=4096, description="1.4826 x MAD per column, floored")
    far_z: float = Field(default=DEFAULT_FAR_Z, gt=0, le=1e3, allow_inf_nan=False)
    flag_fraction: float = Field(default=DEFAULT_FLAG_FRACTION, gt=0, lt=1, allow_inf_nan=False)
    source: str = Field(default="", max_length=2000, description="which windows, e.g. 'train split of configs/...'")

    @model_validator(mode="after")
    def _shapes(self) -> InputReference:
        if len(self.center) != len(self.scale):
            raise ValueError(f"center has {len(self.center)} columns but scale has {len(self.scale)}")
        c, s = np.asarray(self.center), np.asarray(self.scale)
        if not (np.isfinite(c).all() and np.isfinite(s).all() and (s > 0).all()):
            raise ValueError("center and scale must be finite and every scale > 0")
        return self

    @property
    def n_columns(self) -> int:
        return len(self.center)

    def score_window(self, km: np.ndarray, valid: np.ndarray) -> tuple[float | None, bool | None]:
        """(fraction of columns far from the training centre, flagged) for one window ``km [L, F]``,
        ``valid [L]``; (None, None) when the window has no valid rows to score."""
        z = self.window_z(km, valid)
        if z is None:
            return None, None
        finite = np.isfinite(z)
        if not finite.any():
            return None, None
        fraction = float(np.mean(np.abs(z[finite]) > self.far_z))
        return fraction, fraction > self.flag_fraction

    def window_z(self, km: np.ndarray, valid: np.ndarray) -> np.ndarray | None:
        """Robust z of each column's window mean (NaN where the column had no finite value)."""
        means = window_means(np.asarray(km)[None], np.asarray(valid)[None])[0]
        if means.shape[0] != self.n_columns:
            raise ValueError(f"window has {means.shape[0]} columns, the input reference {self.n_columns}")
        if not np.isfinite(means).any():
            return None
        z: np.ndarray = (means - np.asarray(self.center)) / np.asarray(self.scale)
        return z


def window_means(km: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Column means over each window's valid rows: ``km [N, L, F]``, ``valid [N, L]`` -> ``[N, F]`` (NaN if none)."""
    km = np.asarray(km, dtype=np.float64)
    mask = np.asarray(valid, dtype=bool)[..., None] & np.isfinite(km)
    counts = mask.sum(axis=1)
    sums = np.where(mask, km, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def fit_input_reference(
    km_windows: np.ndarray,
    valid_windows: np.ndarray,
    *,
    far_z: float = DEFAULT_FAR_Z,
    flag_fraction: float = DEFAULT_FLAG_FRACTION,
    source: str = "",
    min_scale: float = 1e-3,
) -> InputReference:
    """The reference from TRAINING windows (``km [N, L, F]``, ``valid [N, L]``).

    The scale is floored at ``min_scale`` and at 1 % of the column's typical magnitude
    so that columns constant in training (e.g. always 0) do not flag every real window.
    """
    means = window_means(km_windows, valid_windows)
    usable = np.isfinite(means).any(axis=1)
    if not usable.any():
        raise ValueError("no training window has a valid row: cannot fit an input reference")
    means = means[usable]
    center = np.nanmedian(means, axis=0)
    mad = np.nanmedian(np.abs(means - center), axis=0)
    center = np.where(np.isfinite(center), center, 0.0)
    floor = np.maximum(min_scale, 0.01 * np.abs(center))
    scale = np.where(np.isfinite(mad), np.maximum(MAD_TO_SD * mad, floor), 1.0)
    log.info("input reference fitted on %d windows x %d columns", int(usable.sum()), means.shape[1])
    return InputReference(
        n_windows=int(usable.sum()),
        center=center.tolist(),
        scale=scale.tolist(),
        far_z=far_z,
        flag_fraction=flag_fraction,
        source=source,
    )
