"""Golden sessions for the Kotlin session decision (`SessionStats`, `KioskSession`): issue 15.

A session is the list of its window outcomes (status, probability, skip codes, top features,
error) plus its frame counts; the expected values are what Python's ``Screener.summary()`` says
about exactly those outcomes. Two kinds:

* recorded: the demo bundle's model (ONNX Runtime, CPU) screening SIMULATED walking, through
  ``Screener.process_keypoints``, so the probabilities, skips and top features are real;
* crafted: edge cases of the rule (mean exactly at the threshold, failures only, skips only, too
  short for one window, nobody in view, top-feature ties).

``replay`` feeds stored outcomes to a real ``Screener``'s totals and calls its own ``summary()``
(no copy of the rule here), so ``verify`` re-derives every expected value from the current code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SIM_FPS = 30.0
# The fields the Kotlin summary reproduces (gait_cycles/steps need the Python heel-strike history and
# `notes` the input reference; neither is ported).
FIELDS = (
    "decision",
    "reason",
    "probability_mean",
    "probability_sd",
    "probability_min",
    "probability_max",
    "threshold",
    "windows_total",
    "windows_screened",
    "windows_skipped",
    "windows_failed",
    "frames_processed",
    "frames_with_subject",
    "duration_s",
    "quality_flags",
    "top_features",
)


def demo_screener():
    from scoligait_edge.screener import Screener

    return Screener(backend="onnxruntime", pose=False, threads=1)


def _outcome(r) -> dict[str, Any]:
    return {
        "status": r.status,
        "probability": r.probability,
        "quality_flags": list(r.quality_flags),
        "error": r.error,
        "top_features": [f.model_dump() for f in r.top_features],
    }


def _expected(summary) -> dict[str, Any]:
    d = summary.model_dump()
    return {k: d[k] for k in FIELDS}


def replay(screener, session: dict[str, Any]) -> dict[str, Any]:
    """``screener.summary()`` over the stored outcomes (the Screener's own totals, fed as its windows would)."""
    from scoligait_edge.results import FeatureHighlight, ScreeningResult

    screener._reset_stream()
    screener._frames = session["frames"]
    screener._frames_with_subject = session["frames_with_subject"]
    if session["frames"]:
        screener._first_ts, screener._last_ts = 0.0, session["duration_s"] * 1000.0
    for i, o in enumerate(session["windows"]):
        r = ScreeningResult(
            window_index=i,
            status=o["status"],
            start_ms=0.0,
            end_ms=0.0,
            first_frame=0,
            probability=o["probability"],
            threshold=screener.threshold,
            quality_flags=o["quality_flags"],
            error=o["error"],
            top_features=[FeatureHighlight(**f) for f in o["top_features"]],
            provenance=screener.provenance,
        )
        screener._stats.add(r)
        screener._n_windows += 1
    return _expected(screener.summary())


def recorded_sessions(screener) -> list[dict[str, Any]]:
    """The demo model on SIMULATED clips: walking (healthy, scoliotic), standing still, walking out of view."""
    from scoligait_edge.data.simulate import sample_subject, simulate_clip

    def clip(seed: int, cobb: float, **kw: Any):
        subj = sample_subject(np.random.default_rng(seed), f"session-{seed:03d}", cobb_deg=cobb)
        return simulate_clip(subj, fps=SIM_FPS, seed=100 + seed, **kw)

    cases = []
    c = clip(21, 0.0, n_frames=480, camera="side", direction="left_to_right")
    cases.append(
        ("sim_session_healthy_side", c.keypoints, c.timestamps_ms, "SIMULATED healthy subject, side view, 16 s")
    )
    c = clip(22, 30.0, n_frames=480, camera="frontal", direction="toward")
    cases.append(("sim_session_cobb30_frontal", c.keypoints, c.timestamps_ms, "SIMULATED Cobb 30 deg, frontal, 16 s"))
    c = clip(32, 35.0, n_frames=480, camera="frontal", direction="away")
    cases.append(
        (
            "sim_session_borderline_frontal",
            c.keypoints,
            c.timestamps_ms,
            "SIMULATED Cobb 35 deg, frontal (away), 16 s: session mean just below the threshold",
        )
    )
    c = clip(23, 18.0, n_frames=420, camera="side", direction="right_to_left")
    kp = np.array(c.keypoints, np.float64)
    kp[200:] = kp[199]  # stops walking after 6.7 s: later windows are skipped as not walking
    cases.append(("sim_session_stops_walking", kp, c.timestamps_ms, "SIMULATED Cobb 18 deg, walks 6.7 s then stands"))
    c = clip(24, 12.0, n_frames=360, camera="side", direction="left_to_right")
    kp = np.array(c.keypoints, np.float64)
    kp[:, 13:] = (np.nan, np.nan, 0.0)  # legs and feet out of the picture throughout
    cases.append(("sim_session_legs_out_of_view", kp, c.timestamps_ms, "SIMULATED, legs never in view"))

    out = []
    for name, kp, ts, desc in cases:
        screener._reset_stream()
        results = []
        for k, t in zip(np.asarray(kp, np.float64), np.asarray(ts, np.float64), strict=True):
            results += screener.process_keypoints(k, float(t)).results
        results += screener.finish()
        out.append(
            {
                "name": name,
                "description": desc,
                "frames": screener._frames,
                "frames_with_subject": screener._frames_with_subject,
                "duration_s": (screener._last_ts - screener._first_ts) / 1000.0,
                "windows": [_outcome(r) for r in results],
                "expected": _expected(screener.summary()),
            }
        )
    return out


def crafted_sessions(threshold: float) -> list[dict[str, Any]]:
    """Edge cases of the rule, on the demo bundle's threshold."""

    def feat(name: str, domain: str, evidence: float, a: float, b: float) -> dict[str, Any]:
        return {
            "name": name,
            "domain": domain,
            "meaning": f"meaning of {name}",
            "clinical_prior": None,
            "start_s": a,
            "stop_s": b,
            "evidence": evidence,
        }

    def screened(p: float, *features: dict[str, Any]) -> dict[str, Any]:
        return {
            "status": "screened",
            "probability": p,
            "quality_flags": [],
            "error": None,
            "top_features": list(features),
        }

    def skipped(*flags: str) -> dict[str, Any]:
        return {
            "status": "skipped",
            "probability": None,
            "quality_flags": list(flags),
            "error": None,
            "top_features": [],
        }

    def failed(msg: str) -> dict[str, Any]:
        return {"status": "error", "probability": None, "quality_flags": [], "error": msg, "top_features": []}

    def session(
        name: str, desc: str, windows: list, frames: int = 600, with_subject: int = 590, duration: float = 20.0
    ):
        return {
            "name": name,
            "description": desc,
            "frames": frames,
            "frames_with_subject": with_subject,
            "duration_s": duration,
            "windows": windows,
        }

    a, b, c, d = (
        feat("angle:trunk_lean", "self_skeleton", 0.3, 1.0, 2.0),
        feat("dist:shoulders", "self_skeleton", 0.2, 0.5, 1.5),
        feat("xcorr:hips", "cross_correlation", 0.1, 2.0, 3.0),
        feat("vel:left_ankle", "motion", 0.4, 0.0, 3.2),
    )
    t = threshold
    return [
        session(
            "crafted_mean_at_threshold",
            "two windows whose mean is the threshold: refer (>=)",
            [screened(t - 0.25), screened(t + 0.25)],
        ),
        session(
            "crafted_one_high_window",
            "one window far above the threshold among low ones: no referral",
            [screened(0.95, a), screened(0.1, b), screened(0.2, a), screened(0.15, c)],
        ),
        session(
            "crafted_flip_flop",
            "windows alternating on both sides of the threshold (the single-window rule flips)",
            [screened(t + 0.1 if i % 2 else t - 0.12, a if i % 3 else d) for i in range(10)],
        ),
        session(
            "crafted_mixed",
            "screened, skipped and failed windows; feature ties in first-seen order",
            [
                skipped("not_walking"),
                screened(0.7, d, b),
                failed("RuntimeError: x"),
                screened(0.6, b, d),
                skipped("body_not_fully_visible", "too_few_gait_cycles"),
                screened(0.4, c),
                screened(0.9, a, c),
            ],
        ),
        session(
            "crafted_only_skipped",
            "no window passed the quality check",
            [
                skipped("not_walking", "too_few_gait_cycles"),
                skipped("body_not_fully_visible"),
                skipped("not_walking"),
                skipped("too_few_gait_cycles", "not_walking"),
            ],
        ),
        session(
            "crafted_only_failed", "inference failed on every window", [failed("model busy"), failed("OrtException: y")]
        ),
        session("crafted_too_short", "frames but no complete window", [], frames=60, with_subject=60, duration=2.0),
        session("crafted_nobody", "nobody in view", [], frames=300, with_subject=0, duration=10.0),
        session("crafted_no_frames", "no frames at all", [], frames=0, with_subject=0, duration=0.0),
    ]


def write_sessions() -> dict[str, Any]:
    """The sessions with their expected summaries (the recorded ones checked against a replay)."""
    screener = demo_screener()
    try:
        sessions = recorded_sessions(screener)
        for s in sessions:
            again = replay(screener, s)
            if again != s["expected"]:
                raise AssertionError(
                    f"{s['name']}: the replayed summary differs from the recorded one: {again} vs {s['expected']}"
                )
        crafted = crafted_sessions(screener.threshold)
        for s in crafted:
            s["expected"] = replay(screener, s)
        return {
            "threshold": screener.threshold,
            "window_frames": screener.window_length,
            "fields": list(FIELDS),
            "sessions": sessions + crafted,
        }
    finally:
        screener.close()


def verify_sessions(doc: dict[str, Any], tol: float = 1e-12) -> list[str]:
    """Problems (empty = current): every stored expectation re-derived by the current ``Screener.summary()``."""
    problems = []
    screener = demo_screener()
    try:
        if doc.get("threshold") != screener.threshold:
            problems.append(f"sessions: threshold {doc.get('threshold')} != the demo bundle's {screener.threshold}")
        for s in doc["sessions"]:
            got = replay(screener, s)
            for k in FIELDS:
                want, have = s["expected"][k], got[k]
                same = abs(want - have) <= tol if isinstance(want, float) and isinstance(have, float) else want == have
                if not same:
                    problems.append(f"session {s['name']}: {k} is {have!r} now, stored {want!r}")
    finally:
        screener.close()
    return problems
