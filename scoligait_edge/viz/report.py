"""The session report: one self-contained HTML page a clinician or operator can open anywhere.

It must open offline (a kiosk, a clinic without internet, an e-mail
attachment), so every figure is embedded as a base64 PNG data URI, the CSS is
inline, and there is no script, web font or any other network reference. The
PNGs are also written beside the HTML for other documents.

Contents, top to bottom: the notices (provenance and "screening aid, not a
diagnosis" first, where nobody can miss them), the decision with its
probability and spread, the full summary table, the knowledge map with the
model's salient regions boxed (drawn by
:func:`~scoligait_edge.viz.attention.plot_attention_on_map`, or
:func:`~scoligait_edge.viz.heatmap.plot_knowledge_map` without attention), the
probability per window against the threshold (``plot_probability_over_time``),
the gait events on a timeline, and the top features with their clinical
meaning. No image of the person unless ``face_image`` is given.

Times are seconds from the knowledge map's first row (the session start).
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from scoligait_edge import SCREENING_NOTICE, __version__
from scoligait_edge.core.constants import MAP_FPS
from scoligait_edge.core.schema import NUM_FEATURES
from scoligait_edge.interpret import SalientFeature, top_features
from scoligait_edge.kinematics.events import GaitEvents
from scoligait_edge.stream.results_log import to_jsonable
from scoligait_edge.viz.attention import plot_attention_on_map
from scoligait_edge.viz.probability import plot_probability_over_time

log = logging.getLogger(__name__)

REPORT_NAME = "report.html"
MAP_PNG = "knowledge_map.png"
PROBABILITY_PNG = "probability_over_time.png"
EVENTS_PNG = "gait_events.png"
FACE_PNG = "subject.png"

ProbabilityRow = tuple[float, float | None, str | None] | tuple[float, float | None]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;margin:0;
     background:#f4f5f7;color:#1d232b;line-height:1.45}
main{max-width:1120px;margin:0 auto;padding:24px}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.2em;margin:0 0 10px;border-bottom:1px solid #d5d9df;padding-bottom:4px}
.meta{color:#5b6570;font-size:.9em;margin-bottom:16px}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:16px 20px;margin:16px 0}
.notices{background:#fff7d6;border:2px solid #e0b400;border-radius:8px;padding:12px 18px;margin:16px 0}
.notices p{margin:4px 0;font-weight:600}
.headline{display:flex;flex-wrap:wrap;gap:16px}
.card{flex:1 1 150px;border:1px solid #dde1e6;border-radius:8px;padding:10px 14px;background:#fafbfc}
.card .k{color:#5b6570;font-size:.85em;text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:1.5em;font-weight:700}
.card .s{color:#5b6570;font-size:.9em}
.reason{margin-top:10px;color:#8a3b00;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:.92em}
th,td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid #e6e9ed}
th{background:#f0f2f5;font-weight:600}
td.key{white-space:nowrap;color:#3b4550;width:28%}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
img.fig{max-width:100%;height:auto;display:block;margin:8px auto;border:1px solid #eceff2}
.note{color:#5b6570;font-size:.9em}
details summary{cursor:pointer;color:#2a5db0;margin-top:8px}
footer{color:#7b8590;font-size:.8em;text-align:center;margin:24px 0}
@media print{body{background:#fff}section{break-inside:avoid}}
"""


