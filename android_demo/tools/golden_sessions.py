"""Golden sessions for the Kotlin session decision (`SessionStats`, `KioskSession`): issue 15.

A session is the list of its window outcomes (status, probability, skip codes, top features,
error) plus its frame counts; the expected values are what Python's ``Screener.summary()`` says
about exactly those outcomes. Two kinds:

* recorded: the demo bundle's model (ONNX Runtime, CPU) screening SIMULATED walking, through
  ``Screener.process_keypoints``, so the probabilities, skips and top features are real;
* crafted: edge cases of the rule (mean exactly at the threshold, failures only, skips only, too
  short for one window, nobody in view, top-feature ties, exactly half / most windows unlike the
  training data, heel strikes seen by overlapping windows).

Each window also carries its heel strikes (session row indices, what ``add_heel_strikes`` counts
steps from) and its out-of-distribution flag and fraction (the demo bundle's input reference); one
recorded session walks in front of an upside-down camera, so most of its screened windows are
flagged and the summary has Python's note "input unlike the training data". The recorded sessions'
keypoints (rounded to float32, as Python screened them) are stored too, so the Kotlin session can
re-detect the heel strikes and re-score the windows itself.

``replay`` feeds stored outcomes to a real ``Screener``'s totals and calls its own ``summary()``
(no copy of the rule here), so ``verify`` re-derives every expected value from the current code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SIM_FPS = 30.0
# The fields the Kotlin summary reproduces.
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
    "gait_cycles",
    "steps",
    "windows_input_unusual",
    "notes",
)


def demo_screener():
    from scoligait_edge.screener import Screener

    return Screener(backend="onnxruntime", pose=False, threads=1)


def _outcome(r, heel_strikes: dict[str, list[int]]) -> dict[str, Any]:
    return {
        "status": r.status,
        "probability": r.probability,
        "quality_flags": list(r.quality_flags),
        "error": r.error,
        "top_features": [f.model_dump() for f in r.top_features],
        "input_unusual": r.input_unusual,
        "input_unusual_fraction": r.input_unusual_fraction,
        "heel_strikes": heel_strikes,
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
            input_unusual=o.get("input_unusual"),
        )
        for side in ("left", "right"):  # as Screener._screen does for every window
            screener.history.add_heel_strikes(side, o.get("heel_strikes", {}).get(side, []))
        screener._stats.add(r)
        screener._n_windows += 1
    return _expected(screener.summary())


def _upside_down(kp: np.ndarray) -> np.ndarray:
    """The camera mounted upside down (a 180-degree rotation), as tests/test_input_reference.py does."""
    kp = np.array(kp, np.float64)
    kp[..., 0] = 2000.0 - kp[..., 0]
    kp[..., 1] = 2000.0 - kp[..., 1]
    return kp


def recorded_sessions(screener) -> list[dict[str, Any]]:
    """The demo model on SIMULATED clips: walking (healthy, scoliotic), standing still, walking out of view,
    walking in front of an upside-down camera (input unlike the training data)."""
    from scoligait_edge.research.sim.simulate import sample_subject, simulate_clip

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
    c = clip(25, 20.0, n_frames=480, camera="frontal", direction="toward")
    cases.append(
        (
            "sim_session_upside_down_frontal",
            _upside_down(c.keypoints),
            c.timestamps_ms,
            "SIMULATED Cobb 20 deg, frontal, camera upside down: input unlike the training data",
        )
    )

    out = []
    for name, kp, ts, desc in cases:
        # the stored (float32) keypoints are exactly what Python screened, so Kotlin can replay them
        kp = np.asarray(kp, np.float32).astype(np.float64)
        ts = np.asarray(ts, np.float64)
        # from the first frame with the subject in view: whether or not a screener waits for a subject
        # before it makes rows, the rows (and so the windows) are the same
        first = int(np.argmax(np.isfinite(kp[:, :, 0]).any(axis=1)))
        kp, ts = kp[first:], ts[first:]
        screener._reset_stream()
        calls: list[tuple[str, list[int]]] = []
        record = screener.history.add_heel_strikes

        def add(side: str, frames: Any, _record: Any = record, _calls: list = calls) -> None:
            frames = [int(f) for f in frames]
            _calls.append((side, frames))
            _record(side, frames)

        screener.history.add_heel_strikes = add  # type: ignore[method-assign]
        results = []
        for k, t in zip(kp, ts, strict=True):
            results += screener.process_keypoints(k, float(t)).results
        results += screener.finish()
        if len(calls) != 2 * len(results) or any(side != ("left", "right")[i % 2] for i, (side, _) in enumerate(calls)):
            raise AssertionError(f"{name}: expected one left and one right add_heel_strikes per window")
        strikes = [{"left": calls[2 * i][1], "right": calls[2 * i + 1][1]} for i in range(len(results))]
        out.append(
            {
                "name": name,
                "description": desc,
                "frames": screener._frames,
                "frames_with_subject": screener._frames_with_subject,
                "duration_s": (screener._last_ts - screener._first_ts) / 1000.0,
                "windows": [_outcome(r, h) for r, h in zip(results, strikes, strict=True)],
                "expected": _expected(screener.summary()),
                "_keypoints": kp,
                "_timestamps_ms": ts,
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

    def screened(p: float, *features: dict[str, Any], unusual: bool | None = None, strikes=None) -> dict[str, Any]:
        return {
            "status": "screened",
            "probability": p,
            "quality_flags": [],
            "error": None,
            "top_features": list(features),
            "input_unusual": unusual,
            "heel_strikes": strikes or {"left": [], "right": []},
        }

    def skipped(*flags: str, unusual: bool | None = None, strikes=None) -> dict[str, Any]:
        return {
            "status": "skipped",
            "probability": None,
            "quality_flags": list(flags),
            "error": None,
            "top_features": [],
            "input_unusual": unusual,
            "heel_strikes": strikes or {"left": [], "right": []},
        }

    def failed(msg: str, unusual: bool | None = None) -> dict[str, Any]:
        return {
            "status": "error",
            "probability": None,
            "quality_flags": [],
            "error": msg,
            "top_features": [],
            "input_unusual": unusual,
            "heel_strikes": {"left": [], "right": []},
        }

    def hs(left: list[int], right: list[int]) -> dict[str, list[int]]:
        return {"left": left, "right": right}

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
        session(
            "crafted_unusual_half",
            "exactly half the screened windows unlike the training data: no note (more than half needed); "
            "flagged skipped and failed windows do not count",
            [
                screened(0.3, unusual=True),
                screened(0.4, unusual=False),
                skipped("not_walking", unusual=True),
                failed("RuntimeError: z", unusual=True),
                screened(0.2, unusual=True),
                screened(0.6, unusual=None),
            ],
        ),
        session(
            "crafted_unusual_most",
            "most screened windows unlike the training data: the note",
            [screened(0.7, unusual=True), screened(0.2, unusual=True), screened(0.5, unusual=False)],
        ),
        session(
            "crafted_heel_strikes",
            "overlapping windows see the same strikes give or take 3 frames; a strike is compared with the "
            "side's last 8 only; strikes arrive unsorted",
            [
                skipped("not_walking", strikes=hs([40, 10, 25], [18, 33])),
                screened(0.4, strikes=hs([26, 41, 55, 70], [32, 48, 62])),
                screened(0.5, strikes=hs([54, 71, 86, 100, 115, 130, 145, 160], [63, 78, 93, 108])),
                failed("OrtException: w"),
                screened(0.45, strikes=hs([12, 175, 190], [121, 124, 128])),
            ],
        ),
    ]


def write_sessions(out: Any = None) -> dict[str, Any]:
    """The sessions with their expected summaries (the recorded ones checked against a replay); with
    ``out`` (a folder), the recorded sessions' keypoints and timestamps are saved there as ``.npy``."""
    screener = demo_screener()
    try:
        if screener.input_reference is None:
            raise AssertionError("the demo bundle has no input reference: the sessions need one")
        sessions = recorded_sessions(screener)
        for s in sessions:
            kp, ts = s.pop("_keypoints"), s.pop("_timestamps_ms")
            if out is not None:
                s["keypoints"] = f"session.{s['name']}.keypoints.npy"
                s["timestamps_ms"] = f"session.{s['name']}.timestamps_ms.npy"
                np.save(out / s["keypoints"], kp.astype(np.float32), allow_pickle=False)
                np.save(out / s["timestamps_ms"], ts, allow_pickle=False)
            again = replay(screener, s)
            if again != s["expected"]:
                raise AssertionError(
                    f"{s['name']}: the replayed summary differs from the recorded one: {again} vs {s['expected']}"
                )
        flagged = [s for s in sessions if s["expected"]["notes"]]
        if not flagged:
            raise AssertionError("no recorded session has the 'input unlike the training data' note")
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


