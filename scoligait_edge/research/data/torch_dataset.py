"""What a torch ``DataLoader`` consumes: :class:`WindowDataset` and :func:`collate_windows` (``train`` extra)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from scoligait_edge.errors import DatasetError, OptionalDependencyError
from scoligait_edge.research.data.windows import (
    WindowSample,
)

if TYPE_CHECKING:
    import torch


# -- torch ------------------------------------------------------------------------------------


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # torch is the optional 'train' extra
        raise OptionalDependencyError("WindowDataset needs PyTorch: pip install 'scoligait-edge[train]'") from exc
    return torch


class WindowDataset:
    """Map-style dataset over :class:`WindowSample` for ``torch.utils.data.DataLoader``.

    Item ``i`` is a dict: ``km`` float32 [96, 238], ``km_mask`` bool [96],
    ``video`` uint8 [96, 1, 64, 44] and ``video_mask`` bool [96] (when
    ``with_video``), ``label`` float32 (1 = Cobb >= 10 deg), ``cobb`` float32
    (NaN when unknown), ``sconet_class`` int64 (-1 when unknown), and
    ``subject_id``, ``clip_id``, ``sex``, ``age``, ``start``, ``provenance``.
    Deterministic: nothing random happens here (shuffle in the DataLoader with
    a seeded generator). Use :func:`collate_windows` as ``collate_fn``.
    """

    def __init__(self, samples: Sequence[WindowSample], *, with_video: bool = True) -> None:
        _torch()
        self.samples = list(samples)
        self.with_video = bool(with_video)
        lengths = {s.length for s in self.samples}
        if len(lengths) > 1:
            raise DatasetError(f"windows of different lengths {sorted(lengths)} cannot be batched together")
        if self.with_video:
            bad = [s.clip_id for s in self.samples if s.silhouettes is None]
            if bad:
                raise DatasetError(
                    f"{len(bad)} window(s) have no silhouettes (e.g. clip {bad[0]!r}); "
                    "use with_video=False or a source with silhouettes"
                )

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        torch = _torch()
        s = self.samples[index]
        item: dict[str, Any] = {
            "km": torch.tensor(s.km, dtype=torch.float32),
            "km_mask": torch.tensor(s.km_valid, dtype=torch.bool),
            "label": torch.tensor(float(s.label), dtype=torch.float32),
            "cobb": torch.tensor(s.cobb_deg, dtype=torch.float32),
            "sconet_class": torch.tensor(-1 if s.sconet_class is None else s.sconet_class, dtype=torch.int64),
            "subject_id": s.subject_id,
            "clip_id": s.clip_id,
            "sex": s.sex,
            "age": s.age,
            "start": s.start,
            "provenance": s.provenance,
        }
        if self.with_video:
            assert s.silhouettes is not None
            item["video"] = torch.tensor(s.silhouettes, dtype=torch.uint8).unsqueeze(1)
            valid = s.silhouettes_valid if s.silhouettes_valid is not None else np.ones(s.length, bool)
            item["video_mask"] = torch.tensor(valid, dtype=torch.bool)
        return item

    def labels(self) -> np.ndarray:
        """Binary labels of all windows (e.g. for a class-balanced sampler)."""
        return np.array([s.label for s in self.samples], dtype=np.int64)


_TENSOR_KEYS = ("km", "km_mask", "video", "video_mask", "label", "cobb", "sconet_class")


def collate_windows(batch: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor | list[Any]]:
    """Stack a list of :class:`WindowDataset` items: tensors gain a batch dimension
    (``km`` [B, 96, 238], ``video`` [B, 96, 1, 64, 44] uint8, ``label`` [B] ...);
    ``subject_id``, ``clip_id``, ``sex``, ``age``, ``start``, ``provenance`` become lists."""
    torch = _torch()
    if not batch:
        raise ValueError("cannot collate an empty batch")
    out: dict[str, Any] = {}
    for key in batch[0]:
        vals = [b[key] for b in batch]
        out[key] = torch.stack(vals) if key in _TENSOR_KEYS else list(vals)
    return out