# ---------------------------------------------------------------- helpers
def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _data_uri(png_path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(png_path.read_bytes()).decode("ascii")


def _img(png_path: Path, alt: str) -> str:
    return f'<img class="fig" alt="{_esc(alt)}" src="{_data_uri(png_path)}">'


def _fmt(v: Any) -> str:
    if v is None:
        return "&mdash;"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return _esc(f"{v:.4g}")
    if isinstance(v, list):
        if not v:
            return "none"
        if all(not isinstance(i, dict | list) for i in v):
            return _esc(", ".join(str(i) for i in v))
        if all(isinstance(i, dict) and "name" in i for i in v):  # e.g. top features: the table below has details
            return _esc(", ".join(str(i["name"]) for i in v))
        return _esc(json.dumps(v, ensure_ascii=False))
    return _esc(v)


def _flatten(d: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            rows.extend(_flatten(v, key + "."))
        else:
            rows.append((key, v))
    return rows


def _as_float(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _headline(summary: Mapping[str, Any]) -> tuple[str | None, str | None, str | None, str | None]:
    """(decision, probability text, spread text, reason) from a summary of unknown exact shape."""
    decision = summary.get("decision")
    prob = summary.get("probability")
    value: float | None = None
    spread: str | None = None
    if isinstance(prob, Mapping):
        for k in ("mean", "median", "value", "p"):
            if _as_float(prob.get(k)) is not None:
                value = _as_float(prob.get(k))
                break
        parts = [
            f"{k} {_as_float(v):.3f}"
            for k, v in prob.items()
            if k not in ("mean", "median", "value", "p") and _as_float(v) is not None
        ]
        spread = ", ".join(parts) or None
    else:
        value = _as_float(prob)
    central = None
    if value is None:  # flat fields, e.g. SessionSummary's probability_mean / _sd / _min / _max
        central = next(
            (k for k in ("probability_mean", "probability_median") if _as_float(summary.get(k)) is not None), None
        )
        value = None if central is None else _as_float(summary[central])
    if spread is None:
        parts = [
            f"{k.removeprefix('probability_')} {_as_float(v):.3f}"
            for k, v in summary.items()
            if k.startswith("probability_") and k != central and _as_float(v) is not None
        ]
        spread = ", ".join(parts) or None
    reason = next((str(v) for k, v in summary.items() if "reason" in k and v), None)
    return (None if decision is None else str(decision), None if value is None else f"{value:.3f}", spread, reason)


def _collect_notices(notices: Sequence[str], summary: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    extra: list[Any] = []
    for k in ("notices", "notice", "provenance_notice", "data_warning"):
        v = summary.get(k)
        extra.extend(v if isinstance(v, list) else [v] if isinstance(v, str) else [])
    for n in [*notices, *extra]:
        n = str(n).strip()
        if n and n not in out:
            out.append(n)
    prov = summary.get("provenance")
    if isinstance(prov, str) and prov.strip() and not any(prov.strip().lower() in n.lower() for n in out):
        out.insert(0, f"Model provenance: {prov.strip()}")
    if not any("not a diagnosis" in n.lower() for n in out):
        out.append(SCREENING_NOTICE)
    return out


def _probability_rows(probabilities: Sequence[Any]) -> list[tuple[float, float | None, str | None]]:
    rows = []
    for r in probabilities:
        t, p = r[0], r[1]
        d = r[2] if len(r) > 2 else None
        rows.append((float(t), _as_float(p), None if d is None else str(d)))
    return rows


# ---------------------------------------------------------------- figures
def _shade_unusable_frames(ax: Any, valid: np.ndarray, fps: float) -> None:
    """Grey spans where no subject was usable, so a gap in the events is not read as standing still."""
    bad = ~np.asarray(valid, dtype=bool)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], bad.astype(np.int8), [0]])))
    for k, (a, b) in enumerate(zip(edges[::2], edges[1::2], strict=True)):
        ax.axvspan(a / fps, b / fps, color="0.85", lw=0, label="no usable subject" if k == 0 else None)


def _scatter_foot_events(ax: Any, events: GaitEvents, ev_fps: float) -> None:
    """One row per foot: heel strikes filled, toe-offs hollow, in the foot's colour."""
    for row, side, color in ((1, "left", "tab:blue"), (0, "right", "tab:orange")):
        hs = np.asarray(events.heel_strikes.get(side, []), dtype=float)
        to = np.asarray(events.toe_offs.get(side, []), dtype=float)
        if hs.size:
            ax.scatter(
                hs / ev_fps, np.full(hs.size, row), marker="v", s=60, color=color, label=f"{side} heel strike", zorder=3
            )
        if to.size:
            ax.scatter(
                to / ev_fps,
                np.full(to.size, row),
                marker="^",
                s=40,
                facecolors="none",
                edgecolors=color,
                label=f"{side} toe-off",
                zorder=3,
            )


def _gait_events_title(events: GaitEvents) -> str:
    """The counts a reader checks first: steps, complete cycles, cadence and view when known."""
    cadence = events.cadence()
    parts = [f"{events.n_steps} heel strikes", f"{events.complete_cycles()} complete gait cycles"]
    if cadence is not None:
        parts.append(f"cadence {cadence:.0f} steps/min")
    if events.view != "unknown":
        parts.append(f"view: {events.view}")
    return "Gait events: " + ", ".join(parts)


