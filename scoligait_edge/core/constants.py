"""The numbers every layer shares, defined once: windows, silhouettes, frame rates, the positive label.

Anything that must agree between training, the exported bundle and the runtime (Python and the
Android core, whose generated tables read them) lives here; a module that needs one imports it from
here rather than writing the number again.
"""

from __future__ import annotations

import math
import numbers
from typing import Final

import numpy as np

from scoligait_edge.errors import FrameRateError

MAP_FPS: Final = 30.0
"""The knowledge map's (and every model window's) sampling rate: poses are resampled to it."""
DEFAULT_FPS: Final = 30.0
"""Frame rate assumed for a source that does not state one (a folder of images, a pose file without fps)."""
MIN_FPS: Final = 1.0
MAX_FPS: Final = 1000.0
"""The frame rates accepted anywhere a rate enters the public API."""

WINDOW_FRAMES: Final = 96
"""ScoliGait's window: 96 frames at 30 Hz (3.2 s, several gait cycles); the default of every model config."""
WINDOW_HOP: Final = 16
"""Map rows between the starts of two successive windows (the runtime's and training's default)."""

SIL_SIZE: Final = 64
"""Rows (and columns before the side cut) of a silhouette."""
SIL_CUT: Final = 10
"""Columns cut off each side of the 64 x 64 crop (ScoNet's preprocessing)."""
SIL_SHAPE: Final[tuple[int, int]] = (SIL_SIZE, SIL_SIZE - 2 * SIL_CUT)
"""Silhouette height x width the video encoder takes: (64, 44)."""
SILHOUETTE_MAX: Final = 255.0
"""uint8 silhouette value of full foreground; the model divides by it."""
SILHOUETTE_SCALE: Final = 1.0 / SILHOUETTE_MAX
"""uint8 mask value -> the [0, 1] float the video encoder works on."""

MAX_FRAME_PIXELS: Final = 40_000_000
"""Largest decoded frame accepted (width x height; 8K video is 33 MP): a 16000 x 16000 image is 0.75 MB as a
PNG but 768 MB decoded, and several copies of it exhaust a small device."""

POSE_INPUT_MAX_SIDE: Final = 960
"""Most pixels on the longer side of the frame the pose landmarker is given (a larger camera frame is
scaled down by a power of two: 1920 x 1080 -> 960 x 540): MediaPipe's detector reads 224 x 224 and its
landmark model a 256 x 256 crop of the person, so more pixels mostly make MediaPipe resample its
segmentation mask at full size. Chosen from measurements on the sample video (docs/RUNTIME.md);
silhouettes depend on it, so it must agree with the path that made a bundle's training silhouettes."""

COBB_THRESHOLD_DEG: Final = 10.0
"""Positive = a coronal Cobb angle of at least 10 degrees (Scoliosis Research Society definition)."""


def check_fps(fps: object, *, name: str = "fps") -> float:
    """``fps`` as a float, or FrameRateError: a real number (not a bool or a string), finite, in [1, 1000]."""
    if isinstance(fps, bool | np.bool_) or not isinstance(fps, numbers.Real):
        raise FrameRateError(f"{name} must be a number of frames per second, got {fps!r} ({type(fps).__name__})")
    value = float(fps)
    if not (math.isfinite(value) and MIN_FPS <= value <= MAX_FPS):
        raise FrameRateError(f"{name} must be between {MIN_FPS:g} and {MAX_FPS:g} frames per second, got {fps!r}")
    return value
