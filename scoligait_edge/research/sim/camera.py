"""SIMULATED walker, part 2: pinhole camera and silhouette rendering.

World frame: X = walking direction, Y = subject's left, Z = up (metres).
Camera frame rows: right, down, forward, so pixel y points down like images.

Views:

* ``side`` / ``left_to_right``: camera on the subject's RIGHT, the walker moves
  toward +u (image right); the subject's right side is the near side.
* ``side`` / ``right_to_left``: camera on the subject's LEFT, the walker moves
  toward -u; the left side is near.
* ``frontal`` / ``toward``: camera ahead, subject approaches and grows; the
  subject's right appears on the image LEFT (as in a mirror-less photo).
* ``frontal`` / ``away``: camera behind, back view; the subject shrinks and its
  right appears on the image RIGHT.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from scoligait_edge.core.skeleton import (
    L_ANKLE,
    L_EAR,
    L_ELBOW,
    L_HEEL,
    L_HIP,
    L_KNEE,
    L_SHOULDER,
    L_TOE,
    L_WRIST,
    NOSE,
    R_ANKLE,
    R_EAR,
    R_ELBOW,
    R_HEEL,
    R_HIP,
    R_KNEE,
    R_SHOULDER,
    R_TOE,
    R_WRIST,
)

View = Literal["side", "frontal"]
Direction = Literal["left_to_right", "right_to_left", "toward", "away"]
SIDE_DIRECTIONS: tuple[Direction, ...] = ("left_to_right", "right_to_left")
FRONTAL_DIRECTIONS: tuple[Direction, ...] = ("toward", "away")


class CameraModel(BaseModel):
    """Pinhole camera: ``uv = K [R | -R C] X`` with rows of R = (right, down, forward)."""

    model_config = ConfigDict(frozen=True)

    view: View
    direction: Direction
    image_size: tuple[int, int] = Field(description="(width, height) in pixels.")
    focal_px: float
    center_px: tuple[float, float]
    rotation: tuple[tuple[float, float, float], ...] = Field(description="3x3 world-to-camera rotation.")
    position_m: tuple[float, float, float]

    @property
    def R(self) -> np.ndarray:
        return np.asarray(self.rotation, dtype=np.float64)

    @property
    def K(self) -> np.ndarray:
        f, (cx, cy) = self.focal_px, self.center_px
        return np.array([[f, 0, cx], [0, f, cy], [0, 0, 1.0]])

    def to_camera(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - np.asarray(self.position_m)) @ self.R.T

    def project(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points ``[..., 3]`` -> (pixels ``[..., 2]``, depth ``[...]`` in metres)."""
        Xc = self.to_camera(X)
        z = Xc[..., 2]
        zs = np.where(z > 1e-6, z, np.nan)
        uv = np.stack(
            [self.focal_px * Xc[..., 0] / zs + self.center_px[0], self.focal_px * Xc[..., 1] / zs + self.center_px[1]],
            axis=-1,
        )
        return uv, z


def default_focal_px(image_width: int, hfov_deg: float = 60.0) -> float:
    return 0.5 * image_width / np.tan(np.deg2rad(hfov_deg) / 2)


def _look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    fwd = target - position
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    return np.stack([right, down, fwd])


def _small_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotation in camera coordinates: yaw about 'down', pitch about 'right', roll about 'forward'."""
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    r_yaw = np.array([[cy, 0, -sy], [0, 1, 0], [sy, 0, cy]])
    r_pitch = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    r_roll = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return r_roll @ r_pitch @ r_yaw


def _side_pose(
    direction: Direction,
    x0: float,
    x1: float,
    y_mid: float,
    cam_h: float,
    height_m: float,
    f: float,
    image_size: tuple[int, int],
    side_distance_m: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Camera position and aim point beside the path, far enough that the whole walk stays in frame."""
    if direction not in SIDE_DIRECTIONS:
        raise ValueError(f"side view needs direction in {SIDE_DIRECTIONS}, got {direction!r}")
    w, hgt = image_size
    span = (x1 - x0) + 1.2  # the body reaches ~0.6 m either side of the pelvis
    d = side_distance_m or max(3.0, 1.15 * span * f / w, height_m * f / (0.8 * hgt))
    side = -1.0 if direction == "left_to_right" else 1.0  # camera on the right (-Y) or left (+Y)
    pos = np.array([(x0 + x1) / 2, y_mid + side * d, cam_h])
    target = np.array([(x0 + x1) / 2, y_mid, 0.5 * height_m])
    return pos, target