def plot_gait_events_timeline(
    events: GaitEvents,
    path: str | Path,
    *,
    n_frames: int | None = None,
    valid: np.ndarray | None = None,
    fps: float = MAP_FPS,
) -> Path:
    """Heel strikes (filled) and toe-offs (hollow) per foot along time; frames without a usable
    subject are shaded so gaps in the event record can be told from a standing subject."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = int(n_frames if n_frames is not None else max(events.n_frames, 1))
    ev_fps = events.fps if events.fps and events.fps > 0 else fps
    fig, ax = plt.subplots(figsize=(11, 2.2))
    if valid is not None and len(valid):
        _shade_unusable_frames(ax, valid, fps)
    _scatter_foot_events(ax, events, ev_fps)
    ax.set_title(_gait_events_title(events), fontsize=10, loc="left")
    ax.set_yticks([0, 1], ["right", "left"])
    ax.set_ylim(-0.7, 1.7)
    ax.set_xlim(0, max(n / fps, 1e-3))
    ax.set_xlabel("time (s)")
    ax.grid(axis="x", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _map_figure(
    out_dir: Path,
    km: np.ndarray,
    valid: np.ndarray,
    timestamps_ms: np.ndarray,
    attention: np.ndarray | None,
    salient: Sequence[SalientFeature] | None,
    events: GaitEvents | None,
    fps: float,
) -> Path:
    if attention is not None:
        att = np.nan_to_num(np.asarray(attention, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        return plot_attention_on_map(
            km,
            att,
            valid,
            out_dir / MAP_PNG,
            salient,
            fps=fps,
            title="Knowledge map and the model's evidence (boxes: salient features)",
        )
    from scoligait_edge.kinematics.builder import KnowledgeMap
    from scoligait_edge.viz.heatmap import plot_knowledge_map

    kmap = KnowledgeMap(values=np.nan_to_num(km), valid=valid, timestamps_ms=timestamps_ms, fps=fps)
    return plot_knowledge_map(kmap, out_dir / MAP_PNG, events=events, title="Kinematic knowledge map")


# ---------------------------------------------------------------- the report's parts
@dataclass(frozen=True)
class _SessionMap:
    """The session's map as checked arrays; ``km`` is None when nothing was mapped (T = 0)."""

    km: np.ndarray | None
    valid: np.ndarray
    timestamps_ms: np.ndarray

    @property
    def n_frames(self) -> int:
        return len(self.valid) if self.km is not None else 0


def _session_map(
    km: np.ndarray | None,
    km_valid: np.ndarray | None,
    timestamps_ms: np.ndarray | None,
    attention: np.ndarray | None,
    fps: float,
) -> _SessionMap:
    """Fill in defaults and refuse shapes that disagree, before any figure is drawn."""
    T = 0 if km is None else int(np.asarray(km).shape[0])
    valid = np.zeros(T, bool) if km_valid is None else np.asarray(km_valid, dtype=bool)
    ts = (np.arange(T) * 1000.0 / fps) if timestamps_ms is None else np.asarray(timestamps_ms, dtype=np.float64)
    if T == 0:
        return _SessionMap(km=None, valid=valid, timestamps_ms=ts)
    km_arr = np.asarray(km, dtype=np.float64)
    if km_arr.shape != (T, NUM_FEATURES) or valid.shape != (T,) or ts.shape != (T,):
        raise ValueError(
            f"km must be [T, {NUM_FEATURES}] with km_valid and timestamps_ms [T]; got "
            f"{km_arr.shape}, {valid.shape}, {ts.shape}"
        )
    if attention is not None and np.asarray(attention).shape != km_arr.shape:
        raise ValueError(f"attention has shape {np.asarray(attention).shape}, km {km_arr.shape}")
    return _SessionMap(km=km_arr, valid=valid, timestamps_ms=ts)


def _salient_for_report(
    smap: _SessionMap,
    attention: np.ndarray | None,
    salient: Sequence[SalientFeature] | None,
    fps: float,
) -> list[SalientFeature]:
    """The caller's boxed features, else the top features of the attention over usable frames."""
    if salient is not None:
        return list(salient)
    if smap.km is not None and attention is not None and smap.valid.any():
        return top_features(np.nan_to_num(np.asarray(attention, dtype=np.float64)), smap.valid, fps=fps)
    return []


