"""One window -> the model's named inputs, shared by training and the Screener (no torch needed).

Why one function: if training (``research/training/tensors.py``) and inference
(``Screener._batch``) prepared the inputs each their own way, a change in one
(silhouette scaling, mask dtype, the batch axis) would silently train a model on
inputs the runtime never gives it. Both call :func:`model_inputs` /
:func:`scale_silhouettes`; ``tests/test_preprocess_parity.py`` checks that they
agree array for array.

Silhouettes stay uint8 up to the model: the graph (and the torch model) scale
them by :data:`SILHOUETTE_SCALE` themselves, so a batch costs 4x fewer bytes to
copy to a GPU or across JNI. Graphs exported before took float32 in [0, 1]:
``video_dtype="float32"`` scales here for them (the manifest's input spec says which).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scoligait_edge.core.constants import SIL_SHAPE, SILHOUETTE_MAX


def scale_silhouettes(silhouettes: np.ndarray) -> np.ndarray:
    """uint8 silhouettes (any shape) -> float32 in [0, 1], as the model scales them; only for graphs
    exported with a float32 ``video`` input (the current graph takes uint8)."""
    return np.asarray(silhouettes).astype(np.float32) / np.float32(SILHOUETTE_MAX)


def check_window_length(frames: int, expected: int, *, what: str = "window") -> None:
    """Refuse a window whose length differs from the model's ``window_frames`` (a clear error, not a shape crash)."""
    if int(frames) != int(expected):
        raise ValueError(f"{what} has {int(frames)} frames but the model expects window_frames={int(expected)}")


def model_inputs(
    km: np.ndarray,
    km_valid: np.ndarray,
    silhouettes: np.ndarray | None = None,
    *,
    text: np.ndarray | None = None,
    text_mask: np.ndarray | None = None,
    uses_video: bool = True,
    uses_text: bool = True,
    window_frames: int | None = None,
    video_dtype: str = "uint8",
) -> dict[str, np.ndarray]:
    """One window (km [T,238], km_valid [T], silhouettes uint8 [T,64,44] or None, sentence embeddings
    [S,384] + mask [S]) -> the graph inputs with a batch axis of 1, as :func:`~scoligait_edge.bundle.specs.input_specs`
    names them. Missing silhouettes become blank frames (the runtime has none before the first mask)."""
    return batch_model_inputs(
        [km],
        [km_valid],
        None if silhouettes is None else [silhouettes],
        text=None if text is None else np.asarray(text)[None],
        text_mask=None if text_mask is None else np.asarray(text_mask)[None],
        uses_video=uses_video,
        uses_text=uses_text,
        window_frames=window_frames,
        video_dtype=video_dtype,
    )


def batch_model_inputs(
    km: Sequence[np.ndarray] | np.ndarray,
    km_valid: Sequence[np.ndarray] | np.ndarray,
    silhouettes: Sequence[np.ndarray | None] | np.ndarray | None = None,
    *,
    text: np.ndarray | None = None,
    text_mask: np.ndarray | None = None,
    uses_video: bool = True,
    uses_text: bool = True,
    window_frames: int | None = None,
    video_dtype: str = "uint8",
) -> dict[str, np.ndarray]:
    """Windows stacked on a leading batch axis -> the graph inputs (see :func:`model_inputs`).

    ``silhouettes`` is uint8 [B,T,64,44] (or a list, None entries = blank); ``text`` float32 [B,S,384] and
    ``text_mask`` bool [B,S] are already looked up. ``window_frames`` (when given) must equal T.
    ``video_dtype`` is the graph's ``video`` input dtype: "uint8" (passed as is) or "float32" (older graphs).
    """
    if video_dtype not in ("uint8", "float32"):
        raise ValueError(f"video_dtype must be 'uint8' or 'float32', got {video_dtype!r}")
    km_arr = np.asarray(np.stack(km) if not isinstance(km, np.ndarray) else km, dtype=np.float32)
    if km_arr.ndim != 3:
        raise ValueError(f"km must be [batch, T, features], got shape {km_arr.shape}")
    b, t = km_arr.shape[:2]
    if window_frames is not None:
        check_window_length(t, window_frames)
    valid = np.asarray(np.stack(km_valid) if not isinstance(km_valid, np.ndarray) else km_valid, dtype=bool)
    if valid.shape != (b, t):
        raise ValueError(f"km_valid must be [{b}, {t}], got shape {valid.shape}")
    out: dict[str, np.ndarray] = {"km": km_arr, "km_mask": valid}
    if uses_video:
        if silhouettes is None:
            sil = np.zeros((b, t, *SIL_SHAPE), np.uint8)
        elif isinstance(silhouettes, np.ndarray):
            sil = silhouettes
        else:
            sil = np.stack([np.zeros((t, *SIL_SHAPE), np.uint8) if s is None else s for s in silhouettes])
        if sil.shape[:2] != (b, t) or sil.shape[-2:] != SIL_SHAPE:
            raise ValueError(f"silhouettes must be [{b}, {t}, {SIL_SHAPE[0]}, {SIL_SHAPE[1]}], got {sil.shape}")
        if sil.dtype != np.uint8:
            raise ValueError(f"silhouettes must be uint8 (0..255), got {sil.dtype}")
        sil = sil.reshape(b, t, 1, *SIL_SHAPE)
        out["video"] = sil if video_dtype == "uint8" else scale_silhouettes(sil)
    if uses_text:
        if text is None or text_mask is None:
            raise ValueError("this model needs text embeddings and their mask")
        out["text"] = np.asarray(text, dtype=np.float32)
        out["text_mask"] = np.asarray(text_mask, dtype=bool)
    return out