def _frontal_pose(
    direction: Direction,
    x0: float,
    x1: float,
    y_mid: float,
    cam_h: float,
    height_m: float,
    f: float,
    image_size: tuple[int, int],
    frontal_near_distance_m: float | None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Camera position and aim point on the path (slightly off it), where the subject is nearest and still whole."""
    if direction not in FRONTAL_DIRECTIONS:
        raise ValueError(f"frontal view needs direction in {FRONTAL_DIRECTIONS}, got {direction!r}")
    hgt = image_size[1]
    near = frontal_near_distance_m or height_m * f / (0.78 * hgt)
    lat = float(rng.normal(0.0, 0.15))
    if direction == "toward":
        return np.array([x1 + near, y_mid + lat, cam_h]), np.array([x1, y_mid, 0.5 * height_m])
    return np.array([x0 - near, y_mid + lat, cam_h]), np.array([x0, y_mid, 0.5 * height_m])


def make_camera(
    view: View,
    direction: Direction,
    pelvis: np.ndarray,
    height_m: float,
    rng: np.random.Generator,
    *,
    image_size: tuple[int, int] = (1280, 720),
    focal_px: float | None = None,
    side_distance_m: float | None = None,
    frontal_near_distance_m: float | None = None,
    jitter_deg: float = 2.0,
) -> CameraModel:
    """Place a camera for a walk whose mid-hip trajectory is ``pelvis`` ``[T, 3]``."""
    w, hgt = image_size
    f = float(focal_px or default_focal_px(w))
    x0, x1 = float(pelvis[0, 0]), float(pelvis[-1, 0])
    y_mid = float(np.mean(pelvis[:, 1]))
    cam_h = float(rng.uniform(0.85, 1.35))
    jit = np.deg2rad(jitter_deg) * rng.normal(size=3) * np.array([1.0, 1.0, 0.5])
    if view == "side":
        pos, target = _side_pose(direction, x0, x1, y_mid, cam_h, height_m, f, image_size, side_distance_m)
    elif view == "frontal":
        pos, target = _frontal_pose(
            direction, x0, x1, y_mid, cam_h, height_m, f, image_size, frontal_near_distance_m, rng
        )
    else:
        raise ValueError(f"camera must be 'side' or 'frontal', got {view!r}")
    R = _small_rotation(*jit) @ _look_at(pos, target)
    return CameraModel(
        view=view,
        direction=direction,
        image_size=(int(w), int(hgt)),
        focal_px=f,
        center_px=(w / 2.0, hgt / 2.0),
        rotation=tuple(tuple(float(v) for v in r) for r in R),
        position_m=tuple(float(v) for v in pos),
    )


# ----------------------------------------------------------------------------- silhouettes

# (joint a, joint b, radius as a fraction of body height)
_LIMBS: tuple[tuple[int, int, float], ...] = (
    (L_SHOULDER, L_ELBOW, 0.030),
    (L_ELBOW, L_WRIST, 0.024),
    (R_SHOULDER, R_ELBOW, 0.030),
    (R_ELBOW, R_WRIST, 0.024),
    (L_HIP, L_KNEE, 0.048),
    (L_KNEE, L_ANKLE, 0.034),
    (R_HIP, R_KNEE, 0.048),
    (R_KNEE, R_ANKLE, 0.034),
    (L_HEEL, L_TOE, 0.020),
    (L_ANKLE, L_HEEL, 0.022),
    (L_ANKLE, L_TOE, 0.020),
    (R_HEEL, R_TOE, 0.020),
    (R_ANKLE, R_HEEL, 0.022),
    (R_ANKLE, R_TOE, 0.020),
)


# Torso outline, as fractions of the shoulder-to-hip distance (0 = shoulder, 1 = hip).
RIB_LEVELS: tuple[float, float] = (0.25, 0.40)
"""Thoracic rows where a flank / rib prominence bulges (convex side; side-on: the back)."""
WAIST_LEVELS: tuple[float, float] = (0.55, 0.65)
"""Rows of the waist crease."""
WAIST_INDENT_PER_HEIGHT = 0.035
"""Baseline waist-crease depth on both sides (fraction of body height; 56 mm at 1.6 m: the straight shoulder-to-hip edge is ~0.12 H from the mid-line at the waist, a real waist ~0.085 H, which opens the gap between hanging arm and waist)."""
TORSO_HALF_DEPTH_PER_HEIGHT = 0.055
"""Half the chest / abdomen depth (front-to-back), seen in side views."""


def _torso_corners(uv_all: np.ndarray, X: np.ndarray, camera: CameraModel, height_m: float, scale: float) -> np.ndarray:
    """Shoulder and hip points ``[T, 4, 2]`` pushed out from the torso centre, so the outline covers the flesh
    around the joints (more at the hips), by an amount that shrinks with depth."""
    fpx = camera.focal_px * scale
    zmid = np.mean(camera.project(X)[1], axis=1)
    c = uv_all.mean(axis=1, keepdims=True)
    v = uv_all - c
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    grow = np.array([0.025, 0.025, 0.045, 0.045])[None, :, None] * height_m * fpx / zmid[:, None, None]
    return uv_all + np.where(n > 1e-6, v / np.maximum(n, 1e-9) * grow, 0.0)


def _torso_side_points(
    X: np.ndarray,
    corners: np.ndarray,
    camera: CameraModel,
    scale: float,
    side: str,
    offsets_mm: tuple[float, float],
) -> np.ndarray:
    """Two rib and two waist points ``[T, 4, 2]`` on one side's shoulder-to-hip edge, from shoulder to hip.

    Each is moved by a 3-D lateral displacement (``offsets_mm``: rib, waist; + outward) that is projected,
    so it shows fully in frontal views and hardly at all side-on.
    """
    sh_l, sh_r, hp_l, hp_r = X[:, L_SHOULDER], X[:, R_SHOULDER], X[:, L_HIP], X[:, R_HIP]
    sh, hp = (sh_l, hp_l) if side == "left" else (sh_r, hp_r)
    csh, chp = (corners[:, 0], corners[:, 2]) if side == "left" else (corners[:, 1], corners[:, 3])
    outward = (sh_l - sh_r) + (hp_l - hp_r)  # the subject's left, averaged over shoulders and hips
    outward /= np.maximum(np.linalg.norm(outward, axis=-1, keepdims=True), 1e-9)
    if side == "right":
        outward = -outward
    rib_mm, waist_mm = offsets_mm
    levels = (RIB_LEVELS[0], RIB_LEVELS[1], WAIST_LEVELS[0], WAIST_LEVELS[1])
    pts = []
    for t, off_mm in zip(levels, (rib_mm, rib_mm, waist_mm, waist_mm), strict=True):
        P = sh + t * (hp - sh)
        d = camera.project(P + off_mm / 1000.0 * outward)[0] - camera.project(P)[0]
        pts.append(csh + t * (chp - csh) + scale * np.nan_to_num(d))
    return np.stack(pts, axis=1)


def _sagittal_outline(
    X: np.ndarray, camera: CameraModel, height_m: float, scale: float, rib_prominence_mm: float
) -> np.ndarray:
    """The trunk's front-to-back depth ``[T, 8, 2]``: mid-line +- half depth along the thorax forward axis,
    the back bulging at the rib rows by ``|rib_prominence_mm|`` (the rib hump seen side-on)."""
    sh_l, sh_r, hp_l, hp_r = X[:, L_SHOULDER], X[:, R_SHOULDER], X[:, L_HIP], X[:, R_HIP]
    up = (sh_l + sh_r - hp_l - hp_r) / 2
    up /= np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-9)
    lat = (sh_l - sh_r) + (hp_l - hp_r)
    fwd = np.cross(lat, up)
    fwd /= np.maximum(np.linalg.norm(fwd, axis=-1, keepdims=True), 1e-9)
    mid_sh, mid_hp = (sh_l + sh_r) / 2, (hp_l + hp_r) / 2
    half = TORSO_HALF_DEPTH_PER_HEIGHT * height_m
    hump = abs(rib_prominence_mm) / 1000.0
    sag3 = [mid_sh + half * fwd, mid_hp + half * fwd, mid_hp - half * fwd]
    for t in (WAIST_LEVELS[1], WAIST_LEVELS[0], RIB_LEVELS[1], RIB_LEVELS[0]):
        sag3.append(mid_sh + t * (mid_hp - mid_sh) - (half + (hump if t in RIB_LEVELS else 0.0)) * fwd)
    sag3.append(mid_sh - half * fwd)
    return camera.project(np.stack(sag3, axis=1))[0] * scale


def _torso_polygons(
    X: np.ndarray,
    camera: CameraModel,
    height_m: float,
    scale: float,
    waist_asymmetry_mm: float,
    rib_prominence_mm: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Image-space torso outlines ``[T, 12, 2]`` (frontal plane) and ``[T, 8, 2]`` (sagittal plane).

    The frontal-plane outline keeps the widened shoulder and hip corners and adds,
    on each side, two rib points and two waist points on the shoulder-to-hip edge
    (waist crease inward, rib prominence outward), which show fully in frontal
    views and hardly at all side-on. The sagittal-plane outline gives the trunk
    its front-to-back depth and the rib hump, which hardly projects in frontal
    views. Keypoints are not touched.
    """
    T = X.shape[0]
    sh_l, sh_r, hp_l, hp_r = X[:, L_SHOULDER], X[:, R_SHOULDER], X[:, L_HIP], X[:, R_HIP]
    uv_all = camera.project(np.stack([sh_l, sh_r, hp_l, hp_r], axis=1))[0] * scale
    corners = _torso_corners(uv_all, X, camera, height_m, scale)
    c_sl, c_sr, c_hl, c_hr = (corners[:, k] for k in range(4))
    indent = WAIST_INDENT_PER_HEIGHT * 1000.0 * height_m
    left = _torso_side_points(
        X, corners, camera, scale, "left", (max(-rib_prominence_mm, 0.0), -max(indent + waist_asymmetry_mm / 2, 0.0))
    )
    right = _torso_side_points(
        X, corners, camera, scale, "right", (max(rib_prominence_mm, 0.0), -max(indent - waist_asymmetry_mm / 2, 0.0))
    )
    frontal = np.concatenate([c_sl[:, None], left, c_hl[:, None], c_hr[:, None], right[:, ::-1], c_sr[:, None]], axis=1)
    sagittal = _sagittal_outline(X, camera, height_m, scale, rib_prominence_mm)
    assert frontal.shape == (T, 12, 2) and sagittal.shape == (T, 8, 2)
    return frontal, sagittal


_SUBPIXEL_BITS = 4
"""Fixed-point sub-pixel bits for cv2 drawing."""


def _radius_fx(r: float, z: float, height_m: float, fpx: float) -> int:
    """A body-height fraction ``r`` at depth ``z`` as a fixed-point radius, at least one pixel."""
    S = _SUBPIXEL_BITS
    return max(int(round(r * height_m * fpx / z * (1 << S))), 1 << S)


def _draw_torso(img: np.ndarray, frontal: np.ndarray, sagittal: np.ndarray) -> None:
    """Fill the frontal-plane outline (waist creases, flank prominence) and the sagittal-plane depth."""
    S = _SUBPIXEL_BITS
    for poly in (frontal, sagittal):
        if np.all(np.isfinite(poly)):
            cv2.fillPoly(img, [np.round(poly * (1 << S)).astype(np.int32)], 255, lineType=cv2.LINE_8, shift=S)


def _draw_limbs(img: np.ndarray, uv: np.ndarray, z: np.ndarray, height_m: float, fpx: float) -> None:
    """Each limb a capsule: a thick line with round ends, thinner with depth."""
    S = _SUBPIXEL_BITS
    p = np.round(uv * (1 << S)).astype(np.int64)
    for a, b, r in _LIMBS:
        th = _radius_fx(r, 0.5 * (z[a] + z[b]), height_m, fpx)
        cv2.line(img, tuple(p[a]), tuple(p[b]), 255, thickness=max(int(2 * th) >> S, 1), lineType=cv2.LINE_8, shift=S)
        cv2.circle(img, tuple(p[a]), th, 255, -1, lineType=cv2.LINE_8, shift=S)
        cv2.circle(img, tuple(p[b]), th, 255, -1, lineType=cv2.LINE_8, shift=S)


def _draw_head(img: np.ndarray, uv: np.ndarray, z: np.ndarray, height_m: float, fpx: float) -> None:
    """A neck from mid-shoulder and an upright ellipse centred between the ears, nudged toward the nose."""
    S = _SUBPIXEL_BITS
    neck = ((uv[L_SHOULDER] + uv[R_SHOULDER]) / 2 * (1 << S)).astype(np.int64)
    head_pts = uv[[L_EAR, R_EAR, NOSE]]
    head = np.mean(head_pts[:2], axis=0) * 0.7 + head_pts[2] * 0.3
    zh = float(z[NOSE])
    cv2.line(
        img,
        tuple(neck),
        tuple((head * (1 << S)).astype(np.int64)),
        255,
        thickness=max(int(2 * _radius_fx(0.032, zh, height_m, fpx)) >> S, 1),
        lineType=cv2.LINE_8,
        shift=S,
    )
    ax = _radius_fx(0.062, zh, height_m, fpx)
    cv2.ellipse(
        img,
        tuple((head * (1 << S)).astype(np.int64)),
        (int(ax * 0.85), int(ax * 1.15)),
        0,
        0,
        360,
        255,
        -1,
        lineType=cv2.LINE_8,
        shift=S,
    )


def render_silhouette(
    world_keypoints: np.ndarray,
    camera: CameraModel,
    height_m: float,
    *,
    scale: float = 1.0,
    waist_asymmetry_mm: float = 0.0,
    rib_prominence_mm: float = 0.0,
) -> np.ndarray:
    """Binary silhouette(s) of the body model, uint8 0/255.

    ``world_keypoints`` is ``[21, 3]`` or ``[T, 21, 3]`` (metres, world frame,
    noise-free). Limbs are thick capsules, the torso a filled (non-convex)
    polygon with a waist crease on both sides plus a front-to-back depth seen
    side-on, the head an ellipse; widths shrink with depth. ``scale`` renders at
    a fraction of the camera's image size (e.g. 0.5 -> 640x360 for a 1280x720
    camera). ``waist_asymmetry_mm`` (+ = right waist flatter, left crease
    deeper) and ``rib_prominence_mm`` (+ = right flank bulges; side-on the back
    bulges by its magnitude) change only the outline, never a keypoint
    (``SubjectParams`` holds each subject's values).
    Returns ``[H, W]`` or ``[T, H, W]``.
    """
    X = np.asarray(world_keypoints, dtype=np.float64)
    single = X.ndim == 2
    if single:
        X = X[None]
    w = max(int(round(camera.image_size[0] * scale)), 1)
    hgt = max(int(round(camera.image_size[1] * scale)), 1)
    uv, z = camera.project(X)
    uv = uv * scale
    fpx = camera.focal_px * scale
    out = np.zeros((X.shape[0], hgt, w), dtype=np.uint8)
    with np.errstate(invalid="ignore", divide="ignore"):
        frontal, sagittal = _torso_polygons(X, camera, height_m, scale, waist_asymmetry_mm, rib_prominence_mm)
    for i in range(X.shape[0]):
        if not np.all(z[i] > 0.05):
            continue  # a joint behind the camera: leave the frame empty
        _draw_torso(out[i], frontal[i], sagittal[i])
        _draw_limbs(out[i], uv[i], z[i], height_m, fpx)
        _draw_head(out[i], uv[i], z[i], height_m, fpx)
    return out[0] if single else out


def crop_scoliosis1k(mask: np.ndarray, *, size: int = 64, cut: int = 10) -> np.ndarray:
    """Scoliosis1K-style silhouette: height-normalised crop, ``size x size``, then
    ``cut`` pixels off each side -> ``[size, size - 2*cut]`` uint8 (64x44 default).

    The one implementation lives in :func:`scoligait_edge.video.silhouette.crop_silhouette`
    (shared with real-video preprocessing and the runtime, so simulated and real
    silhouettes are cropped identically). Accepts ``[H, W]`` or ``[T, H, W]``;
    an empty mask gives zeros.
    """
    from scoligait_edge.video.silhouette import crop_silhouette

    return crop_silhouette(mask, size=size, cut=cut)
