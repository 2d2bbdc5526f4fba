"""Do two backends compute the same thing? Max differences and screening-label agreement over a set of windows.

Works on anything with ``infer(batch) -> outputs`` (every
:class:`~scoligait_edge.runtimes.Backend`), or on precomputed outputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel


class _Infers(Protocol):
    def infer(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


class ParityResult(BaseModel):
    """One candidate against the reference over ``n_windows`` windows."""

    reference: str
    candidate: str
    n_windows: int
    threshold: float
    max_abs_logit: float
    max_abs_prob: float
    max_abs_cobb: float
    max_abs_km_attention: float | None = None
    label_agreement: float
    """Fraction of windows with the same label (prob >= threshold) in both."""

    def passes(self, logit_atol: float, min_agreement: float = 1.0) -> bool:
        return self.max_abs_logit <= logit_atol and self.label_agreement >= min_agreement


def concat_outputs(parts: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([np.asarray(p[k]) for p in parts], axis=0) for k in parts[0]}


def batches(windows: Mapping[str, np.ndarray], batch_size: int) -> Iterable[dict[str, np.ndarray]]:
    """Split a stacked set of windows (``{name: [N, ...]}``) into batches of at most ``batch_size``."""
    n = len(next(iter(windows.values())))
    for i in range(0, n, batch_size):
        yield {k: np.ascontiguousarray(v[i : i + batch_size]) for k, v in windows.items()}


def run_windows(backend: _Infers, windows: Mapping[str, np.ndarray], batch_size: int = 32) -> dict[str, np.ndarray]:
    """Outputs of ``backend`` on every window, in order."""
    return concat_outputs([backend.infer(b) for b in batches(windows, batch_size)])


def _maxdiff(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"outputs have different shapes: {a.shape} vs {b.shape}")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def label_agreement(prob_a: np.ndarray, prob_b: np.ndarray, threshold: float) -> float:
    a, b = np.asarray(prob_a) >= threshold, np.asarray(prob_b) >= threshold
    return float(np.mean(a == b)) if a.size else 1.0


def compare_outputs(
    reference: Mapping[str, np.ndarray],
    candidate: Mapping[str, np.ndarray],
    threshold: float,
    *,
    reference_name: str = "reference",
    candidate_name: str = "candidate",
) -> ParityResult:
    """Compare two sets of outputs (``logit``, ``prob``, ``cobb``, optional ``km_attention``)."""
    km = None
    if "km_attention" in reference and "km_attention" in candidate:
        km = _maxdiff(reference["km_attention"], candidate["km_attention"])
    return ParityResult(
        reference=reference_name,
        candidate=candidate_name,
        n_windows=int(np.asarray(reference["logit"]).shape[0]),
        threshold=float(threshold),
        max_abs_logit=_maxdiff(reference["logit"], candidate["logit"]),
        max_abs_prob=_maxdiff(reference["prob"], candidate["prob"]),
        max_abs_cobb=_maxdiff(reference["cobb"], candidate["cobb"]),
        max_abs_km_attention=km,
        label_agreement=label_agreement(reference["prob"], candidate["prob"], threshold),
    )


def compare_backends(
    reference: _Infers,
    candidates: Mapping[str, _Infers],
    windows: Mapping[str, np.ndarray],
    threshold: float,
    *,
    batch_size: int = 32,
    reference_name: str | None = None,
) -> list[ParityResult]:
    """Run ``reference`` and every candidate over ``windows`` (stacked ``{input: [N, ...]}``) and compare."""
    ref_name = reference_name or str(getattr(reference, "name", "reference"))
    ref = run_windows(reference, windows, batch_size)
    return [
        compare_outputs(
            ref, run_windows(backend, windows, batch_size), threshold, reference_name=ref_name, candidate_name=name
        )
        for name, backend in candidates.items()
    ]


def format_table(results: Iterable[ParityResult]) -> str:
    rows = [("candidate", "vs", "n", "max|dlogit|", "max|dprob|", "max|dcobb|", "label agree")]
    for r in results:
        rows.append(
            (
                r.candidate,
                r.reference,
                str(r.n_windows),
                f"{r.max_abs_logit:.2e}",
                f"{r.max_abs_prob:.2e}",
                f"{r.max_abs_cobb:.2e}",
                f"{100 * r.label_agreement:.1f}%",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)


def to_dict(results: Iterable[ParityResult]) -> list[dict[str, Any]]:
    return [r.model_dump() for r in results]
