"""Golden vectors for the Android demo's Kotlin core, written by the Python reference implementation.

One command regenerates everything (the generated Kotlin tables too)::

    .venv/bin/python android_demo/tools/make_golden.py

Fixtures go to ``android_demo/core/src/test/resources/golden/``: ``index.json``
(what each case is, the schema hashes, parameters) and plain ``.npy`` arrays
(little-endian, C order; the Kotlin core reads them with its own NPY reader, no
extra libraries). Inputs:

* the real sample video (``scoligait_edge/assets/sample/sports2d_walk_demo.mp4``):
  MediaPipe (lite ``.task``) runs once, here, and the tracked subject's 33
  normalised landmarks (x, y, visibility, presence; float32 as MediaPipe gives
  them) are stored, so the Kotlin test needs no MediaPipe; once stored they are
  reused (MediaPipe's output may differ slightly between CPUs), ``--rerun-video``
  runs the pose model again;
* SIMULATED clips (``scoligait_edge.research.sim.simulate``): 30 fps, 25 fps with
  dropped frames and a 0.4 s dropout, 60 fps with drops, 30 fps with the nose lost for 25 and 9
  frames (a cross-domain signal missing in valid frames), and a 1100-frame clip
  (the streaming builder re-sums its running sums every 1024 frames).

Outputs (all from the batch Python code, the reference): COCO-21 keypoints
from the landmarks, the 30 Hz grid and resampled keypoints, gap-filled
keypoints, the 238-column map with validity, window starts and valid
fractions, gait events and window verdicts (the walking gate included), the walking gate's verdict and
measures on 13 windows (``walking_gate``: SIMULATED walks, runs, standing, swaying, jumping, random
keypoints, an upside-down camera, a body tracked too briefly; two REAL demo windows), the cross domain's peak rule on synthetic lagged
correlations (ties, MIN_PEAK, edges, parabolic refinement), per-window text descriptions (against reference statistics fitted
here on other simulated clips), sentence ids -> embedding rows of the bundled
table, ``top_features`` of synthetic attention maps, silhouettes of synthetic
masks, an example bundle manifest, each window's out-of-distribution score against the demo
bundle's input reference, and ``sessions.json``: the session decision of
``Screener.summary()`` (with steps, gait cycles and the "input unlike the training data" note)
on sessions the demo model screened (SIMULATED walking, one of them with an upside-down camera)
and on crafted edge cases (``golden_sessions.py``), with the recorded sessions' keypoints. ``tests/test_android_golden.py`` recomputes all outputs from the
stored inputs and fails when they are stale.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
TOOLS = Path(__file__).resolve().parent
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

from scoligait_edge.core.schema import FEATURE_NAMES, SCHEMA_VERSION, schema_hash  # noqa: E402
from scoligait_edge.core.skeleton import mediapipe_to_coco  # noqa: E402
from scoligait_edge.kinematics.builder import StreamingKnowledgeMap, build_knowledge_map  # noqa: E402
from scoligait_edge.kinematics.events import assess_window, detect_gait_events  # noqa: E402
from scoligait_edge.kinematics.keypoints import fill_gaps  # noqa: E402
from scoligait_edge.kinematics.resample import StreamResampler, resample_keypoints, window_starts  # noqa: E402

GOLDEN = ROOT / "android_demo" / "core" / "src" / "test" / "resources" / "golden"
FORMAT_VERSION = 1
WINDOW_FRAMES = 96
WINDOW_HOP = 16
MAX_SENTENCES = 4
TEXT_DIR = "scoligait_edge/assets/text"
REAL_MODEL = "lite"
LONG_ROWS_OFFSET = 960
INPUT_REFERENCE = "scoligait_edge/assets/models/demo/input_reference.json"
"""The long clip stores map rows from here on (the resync at row 1024 is inside); validity for all rows."""

log = logging.getLogger("make_golden")


# ----------------------------------------------------------------- small helpers
def _save(name: str, array: np.ndarray, out: Path) -> str:
    arr = np.ascontiguousarray(array)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    np.save(out / name, arr, allow_pickle=False)
    return name


def _load(name: str, directory: Path = GOLDEN) -> np.ndarray:
    return np.load(directory / name, allow_pickle=False)


def _f(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


# ----------------------------------------------------------------- skeleton (MediaPipe 33 -> COCO-21)
def extract_real_landmarks(video: Path, model: str = REAL_MODEL) -> dict[str, Any]:
    """Run MediaPipe + the subject tracker on the video; the subject's normalised landmarks, as stored."""
    from scoligait_edge.pose.frame import subject_keypoints
    from scoligait_edge.pose.tracker import select_subject
    from scoligait_edge.research.extract import detect_video_poses

    frames, fps = detect_video_poses(video, model=model, progress=False)
    tracked = select_subject(frames)
    w, h = tracked[0].image_size
    T = len(tracked)
    lm = np.zeros((T, 33, 4), np.float32)
    has = np.zeros(T, bool)
    for i, f in enumerate(tracked):
        assert f.image_size == (w, h)
        if f.subject is None:
            continue
        p = f.subject
        il = p.image_landmarks
        x32 = (il[:, 0] / w).astype(np.float32)
        y32 = (il[:, 1] / h).astype(np.float32)
        vis32 = il[:, 3].astype(np.float32)
        pres = p.presence if p.presence is not None else np.ones(33)
        pres32 = pres.astype(np.float32)
        # MediaPipe's values are float32: the stored copy must give back exactly what Python used
        assert np.array_equal(x32.astype(np.float64) * w, il[:, 0]), "x is not float32 * width"
        assert np.array_equal(y32.astype(np.float64) * h, il[:, 1]), "y is not float32 * height"
        assert np.array_equal(vis32.astype(np.float64), il[:, 3]) and np.array_equal(pres32.astype(np.float64), pres)
        lm[i] = np.stack([x32, y32, vis32, pres32], axis=1)
        has[i] = True
    ts = np.array([f.timestamp_ms for f in tracked], np.float64)
    data = {"landmarks": lm, "has_subject": has, "timestamps_ms": ts, "image_size": (int(w), int(h)), "fps": fps}
    # the stored copy reproduces the Python extraction exactly
    assert np.array_equal(reference_subject_keypoints(lm, has, w, h), subject_keypoints(tracked), equal_nan=True)
    return data


