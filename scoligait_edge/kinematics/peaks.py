"""The two signal-processing steps gait events need, in numpy.

They reproduce ``scipy.signal.find_peaks(x, distance=, prominence=)`` and
``scipy.ndimage.median_filter(x, size=(k, 1, ...), mode="nearest")`` exactly
(``tests/test_peaks.py`` compares them with scipy on random signals). Why not
call scipy: the runtime (``pip install scoligait-edge``) must not need it;
importing ``scipy.signal`` and ``scipy.ndimage`` costs ~80 MB of RSS and
~1.4 s on this 2-core machine for two small loops over a 96-row window.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def median_filter_nearest(x: np.ndarray, k: int) -> np.ndarray:
    """Running median of odd length ``k`` along axis 0, edges repeated (scipy's ``mode="nearest"``)."""
    if k < 1 or k % 2 == 0:
        raise ValueError(f"median length must be a positive odd integer, got {k}")
    a = np.asarray(x, dtype=np.float64)
    half = k // 2
    padded = np.pad(a, [(half, half)] + [(0, 0)] * (a.ndim - 1), mode="edge")
    return np.median(sliding_window_view(padded, k, axis=0), axis=-1)


def _local_maxima(x: np.ndarray) -> np.ndarray:
    """Indices of local maxima; a flat top counts once, at its middle (rounded down)."""
    peaks = []
    i, i_max = 1, len(x) - 1
    while i < i_max:
        if x[i - 1] < x[i]:
            ahead = i + 1
            while ahead < i_max and x[ahead] == x[i]:
                ahead += 1
            if x[ahead] < x[i]:
                peaks.append((i + ahead - 1) // 2)
                i = ahead
        i += 1
    return np.array(peaks, dtype=np.intp)


def _keep_apart(peaks: np.ndarray, heights: np.ndarray, distance: float) -> np.ndarray:
    """Highest peaks first; drop every lower one closer than ``distance`` samples."""
    keep = np.ones(len(peaks), dtype=bool)
    for j in np.argsort(heights)[::-1]:
        if not keep[j]:
            continue
        k = j - 1
        while k >= 0 and peaks[j] - peaks[k] < distance:
            keep[k] = False
            k -= 1
        k = j + 1
        while k < len(peaks) and peaks[k] - peaks[j] < distance:
            keep[k] = False
            k += 1
    return keep


def _prominence(x: np.ndarray, peak: int) -> float:
    """Height above the higher of the two lowest points reached before the signal rises above the peak."""
    top = x[peak]
    i, left_min = peak, top
    while i >= 0 and x[i] <= top:
        left_min = min(left_min, x[i])
        i -= 1
    i, right_min = peak, top
    while i < len(x) and x[i] <= top:
        right_min = min(right_min, x[i])
        i += 1
    return float(top - max(left_min, right_min))


def find_peaks(x: np.ndarray, *, distance: float = 1, prominence: float = 0.0) -> np.ndarray:
    """Peaks at least ``distance`` samples apart (higher ones win) with at least ``prominence``."""
    if distance < 1:
        raise ValueError(f"distance must be >= 1, got {distance}")
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    peaks = _local_maxima(a)
    if len(peaks) > 1 and distance > 1:
        peaks = peaks[_keep_apart(peaks, a[peaks], np.ceil(distance))]
    return np.array([p for p in peaks if _prominence(a, p) >= prominence], dtype=np.intp)
