"""A small but complete bundle for Screener / CLI tests (random weights, real text reference)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def simulated_window_set(n_clips: int = 6, seed: int = 0):
    from scoligait_edge.kinematics.builder import build_knowledge_map
    from scoligait_edge.research.sim.simulate import sample_subject, simulate_clip

    km, valid, labels = [], [], []
    for i in range(n_clips):
        subject = sample_subject(np.random.default_rng(seed + i), f"h{i}", cobb_deg=25.0 if i % 2 else 0.0)
        clip = simulate_clip(subject, n_frames=200, camera=("side", "frontal")[i % 2], seed=seed + i)
        m = build_knowledge_map(clip.keypoints, clip.fps)
        for s in range(32, 200 - 96 + 1, 8):
            km.append(m.values[s : s + 96])
            valid.append(m.valid[s : s + 96])
            labels.append(int(i % 2))
    return np.stack(km), np.stack(valid), np.array(labels)


def build_screening_bundle(root: Path) -> Path:
    import torch

    from scoligait_edge.export import SIMULATED_PROVENANCE, create_bundle
    from scoligait_edge.research.models.io import save_checkpoint
    from scoligait_edge.research.models.screening import ScreeningModel, ScreeningModelConfig
    from scoligait_edge.text.embeddings import default_embedding_table
    from scoligait_edge.text.reference import fit_reference
    from tests.signing_helpers import fixture_signing_key

    torch.manual_seed(0)
    cfg = ScreeningModelConfig(
        modalities="km+video+text",
        fusion="cat_latent",
        fusion_blocks=1,
        dim=32,
        heads=2,
        depth=1,
        num_latents=8,
        latent_heads=2,
        km_patch_frames=16,
        video_tubelet_frames=16,
        dropout=0.0,
    )
    model = ScreeningModel(cfg).eval()
    km, valid, labels = simulated_window_set()
    rows = torch.from_numpy(km[valid])
    model.km_encoder.patch_embed.set_normalization(rows.mean(0), rows.std(0).clamp(min=1e-3))
    ckpt = root / "ckpt" / "model"
    save_checkpoint(model, ckpt)
    reference = fit_reference(km, valid, labels, min_stratum_negatives=5, provenance="simulated")
    stats = reference.save(root / "reference_stats.json")
    table = root / "sentence_embeddings.npy"
    np.save(table, default_embedding_table().embeddings, allow_pickle=False)
    create_bundle(
        ckpt,
        root / "bundle",
        threshold=0.5,
        threshold_source="test fixture (random model)",
        provenance=SIMULATED_PROVENANCE,
        sentence_table=table,
        reference_statistics=stats,
        formats=["onnx"],
        report=lambda s: None,
        signing_key=fixture_signing_key(),
    )
    return root / "bundle"