def _map_section(
    out: Path,
    smap: _SessionMap,
    attention: np.ndarray | None,
    feats: Sequence[SalientFeature],
    events: GaitEvents | None,
    fps: float,
) -> tuple[str, list[Path]]:
    """The map figure with a caption that matches what it shows; a failed figure becomes a note."""
    T = smap.n_frames
    figures: list[Path] = []
    map_html = '<p class="note">No knowledge map: no frames with a usable subject were recorded.</p>'
    if smap.km is not None:
        try:
            p = _map_figure(out, smap.km, smap.valid, smap.timestamps_ms, attention, feats, events, fps)
            figures.append(p)
            what = (
                "Top: the map (each row one of 238 features, robust z-score per feature; grey = frames without a "
                "usable subject). Middle: the model's evidence per cell, orange pushes towards 'refer'. "
                "Boxes: the top feature of each domain, numbered as in the table below."
                if attention is not None
                else "Each row is one of the 238 features (robust z-score per feature); grey columns are frames "
                "without a usable subject. No model evidence was recorded for this session."
            )
            map_html = f'<p class="note">{_esc(what)}</p>{_img(p, "knowledge map heatmap")}'
        except Exception as exc:  # a figure must not cost the whole report
            log.exception("report: knowledge-map figure failed")
            map_html = f'<p class="note">The knowledge-map figure could not be drawn: {_esc(exc)}</p>'
    n_valid = int(smap.valid.sum())
    section = (
        f'<section id="map"><h2>Kinematic knowledge map</h2>'
        f'<p class="note">{T} frames ({T / fps:.1f} s at {fps:g} Hz), {n_valid} with a usable subject.</p>'
        f"{map_html}</section>"
    )
    return section, figures


def _windows_table(rows: Sequence[tuple[float, float | None, str | None]]) -> str:
    """Every window, failed ones included, folded away under a summary line."""
    body = "".join(
        f'<tr><td class="num">{i}</td><td class="num">{t:.2f}</td>'
        f'<td class="num">{"&mdash;" if q is None else f"{q:.3f}"}</td><td>{_fmt(d)}</td></tr>'
        for i, (t, q, d) in enumerate(rows, start=1)
    )
    return (
        f'<details><summary>All {len(rows)} window(s)</summary><table><tr><th class="num">#</th>'
        f'<th class="num">time (s)</th><th class="num">probability</th><th>decision</th></tr>'
        f"{body}</table></details>"
    )


def _probability_section(
    out: Path,
    rows: Sequence[tuple[float, float | None, str | None]],
    ok_rows: Sequence[tuple[float, float]],
    thr: float | None,
) -> tuple[str, list[Path]]:
    """Plot the scored windows against the threshold and list them all; failed windows are counted."""
    figures: list[Path] = []
    failed = len(rows) - len(ok_rows)
    prob_html = '<p class="note">No window was scored.</p>'
    if ok_rows:
        try:
            p = plot_probability_over_time(
                [q for _, q in ok_rows],
                out / PROBABILITY_PNG,
                title="Screening probability per window",
                times_s=[t for t, _ in ok_rows],
                threshold=thr,
            )
            figures.append(p)
            prob_html = _img(p, "probability over time with the threshold")
        except Exception as exc:
            log.exception("report: probability figure failed")
            prob_html = f'<p class="note">The probability figure could not be drawn: {_esc(exc)}</p>'
    if failed:
        prob_html += f'<p class="note">{failed} window(s) had no probability (inference failed); see the table.</p>'
    if rows:
        prob_html += _windows_table(rows)
    thr_txt = f" The decision threshold is {thr:.3f}." if thr is not None else ""
    section = (
        f'<section id="probability"><h2>Probability over time</h2><p class="note">One point per '
        f"analysis window.{_esc(thr_txt)}</p>{prob_html}</section>"
    )
    return section, figures


def _events_section(out: Path, events: GaitEvents | None, smap: _SessionMap, fps: float) -> tuple[str, list[Path]]:
    """The gait-event timeline, or a note when there are no events or the figure fails."""
    figures: list[Path] = []
    if events is not None:
        T = smap.n_frames
        try:
            p = plot_gait_events_timeline(
                events, out / EVENTS_PNG, n_frames=T or None, valid=smap.valid if T else None, fps=fps
            )
            figures.append(p)
            ev_html = _img(p, "gait events timeline")
        except Exception as exc:
            log.exception("report: gait-event figure failed")
            ev_html = f'<p class="note">The gait-event figure could not be drawn: {_esc(exc)}</p>'
    else:
        ev_html = '<p class="note">No gait events were detected.</p>'
    return f'<section id="events"><h2>Gait events</h2>{ev_html}</section>', figures


