"""Windows stacked into arrays once, so an epoch is only indexing and the model.

The per-batch preparation (silhouette scaling, dtypes, masks) is
:func:`scoligait_edge.bundle.inputs.batch_model_inputs`, the same function the
Screener uses, applied to zero-copy numpy views of the indexed CPU tensors; the
silhouettes stay uint8 in memory (4x smaller) and are scaled per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from scoligait_edge.bundle.inputs import batch_model_inputs, check_window_length


@dataclass
class WindowTensors:
    """All windows of one split, ready for batching (CPU tensors)."""

    km: torch.Tensor  # float32 [N, T, 238]
    km_mask: torch.Tensor  # bool [N, T]
    label: torch.Tensor  # float32 [N]
    cobb: torch.Tensor  # float32 [N]
    video: torch.Tensor | None  # uint8 [N, T, 1, 64, 44]
    text: torch.Tensor | None  # float32 [N, S, 384]
    text_mask: torch.Tensor | None  # bool [N, S]
    clip_ids: list[str]
    subject_ids: list[str]
    sexes: list[str | None]
    starts: list[int]

    def __len__(self) -> int:
        return int(self.km.shape[0])

    def batch(
        self,
        index: torch.Tensor | Sequence[int],
        *,
        uses_video: bool,
        uses_text: bool,
        device: torch.device | str | None = None,
    ) -> dict[str, torch.Tensor]:
        """Model keyword arguments for the windows at ``index`` (video uint8: the model scales it), on ``device``."""
        idx = torch.as_tensor(index, dtype=torch.long)
        if uses_video and self.video is None:
            raise ValueError("this model needs silhouettes but the dataset has none")
        if uses_text and (self.text is None or self.text_mask is None):
            raise ValueError("this model needs text embeddings but none were computed")
        arrays = batch_model_inputs(
            self.km[idx].numpy(),
            self.km_mask[idx].numpy(),
            self.video[idx].numpy()[:, :, 0] if uses_video and self.video is not None else None,
            text=self.text[idx].numpy() if uses_text and self.text is not None else None,
            text_mask=self.text_mask[idx].numpy() if uses_text and self.text_mask is not None else None,
            uses_video=uses_video,
            uses_text=uses_text,
        )
        return to_device({name: torch.from_numpy(a) for name, a in arrays.items()}, device)


def to_device(tensors: dict[str, torch.Tensor], device: torch.device | str | None) -> dict[str, torch.Tensor]:
    """Model inputs on ``device``: unchanged on the CPU, through pinned host memory to an accelerator."""
    if device is None or torch.device(device).type == "cpu":
        return tensors
    return {name: t.pin_memory().to(device, non_blocking=True) for name, t in tensors.items()}


def stack_windows(
    samples: Sequence,
    *,
    text: np.ndarray | None = None,
    text_mask: np.ndarray | None = None,
    with_video: bool = True,
    window_frames: int | None = None,
) -> WindowTensors:
    """Stack ``WindowSample``s (scoligait_edge.research.data.windows) into one :class:`WindowTensors`.

    ``window_frames`` (the model config's) refuses windows of another length here, before training starts.
    """
    if not samples:
        raise ValueError("no windows to stack: the split is empty (check the data and the window quality filter)")
    if window_frames is not None:
        for s in samples:
            check_window_length(len(s.km), window_frames, what=f"training window {s.clip_id}@{s.start}")
    km = np.stack([s.km for s in samples]).astype(np.float32)
    if not np.isfinite(km).all():
        raise ValueError("knowledge-map windows contain NaN or infinity")
    video = None
    if with_video and all(s.silhouettes is not None for s in samples):
        video = torch.from_numpy(np.stack([s.silhouettes for s in samples])[:, :, None])
    return WindowTensors(
        km=torch.from_numpy(km),
        km_mask=torch.from_numpy(np.stack([s.km_valid for s in samples]).astype(bool)),
        label=torch.tensor([float(s.label) for s in samples]),
        cobb=torch.tensor([float(s.cobb_deg) for s in samples]),
        video=video,
        text=None if text is None else torch.from_numpy(np.asarray(text, dtype=np.float32)),
        text_mask=None if text_mask is None else torch.from_numpy(np.asarray(text_mask, dtype=bool)),
        clip_ids=[s.clip_id for s in samples],
        subject_ids=[s.subject_id for s in samples],
        sexes=[s.sex for s in samples],
        starts=[int(s.start) for s in samples],
    )
