"""Small in-memory training splits shared by the training-loop tests (no cohort, no cache)."""

from __future__ import annotations


def separable_windows(n: int, seed: int):
    """``n`` km-only windows of 32 frames, alternating labels, the positives' map shifted by +0.5: learnable fast."""
    import torch

    from scoligait_edge.research.training.tensors import WindowTensors

    g = torch.Generator().manual_seed(seed)
    label = (torch.arange(n) % 2).float()
    km = torch.randn(n, 32, 238, generator=g) + label[:, None, None] * 0.5
    return WindowTensors(
        km=km,
        km_mask=torch.ones(n, 32, dtype=torch.bool),
        label=label,
        cobb=label * 20,
        video=None,
        text=None,
        text_mask=None,
        clip_ids=[f"c{i}" for i in range(n)],
        subject_ids=[f"s{i}" for i in range(n)],
        sexes=[None] * n,
        starts=[0] * n,
    )