def _salient_table(feats: Sequence[SalientFeature]) -> str:
    """The boxed features, numbered as on the map, with where and how strongly the model looked."""
    body = "".join(
        f'<tr><td class="num">{k}</td><td>{_esc(s.name)}'
        + (f'<br><span class="note">+{len(s.tied_features)} tied column(s)</span>' if s.tied_features else "")
        + f"</td><td>{_esc(s.domain)}</td><td>{_esc(s.meaning)}</td>"
        f'<td class="num">{s.start_s:.2f}&ndash;{s.stop_s:.2f}</td><td class="num">{s.peak_evidence:.3g}</td>'
        f"<td>{_esc(s.clinical_prior) + ': ' + _esc(s.clinical_prior_meaning or '') if s.clinical_prior else '&mdash;'}</td></tr>"
        for k, s in enumerate(feats, start=1)
    )
    return (
        '<table><tr><th class="num">box</th><th>feature</th><th>domain</th><th>meaning</th>'
        '<th class="num">time (s)</th><th class="num">peak evidence</th><th>clinical prior</th></tr>'
        f'{body}</table><p class="note">Evidence is where the model looked, not a measurement of '
        "the spine; tied columns share one model token and carry the same evidence.</p>"
    )


def _summary_features_table(top: Sequence[Any]) -> str:
    """Top features named by the summary itself (dicts), when there is no evidence map to box them on."""
    body = "".join(
        f"<tr><td>{_esc(f.get('name', ''))}</td><td>{_esc(f.get('domain', ''))}</td><td>{_esc(f.get('meaning', ''))}</td>"
        f'<td class="num">{_fmt(f.get("start_s"))}&ndash;{_fmt(f.get("stop_s"))}</td>'
        f'<td class="num">{_fmt(f.get("evidence", f.get("peak_evidence")))}</td><td>{_fmt(f.get("clinical_prior"))}</td></tr>'
        for f in top
        if isinstance(f, dict)
    )
    return (
        '<table><tr><th>feature</th><th>domain</th><th>meaning</th><th class="num">time (s)</th>'
        f'<th class="num">evidence</th><th>clinical prior</th></tr>{body}</table>'
    )


def _features_section(feats: Sequence[SalientFeature], summ: Mapping[str, Any]) -> str:
    """Salient features from the evidence map, else the summary's own list, else a note saying why none."""
    if feats:
        feat_html = _salient_table(feats)
    elif isinstance(summ.get("top_features"), list) and summ["top_features"]:
        feat_html = _summary_features_table(summ["top_features"])
    else:
        feat_html = '<p class="note">No salient features (no model evidence recorded, or none positive).</p>'
    return f'<section id="features"><h2>Top features and their clinical meaning</h2>{feat_html}</section>'


