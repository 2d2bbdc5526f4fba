"""How much of the SIMULATED scoliosis signal each modality carries.

SIMULATED: a test of the machinery, not evidence about patients.

On a cohort of N simulated subjects with one frontal clip each, this reports
single-feature AUCs (label: Cobb >= 10; feature: |mean over the clip|) of

* pose-visible features: world shoulder-height difference and trunk shift,
  and their image-keypoint versions (noisy keypoints, / body height);
* silhouette features measured on the 64 x 44 crops: left-right waist-width
  asymmetry (waist rows) and flank-width asymmetry (thoracic rows), each on
  the clip's silhouettes and on the SAME walk rendered without the
  silhouette-only effects (``waist_asymmetry_mm = rib_prominence_mm = 0``):
  what the second still shows is pose (trunk shift, lean) leaking into the
  outline; the difference is the silhouette-only share;

plus cross-validated logistic regressions on the pose features, the
silhouette features and both, and the effect sizes in 64 x 44 pixels at
Cobb 25. Run::

    python -m scoligait_edge.research.sim.signal_audit --subjects 300
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from scoligait_edge.core.constants import SIL_SIZE, WINDOW_FRAMES
from scoligait_edge.core.skeleton import L_HIP, L_SHOULDER, R_HIP, R_SHOULDER
from scoligait_edge.research.sim.camera import render_silhouette
from scoligait_edge.research.sim.cohort import make_cohort
from scoligait_edge.research.sim.settings import SimulationSettings
from scoligait_edge.video.silhouette import crop_silhouette

WAIST_ROWS = slice(20, 26)
"""Rows of the 64 x 44 crop at the waist crease (measured: where the waist effect changes the crop)."""
THORAX_ROWS = slice(15, 19)
"""Rows of the 64 x 44 crop at the thoracic flank (25-40 % from shoulder to hip)."""
REFERENCE_ROWS = slice(27, 30)
"""Rows just below the waist (pelvis): the reference the waist / flank asymmetry is measured from."""

POSE_FEATURES = ("world_shoulder_mm", "world_shift_mm", "image_shoulder", "image_shift")
SIL_FEATURES = ("sil_waist_asym_px", "sil_flank_asym_px")


def _run_edges(row: np.ndarray, c0: int) -> tuple[float, float] | None:
    """Soft left and right edge (column) of the foreground run containing column ``c0``."""
    if row[c0] < 0.5:
        return None
    ext = []
    for step in (-1, 1):
        k, acc = c0 + step, 0.0
        while 0 <= k < row.size and row[k] >= 0.5:
            acc += 1.0
            k += step
        if 0 <= k < row.size:
            acc += row[k]  # soft edge
        ext.append(acc)
    return c0 - ext[0], c0 + ext[1]


def _run_centre(f: np.ndarray, rows: slice, c0: int) -> float | None:
    edges = [e for e in (_run_edges(f[r], c0) for r in range(*rows.indices(f.shape[0]))) if e is not None]
    return float(np.mean([(lo + hi) / 2 for lo, hi in edges])) if edges else None


def silhouette_features(crops: np.ndarray) -> dict[str, float]:
    """Signed waist and flank asymmetry (px, + = image right), mean over frames.

    Per frame: the centre of the torso's foreground run at the waist rows (or the
    thoracic rows) minus its centre at the rows just below the waist (the pelvis
    reference). A deeper crease on one side moves the waist-row centre toward the
    other side; translation of the whole crop cancels.
    """
    out: dict[str, float] = {}
    c0 = crops.shape[-1] // 2
    for name, rows in (("sil_waist_asym_px", WAIST_ROWS), ("sil_flank_asym_px", THORAX_ROWS)):
        vals = []
        for c in crops:
            f = c.astype(np.float64) / 255.0
            ref, val = _run_centre(f, REFERENCE_ROWS, c0), _run_centre(f, rows, c0)
            if ref is not None and val is not None:
                vals.append(2.0 * (val - ref))  # = (right - left) extent difference
        out[name] = float(np.mean(vals)) if vals else 0.0
    return out


def pose_features(clip) -> dict[str, float]:  # noqa: ANN001 - SimulatedClip
    w = clip.world_keypoints
    kp = clip.keypoints
    body = np.nanmax(kp[..., 1], axis=1) - np.nanmin(kp[..., 1], axis=1)
    sh = kp[:, R_SHOULDER, 1] - kp[:, L_SHOULDER, 1]
    shift = (kp[:, L_SHOULDER, 0] + kp[:, R_SHOULDER, 0] - kp[:, L_HIP, 0] - kp[:, R_HIP, 0]) / 2
    return {
        "world_shoulder_mm": 1000.0 * float(np.mean(w[:, R_SHOULDER, 2] - w[:, L_SHOULDER, 2])),
        "world_shift_mm": 1000.0
        * float(np.mean((w[:, L_SHOULDER, 1] + w[:, R_SHOULDER, 1] - w[:, L_HIP, 1] - w[:, R_HIP, 1]) / 2)),
        "image_shoulder": float(np.nan_to_num(np.nanmean(sh / body))),
        "image_shift": float(np.nan_to_num(np.nanmean(shift / body))),
    }


def auc(score: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import rankdata

    r = rankdata(score)
    n1 = int(y.sum())
    n0 = len(y) - n1
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def cv_auc(X: np.ndarray, y: np.ndarray, seed: int = 0, folds: int = 5) -> float:
    """Out-of-fold AUC of a standardised logistic regression (one clip per subject, so folds are by subject)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    p = cross_val_predict(model, X, y, cv=cv, method="predict_proba")[:, 1]
    return auc(p, y)


