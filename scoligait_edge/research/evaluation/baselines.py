"""Simple baselines on the windows the fused model sees: what the data allows.

A fused classifier's test AUC means little without a reference: these are
logistic regression and gradient boosting (scikit-learn) on clip-aggregated
features, trained on the SAME train windows, tuned and thresholded on the SAME
validation clips, scored on the SAME test clips as the fused model
(:func:`scoligait_edge.research.training.pipeline.load_window_splits`). No second data
pipeline: features are computed from :class:`WindowSample` lists only.

Features (one row per clip; a clip's frames are the union of its windows'
frames, each frame counted once even where windows overlap):

* ``km`` (476): per-column mean and SD of the knowledge map over valid rows.
* ``silhouette`` (66): the binary silhouette (pixel >= 128) of each valid frame,
  in 8 horizontal bands of 8 rows; per band: |left - right| / area about the
  crop's centre column (asymmetry), the signed (left - right) / area, the mean
  row width (pixels) and the horizontal centroid offset from the centre
  column; plus the silhouette area. Per clip: mean and SD over frames (the SD
  of the centroid offset is the band's sway).

Model choice (C, tree depth / iterations) is by validation clip AUC; the
threshold is chosen on validation clips with :func:`choose_threshold`; test
metrics come from :func:`binary_metrics`, with a 95% bootstrap interval of the
test AUC that resamples test SUBJECTS (all their clips), fixed seed.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from scoligait_edge.core.constants import WINDOW_FRAMES, WINDOW_HOP
from scoligait_edge.core.schema import FEATURE_NAMES, NUM_FEATURES
from scoligait_edge.errors import OptionalDependencyError
from scoligait_edge.research.data.source import WindowSource
from scoligait_edge.research.data.splits import assert_subject_disjoint
from scoligait_edge.research.data.windows import SplitName, WindowSample
from scoligait_edge.research.evaluation.metrics import (
    BinaryMetrics,
    ClipPrediction,
    binary_metrics,
    bootstrap_auc_ci,
    clip_predictions,
    roc_auc,
)
from scoligait_edge.research.evaluation.threshold import Criterion, ThresholdChoice, choose_threshold
from scoligait_edge.video.silhouette import MASK_THRESHOLD

log = logging.getLogger(__name__)

FeatureSet = Literal["km", "silhouette"]
ModelName = Literal["logreg", "hgb"]
SPLITS: tuple[SplitName, ...] = ("train", "val", "test")
SIL_BANDS = 8
SIMULATED_BASELINE_NOTICE = (
    "SIMULATED data: these baselines measure what the simulator's cohort allows, not evidence about patients."
)
LOGREG_C_GRID: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0)
"""Strong regularisation first: with tens of validation clips, ties go to the simpler model."""
HGB_GRID: tuple[dict[str, Any], ...] = (
    {"max_depth": 2, "max_iter": 100},
    {"max_depth": 2, "max_iter": 300},
    {"max_depth": 3, "max_iter": 100},
    {"max_depth": 3, "max_iter": 300},
)
"""Small fixed grid; learning rate 0.05, min 10 samples per leaf, L2 1.0 for all."""


# -- clip features ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClipFeatures:
    """One row per clip (in order of each clip's first window), with what scoring needs."""

    X: np.ndarray
    y: np.ndarray
    clip_ids: list[str]
    subject_ids: list[str]
    feature_names: list[str]

    def __len__(self) -> int:
        return len(self.clip_ids)


def _group_by_clip(windows: Sequence[WindowSample]) -> dict[str, list[WindowSample]]:
    out: dict[str, list[WindowSample]] = {}
    for w in windows:
        out.setdefault(w.clip_id, []).append(w)
    for cid, ws in out.items():
        if len({(w.label, w.subject_id) for w in ws}) != 1:
            raise ValueError(f"windows of clip {cid!r} disagree on label or subject")
    return out


def _clip_frames(ws: Sequence[WindowSample], array: str, valid: str) -> np.ndarray:
    """Rows of ``array`` at the clip's valid frames, each frame once (windows overlap)."""
    rows: dict[int, np.ndarray] = {}
    for w in ws:
        a, v = getattr(w, array), getattr(w, valid)
        if a is None:
            continue
        ok = np.ones(a.shape[0], bool) if v is None else np.asarray(v, bool)
        for i in np.flatnonzero(ok):
            rows.setdefault(w.start + int(i), a[i])
    if not rows:
        return np.empty((0, *getattr(ws[0], array).shape[1:]))
    return np.stack([rows[k] for k in sorted(rows)])


def _mean_sd(rows: np.ndarray, width: int) -> np.ndarray:
    if rows.shape[0] == 0:
        return np.full(2 * width, np.nan)
    rows = rows.astype(np.float64)
    with warnings.catch_warnings():  # an all-NaN column stays NaN (imputed later), no warning
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.concatenate([np.nanmean(rows, axis=0), np.nanstd(rows, axis=0)])


def km_feature_names() -> list[str]:
    """``km_mean_<col>`` and ``km_sd_<col>`` for the 238 map columns."""
    return [f"km_mean_{n}" for n in FEATURE_NAMES] + [f"km_sd_{n}" for n in FEATURE_NAMES]


def silhouette_frame_features(masks: np.ndarray) -> np.ndarray:
    """Per-frame silhouette descriptors ``[F, 4 * SIL_BANDS + 1]`` from uint8 masks ``[F, H, W]``.

    Scoliosis shows as a lateral shift and left-right asymmetry of the trunk;
    these are the simplest image measures of that (see the module docstring).
    Bands with no foreground are NaN (imputed / handled by the models).
    """
    m = (np.asarray(masks, np.float64) >= MASK_THRESHOLD * 255.0).astype(np.float64)
    f, h, w = m.shape
    centre = (w - 1) / 2.0
    x = np.arange(w, dtype=np.float64) - centre
    bands = m.reshape(f, SIL_BANDS, h // SIL_BANDS, w).sum(axis=2)  # [F, B, W] pixel counts per column
    area = bands.sum(axis=2)
    left = bands[:, :, : w // 2].sum(axis=2)
    right = bands[:, :, w - w // 2 :].sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        asym_abs = np.abs(left - right) / area
        asym_signed = (left - right) / area
        centroid = (bands * x).sum(axis=2) / area
    width = area / (h // SIL_BANDS)
    empty = area == 0
    for a in (asym_abs, asym_signed, centroid):
        a[empty] = np.nan
    total = m.reshape(f, -1).mean(axis=1, keepdims=True)
    return np.concatenate([asym_abs, asym_signed, width, centroid, total], axis=1)


def silhouette_feature_names() -> list[str]:
    per_frame = [
        f"{kind}_band{b}" for kind in ("asym_abs", "asym_signed", "width", "centroid") for b in range(SIL_BANDS)
    ]
    per_frame.append("area")
    return [f"sil_mean_{n}" for n in per_frame] + [f"sil_sd_{n}" for n in per_frame]


def clip_features(windows: Sequence[WindowSample], kind: FeatureSet) -> ClipFeatures:
    """Aggregate windows into one feature row per clip (``km`` or ``silhouette``)."""
    if not windows:
        raise ValueError("no windows: nothing to aggregate")
    groups = _group_by_clip(windows)
    rows = []
    for ws in groups.values():
        if kind == "km":
            rows.append(_mean_sd(_clip_frames(ws, "km", "km_valid"), NUM_FEATURES))
        elif kind == "silhouette":
            if ws[0].silhouettes is None:
                raise ValueError(f"clip {ws[0].clip_id!r} has no silhouettes: silhouette baselines need them")
            sil = _clip_frames(ws, "silhouettes", "silhouettes_valid")
            n = 4 * SIL_BANDS + 1
            rows.append(_mean_sd(silhouette_frame_features(sil) if sil.shape[0] else np.empty((0, n)), n))
        else:
            raise ValueError(f"unknown feature set {kind!r}")
    names = km_feature_names() if kind == "km" else silhouette_feature_names()
    return ClipFeatures(
        X=np.stack(rows),
        y=np.array([ws[0].label for ws in groups.values()], np.int64),
        clip_ids=list(groups),
        subject_ids=[ws[0].subject_id for ws in groups.values()],
        feature_names=names,
    )


# -- models --------------------------------------------------------------------------------


def _sklearn():
    try:
        import sklearn  # noqa: F401, PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise OptionalDependencyError("baselines need scikit-learn: pip install scikit-learn") from exc


def make_model(name: ModelName, params: Mapping[str, Any], seed: int = 0):
    """An unfitted scikit-learn estimator: standardised L2 logistic regression or gradient boosting."""
    _sklearn()
    from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: PLC0415
    from sklearn.impute import SimpleImputer  # noqa: PLC0415
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415
    from sklearn.pipeline import make_pipeline  # noqa: PLC0415
    from sklearn.preprocessing import StandardScaler  # noqa: PLC0415

    if name == "logreg":
        return make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=float(params["C"]), class_weight="balanced", max_iter=5000),
        )
    if name == "hgb":
        return HistGradientBoostingClassifier(
            learning_rate=0.05,
            min_samples_leaf=10,
            l2_regularization=1.0,
            early_stopping=False,
            class_weight="balanced",
            random_state=seed,
            **params,
        )
    raise ValueError(f"unknown model {name!r}")


def _grid(name: ModelName) -> list[dict[str, Any]]:
    return [{"C": c} for c in LOGREG_C_GRID] if name == "logreg" else [dict(g) for g in HGB_GRID]


def _prob(model, X: np.ndarray) -> np.ndarray:
    return np.clip(model.predict_proba(X)[:, 1].astype(np.float64), 0.0, 1.0)


def bootstrap_auc(
    y: np.ndarray, score: np.ndarray, subjects: Sequence[str], *, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float | None, float | None, int]:
    """Percentile interval of the AUC, resampling SUBJECTS with all their clips (clips of one
    subject are not independent). Resamples with one class are skipped; returns (lo, hi, n used).
    (:func:`scoligait_edge.research.evaluation.metrics.bootstrap_auc_ci`, same resamples.)"""
    ci = bootstrap_auc_ci(y, score, subjects, n_boot=n_boot, seed=seed, level=level)
    return ci.lo, ci.hi, ci.n_used


# -- results -------------------------------------------------------------------------------


class GridPoint(BaseModel):
    model_config = ConfigDict(frozen=True)
    params: dict[str, Any]
    val_auc: float | None


class BaselineRow(BaseModel):
    """One feature set x model: chosen hyper-parameters, validation threshold, test metrics."""

    model_config = ConfigDict(frozen=True)

    features: FeatureSet
    model: ModelName
    n_features: int
    params: dict[str, Any]
    grid: list[GridPoint]
    val_auc: float | None
    threshold: ThresholdChoice
    test: BinaryMetrics
    test_auc_ci: tuple[float | None, float | None]
    n_boot_used: int
    test_clips: list[ClipPrediction] = Field(default_factory=list)
    """Per test clip: id, subject, label and the baseline's probability (for paired comparisons)."""

    @property
    def key(self) -> str:
        """The row's name in the ablation table, e.g. ``baseline logreg (km)``."""
        return f"baseline {self.model} ({self.features})"


class SplitCounts(BaseModel):
    model_config = ConfigDict(frozen=True)
    subjects: int
    clips: int
    windows: int
    positive_clips: int


class BaselineResults(BaseModel):
    """Every baseline on one set of splits; carries the data's provenance."""

    model_config = ConfigDict(frozen=True)

    provenance: str
    data_warning: str | None = None
    name: str = "baselines"
    splits: dict[str, SplitCounts]
    rows: list[BaselineRow]
    criterion: Criterion
    bootstrap: dict[str, Any] = Field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = Field(default_factory=list)

    @property
    def is_simulated(self) -> bool:
        return self.provenance == "simulated"

    def to_json(self, path: str | Path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        return p

    @classmethod
    def from_json(cls, path: str | Path) -> BaselineResults:
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))

    def markdown(self) -> str:
        return baselines_markdown(self)


def _f(v: float | None, nd: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{nd}f}"


def baselines_markdown(res: BaselineResults) -> str:
    """A markdown table: one row per baseline, test clip metrics with the AUC's bootstrap interval."""
    out = [f"## Baselines: {res.name} ({res.provenance.upper()} data)", ""]
    if res.data_warning:
        out += [f"> **{res.data_warning}**", ""]
    sizes = ", ".join(
        f"{s} {c.subjects} subjects / {c.clips} clips ({c.positive_clips} positive) / {c.windows} windows"
        for s, c in res.splits.items()
    )
    out += [
        f"Splits: {sizes}.",
        "",
        f"Threshold: {res.criterion} on validation clips. Test AUC interval: 95% percentile bootstrap over "
        f"test subjects ({res.bootstrap.get('n_boot')} resamples, seed {res.bootstrap.get('seed')}).",
        "",
        "| features | model | chosen | val AUC | threshold | test AUC [95% CI] | sensitivity | specificity "
        "| balanced acc. | n test clips |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res.rows:
        lo, hi = r.test_auc_ci
        params = ", ".join(f"{k}={v}" for k, v in r.params.items())
        out.append(
            f"| {r.features} ({r.n_features}) | {r.model} | {params} | {_f(r.val_auc)} | {_f(r.threshold.threshold)} "
            f"| {_f(r.test.auc)} [{_f(lo)}, {_f(hi)}] | {_f(r.test.sensitivity)} | {_f(r.test.specificity)} "
            f"| {_f(r.test.balanced_accuracy)} | {r.test.n} ({r.test.n_pos} pos) |"
        )
    for n in res.notes:
        out += ["", f"Note: {n}"]
    return "\n".join(out) + "\n"


# -- the run -------------------------------------------------------------------------------


def _fit_one(
    name: ModelName,
    tr: ClipFeatures,
    va: ClipFeatures,
    te: ClipFeatures,
    *,
    criterion: Criterion,
    n_boot: int,
    seed: int,
    kind: FeatureSet,
) -> BaselineRow:
    grid: list[GridPoint] = []
    best: tuple[float, int, Any] | None = None
    for i, params in enumerate(_grid(name)):
        model = make_model(name, params, seed).fit(tr.X, tr.y)
        auc = roc_auc(va.y, _prob(model, va.X))
        grid.append(GridPoint(params=params, val_auc=auc))
        score = -1.0 if auc is None else auc
        if best is None or score > best[0] + 1e-12:  # ties keep the earlier (simpler) point
            best = (score, i, model)
    assert best is not None
    model, params = best[2], grid[best[1]].params
    threshold = choose_threshold(va.y, _prob(model, va.X), criterion=criterion, split_name="val")
    p_test = _prob(model, te.X)
    metrics = binary_metrics(te.y, p_test, threshold.threshold)
    lo, hi, used = bootstrap_auc(te.y, p_test, te.subject_ids, n_boot=n_boot, seed=seed)
    log.info(
        "baseline %s/%s %s: val AUC %s, test AUC %s [%s, %s]",
        kind,
        name,
        params,
        _f(grid[best[1]].val_auc),
        _f(metrics.auc),
        _f(lo),
        _f(hi),
    )
    return BaselineRow(
        features=kind,
        model=name,
        n_features=tr.X.shape[1],
        params=params,
        grid=grid,
        val_auc=grid[best[1]].val_auc,
        threshold=threshold,
        test=metrics,
        test_auc_ci=(lo, hi),
        n_boot_used=used,
        test_clips=clip_predictions(te.clip_ids, te.subject_ids, te.y, p_test),
    )


def run_baselines(
    source_or_windows: WindowSource | Mapping[str, Sequence[WindowSample]],
    *,
    feature_sets: Sequence[FeatureSet] = ("km", "silhouette"),
    models: Sequence[ModelName] = ("logreg", "hgb"),
    criterion: Criterion = "youden",
    n_boot: int = 2000,
    seed: int = 0,
    provenance: str | None = None,
    name: str = "baselines",
    length: int = WINDOW_FRAMES,
    hop: int = WINDOW_HOP,
    require_quality: bool = True,
    threads: int | None = 1,
) -> BaselineResults:
    """Fit every (feature set, model) on train clips, tune and threshold on val, score test.

    ``source_or_windows``: a prepared :class:`WindowSource` (windows cut with
    ``length``/``hop``/``require_quality``) or windows per split, e.g.
    ``load_window_splits(cfg).windows``, so the splits are the fused model's.
    A feature set the data cannot give (no silhouettes) is skipped with a note.
    ``threads`` caps scikit-learn's OpenMP/BLAS threads: on a few hundred clips
    one thread is fastest, and on a shared machine uncapped gradient boosting
    ran ~50x slower (thread oversubscription). None leaves the libraries' default.
    """
    _sklearn()
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # noqa: PLC0415 - a scikit-learn dependency, untyped

    with threadpool_limits(limits=threads):
        return _run(
            source_or_windows,
            feature_sets=feature_sets,
            models=models,
            criterion=criterion,
            n_boot=n_boot,
            seed=seed,
            provenance=provenance,
            name=name,
            length=length,
            hop=hop,
            require_quality=require_quality,
        )


def _split_windows(
    source_or_windows: WindowSource | Mapping[str, Sequence[WindowSample]],
    *,
    length: int,
    hop: int,
    require_quality: bool,
) -> tuple[dict[str, list[WindowSample]], str | None]:
    """The windows of every split (cut from the source, or as given) and the source's provenance (None for
    given windows); the splits must be subject-disjoint and none empty."""
    windows: dict[str, list[WindowSample]]
    provenance = None
    if isinstance(source_or_windows, WindowSource):
        windows = {
            s: source_or_windows.windows(s, length=length, hop=hop, require_quality=require_quality) for s in SPLITS
        }
        provenance = source_or_windows.provenance
    else:
        missing = [s for s in SPLITS if s not in source_or_windows]
        if missing:
            raise ValueError(f"windows for splits {missing} are missing")
        windows = {s: list(source_or_windows[s]) for s in SPLITS}
    assert_subject_disjoint(windows)
    for s in SPLITS:
        if not windows[s]:
            raise ValueError(f"the {s} split has no windows")
    return windows, provenance


def _fit_rows(
    windows: Mapping[str, list[WindowSample]],
    feature_sets: Sequence[FeatureSet],
    models: Sequence[ModelName],
    *,
    criterion: Criterion,
    n_boot: int,
    seed: int,
    notes: list[str],
) -> list[BaselineRow]:
    """One fitted and tested row per feature set and model; a silhouette set is skipped (with a note) when
    some window has no silhouettes."""
    rows: list[BaselineRow] = []
    for kind in feature_sets:
        if kind == "silhouette" and any(w.silhouettes is None for s in SPLITS for w in windows[s]):
            notes.append("silhouette baselines skipped: some windows have no silhouettes")
            log.warning(notes[-1])
            continue
        feats = {s: clip_features(windows[s], kind) for s in SPLITS}
        assert_subject_disjoint({s: feats[s].subject_ids for s in SPLITS})
        for name_ in models:
            rows.append(
                _fit_one(
                    name_,
                    feats["train"],
                    feats["val"],
                    feats["test"],
                    criterion=criterion,
                    n_boot=n_boot,
                    seed=seed,
                    kind=kind,
                )
            )
    return rows


def _run(
    source_or_windows: WindowSource | Mapping[str, Sequence[WindowSample]],
    *,
    feature_sets: Sequence[FeatureSet],
    models: Sequence[ModelName],
    criterion: Criterion,
    n_boot: int,
    seed: int,
    provenance: str | None,
    name: str,
    length: int,
    hop: int,
    require_quality: bool,
) -> BaselineResults:
    t0 = time.perf_counter()
    windows, source_provenance = _split_windows(
        source_or_windows, length=length, hop=hop, require_quality=require_quality
    )
    provenance = provenance or source_provenance or windows["train"][0].provenance
    sizes = {
        s: SplitCounts(
            subjects=len({w.subject_id for w in ws}),
            clips=len({w.clip_id for w in ws}),
            windows=len(ws),
            positive_clips=len({w.clip_id for w in ws if w.label}),
        )
        for s, ws in windows.items()
    }
    notes: list[str] = []
    rows = _fit_rows(windows, feature_sets, models, criterion=criterion, n_boot=n_boot, seed=seed, notes=notes)
    if sizes["val"].clips < 30:
        notes.append(f"only {sizes['val'].clips} validation clips: hyper-parameters and thresholds are noisy")
    return BaselineResults(
        provenance=provenance,
        data_warning=SIMULATED_BASELINE_NOTICE if provenance == "simulated" else None,
        name=name,
        splits=sizes,
        rows=rows,
        criterion=criterion,
        bootstrap={"n_boot": n_boot, "seed": seed, "unit": "test subject", "level": 0.95},
        seconds=round(time.perf_counter() - t0, 1),
        notes=notes,
    )