def _face_section(out: Path, face_image: np.ndarray | None) -> tuple[str, list[Path]]:
    """The subject's image, only when the operator passed one (privacy: none by default)."""
    if face_image is None:
        return "", []
    import cv2

    img = np.asarray(face_image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise ValueError(f"face_image must be a uint8 image, got {img.dtype} {img.shape}")
    p = out / FACE_PNG
    if not cv2.imwrite(str(p), img):
        raise OSError(f"cannot write {p}")
    face_html = (
        '<section id="subject"><h2>Subject</h2><p class="note">Included because the operator asked '
        f'for it.</p><img class="fig" style="max-width:320px" alt="subject" src="{_data_uri(p)}"></section>'
    )
    return face_html, [p]


def _headline_cards(
    summ: Mapping[str, Any],
    thr: float | None,
    n_scored: int,
    n_failed: int,
    events: GaitEvents | None,
) -> str:
    """Decision, probability with spread, threshold, windows and gait cycles as cards, then the reason."""
    decision, prob_txt, spread, reason = _headline(summ)
    cards: list[tuple[str, str, str | None]] = [("decision", decision or "no decision", None)]
    if prob_txt is not None:
        cards.append(("probability", prob_txt, spread))
    if thr is not None:
        cards.append(("threshold", f"{thr:.3f}", None))
    cards.append(("windows", str(n_scored), f"{n_failed} failed" if n_failed else None))
    if events is not None:
        cards.append(("gait cycles", str(events.complete_cycles()), f"{events.n_steps} heel strikes"))
    card_html = "".join(
        f'<div class="card"><div class="k">{_esc(k)}</div><div class="v">{_esc(v)}</div>'
        + (f'<div class="s">{_esc(s)}</div>' if s else "")
        + "</div>"
        for k, v, s in cards
    )
    reason_html = (
        f'<p class="reason">Why no decision: {_esc(reason)}</p>'
        if reason and decision is None
        else (f'<p class="note">{_esc(reason)}</p>' if reason else "")
    )
    return f'<div class="headline">{card_html}</div>{reason_html}'


def _html_document(
    title: str, notices: Sequence[str], summ: Mapping[str, Any], headline_html: str, body_html: str
) -> str:
    """The page: notices first, then the headline and every summary field, then the sections."""
    table = "".join(f'<tr><td class="key">{_esc(k)}</td><td>{_fmt(v)}</td></tr>' for k, v in _flatten(summ))
    notice_html = "".join(f"<p>{_esc(n)}</p>" for n in notices)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>{_esc(title)}</title><style>{_CSS}</style></head>
<body><main>
<h1>{_esc(title)}</h1>
<div class="meta">Generated {_esc(now)} by scoligait_edge {_esc(__version__)}</div>
<div class="notices" role="note">{notice_html}</div>
<section id="summary"><h2>Summary</h2>{headline_html}
<details open><summary>All summary fields</summary><table>{table}</table></details></section>
{body_html}
</main></body></html>
"""


# ---------------------------------------------------------------- the report
def write_session_report(
    out_dir: str | Path,
    *,
    summary: BaseModel | Mapping[str, Any],
    km: np.ndarray | None,
    km_valid: np.ndarray | None,
    timestamps_ms: np.ndarray | None,
    attention: np.ndarray | None = None,
    salient: Sequence[SalientFeature] | None = None,
    probabilities: Sequence[ProbabilityRow] = (),
    threshold: float | None = None,
    events: GaitEvents | None = None,
    notices: Sequence[str] = (),
    face_image: np.ndarray | None = None,
    fps: float = MAP_FPS,
    title: str = "ScoliGait screening session",
) -> Path:
    """Write ``out_dir/report.html`` (self-contained) and its PNGs; return the HTML's path.

    ``km`` ``[T, 238]``, ``km_valid`` ``[T]``, ``timestamps_ms`` ``[T]``: the
    session's map (None or T = 0 when nothing was mapped: the report then says
    so). ``attention`` ``[T, 238]``: the model's signed evidence per cell,
    stitched over windows (NaN where no window covered a row: drawn as zero);
    ``salient``: the boxed features (default: ``top_features(attention)``).
    ``probabilities``: ``(t_s, probability, decision)`` per window (a None/NaN
    probability = a failed window, listed but not plotted). ``face_image``:
    BGR uint8, only if the operator asked for it. ``summary`` may be any
    pydantic model or mapping; ``decision``, ``probability`` (a number or a
    mapping with ``mean`` and spread fields), ``probability_*`` and a
    ``*reason*`` key are shown as the headline when present.
    """
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    summ: dict[str, Any] = to_jsonable(summary)
    if not isinstance(summ, dict):
        raise TypeError(f"summary must be a pydantic model or a mapping, got {type(summary).__name__}")
    thr = _as_float(threshold)
    rows = _probability_rows(probabilities)
    ok_rows = [(t, p) for t, p, _ in rows if p is not None and 0.0 <= p <= 1.0]
    smap = _session_map(km, km_valid, timestamps_ms, attention, fps)
    feats = _salient_for_report(smap, attention, salient, fps)

    map_html, map_figs = _map_section(out, smap, attention, feats, events, fps)
    prob_html, prob_figs = _probability_section(out, rows, ok_rows, thr)
    events_html, event_figs = _events_section(out, events, smap, fps)
    features_html = _features_section(feats, summ)
    face_html, face_figs = _face_section(out, face_image)
    figures = [*map_figs, *prob_figs, *event_figs, *face_figs]

    headline_html = _headline_cards(summ, thr, len(ok_rows), len(rows) - len(ok_rows), events)
    body_html = (
        f"{map_html}{prob_html}{events_html}{features_html}\n{face_html}\n"
        "<footer>Self-contained report: figures are embedded; the PNG files beside it are copies.</footer>"
    )
    doc = _html_document(title, _collect_notices(notices, summ), summ, headline_html, body_html)
    path = out / REPORT_NAME
    path.write_text(doc, encoding="utf-8")
    log.info("wrote %s (%d figure(s))", path, len(figures))
    return path