def effect_sizes_px(
    cobb_deg: float = 25.0, height_m: float = 1.6, settings: SimulationSettings | None = None
) -> dict[str, float]:
    """Nominal silhouette-only effect sizes at ``cobb_deg`` (gain 1) in 64-row crop pixels."""
    eff = (settings or SimulationSettings()).scoliosis
    mm_per_px = 1000.0 * height_m / SIL_SIZE
    waist = eff.waist_asymmetry_mm_per_deg * cobb_deg
    rib = eff.rib_prominence_mm_per_deg * cobb_deg
    return {
        "waist_asymmetry_mm": waist,
        "waist_asymmetry_px": waist / mm_per_px,
        "rib_prominence_mm": rib,
        "rib_prominence_px": rib / mm_per_px,
        "combined_px": (waist + rib) / mm_per_px,
        "mm_per_px": mm_per_px,
    }


def run_audit(n_subjects: int = 300, *, seed: int = 0, n_frames: int = WINDOW_FRAMES, scale: float = 0.5) -> dict:
    cohort = make_cohort(
        n_subjects,
        prevalence=0.5,
        clips_per_train_subject=1,
        seed=seed,
        val_fraction=0.0,
        test_fraction=0.0,
        camera_mix={"frontal": 1.0},
        n_frames=n_frames,
    )
    rows, y, cobb, measured = [], [], [], []
    for spec in cohort.specs():
        clip = cohort.simulate(spec, with_silhouettes=True, silhouette_scale=scale)
        assert clip.silhouettes is not None  # with_silhouettes=True
        feats = pose_features(clip)
        feats.update(silhouette_features(crop_silhouette(clip.silhouettes)))
        plain = render_silhouette(clip.world_keypoints, clip.camera_model, clip.subject.height_m, scale=scale)
        feats.update({k + "_no_effects": v for k, v in silhouette_features(crop_silhouette(plain)).items()})
        rows.append(feats)
        y.append(clip.label)
        cobb.append(clip.cobb_deg)
        measured.append(abs(feats["sil_waist_asym_px"] - feats["sil_waist_asym_px_no_effects"]))
    yv = np.asarray(y)
    names = list(rows[0])
    F = np.abs(np.array([[r[k] for k in names] for r in rows]))
    col = {k: F[:, i] for i, k in enumerate(names)}
    single = {k: auc(col[k], yv) for k in names}
    sil_no = [k + "_no_effects" for k in SIL_FEATURES]
    combos = {
        "pose features (4)": cv_auc(np.stack([col[k] for k in POSE_FEATURES], 1), yv),
        "silhouette features (2)": cv_auc(np.stack([col[k] for k in SIL_FEATURES], 1), yv),
        "silhouette features without the new effects (2)": cv_auc(np.stack([col[k] for k in sil_no], 1), yv),
        "pose + silhouette (6)": cv_auc(np.stack([col[k] for k in POSE_FEATURES + SIL_FEATURES], 1), yv),
    }
    cb = np.asarray(cobb)
    near25 = (cb >= 20) & (cb <= 30)
    return {
        "n_subjects": n_subjects,
        "positives": int(yv.sum()),
        "single": single,
        "combined": combos,
        "effect_px": effect_sizes_px(),
        "measured_waist_change_px_cobb20_30": float(np.mean(np.asarray(measured)[near25])) if near25.any() else None,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--frames", type=int, default=WINDOW_FRAMES)
    ap.add_argument("--scale", type=float, default=0.5, help="silhouette_scale")
    a = ap.parse_args(argv)
    t0 = time.time()
    res = run_audit(a.subjects, seed=a.seed, n_frames=a.frames, scale=a.scale)
    print("SIMULATED: a test of the machinery, not evidence about patients.")
    print(f"{res['n_subjects']} subjects ({res['positives']} positive), one frontal clip each, {a.frames} frames")
    print("\n| feature (|mean over the clip|) | AUC |\n| --- | --- |")
    for k, v in res["single"].items():
        print(f"| {k} | {v:.2f} |")
    print("\n| logistic regression, 5-fold CV by subject | AUC |\n| --- | --- |")
    for k, v in res["combined"].items():
        print(f"| {k} | {v:.2f} |")
    e = res["effect_px"]
    print(
        f"\nAt Cobb 25 (gain 1, 1.6 m, {e['mm_per_px']:.0f} mm/px): waist asymmetry {e['waist_asymmetry_mm']:.0f} mm "
        f"= {e['waist_asymmetry_px']:.2f} px, rib prominence {e['rib_prominence_mm']:.0f} mm = "
        f"{e['rib_prominence_px']:.2f} px, combined {e['combined_px']:.2f} px"
    )
    m = res["measured_waist_change_px_cobb20_30"]
    if m is not None:
        print(f"Measured |change| of the waist-asymmetry feature from the new effects, Cobb 20-30: {m:.2f} px")
    print(f"({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
