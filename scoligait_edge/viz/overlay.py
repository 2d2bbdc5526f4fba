"""The live view: skeletons, progress to the next window, the current probability, notices.

Drawn with plain OpenCV primitives on the frame (no matplotlib) so it costs a
few milliseconds per frame at 720p and can run on every frame of a live
camera. It never raises on what the pose model hands over: no people, an
untracked subject, NaN or absurd landmarks are all drawn as "nothing there".
The tracked subject is coloured (left limbs blue, right orange, midline green,
the usual convention in gait plots) and everyone else is grey, so an operator
sees at once whom the screening follows.

OpenCV's Hershey fonts are ASCII-only; text is transliterated ("…" -> "...").
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from scoligait_edge.core.skeleton import BONES, COCO21_NAMES
from scoligait_edge.errors import VideoWriteError
from scoligait_edge.pose.frame import PersonPose, PoseFrame

log = logging.getLogger(__name__)

# BGR colours.
LEFT_COLOR = (255, 160, 0)
RIGHT_COLOR = (0, 140, 255)
MID_COLOR = (60, 210, 60)
OTHER_COLOR = (150, 150, 150)
TEXT_COLOR = (255, 255, 255)
ALERT_COLOR = (60, 60, 255)
ABOVE_THRESHOLD_COLOR = (0, 200, 255)
NOTICE_COLOR = (120, 230, 255)
BAR_COLOR = (60, 210, 60)

MIN_SCORE = 0.3
"""Joints scored below this (see ``mediapipe_to_coco``) are not drawn."""

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _side(name: str) -> str:
    return "left" if name.startswith("left_") else "right" if name.startswith("right_") else "mid"


_BONE_SIDES: tuple[str, ...] = tuple(
    _side(COCO21_NAMES[a]) if _side(COCO21_NAMES[a]) == _side(COCO21_NAMES[b]) else "mid" for a, b in BONES
)
_SIDE_COLOR = {"left": LEFT_COLOR, "right": RIGHT_COLOR, "mid": MID_COLOR}
BONE_COLORS: tuple[tuple[int, int, int], ...] = tuple(_SIDE_COLOR[s] for s in _BONE_SIDES)
"""Colour of each bone of :data:`~scoligait_edge.core.skeleton.BONES` for the subject."""

_ASCII = str.maketrans(
    {
        "…": "...",
        "—": "-",
        "–": "-",
        "≥": ">=",
        "≤": "<=",
        "°": " deg",
        "→": "->",
        "←": "<-",
        "×": "x",
        "’": "'",
        "‘": "'",
        "“": '"',
        "”": '"',
        "·": "-",
        "±": "+/-",
        "•": "-",
    }
)


def to_ascii(text: str) -> str:
    """What Hershey fonts can draw: common symbols spelt out, accents dropped, the rest removed."""
    text = str(text).translate(_ASCII)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _finite(x: float | None) -> float | None:
    try:
        return float(x) if x is not None and math.isfinite(float(x)) else None
    except (TypeError, ValueError):
        return None


def _person_points(
    person: PersonPose, sx: float, sy: float, limit: float, min_score: float
) -> tuple[np.ndarray, np.ndarray]:
    """COCO-21 pixel points (int) in the drawn image and which of them are usable."""
    kp = person.coco()
    xy = kp[:, :2] * (sx, sy)
    ok = np.isfinite(xy).all(axis=1) & np.isfinite(kp[:, 2]) & (kp[:, 2] >= min_score)
    xy = np.clip(np.nan_to_num(xy, nan=0.0, posinf=limit, neginf=-limit), -limit, limit)
    return np.rint(xy).astype(np.int32), ok


def _draw_person(img: np.ndarray, pts: np.ndarray, ok: np.ndarray, subject: bool, s: float, label: str | None) -> None:
    thick = max(2, round(3 * s)) if subject else max(1, round(2 * s))
    for (a, b), color in zip(BONES, BONE_COLORS, strict=True):
        if ok[a] and ok[b]:
            cv2.line(
                img,
                (int(pts[a, 0]), int(pts[a, 1])),
                (int(pts[b, 0]), int(pts[b, 1])),
                color if subject else OTHER_COLOR,
                thick,
                cv2.LINE_AA,
            )
    if subject:
        r = max(2, round(4 * s))
        for j in np.flatnonzero(ok):
            cv2.circle(img, (int(pts[j, 0]), int(pts[j, 1])), r, (255, 255, 255), -1, cv2.LINE_AA)
    if label and ok.any():
        top = int(np.argmin(np.where(ok, pts[:, 1], np.iinfo(np.int32).max)))
        org = (int(pts[top, 0]) - round(20 * s), int(pts[top, 1]) - round(14 * s))
        _text(img, label, org, 0.5 * s, TEXT_COLOR if subject else OTHER_COLOR, s)


def _text(
    img: np.ndarray, text: str, org: tuple[int, int], scale: float, color: tuple[int, int, int], s: float
) -> None:
    """Text with a drop shadow, readable on any background.

    (A thicker dark outline would be neater, but OpenCV 5's font changes glyph
    widths with thickness, so the outline and the text would not line up.)
    """
    thick = max(1, round(1.3 * s))
    d = max(1, round(1.5 * s))
    cv2.putText(img, text, (org[0] + d, org[1] + d), _FONT, scale, (0, 0, 0), thick, cv2.LINE_AA)
    cv2.putText(img, text, org, _FONT, scale, color, thick, cv2.LINE_AA)


def _darken(img: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> None:
    """Dim a rectangle to ~40 % (integer shifts: cheaper than alpha blending)."""
    h, w = img.shape[:2]
    x0, x1, y0, y1 = max(0, x0), min(w, x1), max(0, y0), min(h, y1)
    if x1 > x0 and y1 > y0:
        roi = img[y0:y1, x0:x1]
        roi[:] = (roi >> 2) + (roi >> 3)


def _fit(text: str, max_w: int, scale: float, thick: int) -> str:
    """Cut ``text`` with "..." so it fits ``max_w`` pixels."""
    if cv2.getTextSize(text, _FONT, scale, thick)[0][0] <= max_w:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if cv2.getTextSize(text[:mid] + "...", _FONT, scale, thick)[0][0] <= max_w:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "..."


def _check_image(image_bgr: np.ndarray) -> None:
    if (
        not isinstance(image_bgr, np.ndarray)
        or image_bgr.ndim != 3
        or image_bgr.shape[2] != 3
        or image_bgr.dtype != np.uint8
    ):
        raise ValueError(
            f"image_bgr must be uint8 [H, W, 3], got {getattr(image_bgr, 'dtype', None)} "
            f"{getattr(image_bgr, 'shape', None)}"
        )


def _person_label(is_subject: bool, track_id: int | None) -> str | None:
    if is_subject:
        return "subject" + (f" #{track_id}" if track_id is not None else "")
    return f"#{track_id}" if track_id is not None else None


def _draw_skeletons(img: np.ndarray, pose_frame: PoseFrame, s: float, min_score: float) -> None:
    """Everyone's skeleton, scaled from the pose's image size: others first (grey), the subject on top."""
    h, w = img.shape[:2]
    pw, ph = pose_frame.image_size
    sx = w / pw if pw > 0 else 1.0
    sy = h / ph if ph > 0 else 1.0
    limit = 4.0 * max(w, h)
    subject = pose_frame.subject_index
    ids = pose_frame.track_ids or [None] * len(pose_frame.people)
    order = [i for i in range(len(pose_frame.people)) if i != subject]
    if subject is not None:
        order.append(subject)
    for i in order:
        try:
            pts, ok = _person_points(pose_frame.people[i], sx, sy, limit, min_score)
        except Exception:  # noqa: BLE001 - never let one bad person kill the live view
            log.debug("overlay: person %d not drawable", i, exc_info=True)
            continue
        tid = ids[i] if i < len(ids) else None
        _draw_person(img, pts, ok, i == subject, s, _person_label(i == subject, tid))


@dataclass(frozen=True)
class _Panel:
    """Sizes of the top-left panel, all in proportion to the image height (``s`` = height / 720)."""

    s: float
    w: int

    @property
    def scale(self) -> float:
        return 0.6 * self.s

    @property
    def thick(self) -> int:
        return max(1, round(1.3 * self.s))

    @property
    def line_h(self) -> int:
        return round(28 * self.s)

    @property
    def pad(self) -> int:
        return round(10 * self.s)

    @property
    def width(self) -> int:
        return min(self.w - 2 * self.pad, max(round(430 * self.s), self.w // 3))

    @property
    def text_w(self) -> int:
        return self.width - 2 * self.pad


def _headline_lines(
    status: str, alert: bool, probability: float | None, threshold: float | None, scale: float
) -> list[tuple[str, tuple[int, int, int], float]]:
    """Status (red when ``alert``), then the probability, amber at or above the threshold, or "collecting..."."""
    lines: list[tuple[str, tuple[int, int, int], float]] = []
    if status:
        lines.append((to_ascii(status), ALERT_COLOR if alert else TEXT_COLOR, scale))
    p = _finite(probability)
    if p is None:
        lines.append(("collecting...", TEXT_COLOR, scale * 1.15))
    else:
        thr = _finite(threshold)
        txt = f"P(refer) {p:.2f}" + (f"   threshold {thr:.2f}" if thr is not None else "")
        lines.append((txt, ABOVE_THRESHOLD_COLOR if thr is not None and p >= thr else TEXT_COLOR, scale * 1.15))
    return lines


def _draw_progress(img: np.ndarray, panel: _Panel, x: int, y: int, progress: float) -> None:
    """A labelled bar of how much of the next window is collected (dropped when the panel is too narrow)."""
    s, pad, scale = panel.s, panel.pad, panel.scale
    frac = _finite(progress)
    frac = 0.0 if frac is None else min(max(frac, 0.0), 1.0)
    label = f"next window {round(100 * frac):3d}%"
    label_w = cv2.getTextSize(label, _FONT, scale * 0.85, panel.thick)[0][0]
    bar_x0, bar_x1 = x + label_w + pad, pad + panel.width - pad
    bar_y0, bar_y1 = y - round(14 * s), y + round(2 * s)
    _text(img, label, (x, y), scale * 0.85, TEXT_COLOR, s)
    if bar_x1 - bar_x0 > 10:
        cv2.rectangle(img, (bar_x0, bar_y0), (bar_x1, bar_y1), (200, 200, 200), max(1, round(s)))
        fill = bar_x0 + round((bar_x1 - bar_x0) * frac)
        if fill > bar_x0 + 1:
            cv2.rectangle(img, (bar_x0 + 1, bar_y0 + 1), (fill - 1, bar_y1 - 1), BAR_COLOR, -1)


def _draw_panel(
    img: np.ndarray,
    panel: _Panel,
    lines: Sequence[tuple[str, tuple[int, int, int], float]],
    progress: float,
    feats: Sequence[str],
) -> None:
    """Darken the top-left panel and write the headline lines, the progress bar and the numbered features."""
    s, pad, line_h, thick = panel.s, panel.pad, panel.line_h, panel.thick
    n_rows = len(lines) + 1 + (1 + len(feats) if feats else 0)
    _darken(img, pad, pad, pad + panel.width, pad + n_rows * line_h + pad)
    x, y = 2 * pad, pad + line_h - round(6 * s)
    for txt, color, sc in lines:
        _text(img, _fit(txt, panel.text_w, sc, thick), (x, y), sc, color, s)
        y += line_h
    _draw_progress(img, panel, x, y, progress)
    y += line_h
    if feats:
        sc = panel.scale * 0.85
        _text(img, "top features:", (x, y), sc, (200, 200, 200), s)
        y += line_h
        for k, f in enumerate(feats, start=1):
            _text(img, _fit(f"{k}. {f}", panel.text_w, sc, thick), (x, y), sc, TEXT_COLOR, s)
            y += line_h


def _draw_notices(img: np.ndarray, notes: Sequence[str], panel: _Panel) -> None:
    """The notices on a darkened strip along the bottom, one line each."""
    h, w = img.shape[:2]
    s, pad = panel.s, panel.pad
    nscale = 0.5 * s
    nline = round(22 * s)
    strip_h = pad + nline * len(notes)
    _darken(img, 0, h - strip_h, w, h)
    ny = h - strip_h + nline - round(4 * s)
    for n in notes:
        _text(img, _fit(n, w - 2 * pad, nscale, panel.thick), (pad, ny), nscale, NOTICE_COLOR, s)
        ny += nline


def draw_overlay(
    image_bgr: np.ndarray,
    pose_frame: PoseFrame | None,
    *,
    progress: float,
    probability: float | None,
    top_features: Sequence[str] = (),
    status: str = "",
    notices: Sequence[str] = (),
    threshold: float | None = None,
    alert: bool = False,
    max_features: int = 3,
    min_score: float = MIN_SCORE,
    in_place: bool = False,
) -> np.ndarray:
    """Draw the live view on a copy of ``image_bgr`` (or on it, ``in_place``) and return it.

    ``progress``: fraction [0, 1] of the next window collected. ``probability``:
    the latest window's (None or NaN: "collecting..."); with ``threshold`` it
    turns amber at or above it. ``status``: one line (e.g. "camera 0 lost,
    retrying in 2.0 s"), red when ``alert``. ``notices`` go at the bottom.
    Landmarks are scaled from ``pose_frame.image_size`` to this image, so the
    pose may have run on a resized copy.
    """
    _check_image(image_bgr)
    img = image_bgr if in_place else image_bgr.copy()
    h, w = img.shape[:2]
    panel = _Panel(s=max(h, 240) / 720.0, w=w)
    if pose_frame is not None and pose_frame.people:
        _draw_skeletons(img, pose_frame, panel.s, min_score)
    lines = _headline_lines(status, alert, probability, threshold, panel.scale)
    feats = [to_ascii(f) for f in list(top_features)[:max_features] if f]
    _draw_panel(img, panel, lines, progress, feats)
    notes = [to_ascii(n) for n in notices if n]
    if notes:
        _draw_notices(img, notes, panel)
    return img


class OverlayVideoWriter:
    """Writes overlay frames to an mp4 (``mp4v``); the file is created on the first frame.

    ``size`` (width, height) defaults to the first frame's; frames of another
    size are resized (a camera may switch resolution on reconnect). Nothing is
    created if no frame is written. Raises VideoWriteError if OpenCV cannot
    open the output.
    """

    def __init__(
        self, path: str | Path, fps: float | None = 30.0, size: tuple[int, int] | None = None, *, fourcc: str = "mp4v"
    ) -> None:
        self.path = Path(path).expanduser()
        fps_ok = _finite(fps)
        if fps_ok is None or not 0 < fps_ok <= 1000:
            log.warning("overlay video: unusable fps %r, writing at 30", fps)
            fps_ok = 30.0
        self.fps = fps_ok
        self.size = size
        self.fourcc = fourcc
        self.frames_written = 0
        self._writer: cv2.VideoWriter | None = None
        self._warned_resize = False
        self._closed = False

    def _open(self, image: np.ndarray) -> cv2.VideoWriter:
        if self.size is None:
            self.size = (int(image.shape[1]), int(image.shape[0]))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*self.fourcc), self.fps, self.size)
        if not writer.isOpened():
            raise VideoWriteError(
                f"Cannot write video {self.path} (codec {self.fourcc!r}, size {self.size}): "
                "check the folder exists and is writable and the extension is .mp4"
            )
        log.info("writing overlay video %s (%dx%d @ %g fps)", self.path, *self.size, self.fps)
        return writer

    def write(self, image_bgr: np.ndarray) -> None:
        if self._closed:
            raise VideoWriteError(f"overlay video {self.path} is already closed")
        if self._writer is None:
            self._writer = self._open(image_bgr)
        assert self.size is not None
        if (image_bgr.shape[1], image_bgr.shape[0]) != self.size:
            if not self._warned_resize:
                log.warning(
                    "overlay video: frame size %dx%d differs from %dx%d; resizing",
                    image_bgr.shape[1],
                    image_bgr.shape[0],
                    *self.size,
                )
                self._warned_resize = True
            image_bgr = cv2.resize(image_bgr, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(np.ascontiguousarray(image_bgr))
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file (safe to call twice)."""
        self._closed = True
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            log.info("wrote %s (%d frames)", self.path, self.frames_written)

    def __enter__(self) -> OverlayVideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