def verify_sessions(doc: dict[str, Any], tol: float = 1e-12, directory: Any = None) -> list[str]:
    """Problems (empty = current): every stored expectation re-derived by the current ``Screener.summary()``;
    with ``directory``, each recorded session is screened again from its stored keypoints and its windows
    (status, probability, heel strikes, out-of-distribution flag) compared with the stored ones."""
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
            if directory is not None and "keypoints" in s:
                problems += _rescreen(screener, s, directory, tol)
    finally:
        screener.close()
    return problems


def _rescreen(screener, s: dict[str, Any], directory: Any, tol: float) -> list[str]:
    kp = np.load(directory / s["keypoints"], allow_pickle=False).astype(np.float64)
    ts = np.load(directory / s["timestamps_ms"], allow_pickle=False)
    screener._reset_stream()
    calls: list[list[int]] = []
    record = screener.history.add_heel_strikes

    def add(side: str, frames: Any) -> None:
        calls.append([int(f) for f in frames])
        record(side, frames)

    screener.history.add_heel_strikes = add  # type: ignore[method-assign]
    results = []
    for k, t in zip(kp, ts, strict=True):
        results += screener.process_keypoints(k, float(t)).results
    results += screener.finish()
    stored = s["windows"]
    if len(results) != len(stored):
        return [f"session {s['name']}: {len(results)} windows now, stored {len(stored)}"]
    problems = []
    for i, (r, o) in enumerate(zip(results, stored, strict=True)):
        now = {
            "status": r.status,
            "input_unusual": r.input_unusual,
            "heel_strikes": {"left": calls[2 * i], "right": calls[2 * i + 1]},
        }
        for k, v in now.items():
            if v != o[k]:
                problems.append(f"session {s['name']} window {i}: {k} is {v!r} now, stored {o[k]!r}")
        for k, v in (("probability", r.probability), ("input_unusual_fraction", r.input_unusual_fraction)):
            w = o[k]
            if (v is None) != (w is None) or (v is not None and abs(v - w) > 1e-9):
                problems.append(f"session {s['name']} window {i}: {k} is {v!r} now, stored {w!r}")
    return problems