def reference_subject_keypoints(landmarks: np.ndarray, has_subject: np.ndarray, w: int, h: int) -> np.ndarray:
    """COCO-21 [T, 21, 3] from stored landmarks, through the Python code the extractor uses."""
    from scoligait_edge.pose.frame import PersonPose, PoseFrame, subject_keypoints

    frames = []
    for i in range(landmarks.shape[0]):
        if not has_subject[i]:
            frames.append(PoseFrame(timestamp_ms=float(i), image_size=(w, h), people=[]))
            continue
        lm = landmarks[i].astype(np.float64)
        image = np.zeros((33, 4))
        image[:, 0] = lm[:, 0] * w
        image[:, 1] = lm[:, 1] * h
        image[:, 3] = lm[:, 2]
        person = PersonPose(image_landmarks=image, presence=lm[:, 3])
        frames.append(PoseFrame(timestamp_ms=float(i), image_size=(w, h), people=[person], subject_index=0))
    return subject_keypoints(frames)


def synthetic_skeleton_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(33)
    n = 16
    return {
        "xy": rng.uniform(-50.0, 1300.0, (n, 33, 2)),
        "visibility": rng.uniform(-0.2, 1.2, (n, 33)),  # outside [0, 1]: the conversion clips
        "presence": rng.uniform(-0.1, 1.1, (n, 33)),
    }


