"""Evaluation reports (JSON + markdown) and the ablation table, with the paper's numbers beside ours.

Every report carries the screening notice; a report on simulated data also
carries "Simulated data, not clinical evidence." at the top of both files, so
a number can never be quoted without its provenance.

About the paper's numbers (ScoliGait Tables 2 and 3, kept in
:data:`PAPER_RESULTS`): they come from real clinical data (300
subject-disjoint test clips), ours from simulated gait, so the two are shown in
separate tables and never mixed. Table 1 gives 212 positive / 88 negative test
subjects, but the accuracies only add up if the table's "Positive Class"
columns have a support of about 88 (e.g. video: 0.306 x 88 + 0.669 x 212 =
169 = 0.563 x 300): either the class counts or the class names are swapped.
The footnote of :func:`ablation_table` says so.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from scoligait_edge import SCREENING_NOTICE, __version__
from scoligait_edge.research.evaluation.metrics import AucDifference, AucInterval, BinaryMetrics, StratifiedMetrics
from scoligait_edge.research.evaluation.threshold import ThresholdChoice

log = logging.getLogger(__name__)

SIMULATED_DATA_LINE = "Simulated data, not clinical evidence."

# (key, label, metric attribute) of the paper's Table 2 / 3 columns, then AUC.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("acc", "Acc", "accuracy"),
    ("macro_f1", "macro F1", "macro_f1"),
    ("pos_p", "Pos P", "pos_precision"),
    ("pos_r", "Pos R", "pos_recall"),
    ("pos_f1", "Pos F1", "pos_f1"),
    ("neg_p", "Neg P", "neg_precision"),
    ("neg_r", "Neg R", "neg_recall"),
    ("neg_f1", "Neg F1", "neg_f1"),
    ("auc", "AUC", "auc"),
)


# ------------------------------------------------------------------ the paper's numbers
class PaperRow(BaseModel):
    """One row of the paper's Table 2 or 3 (real clinical data; the paper reports no AUC)."""

    model_config = ConfigDict(frozen=True)

    key: str
    label: str
    table: Literal["Table 2", "Table 3"]
    acc: float
    macro_f1: float
    pos_p: float
    pos_r: float
    pos_f1: float
    neg_p: float
    neg_r: float
    neg_f1: float


def _paper(key: str, label: str, table: Literal["Table 2", "Table 3"], *v: float) -> PaperRow:
    names = ("acc", "macro_f1", "pos_p", "pos_r", "pos_f1", "neg_p", "neg_r", "neg_f1")
    return PaperRow(key=key, label=label, table=table, **dict(zip(names, v, strict=True)))


PAPER_RESULTS: dict[str, PaperRow] = {
    r.key: r
    for r in (
        _paper("video", "Video", "Table 2", 0.563, 0.488, 0.278, 0.306, 0.291, 0.699, 0.669, 0.684),
        _paper("km", "Knowledge Map", "Table 2", 0.580, 0.520, 0.320, 0.386, 0.350, 0.721, 0.660, 0.689),
        _paper("km+video", "Knowledge Map + Video", "Table 2", 0.640, 0.562, 0.383, 0.375, 0.379, 0.743, 0.750, 0.746),
        _paper(
            "km+video+text",
            "Knowledge Map + Video + Text",
            "Table 2",
            0.700,
            0.619,
            0.486,
            0.409,
            0.444,
            0.769,
            0.820,
            0.794,
        ),
        _paper("sconet_mt_1:1:2", "ScoNet-MT 1:1:2", "Table 2", 0.644, 0.439, 0.333, 0.054, 0.093, 0.694, 0.900, 0.784),
        _paper("sconet_mt_1:1:4", "ScoNet-MT 1:1:4", "Table 2", 0.648, 0.457, 0.275, 0.087, 0.132, 0.697, 0.891, 0.782),
        _paper("sconet_mt_1:1:8", "ScoNet-MT 1:1:8", "Table 2", 0.651, 0.416, 0.166, 0.021, 0.038, 0.695, 0.924, 0.793),
        _paper(
            "sconet_mt_1:1:16", "ScoNet-MT 1:1:16", "Table 2", 0.664, 0.457, 0.318, 0.076, 0.122, 0.696, 0.919, 0.792
        ),
        _paper("cat", "Aligned Cat", "Table 3", 0.550, 0.495, 0.292, 0.375, 0.328, 0.705, 0.622, 0.661),
        _paper("cat_att", "Aligned Cat+Att", "Table 3", 0.610, 0.531, 0.337, 0.341, 0.339, 0.725, 0.721, 0.723),
        _paper("cat_latent", "Aligned Cat+Latent", "Table 3", 0.640, 0.562, 0.383, 0.375, 0.379, 0.743, 0.750, 0.746),
        _paper(
            "cat_latent_non_aligned",
            "Non-aligned Cat+Latent",
            "Table 3",
            0.623,
            0.531,
            0.341,
            0.306,
            0.323,
            0.724,
            0.754,
            0.739,
        ),
    )
}
PAPER_TEST_CLIPS = 300
PAPER_CLASS_NOTE = (
    "The paper's Table 1 lists 212 positive / 88 negative test subjects, but its accuracies only add up if the "
    "'Positive Class' columns have a support of about 88 (e.g. video: 0.306 x 88 + 0.669 x 212 = 169 = 0.563 x 300): "
    "the class counts or the class names are swapped there. Compare class columns with that in mind."
)


