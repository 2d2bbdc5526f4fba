"""Per-window clinical description: which sentences of the finite set a window gets.

A window's own text-feature values (``features.py``) are compared with the
training negatives' reference statistics (``reference.py``) as robust z-scores.
Features whose |z| reaches a severity threshold become findings ("moderate
trunk lateral shift to the left"), ordered by |z| weighted by how well that
feature's deviations separated the classes in training; the remaining slots are
filled with "typical" sentences of the most discriminative observable features,
so there is always at least one sentence. No label is taken, the result is
deterministic, and the ids index the stored embedding table.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from scoligait_edge.text.features import text_feature_values
from scoligait_edge.text.reference import ReferenceStats
from scoligait_edge.text.sentences import (
    NOT_ASSESSABLE_ID,
    SENTENCES,
    SEVERITY_THRESHOLDS,
    TEXT_FEATURES,
    Severity,
    TextFeature,
    View,
    sentence_id,
    text_features_hash,
)

MAX_EFFECT_WEIGHT = 1.0
"""A finding's rank score is |z| * (1 + clip(magnitude effect size, 0, MAX_EFFECT_WEIGHT))."""


class Finding(BaseModel):
    """One text feature of one window, compared with the reference."""

    model_config = ConfigDict(frozen=True)

    feature: str
    value: float
    z: float
    severity: Severity
    sign: int = Field(description="+1 / -1 direction of the deviation; 0 when typical.")
    sentence_id: int
    score: float = Field(description="Rank score: |z| weighted by the training effect size.")


class WindowDescription(BaseModel):
    """The sentences chosen for one window and the evidence behind them."""

    model_config = ConfigDict(frozen=True)

    view: View | None
    sentence_ids: list[int]
    texts: list[str]
    z_scores: dict[str, float | None] = Field(description="Per text feature; None = not observable here.")
    values: dict[str, float | None]
    findings: list[Finding] = Field(description="All observable features, best-ranked first (incl. typical ones).")
    text_features_hash: str

    @property
    def text(self) -> str:
        return "; ".join(self.texts)


def _severity(abs_z: float) -> Severity:
    out: Severity = "typical"
    for sev, threshold in SEVERITY_THRESHOLDS.items():
        if abs_z >= threshold:
            out = sev
    return out


def _finding(f: TextFeature, v: float, z: float, weight: float) -> tuple[bool, Finding]:
    """``(stands_out, finding)``: a finding when |z| reaches a severity in a direction that has sentences,
    else the feature's "typical" entry scored by its training effect size."""
    sign = 1 if z > 0 else -1
    sev = _severity(abs(z))
    if sev != "typical" and f.direction(sign) is not None:
        fnd = Finding(
            feature=f.id,
            value=v,
            z=z,
            severity=sev,
            sign=sign,
            sentence_id=sentence_id(f.id, sign, sev),
            score=abs(z) * weight,
        )
        return True, fnd
    return False, Finding(
        feature=f.id, value=v, z=z, severity="typical", sign=0, sentence_id=sentence_id(f.id), score=weight
    )


def _score_features(
    values: np.ndarray, view: View | None, ref: ReferenceStats
) -> tuple[dict[str, float | None], dict[str, float | None], list[Finding], list[Finding]]:
    """z-score every observable feature against the reference for this view.

    Returns ``(z_scores, raw values, findings, typical)``, both lists best first (ties in feature order).
    """
    z_scores: dict[str, float | None] = {}
    raw: dict[str, float | None] = {}
    found: list[tuple[float, int, Finding]] = []
    typical: list[tuple[float, int, Finding]] = []
    for k, f in enumerate(TEXT_FEATURES):
        v = float(values[k])
        fr = ref.reference_for(f.id, view) if np.isfinite(v) else None
        if fr is None:
            z_scores[f.id], raw[f.id] = None, (v if np.isfinite(v) else None)
            continue
        z = fr.z(v)
        z_scores[f.id], raw[f.id] = z, v
        weight = 1.0 + float(np.clip(fr.magnitude_effect_size or 0.0, 0.0, MAX_EFFECT_WEIGHT))
        stands_out, fnd = _finding(f, v, z, weight)
        (found if stands_out else typical).append((-fnd.score, k, fnd))
    found.sort(key=lambda t: t[:2])
    typical.sort(key=lambda t: t[:2])
    return z_scores, raw, [t[2] for t in found], [t[2] for t in typical]


def describe_window(
    km: np.ndarray,
    valid: np.ndarray,
    ref: ReferenceStats,
    max_sentences: int = 4,
    *,
    fill_typical: bool = True,
) -> WindowDescription:
    """Describe one window ``km`` [T, 238] with ``valid`` [T] against ``ref``.

    Findings (|z| >= the "mild" threshold, in a direction that has sentences)
    come first, best score first; with ``fill_typical`` the remaining slots get
    "typical" sentences of the observable features with the largest training
    effect size (without it, typical sentences appear only when nothing stands
    out). A window with no observable feature gets the "not assessable" sentence.
    """
    if max_sentences < 1:
        raise ValueError(f"max_sentences must be >= 1, got {max_sentences}")
    ref.check_compatible()
    values, view = text_feature_values(km, valid)
    z_scores, raw, found, typical = _score_features(values, view, ref)
    chosen = found[:max_sentences]
    if fill_typical or not chosen:
        chosen += typical[: max_sentences - len(chosen)]
    ids = [c.sentence_id for c in chosen] or [NOT_ASSESSABLE_ID]
    return WindowDescription(
        view=view,
        sentence_ids=ids,
        texts=[SENTENCES[i].text for i in ids],
        z_scores=z_scores,
        values=raw,
        findings=found + typical,
        text_features_hash=text_features_hash(),
    )


def describe_batch(
    km: np.ndarray,
    valid: np.ndarray,
    ref: ReferenceStats,
    max_sentences: int = 4,
    *,
    fill_typical: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """``km`` [B, T, 238], ``valid`` [B, T] -> sentence ids int64 [B, S] and mask bool [B, S], S = max_sentences.

    Padding slots hold ``NOT_ASSESSABLE_ID`` with mask False; feed both to
    :meth:`SentenceEmbeddingTable.lookup` and then to ``TextProjection``.
    """
    km, valid = np.asarray(km), np.asarray(valid)
    if km.ndim != 3 or valid.shape != km.shape[:2]:
        raise ValueError(f"expected km [B, T, 238] and valid [B, T], got {km.shape} and {valid.shape}")
    ids = np.full((km.shape[0], max_sentences), NOT_ASSESSABLE_ID, dtype=np.int64)
    mask = np.zeros((km.shape[0], max_sentences), dtype=bool)
    for b in range(km.shape[0]):
        d = describe_window(km[b], valid[b], ref, max_sentences, fill_typical=fill_typical)
        ids[b, : len(d.sentence_ids)] = d.sentence_ids
        mask[b, : len(d.sentence_ids)] = True
    return ids, mask