def synthetic_skeleton_outputs(inp: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {
        "coco21_presence": mediapipe_to_coco(inp["xy"], inp["visibility"], presence=inp["presence"]),
        "coco21_visibility_only": mediapipe_to_coco(inp["xy"], inp["visibility"]),
        "coco17_presence": mediapipe_to_coco(inp["xy"], inp["visibility"], presence=inp["presence"], with_feet=False),
    }


# ----------------------------------------------------------------- simulated clips
def simulated_cases() -> list[dict[str, Any]]:
    """(name, keypoints, timestamps, description) of the simulated map cases; inputs rounded to float32."""
    from scoligait_edge.research.sim.simulate import sample_subject, simulate_clip

    def clip(subject_seed: int, cobb: float, **kw: Any):
        subj = sample_subject(np.random.default_rng(subject_seed), f"golden-{subject_seed:03d}", cobb_deg=cobb)
        return simulate_clip(subj, **kw)

    out = []
    c = clip(1, 25.0, n_frames=200, fps=30.0, camera="side", direction="left_to_right", seed=11)
    out.append(("sim_side_30fps", c.keypoints, c.timestamps_ms, "SIMULATED side view, 30 fps, Cobb 25 deg"))
    c = clip(
        2,
        0.0,
        n_frames=290,
        fps=25.0,
        camera="frontal",
        direction="toward",
        seed=12,
        drop_rate=0.15,
        timestamp_jitter_ms=3.0,
    )
    keep = np.ones(c.n_frames, bool)
    keep[120:130] = False  # a 0.4 s dropout: never interpolated across
    out.append(
        (
            "sim_frontal_25fps_drops",
            c.keypoints[keep],
            c.timestamps_ms[keep],
            "SIMULATED frontal (toward), 25 fps, 15% dropped frames, 3 ms jitter, one 0.4 s dropout",
        )
    )
    c = clip(3, 14.0, n_frames=300, fps=60.0, camera="side", direction="right_to_left", seed=13, drop_rate=0.1)
    out.append(
        (
            "sim_side_60fps_drops",
            c.keypoints,
            c.timestamps_ms,
            "SIMULATED side view, 60 fps, 10% dropped frames, Cobb 14 deg",
        )
    )
    c = clip(5, 20.0, n_frames=150, fps=30.0, camera="frontal", direction="toward", seed=15)
    kp = np.array(c.keypoints, np.float64)
    kp[50:75, 0] = (np.nan, np.nan, 0.0)  # the nose (a cross signal via angle:head_vs_trunk) is lost, not the body:
    kp[100:109, 0] = (np.nan, np.nan, 0.0)  # the frames stay valid and leave only that signal's pairs
    out.append(
        (
            "sim_frontal_30fps_nose_dropout",
            kp,
            c.timestamps_ms,
            "SIMULATED frontal (toward), 30 fps, Cobb 20 deg, nose missing in frames 50-74 and 100-108 "
            "(per-value masks of the cross domain)",
        )
    )
    c = clip(4, 32.0, n_frames=1100, fps=30.0, camera="frontal", direction="away", seed=14)
    out.append(
        (
            "sim_long_30fps",
            c.keypoints,
            c.timestamps_ms,
            "SIMULATED frontal (away), 30 fps, 1100 frames (running sums re-summed at row 1024)",
        )
    )
    cases = []
    for name, kp, ts, desc in out:
        kp32 = np.asarray(kp, np.float64).astype(np.float32)
        cases.append(
            {"name": name, "keypoints": kp32, "timestamps_ms": np.asarray(ts, np.float64), "description": desc}
        )
    return cases


# ----------------------------------------------------------------- the walking gate
GATE_FRAMES = 96
GATE_SEED = 4100
DEMO_WINDOWS = ROOT / "tests" / "data" / "sample_walk_demo_windows.npz"


def gate_cases() -> list[dict[str, Any]]:
    """The walking gate's inputs, one 96-frame window each at 30 Hz, stored as ``[96, 17, 3]`` float32 (the gate
    reads the body and head joints only): SIMULATED walks, runs, standing, swaying, jumping and random keypoints
    (``research/sim/motions.py``), a walk seen by an upside-down camera, a body tracked for too few frames, and
    two of the REAL sample video's demo windows (MediaPipe "full": the one once refused as running, and her
    leaving the frame)."""
    from scoligait_edge.core.skeleton import NUM_COCO
    from scoligait_edge.research.sim.motions import simulate_motion
    from scoligait_edge.research.sim.simulate import sample_subject, simulate_clip

    cases: list[dict[str, Any]] = []

    def add(name: str, kp: np.ndarray, description: str) -> None:
        arr = np.asarray(kp, np.float64)[:GATE_FRAMES, :NUM_COCO].astype(np.float32)
        cases.append({"name": name, "keypoints": arr, "description": description})

    motions = {"side": ("running", "standing", "jumping", "random"), "frontal": ("running", "swaying", "random")}
    for i, camera in enumerate(("side", "frontal")):
        seed = GATE_SEED + 10 * i
        while True:  # the first walk whose body is visible (map validity >= 90 %), as window quality asks
            subject = sample_subject(np.random.default_rng(seed), f"gate-{seed}", cobb_deg=15.0)
            walk = simulate_clip(subject, n_frames=GATE_FRAMES, camera=camera, seed=seed).keypoints
            if build_knowledge_map(walk, 30.0).valid.mean() >= 0.9:
                break
            seed += 1
        add(f"walking_{camera}", walk, f"SIMULATED walk, {camera}")
        for motion in motions[camera]:
            kp, _ = simulate_motion(subject, motion, n_frames=GATE_FRAMES, camera=camera, seed=seed)
            add(f"{motion}_{camera}", kp, f"SIMULATED {motion}, {camera} (research/sim/motions.py)")
        if camera == "frontal":
            flipped = np.array(walk, np.float64)
            flipped[..., :2] = 2000.0 - flipped[..., :2]
            add("walking_frontal_upside_down", flipped, "SIMULATED walk, frontal, camera upside down (180 degrees)")
        else:
            brief = np.array(walk, np.float64)
            brief[20:, :, :2], brief[20:, :, 2] = np.nan, 0.0
            add("walking_side_tracked_20_frames", brief, "SIMULATED walk, side, the body lost after 20 frames")
    demo = np.load(DEMO_WINDOWS)
    for k in (2, 4):
        add(
            f"real_demo_window_{k}", demo["keypoints"][k], f"REAL sample video, make demo's window {k} (MediaPipe full)"
        )
    return cases


def gate_outputs(keypoints: np.ndarray) -> dict[str, Any]:
    """``assess_walking`` of one stored window (float32 read as float64, as the Kotlin test reads it)."""
    from scoligait_edge.kinematics.walking import assess_walking

    return assess_walking(np.asarray(keypoints, np.float64), 30.0).model_dump()


def gate_thresholds() -> dict[str, float]:
    """The gate's thresholds, so the Kotlin test can tell a verdict near one (compared by its measures only)."""
    from scoligait_edge.kinematics import walking as wk

    return {
        "MIN_STRIDE": wk.MIN_STRIDE,
        "MIN_PERIODICITY": wk.MIN_PERIODICITY,
        "MIN_CADENCE": wk.MIN_CADENCE,
        "MAX_CADENCE": wk.MAX_CADENCE,
        "MAX_BOUNCE": wk.MAX_BOUNCE,
        "MIN_UPRIGHT": wk.MIN_UPRIGHT,
        "MAX_JITTER": wk.MAX_JITTER,
        "MAX_RUN_SCORE": wk.MAX_RUN_SCORE,
        "MIN_RUN_HEEL": wk.MIN_RUN_HEEL,
    }


# ----------------------------------------------------------------- the map chain
def map_outputs(keypoints: np.ndarray, timestamps_ms: np.ndarray) -> dict[str, Any]:
    """Everything the Kotlin chain must reproduce for one input sequence (batch Python = the reference)."""
    kp = np.asarray(keypoints, np.float64)
    ts = np.asarray(timestamps_ms, np.float64)
    resampled, grid = resample_keypoints(kp, ts)
    filled = fill_gaps(resampled)
    km = build_knowledge_map(kp, timestamps_ms=ts)
    assert np.array_equal(km.timestamps_ms, grid)
    starts = np.array(list(window_starts(len(km), WINDOW_FRAMES, WINDOW_HOP)), np.int64)
    frac = np.array([float(np.mean(km.valid[s : s + WINDOW_FRAMES])) for s in starts], np.float64)
    events = detect_gait_events(resampled, 30.0)  # as preprocess_clip does, on the 30 Hz keypoints
    verdicts = []
    for s in starts:
        q = assess_window(km.valid, events, int(s), int(s) + WINDOW_FRAMES, keypoints=resampled)
        verdicts.append({"start": int(s), "ok": q.ok, **q.model_dump()})
    return {
        "grid_ms": grid,
        "resampled": resampled,
        "filled": filled,
        "values": km.values,
        "valid": km.valid,
        "window_starts": starts,
        "window_valid_fraction": frac,
        "events": {
            "heel_strikes": events.heel_strikes,
            "toe_offs": events.toe_offs,
            "view": events.view,
            "n_frames": events.n_frames,
        },
        "window_verdicts": verdicts,
    }


def demo_input_reference():
    """The shipped demo bundle's input reference (the out-of-distribution check the app runs)."""
    from scoligait_edge.bundle.input_reference import InputReference

    return InputReference.model_validate_json((ROOT / INPUT_REFERENCE).read_text())


def input_unusual_outputs(values: np.ndarray, valid: np.ndarray, starts: np.ndarray, offset: int) -> np.ndarray:
    """``InputReference.score_window``'s fraction of far columns per window (NaN: not scored, or the
    window starts before the stored rows)."""
    ref = demo_input_reference()
    out = np.full(len(starts), np.nan)
    for k, s in enumerate(starts):
        if s < offset:
            continue
        fraction, _ = ref.score_window(values[s - offset : s - offset + WINDOW_FRAMES], valid[s : s + WINDOW_FRAMES])
        out[k] = np.nan if fraction is None else fraction
    return out


def python_stream_vs_batch(
    keypoints: np.ndarray, timestamps_ms: np.ndarray, batch_values: np.ndarray, batch_valid: np.ndarray
) -> float:
    """The Python streaming chain against the batch map (for the record; the Kotlin core is streaming)."""
    r, sk = StreamResampler(), StreamingKnowledgeMap(keypoints.shape[1])
    rows = [row for t, f in zip(timestamps_ms, keypoints, strict=True) for _, g in r.push(t, f) for row in sk.push(g)]
    rows += sk.flush()
    values = np.array([x.values for x in rows])
    valid = np.array([x.valid for x in rows])
    assert np.array_equal(valid, batch_valid), "Python streaming validity differs from batch"
    return float(np.abs(values - batch_values).max())


# ----------------------------------------------------------------- text
def fit_golden_reference():
    """Reference statistics fitted on 12 OTHER simulated clips (the fixtures' own windows are not used)."""
    from scoligait_edge.research.sim.simulate import sample_subject, simulate_clip
    from scoligait_edge.text.reference import fit_reference

    kms, valids, labels = [], [], []
    views = [("side", "left_to_right"), ("side", "right_to_left"), ("frontal", "toward"), ("frontal", "away")]
    for i in range(12):
        cobb = 0.0 if i % 2 == 0 else 18.0 + 2.0 * i
        subj = sample_subject(np.random.default_rng(100 + i), f"ref-{i:03d}", cobb_deg=cobb)
        cam, direction = views[i % 4]
        c = simulate_clip(subj, n_frames=260, fps=30.0, camera=cam, direction=direction, seed=200 + i)
        km = build_knowledge_map(c.keypoints, timestamps_ms=c.timestamps_ms)
        for s in window_starts(len(km), WINDOW_FRAMES, 32):
            kms.append(km.values[s : s + WINDOW_FRAMES])
            valids.append(km.valid[s : s + WINDOW_FRAMES])
            labels.append(c.label)
    return fit_reference(
        kms,
        valids,
        labels,
        min_stratum_negatives=4,
        min_negatives=3,
        provenance="android_demo golden fixtures: 12 SIMULATED clips (not a trained model's reference)",
    )


def describe_outputs(
    values: np.ndarray, valid: np.ndarray, starts: np.ndarray, rows_offset: int, ref
) -> list[dict[str, Any]]:
    from scoligait_edge.text.describe import describe_window

    out = []
    for s in starts:
        lo = int(s) - rows_offset
        if lo < 0:
            continue
        d = describe_window(values[lo : lo + WINDOW_FRAMES], valid[int(s) : int(s) + WINDOW_FRAMES], ref, MAX_SENTENCES)
        out.append(
            {
                "start": int(s),
                "view": d.view,
                "sentence_ids": [int(i) for i in d.sentence_ids],
                "values": {k: _f(v) for k, v in d.values.items()},
                "z_scores": {k: _f(v) for k, v in d.z_scores.items()},
                "findings": [[f.feature, int(f.sentence_id), float(f.score)] for f in d.findings],
            }
        )
    return out


def text_lookup_outputs(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    from scoligait_edge.text.embeddings import default_embedding_table

    return default_embedding_table().lookup(ids, mask)


# ----------------------------------------------------------------- the cross domain's peak rule
def synthetic_lagged_correlations() -> np.ndarray:
    """Correlations ``r [N, L, P]`` that exercise ``peak_lag_zero``'s rules: random, all below MIN_PEAK,
    exactly MIN_PEAK, exact ties (+-k, plateaus, quantised values), peaks at the outermost lags (no
    refinement), negative peaks and unusable lags (NaN: too few pairs)."""
    from scoligait_edge.core.schema import MAX_LAG, MIN_PEAK
    from scoligait_edge.kinematics import features as F

    rng = np.random.default_rng(238)
    nl, p = F.NUM_LAGS, F.NUM_PAIRS
    cases = [rng.uniform(-1.0, 1.0, (nl, p)) for _ in range(6)]
    cases += [rng.uniform(-0.99, 0.99, (nl, p)) * MIN_PEAK for _ in range(2)]  # weak: no peak, lag 0
    cases += [np.round(rng.uniform(-1.0, 1.0, (nl, p)) * 4.0) / 4.0 for _ in range(4)]  # many exact ties
    smooth = np.cos(np.linspace(0.0, np.pi, nl))[:, None] * rng.uniform(-1.0, 1.0, (1, p))
    cases += [smooth, np.roll(smooth, 5, axis=0), np.roll(smooth, -3, axis=0), -smooth[::-1]]
    plateau = np.full((nl, p), 0.6)
    plateau[:, ::2] *= -1.0
    cases.append(plateau)  # all equal: lag 0
    sym = rng.uniform(-0.3, 0.3, (nl, p))
    for k in range(1, MAX_LAG + 1):
        sym[MAX_LAG + k, k % p] = sym[MAX_LAG - k, k % p] = 0.9  # +-k tie: the negative lag wins
        sym[MAX_LAG - k, (k + MAX_LAG) % p] = -0.8
        sym[MAX_LAG + k, (k + MAX_LAG) % p] = 0.8
    cases.append(sym)
    edge = rng.uniform(-0.5, 0.5, (nl, p))
    edge[0, ::3] = 0.95
    edge[-1, 1::3] = -0.97
    edge[0, 2::3] = edge[-1, 2::3] = 0.99
    cases.append(edge)
    at = rng.uniform(-0.04, 0.04, (nl, p))
    at[rng.integers(0, nl, p), np.arange(p)] = MIN_PEAK * np.where(np.arange(p) % 2, 1.0, -1.0)  # exactly MIN_PEAK
    at[:, -4:] = np.nextafter(MIN_PEAK, 0.0) * np.sign(at[:, -4:])  # just below
    cases.append(at)
    few = rng.uniform(-1.0, 1.0, (nl, p))
    few[: MAX_LAG - 2] = np.nan  # lags with fewer than MIN_LAG_PAIRS pairs are NaN: no peak, no refinement
    few[MAX_LAG + 5 :] = np.nan
    cases.append(few)
    holes = rng.uniform(-1.0, 1.0, (nl, p))
    holes[rng.integers(0, nl, (3, p)), np.arange(p)] = np.nan  # unusable lags next to peaks, here and there
    cases.append(holes)
    cases.append(np.zeros((nl, p)))
    cases.append(np.full((nl, p), np.nan))  # no usable lag
    return np.stack(cases)


def peak_outputs(r: np.ndarray) -> np.ndarray:
    from scoligait_edge.kinematics import features as F

    return F.peak_lag_zero(r)


# ----------------------------------------------------------------- result parsing (top features)
def synthetic_attention() -> list[dict[str, Any]]:
    """Two km_attention maps [96, 238]: token-structured (ties within groups) and unstructured."""
    from scoligait_edge.core.schema import domain_slices

    rng = np.random.default_rng(7)
    T, F = WINDOW_FRAMES, len(FEATURE_NAMES)
    att = np.zeros((T, F), np.float32)
    for d, sl in domain_slices().items():
        group = {"motion": 4, "self_skeleton": 2, "cross_correlation": 3}[d]
        for c0 in range(sl.start, sl.stop, group):
            for t0 in range(0, T, 16):
                att[t0 : t0 + 16, c0 : min(c0 + group, sl.stop)] = rng.normal(0.0, 1.0)
    valid = np.ones(T, bool)
    valid[40:50] = False
    att[~valid] = 0.0
    att2 = rng.normal(0.0, 1.0, (T, F)).astype(np.float32)
    sl = domain_slices()["self_skeleton"]
    att2[:, sl] = -np.abs(att2[:, sl])  # a domain with no positive evidence is left out
    valid2 = rng.random(T) > 0.2
    return [
        {"name": "attention_grouped", "attention": att, "valid": valid, "window_start": 32, "per_domain": 2},
        {"name": "attention_random", "attention": att2, "valid": valid2, "window_start": 0, "per_domain": 3},
    ]


def top_feature_outputs(att: np.ndarray, valid: np.ndarray, start: int, per_domain: int) -> list[dict[str, Any]]:
    from scoligait_edge.interpret import top_features

    return [
        {
            "domain": s.domain,
            "rank": s.rank,
            "feature_index": s.feature_index,
            "name": s.name,
            "peak_evidence": s.peak_evidence,
            "mean_evidence": s.mean_evidence,
            "peak_frame": s.peak_frame,
            "frame_start": s.frame_start,
            "frame_stop": s.frame_stop,
            "tied_indices": s.tied_indices,
        }
        for s in top_features(att, valid, per_domain=per_domain, window_start_frame=start)
    ]


# ----------------------------------------------------------------- silhouettes (video branch)
def synthetic_masks() -> list[dict[str, Any]]:
    """Soft person masks (uint8 = 255 x probability) with their landmark boxes: large (INTER_AREA), small
    (INTER_LINEAR), a stray blob outside the box, and one too small to use."""
    rng = np.random.default_rng(64)
    out = []
    for name, (H, W), (cx, cy, rx, ry), stray in (
        ("sil_large", (360, 240), (110.0, 190.0, 38.0, 150.0), True),
        ("sil_small", (120, 160), (70.0, 60.0, 9.0, 26.0), False),
        ("sil_offcentre", (300, 200), (40.0, 150.0, 30.0, 110.0), True),
        ("sil_tiny", (60, 80), (30.0, 30.0, 1.5, 1.5), False),
    ):
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
        r = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
        arm = ((xx - (cx + rx * 0.9)) / (rx * 0.25)) ** 2 + ((yy - (cy - ry * 0.2)) / (ry * 0.4)) ** 2
        soft = np.clip(1.2 - np.minimum(r, arm), 0.0, 1.0) + rng.normal(0.0, 0.08, (H, W))
        if stray:
            soft[5:25, W - 30 : W - 5] = 0.9  # another person's arm, far outside the landmark box
        mask_u8 = np.clip(np.rint(soft * 255.0), 0, 255).astype(np.uint8)
        box = (cx - rx, cy - ry, 2 * rx, 2 * ry)
        out.append({"name": name, "mask": mask_u8, "box": box})
    return out


def silhouette_outputs(mask_u8: np.ndarray, box: tuple[float, float, float, float]) -> tuple[np.ndarray, bool]:
    from scoligait_edge.video.silhouette import person_silhouette

    soft = mask_u8.astype(np.float32) / np.float32(255.0)
    return person_silhouette(soft, box)


# ----------------------------------------------------------------- example manifest
def example_manifest() -> dict[str, Any]:
    """A bundle manifest as `scoligait_edge.export` writes it (km+text model, .ort format)."""
    t = WINDOW_FRAMES

    def spec(name, shape, dtype):
        return {"name": name, "shape": shape, "dtype": dtype, "description": ""}

    def entry(seed: str, size: int):
        return {"sha256": hashlib.sha256(seed.encode()).hexdigest(), "size": size}

    return {
        "format": "scoligait-bundle",
        "bundle_schema_version": 1,
        "feature_schema": {"version": SCHEMA_VERSION, "hash": schema_hash()},
        "model_kind": "ScreeningModel",
        "model": {"modalities": "km+text", "window_frames": t, "text_dim": 384},
        "inputs": [
            spec("km", ["batch", t, len(FEATURE_NAMES)], "float32"),
            spec("km_mask", ["batch", t], "bool"),
            spec("text", ["batch", "text_tokens", 384], "float32"),
            spec("text_mask", ["batch", "text_tokens"], "bool"),
        ],
        "outputs": [
            spec("logit", ["batch"], "float32"),
            spec("prob", ["batch"], "float32"),
            spec("cobb", ["batch"], "float32"),
            spec("km_attention", ["batch", t, len(FEATURE_NAMES)], "float32"),
        ],
        "window": {"frames": t, "fps": 30.0},
        "threshold": {"value": 0.42, "applies_to": "prob", "source": "golden fixture (made up)"},
        "labels": ["no_referral", "refer"],
        "text": {
            "sentence_table": "text/sentences_v1.json",
            "reference_statistics": "text/reference_stats.json",
            "embedding_model": "all-MiniLM-L6-v2",
        },
        "formats": {"ort": "model.ort", "ort-operators": "model.required_operators.config"},
        "files": {
            "model.ort": entry("ort", 1234),
            "model.required_operators.config": entry("ops", 56),
            "text/sentences_v1.json": entry("sent", 14387),
            "text/reference_stats.json": entry("ref", 999),
        },
        "provenance": {"data": "simulated", "notice": "trained on simulated gait; not clinically validated"},
        "created_with": {"scoligait_edge": "0.1.0"},
    }


# ----------------------------------------------------------------- writing
def write_golden(out: Path, *, rerun_video: bool = False, video: Path | None = None) -> dict[str, Any]:
    from scoligait_edge.text.sentences import NOT_ASSESSABLE_ID, sentence_set_hash, text_features_hash

    out.mkdir(parents=True, exist_ok=True)
    index: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "generated_by": ".venv/bin/python android_demo/tools/make_golden.py",
        "schema_version": SCHEMA_VERSION,
        "schema_hash": schema_hash(),
        "sentence_set_hash": sentence_set_hash(),
        "text_features_hash": text_features_hash(),
        "feature_names": list(FEATURE_NAMES),
        "window": {"frames": WINDOW_FRAMES, "hop": WINDOW_HOP},
        "text_dir": TEXT_DIR,
        "tolerance": 1e-4,
    }

    # real video: MediaPipe landmarks -> COCO-21
    if not rerun_video and video is None and (out / "real.landmarks.npy").is_file():
        old = json.loads((out / "index.json").read_text())["skeleton_real"]
        real = {
            "landmarks": _load("real.landmarks.npy", out),
            "has_subject": _load("real.has_subject.npy", out),
            "timestamps_ms": _load("real.timestamps_ms.npy", out),
            "image_size": tuple(old["image_size"]),
            "fps": old["fps"],
        }
        log.info("reusing the stored real-video landmarks")
    else:
        from scoligait_edge.assets import sample_video_path

        video = video or sample_video_path()
        t0 = time.perf_counter()
        real = extract_real_landmarks(video)
        log.info("MediaPipe %s on %s: %.1f s", REAL_MODEL, video.name, time.perf_counter() - t0)
    w, h = real["image_size"]
    coco = reference_subject_keypoints(real["landmarks"], real["has_subject"], w, h)
    index["skeleton_real"] = {
        "source": "scoligait_edge/assets/sample/sports2d_walk_demo.mp4",
        "pose_model": REAL_MODEL,
        "image_size": [w, h],
        "fps": real["fps"],
        "frames": int(real["landmarks"].shape[0]),
        "landmarks": _save("real.landmarks.npy", real["landmarks"], out),
        "landmarks_layout": "[T, 33, 4] float32: x / width, y / height (MediaPipe normalised), visibility, presence",
        "has_subject": _save("real.has_subject.npy", real["has_subject"], out),
        "timestamps_ms": _save("real.timestamps_ms.npy", real["timestamps_ms"], out),
        "coco21": _save("real.coco21.npy", coco, out),
    }
    syn = synthetic_skeleton_inputs()
    syn_out = synthetic_skeleton_outputs(syn)
    index["skeleton_synthetic"] = {k: _save(f"skel.{k}.npy", v, out) for k, v in {**syn, **syn_out}.items()}

    # map cases
    cases = [
        {
            "name": "real_video",
            "keypoints": coco,
            "timestamps_ms": real["timestamps_ms"],
            "description": "real sample video (sports2d), tracked subject, MediaPipe lite",
            "from_landmarks": True,
        }
    ]
    cases += simulated_cases()
    ref = fit_golden_reference()
    (out / "reference_stats.json").write_text(ref.model_dump_json(indent=1) + "\n")
    index["describe"] = {"reference": "reference_stats.json", "max_sentences": MAX_SENTENCES, "cases": {}}
    index["map_cases"] = []
    lookup_ids, lookup_mask = [], []
    for case in cases:
        name = case["name"]
        kp, ts = np.asarray(case["keypoints"], np.float64), case["timestamps_ms"]
        res = map_outputs(kp, ts)
        offset = LONG_ROWS_OFFSET if name == "sim_long_30fps" else 0
        stream_diff = python_stream_vs_batch(kp, ts, res["values"], res["valid"])
        entry: dict[str, Any] = {
            "name": name,
            "description": case["description"],
            "rows": int(len(res["valid"])),
            "rows_offset": offset,
            "python_stream_vs_batch_max_abs": stream_diff,
            "from_landmarks": bool(case.get("from_landmarks", False)),
        }
        if not entry["from_landmarks"]:
            entry["keypoints"] = _save(f"{name}.keypoints.npy", case["keypoints"], out)
            entry["timestamps_ms"] = _save(f"{name}.timestamps_ms.npy", ts, out)
        entry["grid_ms"] = _save(f"{name}.grid_ms.npy", res["grid_ms"], out)
        if offset == 0:
            entry["resampled"] = _save(f"{name}.resampled.npy", res["resampled"], out)
            entry["filled"] = _save(f"{name}.filled.npy", res["filled"], out)
        entry["values"] = _save(f"{name}.values.npy", res["values"][offset:], out)
        entry["valid"] = _save(f"{name}.valid.npy", res["valid"], out)
        entry["window_starts"] = _save(f"{name}.window_starts.npy", res["window_starts"], out)
        entry["window_valid_fraction"] = _save(f"{name}.window_valid_fraction.npy", res["window_valid_fraction"], out)
        entry["input_unusual_fraction"] = _save(
            f"{name}.input_unusual_fraction.npy",
            input_unusual_outputs(res["values"][offset:], res["valid"], res["window_starts"], offset),
            out,
        )
        entry["events"] = res["events"]
        entry["window_verdicts"] = res["window_verdicts"]
        index["map_cases"].append(entry)
        desc = describe_outputs(res["values"][offset:], res["valid"], res["window_starts"], offset, ref)
        index["describe"]["cases"][name] = desc
        for d in desc[:2]:
            ids = d["sentence_ids"] + [NOT_ASSESSABLE_ID] * (MAX_SENTENCES - len(d["sentence_ids"]))
            lookup_ids.append(ids)
            lookup_mask.append([True] * len(d["sentence_ids"]) + [False] * (MAX_SENTENCES - len(d["sentence_ids"])))
        log.info(
            "%s: %d rows, %d valid, %d windows (%d pass the gait verdict), %d heel strikes (%s), "
            "python stream-vs-batch %.2e",
            name,
            entry["rows"],
            int(res["valid"].sum()),
            len(res["window_starts"]),
            sum(v["ok"] for v in res["window_verdicts"]),
            sum(len(v) for v in res["events"]["heel_strikes"].values()),
            res["events"]["view"],
            stream_diff,
        )

    ids = np.array(lookup_ids, np.int64)
    mask = np.array(lookup_mask, bool)
    index["text_lookup"] = {
        "ids": _save("text.ids.npy", ids, out),
        "mask": _save("text.mask.npy", mask, out),
        "embeddings": _save("text.embeddings.npy", text_lookup_outputs(ids, mask), out),
    }

    r = synthetic_lagged_correlations()
    index["peak_lag_zero"] = {
        "r": _save("peak.r.npy", r, out),
        "expected": _save("peak.expected.npy", peak_outputs(r), out),
        "layout": "r [N, lags -MAX_LAG..MAX_LAG, pairs] float64 -> [N, 3 * pairs]: (peak, lag in s, zero lag) per pair",
    }

    index["top_features"] = []
    for a in synthetic_attention():
        index["top_features"].append(
            {
                "name": a["name"],
                "window_start": a["window_start"],
                "per_domain": a["per_domain"],
                "attention": _save(f"{a['name']}.attention.npy", a["attention"], out),
                "valid": _save(f"{a['name']}.valid.npy", a["valid"], out),
                "expected": top_feature_outputs(a["attention"], a["valid"], a["window_start"], a["per_domain"]),
            }
        )

    index["silhouettes"] = []
    for m in synthetic_masks():
        sil, ok = silhouette_outputs(m["mask"], m["box"])
        index["silhouettes"].append(
            {
                "name": m["name"],
                "box": list(m["box"]),
                "usable": bool(ok),
                "mask_u8": _save(f"{m['name']}.mask_u8.npy", m["mask"], out),
                "silhouette": _save(f"{m['name']}.silhouette.npy", sil, out),
            }
        )

    index["walking_gate"] = {"tolerance": 1e-6, "thresholds": gate_thresholds(), "cases": []}
    for g in gate_cases():
        verdict = gate_outputs(g["keypoints"])
        index["walking_gate"]["cases"].append(
            {
                "name": g["name"],
                "description": g["description"],
                "keypoints": _save(f"gate.{g['name']}.keypoints.npy", g["keypoints"], out),
                "fps": 30.0,
                "verdict": verdict,
            }
        )
        log.info("walking gate %s: %s", g["name"], verdict["motion"])

    (out / "manifest_example.json").write_text(json.dumps(example_manifest(), indent=2) + "\n")
    index["manifest"] = "manifest_example.json"

    import golden_sessions  # the session decision (Screener.summary) on recorded and crafted sessions

    (out / "sessions.json").write_text(json.dumps(golden_sessions.write_sessions(out), indent=1) + "\n")
    index["sessions"] = "sessions.json"
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    return index


# ----------------------------------------------------------------- staleness check
def verify(directory: Path = GOLDEN, *, value_tol: float = 1e-6) -> list[str]:
    """Recompute every stored output from the stored inputs with the current Python code.

    Returns the problems found (empty = the fixtures and the generated Kotlin tables are current).
    Used by ``tests/test_android_golden.py`` and ``make_golden.py --check``.
    """
    import gen_kotlin_tables

    from scoligait_edge.text.reference import ReferenceMismatchError, ReferenceStats
    from scoligait_edge.text.sentences import sentence_set_hash, text_features_hash

    problems = [f"generated Kotlin table {p.relative_to(ROOT)} is stale" for p in gen_kotlin_tables.stale_files()]
    index_path = directory / "index.json"
    if not index_path.is_file():
        return problems + [f"{index_path} is missing"]
    index = json.loads(index_path.read_text())

    def same(what: str, got: Any, want: Any) -> None:
        if got != want:
            problems.append(f"{what}: stored {str(want)[:80]!r}, Python now gives {str(got)[:80]!r}")

    def close(what: str, got: np.ndarray, want: np.ndarray, tol: float) -> None:
        got, want = np.asarray(got), np.asarray(want)
        if got.shape != want.shape:
            problems.append(f"{what}: shape {want.shape} stored, {got.shape} now")
        elif got.dtype == bool or want.dtype == bool or np.issubdtype(want.dtype, np.integer):
            if not np.array_equal(got, want):
                problems.append(f"{what}: differs")
        elif not np.allclose(got, want, rtol=0.0, atol=tol, equal_nan=True):
            problems.append(f"{what}: max |diff| {np.nanmax(np.abs(got.astype(np.float64) - want)):.3g} > {tol:g}")

    same("format", index.get("format"), FORMAT_VERSION)
    same("schema_hash", schema_hash(), index.get("schema_hash"))
    same("sentence_set_hash", sentence_set_hash(), index.get("sentence_set_hash"))
    same("text_features_hash", text_features_hash(), index.get("text_features_hash"))
    same("feature_names", list(FEATURE_NAMES), index.get("feature_names"))
    if problems:
        return problems  # a schema change: everything below would be stale too

    sr = index["skeleton_real"]
    w, h = sr["image_size"]
    coco = reference_subject_keypoints(_load(sr["landmarks"], directory), _load(sr["has_subject"], directory), w, h)
    close("skeleton_real coco21", coco, _load(sr["coco21"], directory), 0.0)
    ss = index["skeleton_synthetic"]
    syn_in = {k: _load(ss[k], directory) for k in ("xy", "visibility", "presence")}
    for k, v in synthetic_skeleton_outputs(syn_in).items():
        close(f"skeleton_synthetic {k}", v, _load(ss[k], directory), 0.0)

    ref = ReferenceStats.load(directory / index["describe"]["reference"])
    try:
        ref.check_compatible()
    except ReferenceMismatchError as exc:
        problems.append(f"reference statistics: {exc}")
        return problems
    for case in index["map_cases"]:
        name = case["name"]
        if case["from_landmarks"]:
            kp, ts = _load(sr["coco21"], directory), _load(sr["timestamps_ms"], directory)
        else:
            kp, ts = _load(case["keypoints"], directory), _load(case["timestamps_ms"], directory)
        res = map_outputs(np.asarray(kp, np.float64), ts)
        off = case["rows_offset"]
        same(f"{name} rows", int(len(res["valid"])), case["rows"])
        close(f"{name} grid_ms", res["grid_ms"], _load(case["grid_ms"], directory), 1e-9)
        for key in ("resampled", "filled"):
            if key in case:
                close(f"{name} {key}", res[key], _load(case[key], directory), 1e-9)
        close(f"{name} valid", res["valid"], _load(case["valid"], directory), 0.0)
        close(f"{name} values", res["values"][off:], _load(case["values"], directory), value_tol)
        close(f"{name} window_starts", res["window_starts"], _load(case["window_starts"], directory), 0.0)
        close(
            f"{name} window_valid_fraction",
            res["window_valid_fraction"],
            _load(case["window_valid_fraction"], directory),
            1e-12,
        )
        if "input_unusual_fraction" not in case:
            problems.append(f"{name}: input_unusual_fraction missing")
        else:
            close(
                f"{name} input_unusual_fraction",
                input_unusual_outputs(res["values"][off:], res["valid"], res["window_starts"], off),
                _load(case["input_unusual_fraction"], directory),
                1e-12,
            )
        same(f"{name} events", res["events"], case.get("events"))
        same(f"{name} window verdicts", json.loads(json.dumps(res["window_verdicts"])), case.get("window_verdicts"))
        stored = index["describe"]["cases"].get(name, [])
        now = describe_outputs(
            _load(case["values"], directory),
            _load(case["valid"], directory),
            _load(case["window_starts"], directory),
            off,
            ref,
        )
        same(f"{name} described windows", [d["start"] for d in now], [d["start"] for d in stored])
        for a, b in zip(now, stored, strict=True):
            for key in ("view", "sentence_ids"):
                same(f"{name}@{a['start']} {key}", a[key], b[key])
            same(f"{name}@{a['start']} findings", [f[:2] for f in a["findings"]], [f[:2] for f in b["findings"]])
            for key in ("values", "z_scores"):
                ga = np.array([np.nan if v is None else v for v in a[key].values()])
                gb = np.array([np.nan if v is None else v for v in b[key].values()])
                close(f"{name}@{a['start']} {key}", ga, gb, 1e-9)

    tl = index["text_lookup"]
    close(
        "text_lookup",
        text_lookup_outputs(_load(tl["ids"], directory), _load(tl["mask"], directory)),
        _load(tl["embeddings"], directory),
        0.0,
    )
    pk = index.get("peak_lag_zero")
    if pk is None:
        problems.append("peak_lag_zero fixture is missing")
    else:
        close("peak_lag_zero", peak_outputs(_load(pk["r"], directory)), _load(pk["expected"], directory), 0.0)
    for tf in index["top_features"]:
        now = top_feature_outputs(
            _load(tf["attention"], directory), _load(tf["valid"], directory), tf["window_start"], tf["per_domain"]
        )
        exact = [{k: v for k, v in d.items() if k not in ("peak_evidence", "mean_evidence")} for d in now]
        same(
            f"top_features {tf['name']}",
            exact,
            [{k: v for k, v in d.items() if k not in ("peak_evidence", "mean_evidence")} for d in tf["expected"]],
        )
        if len(now) == len(tf["expected"]):
            close(
                f"top_features {tf['name']} evidence",
                np.array([[d["peak_evidence"], d["mean_evidence"]] for d in now]),
                np.array([[d["peak_evidence"], d["mean_evidence"]] for d in tf["expected"]]),
                1e-9,
            )
    for m in index.get("silhouettes", []):
        sil, ok = silhouette_outputs(_load(m["mask_u8"], directory), tuple(m["box"]))
        same(f"{m['name']} usable", bool(ok), m["usable"])
        close(f"{m['name']} silhouette", sil, _load(m["silhouette"], directory), 0.0)
    gate = index.get("walking_gate")
    if gate is None:
        problems.append("walking_gate fixture is missing")
    else:
        same("walking_gate thresholds", gate_thresholds(), gate["thresholds"])
        for g in gate["cases"]:
            now, want = gate_outputs(_load(g["keypoints"], directory)), g["verdict"]
            same(f"walking_gate {g['name']} fields", sorted(now), sorted(want))
            for key, value in now.items():
                if isinstance(value, float) and isinstance(want.get(key), float):
                    if abs(value - want[key]) > 1e-9:
                        problems.append(f"walking_gate {g['name']} {key}: stored {want[key]!r}, now {value!r}")
                else:
                    same(f"walking_gate {g['name']} {key}", value, want.get(key))
    same("manifest_example.json", example_manifest(), json.loads((directory / index["manifest"]).read_text()))
    if "sessions" not in index:
        problems.append("sessions fixture is missing")
    else:
        import golden_sessions

        problems += golden_sessions.verify_sessions(
            json.loads((directory / index["sessions"]).read_text()), directory=directory
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Regenerate the Kotlin tables and the golden fixtures of android_demo/core."
    )
    ap.add_argument("--out", type=Path, default=GOLDEN)
    ap.add_argument(
        "--rerun-video",
        action="store_true",
        help="run MediaPipe on the sample video again instead of reusing the stored landmarks",
    )
    ap.add_argument("--video", type=Path, default=None, help="another walking video instead of the bundled sample")
    ap.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the fixtures or generated Kotlin tables are stale",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("scoligait_edge").setLevel(logging.WARNING)
    if args.check:
        problems = verify(args.out)
        for p in problems:
            print("stale:", p)
        print(
            "golden fixtures are current"
            if not problems
            else f"{len(problems)} problem(s); regenerate with .venv/bin/python android_demo/tools/make_golden.py"
        )
        return 1 if problems else 0
    import gen_kotlin_tables

    for p in gen_kotlin_tables.write():
        log.info("wrote %s", p.relative_to(ROOT))
    t0 = time.perf_counter()
    write_golden(args.out, rerun_video=args.rerun_video, video=args.video)
    size = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    log.info("golden fixtures in %s: %.2f MB, %.1f s", args.out, size / 1e6, time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
