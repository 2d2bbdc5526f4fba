"""The session report opens offline: figures embedded, no network references, notices up front, no face by default."""

from __future__ import annotations

import base64
import re
from html import escape as html_escape
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel

from scoligait_edge import SCREENING_NOTICE
from scoligait_edge.kinematics.builder import build_knowledge_map
from scoligait_edge.kinematics.events import detect_gait_events
from scoligait_edge.viz.report import EVENTS_PNG, FACE_PNG, MAP_PNG, PROBABILITY_PNG, write_session_report
from tests.kinematics_helpers import swaying_clip

NOTICES = ["Demo model trained on simulated gait: no clinical validity.", "Screening aid, not a diagnosis."]


@pytest.fixture(scope="module")
def session():
    kp = swaying_clip(240)
    kp[100:125, :, 2] = 0.0  # the subject is lost for a moment
    km = build_knowledge_map(kp)
    events = detect_gait_events(kp)
    rng = np.random.default_rng(0)
    att = np.repeat(np.repeat(rng.normal(0, 0.3, (len(km) // 8 + 1, 17)), 8, axis=0), 14, axis=1)[: len(km), :238]
    att[150:190, 140:154] = 2.0
    att[~km.valid] = np.nan  # rows no window covered
    probs = [(s / 30.0, 0.4 + 0.002 * s, "refer" if 0.4 + 0.002 * s >= 0.5 else "no refer") for s in range(0, 144, 16)]
    probs.append((5.0, None, "inference failed"))
    return km, events, att, probs


def _images(html: str) -> list[str]:
    return re.findall(r'<img[^>]*\ssrc="([^"]*)"', html)


def test_report_is_self_contained_and_says_what_matters(tmp_path: Path, session) -> None:
    km, events, att, probs = session
    summary = {
        "decision": "refer <b>",
        "probability": {"mean": 0.47, "std": 0.05},
        "quality_flags": ["subject_lost"],
        "provenance": {"trained_on": "simulated gait"},
    }
    path = write_session_report(
        tmp_path / "rep",
        summary=summary,
        km=km.values,
        km_valid=km.valid,
        timestamps_ms=km.timestamps_ms,
        attention=att,
        salient=None,
        probabilities=probs,
        threshold=0.5,
        events=events,
        notices=NOTICES,
    )
    assert path == tmp_path / "rep" / "report.html" and path.is_file()
    for name in (MAP_PNG, PROBABILITY_PNG, EVENTS_PNG):
        assert (path.parent / name).is_file()
    html = path.read_text(encoding="utf-8")
    # offline: nothing fetched from anywhere
    assert not re.search(r"https?://", html)
    assert not re.search(r"<script|<link|<iframe|@import|url\(|src=\"(?!data:)", html, re.I)
    srcs = _images(html)
    assert len(srcs) == 3 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert all(base64.b64decode(s.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n" for s in srcs)
    # content: notices before the summary, decision (escaped), probability with spread, features, windows
    for n in NOTICES:
        assert n in html
    assert html.index(NOTICES[0]) < html.index('id="summary"')
    assert "refer &lt;b&gt;" in html and "<b>" not in html.split("<body>")[1].split("</h1>")[0]
    assert "0.470" in html and "std 0.050" in html
    assert "clinical prior" in html and "shoulder" in html  # the boxed self-skeleton region's feature
    assert "1 window(s) had no probability" in html and "inference failed" in html
    assert "gait cycles" in html
    # privacy: no image of the person unless asked
    assert not (path.parent / FACE_PNG).exists() and 'id="subject"' not in html


def test_face_image_only_when_given(tmp_path: Path, session) -> None:
    km, events, _, probs = session
    face = np.full((40, 30, 3), 128, np.uint8)
    path = write_session_report(
        tmp_path,
        summary={"decision": "no refer"},
        km=km.values,
        km_valid=km.valid,
        timestamps_ms=km.timestamps_ms,
        attention=None,
        salient=None,
        probabilities=probs[:3],
        threshold=0.5,
        events=None,
        notices=[],
        face_image=face,
    )
    html = path.read_text(encoding="utf-8")
    assert (tmp_path / FACE_PNG).is_file() and 'id="subject"' in html
    assert len(_images(html)) == 3  # map (no attention: plain heatmap), probability, subject
    assert html_escape(SCREENING_NOTICE) in html  # added when the caller forgot it
    assert not re.search(r"https?://", html)


class _Summary(BaseModel):
    decision: str | None
    no_decision_reason: str | None
    windows: int
    notices: list[str]


def test_report_for_a_session_that_screened_nothing(tmp_path: Path) -> None:
    summary = _Summary(
        decision=None,
        no_decision_reason="no person was found in the video",
        windows=0,
        notices=["Screening aid, not a diagnosis."],
    )
    path = write_session_report(
        tmp_path,
        summary=summary,
        km=None,
        km_valid=None,
        timestamps_ms=None,
        attention=None,
        salient=None,
        probabilities=[],
        threshold=0.5,
        events=None,
        notices=[],
    )
    html = path.read_text(encoding="utf-8")
    assert "no decision" in html and "Why no decision: no person was found in the video" in html
    assert "No knowledge map" in html and "No window was scored" in html
    assert _images(html) == [] and "Screening aid, not a diagnosis." in html


def test_flat_summary_fields_and_summary_top_features(tmp_path: Path) -> None:
    """The shape of SessionSummary: probability_mean/_sd/..., a provenance string, top_features dicts."""
    summary = {
        "decision": "no_refer",
        "reason": None,
        "probability_mean": 0.31,
        "probability_sd": 0.04,
        "provenance": "demo model trained on simulated gait",
        "quality_flags": {"too_few_steps": 2},
        "top_features": [
            {
                "name": "angle:shoulder_tilt",
                "domain": "self_skeleton",
                "meaning": "shoulder tilt",
                "clinical_prior": "shoulder_tilt",
                "start_s": 1.0,
                "stop_s": 2.5,
                "evidence": 0.8,
            }
        ],
    }
    html = write_session_report(
        tmp_path,
        summary=summary,
        km=None,
        km_valid=None,
        timestamps_ms=None,
        probabilities=[(0.0, 0.31, "no_refer")],
        threshold=0.5,
    ).read_text(encoding="utf-8")
    assert ">0.310<" in html and "sd 0.040" in html and "no_refer" in html
    assert "Model provenance: demo model trained on simulated gait" in html
    assert "quality_flags.too_few_steps" in html and "shoulder tilt" in html and "2.5" in html