# ------------------------------------------------------------------ report
class SplitSizes(BaseModel):
    """How much data a split holds; positives are subjects with Cobb >= 10 degrees."""

    model_config = ConfigDict(frozen=True)

    subjects: int = Field(ge=0)
    clips: int = Field(ge=0)
    windows: int | None = Field(default=None, ge=0)
    positives: int = Field(ge=0, description="positive subjects")
    positive_clips: int | None = Field(default=None, ge=0)
    sex_by_class: dict[str, dict[str, int]] | None = Field(
        default=None, description='subjects per sex and class, e.g. {"F": {"pos": 30, "neg": 6}}: shows the confound'
    )


class LevelResult(BaseModel):
    """Results at one level: "clip" (one score per clip, as the paper) or "window"."""

    model_config = ConfigDict(frozen=True)

    metrics: BinaryMetrics
    stratified: StratifiedMetrics | None = None
    cobb_mae_deg: float | None = None


class EvaluationReport(BaseModel):
    """One model's evaluation on one split, with the provenance of every number."""

    data_warning: str | None = None
    """Filled in automatically: the simulated-data line when ``provenance`` is simulated."""
    notice: str = SCREENING_NOTICE
    model_name: str
    config_summary: dict[str, Any] = Field(default_factory=dict)
    provenance: str = Field(description='"simulated", "real", ... where the evaluated data came from')
    evaluated_split: str = "test"
    splits: dict[str, SplitSizes] = Field(default_factory=dict)
    threshold: ThresholdChoice
    primary_level: Literal["clip", "window"] = "clip"
    levels: dict[Literal["clip", "window"], LevelResult]
    figures: dict[str, str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    created_utc: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    package_version: str = __version__

    @property
    def is_simulated(self) -> bool:
        return self.provenance.strip().lower().startswith("sim")

    @model_validator(mode="after")
    def _check(self) -> EvaluationReport:
        if self.notice != SCREENING_NOTICE:
            raise ValueError("the screening notice cannot be changed")
        if self.is_simulated:
            self.data_warning = SIMULATED_DATA_LINE
        if self.primary_level not in self.levels:
            raise ValueError(f"primary level {self.primary_level!r} has no results; levels: {sorted(self.levels)}")
        for name, lv in self.levels.items():
            if not math.isclose(lv.metrics.threshold, self.threshold.threshold, abs_tol=1e-9):
                raise ValueError(
                    f"{name} metrics use threshold {lv.metrics.threshold}, the report's is {self.threshold.threshold}"
                )
        return self

    # ---------------------------------------------------------------- outputs
    def to_json(self, path: str | Path) -> Path:
        """Write the report as JSON (warning and notice first)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.model_dump(mode="json"), indent=2, allow_nan=False) + "\n")
        log.info("wrote %s", path)
        return path

    @classmethod
    def from_json(cls, path: str | Path) -> EvaluationReport:
        return cls.model_validate_json(Path(path).read_text())

    def markdown(self, relative_to: str | Path | None = None) -> str:
        """The report as markdown; figure links are made relative to ``relative_to`` (a folder) if given."""
        out = self._md_header() + self._md_data() + self._md_threshold() + self._md_results()
        out += self._md_stratified() + self._md_details(relative_to)
        out += ["", "---", ""]
        if self.data_warning:
            out += [f"*{self.data_warning}*", ""]
        out += [f"*{self.notice}*", ""]
        return "\n".join(out)

    def _md_header(self) -> list[str]:
        """Title, then the data warning and the screening notice before any number, then provenance."""
        out: list[str] = [f"# Evaluation: {self.model_name}", ""]
        if self.data_warning:
            out += [f"> **{self.data_warning}**", ">"]
        out += [f"> **{self.notice}**", ""]
        out += [
            f"- provenance: **{self.provenance}**",
            f"- evaluated split: `{self.evaluated_split}`; primary level: **{self.primary_level}**"
            + (
                " (one score per clip: the mean of its windows, as the paper scores clips)"
                if self.primary_level == "clip"
                else ""
            ),
            f"- created {self.created_utc}, scoligait_edge {self.package_version}",
            "",
        ]
        return out

    def _md_data(self) -> list[str]:
        """Split sizes, with subjects per sex and class where known (the sex confound)."""
        if not self.splits:
            return []
        out = [
            "## Data",
            "",
            "| split | subjects | clips | windows | positive subjects | positive clips | sex x class (subjects) |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, s in self.splits.items():
            sex = (
                ""
                if not s.sex_by_class
                else "; ".join(
                    f"{g}: {c.get('pos', 0)} pos / {c.get('neg', 0)} neg" for g, c in sorted(s.sex_by_class.items())
                )
            )
            out.append(
                f"| {name} | {s.subjects} | {s.clips} | {_opt(s.windows)} | {s.positives} | {_opt(s.positive_clips)} | {sex} |"
            )
        out.append("")
        return out

    def _md_threshold(self) -> list[str]:
        """The threshold, where and how it was chosen, and its warning if any."""
        th = self.threshold
        out = [
            "## Threshold",
            "",
            f"{th.threshold:.4f}, chosen on the **{th.source}** split `{th.split_name}` by {th.criterion}"
            + (f" ({th.criterion} = {th.score:.3f})" if th.score is not None else "")
            + f", n = {th.n}, {th.n_pos} positive. Positive when P(Cobb ≥ 10°) ≥ threshold.",
            "",
        ]
        if th.warning:
            out += [f"**Warning:** {th.warning}", ""]
        return out

    def _md_results(self) -> list[str]:
        """One metrics row per level (clip first), then each level's notes."""
        out = [
            "## Results",
            "",
            _metrics_header(["level", "n", "pos"], extra=["Sens", "Spec", "TN", "FP", "FN", "TP"]),
        ]
        for name in ("clip", "window"):
            if name in self.levels:
                m = self.levels[name].metrics
                out.append(
                    _metrics_row(
                        [name, str(m.n), str(m.n_pos)],
                        m,
                        extra=[_f(m.sensitivity), _f(m.specificity), str(m.tn), str(m.fp), str(m.fn), str(m.tp)],
                    )
                )
        out.append("")
        for name, lv in self.levels.items():
            if lv.metrics.notes:
                out += [f"- {name}: " + "; ".join(lv.metrics.notes)]
        return out

    def _md_stratified(self) -> list[str]:
        """Per-group tables per level; by sex, a reminder that the paper's cohort is sex-confounded."""
        out: list[str] = []
        levels: tuple[Literal["clip", "window"], ...] = ("clip", "window")
        for name in levels:
            level = self.levels.get(name)
            if level is None or level.stratified is None:
                continue
            st = level.stratified
            out += ["", f"### By {st.group_name} ({name} level)", ""]
            if st.group_name == "sex":
                out += [
                    "The paper's cohort is sex-confounded (positives 384 F / 104 M, negatives 72 F / 290 M); "
                    "a model can score by sex alone, so read these rows before the overall ones.",
                    "",
                ]
            out.append(_metrics_header([st.group_name, "n", "pos"], extra=["note"]))
            for r in st.rows:
                if r.metrics is None:
                    out.append(f"| {r.group} | {r.n} | {r.n_pos} |" + " — |" * len(COLUMNS) + f" {r.note or ''} |")
                else:
                    out.append(_metrics_row([r.group, str(r.n), str(r.n_pos)], r.metrics, extra=[r.note or ""]))
        return out

    def _md_details(self, relative_to: str | Path | None) -> list[str]:
        """The optional sections: Cobb angle error, figures, the model's config and notes."""
        out: list[str] = []
        cobb = {k: v.cobb_mae_deg for k, v in self.levels.items() if v.cobb_mae_deg is not None}
        if cobb:
            out += ["", "## Cobb angle", ""] + [f"- {k} level: mean absolute error {v:.2f}°" for k, v in cobb.items()]
        if self.figures:
            out += ["", "## Figures", ""]
            for name, p in self.figures.items():
                link = _relative(p, relative_to)
                out += [f"**{name}**", "", f"![{name}]({link})", ""]
        if self.config_summary:
            out += [
                "",
                "## Model",
                "",
                "```json",
                json.dumps(self.config_summary, indent=2, sort_keys=True, default=str),
                "```",
            ]
        if self.notes:
            out += ["", "## Notes", ""] + [f"- {n}" for n in self.notes]
        return out

    def to_markdown(self, path: str | Path) -> Path:
        """Write the markdown report; figure links are relative to its folder."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.markdown(relative_to=path.parent))
        log.info("wrote %s", path)
        return path


# ------------------------------------------------------------------ formatting
def _opt(v: int | None) -> str:
    return "—" if v is None else str(v)


def _f(v: float | None, nd: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{nd}f}"


def _metrics_header(first: list[str], extra: list[str] | None = None) -> str:
    cols = first + [c[1] for c in COLUMNS] + (extra or [])
    return "| " + " | ".join(cols) + " |\n|" + " --- |" * len(cols)


def _metrics_row(first: list[str], m: BinaryMetrics, extra: list[str] | None = None) -> str:
    vals = [_f(getattr(m, attr)) for _, _, attr in COLUMNS]
    return "| " + " | ".join(first + vals + (extra or [])) + " |"


def _relative(p: str, folder: str | Path | None) -> str:
    if folder is None:
        return p
    try:
        return Path(os.path.relpath(Path(p).resolve(), Path(folder).resolve())).as_posix()
    except ValueError:  # other drive (Windows)
        return p


def _mean_std(values: Sequence[float | None]) -> str:
    v = np.array([x for x in values if x is not None], dtype=np.float64)
    if v.size == 0:
        return "n/a"
    if v.size == 1:
        return f"{v[0]:.3f}"
    return f"{v.mean():.3f} ± {v.std(ddof=1):.3f}"


def _ours_table(
    items: Sequence[tuple[str, Sequence[BinaryMetrics]]], auc_ci: Mapping[str, AucInterval] | None
) -> list[str]:
    """Our rows: mean ± sample std per metric over seeds, and the AUC interval column when given."""
    ci_col = ["AUC of seed mean [95% CI]"] if auc_ci is not None else []
    cols = ["config", "seeds"] + [c[1] for c in COLUMNS] + ci_col
    out = ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    for name, seeds in items:
        seeds = list(seeds)
        if not seeds:
            raise ValueError(f"row {name!r} has no seeds")
        cells = [_mean_std([getattr(m, attr) for m in seeds]) for _, _, attr in COLUMNS]
        if auc_ci is not None:
            ci = auc_ci.get(name)
            cells.append("n/a" if ci is None else f"{_f(ci.auc)} [{_f(ci.lo)}, {_f(ci.hi)}]")
        out.append("| " + " | ".join([name, str(len(seeds))] + cells) + " |")
    return out


def _paper_table(keys: Sequence[str]) -> list[str]:
    """The paper's rows, in their own table under a heading that says they are not comparable with ours."""
    out = [
        "",
        f"**Paper** (ScoliGait, real clinical data, {PAPER_TEST_CLIPS} subject-disjoint test clips, single run; "
        "for reference only, not comparable with simulated results)",
        "",
    ]
    pcols = ["config", "source"] + [c[1] for c in COLUMNS]
    out += ["| " + " | ".join(pcols) + " |", "|" + " --- |" * len(pcols)]
    for k in keys:
        r = PAPER_RESULTS[k]
        vals = [f"{getattr(r, key):.3f}" if key != "auc" else "n/a" for key, _, _ in COLUMNS]
        out.append("| " + " | ".join([r.label, r.table] + vals) + " |")
    out += ["", f"Note: {PAPER_CLASS_NOTE}"]
    return out


def ablation_table(
    rows: Sequence[tuple[str, Sequence[BinaryMetrics]]] | Mapping[str, Sequence[BinaryMetrics]],
    *,
    provenance: str = "simulated",
    paper_keys: Sequence[str] | None = None,
    title: str = "Ablation",
    auc_ci: Mapping[str, AucInterval] | None = None,
) -> str:
    """Markdown: our rows as mean ± std over seeds, then the paper's rows in a separate table.

    ``rows`` maps a configuration name to its per-seed metrics (one
    :class:`BinaryMetrics` per seed, all at validation-chosen thresholds).
    The std is the sample std (ddof=1); one seed shows the bare value.
    ``paper_keys`` picks rows of :data:`PAPER_RESULTS` (default: all; ``[]``
    for none). The paper's numbers are on real clinical data, ours on
    ``provenance`` data: they are never in the same table. ``auc_ci`` (row name ->
    :class:`AucInterval`) adds a column: the AUC of the row's seed-averaged clip
    probabilities with its 95% bootstrap interval over test subjects.
    """
    items = list(rows.items()) if isinstance(rows, Mapping) else list(rows)
    if not items:
        raise ValueError("ablation_table needs at least one row")
    keys = list(PAPER_RESULTS) if paper_keys is None else list(paper_keys)
    unknown = [k for k in keys if k not in PAPER_RESULTS]
    if unknown:
        raise ValueError(f"unknown paper rows {unknown}; known: {list(PAPER_RESULTS)}")
    simulated = provenance.strip().lower().startswith("sim")
    out = [f"## {title}", ""]
    if simulated:
        out += [f"> **{SIMULATED_DATA_LINE}**", ">"]
    out += [f"> **{SCREENING_NOTICE}**", ""]
    out += [f"**Ours** ({provenance} data; mean ± sample std over seeds; thresholds chosen on validation data)", ""]
    out += _ours_table(items, auc_ci)
    if keys:
        out += _paper_table(keys)
    out.append("")
    return "\n".join(out)


class Claim(BaseModel):
    """One of the paper's claims as "row a beats row b" on the same test clips, with its paired bootstrap."""

    model_config = ConfigDict(frozen=True)

    claim: str
    a: str
    b: str
    result: AucDifference

    @property
    def verdict(self) -> str:
        return self.result.verdict


def claims_table(claims: Sequence[Claim], *, title: str = "The paper's claims on this data") -> str:
    """Markdown: one line per claim, AUC(a) - AUC(b) with a paired bootstrap interval, one-sided p and verdict."""
    out = [f"## {title}", ""]
    if not claims:
        return "\n".join(out + ["No claim could be tested: the rows it compares were not run.", ""])
    c0 = claims[0].result
    out += [
        f'Each claim is "a > b" in test clip AUC. The rows\' probabilities are first averaged over seeds per clip; '
        f"a paired bootstrap then resamples test subjects ({c0.n_boot} resamples, seed {c0.seed}) and scores both "
        f"rows on each resample. Verdict: **holds** when the {c0.level:.0%} interval of AUC(a) - AUC(b) lies above 0, "
        f"**reversed** when it lies below 0, **not shown** when it contains 0. p = share of resamples with "
        f"AUC(a) - AUC(b) <= 0 (one-sided).",
        "",
        "| claim | a | b | test clips | AUC a | AUC b | AUC a - b | mean of resamples | 95% CI | p | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in claims:
        r = c.result
        out.append(
            f"| {c.claim} | {c.a} | {c.b} | {r.n} | {_f(r.auc_a)} | {_f(r.auc_b)} | {_f(r.diff, 3)} "
            f"| {_f(r.mean_diff)} | [{_f(r.lo)}, {_f(r.hi)}] | {_f(r.p_le_0)} | **{c.verdict}** |"
        )
    out.append("")
    return "\n".join(out)
