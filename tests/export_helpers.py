"""A tiny, randomly initialised screening model, realistic-ish windows and ONE bundle for the export/runtime tests.

The model has a non-trivial knowledge-map normalisation and a screening head
scaled so logits spread like a trained model's (std ~2, median ~0), so that
label agreement at the 0.5 threshold is a meaningful check. Windows: sliding
windows over SIMULATED walking clips (knowledge map + cropped silhouettes)
plus random ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

T = 32
TINY = dict(
    modalities="km+video+text",
    fusion="cat_latent",
    dim=32,
    heads=2,
    depth=1,
    window_frames=T,
    km_patch_frames=8,
    video_tubelet_frames=8,
    num_latents=8,
    latent_heads=4,
    dropout=0.0,
)
TEXT_TOKENS = 3


@dataclass
class TinyBundle:
    path: Path
    checkpoint: Path
    model: object  # ScreeningModel
    windows: dict[str, np.ndarray]


def make_model(seed: int = 0, **overrides):
    import torch

    from scoligait_edge.core.schema import NUM_FEATURES
    from scoligait_edge.research.models.screening import ScreeningModel, ScreeningModelConfig

    torch.manual_seed(seed)
    model = ScreeningModel(ScreeningModelConfig(**{**TINY, **overrides})).eval()
    if model.km_encoder is not None:
        g = torch.Generator().manual_seed(seed + 1)
        mean = torch.randn(NUM_FEATURES, generator=g) * 0.3
        std = torch.rand(NUM_FEATURES, generator=g) * 2.0 + 0.05
        model.km_encoder.patch_embed.set_normalization(mean, std)
    return model


def simulated_windows(n_clips: int = 4, stride: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """Sliding T-frame windows over SIMULATED clips: knowledge map + mask + silhouettes (+ random text)."""
    from scoligait_edge.kinematics.builder import build_knowledge_map
    from scoligait_edge.research.sim.simulate import crop_scoliosis1k, sample_subject, simulate_clip

    rng = np.random.default_rng(seed)
    km, mask, video = [], [], []
    for i in range(n_clips):
        subject = sample_subject(np.random.default_rng(100 + i), f"export-{i}", cobb_deg=[0.0, 25.0][i % 2])
        clip = simulate_clip(
            subject,
            n_frames=120,
            camera=("side", "frontal")[i % 2],
            seed=i,
            with_silhouettes=True,
            silhouette_scale=0.25,
        )
        kmap = build_knowledge_map(clip.keypoints, clip.fps)
        sil = np.asarray(crop_scoliosis1k(clip.silhouettes), np.uint8)  # the graph takes uint8
        n = min(len(kmap), len(sil))
        for s in range(0, n - T + 1, stride):
            km.append(kmap.values[s : s + T])
            mask.append(kmap.valid[s : s + T])
            video.append(sil[s : s + T, None])
    n = len(km)
    text = rng.standard_normal((n, TEXT_TOKENS, 384)).astype(np.float32) * 0.05
    text_mask = np.ones((n, TEXT_TOKENS), dtype=bool)
    text_mask[::3, -1] = False
    return {
        "km": np.stack(km).astype(np.float32),
        "km_mask": np.stack(mask),
        "video": np.stack(video),
        "text": text,
        "text_mask": text_mask,
    }


def random_windows(n: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    km = (rng.standard_normal((n, T, 238)) * 0.5).astype(np.float32)
    mask = np.ones((n, T), dtype=bool)
    mask[::4, : T // 4] = False  # a quarter of the windows start with invalid frames...
    km[~mask] = 0.0  # ...which are zeros, as the knowledge map writes them
    video = np.where(rng.random((n, T, 1, 64, 44)) > 0.6, 255, 0).astype(np.uint8)
    text = (rng.standard_normal((n, TEXT_TOKENS, 384)) * 0.05).astype(np.float32)
    text_mask = np.ones((n, TEXT_TOKENS), dtype=bool)
    text_mask[1::2, 0] = False
    return {"km": km, "km_mask": mask, "video": video, "text": text, "text_mask": text_mask}


def all_windows() -> dict[str, np.ndarray]:
    sim = simulated_windows()
    rnd = random_windows(64 - len(sim["km"]))
    return {k: np.concatenate([sim[k], rnd[k]]) for k in sim}


def calibrate_head(model, windows: dict[str, np.ndarray]) -> None:
    """Scale the screening head so logits spread like a trained model's (std ~2) around 0."""
    import torch

    with torch.no_grad():
        out = model(
            **{
                k: torch.from_numpy(v)
                for k, v in windows.items()
                if k in {"km", "km_mask", "video", "text", "text_mask"}
            }
        )
        logit = out.logit
        scale = 2.0 / float(logit.std().clamp(min=1e-6))
        model.screen_head.weight.mul_(scale)
        model.screen_head.bias.mul_(scale)
        shifted = model(**{k: torch.from_numpy(v) for k, v in windows.items()}).logit
        mid = shifted.sort().values  # centre between the two middle windows: none sits on the threshold
        model.screen_head.bias.sub_((mid[(len(mid) - 1) // 2] + mid[len(mid) // 2]) / 2)


def build_tiny_bundle(root: Path) -> TinyBundle:
    from scoligait_edge.export import SIMULATED_PROVENANCE, create_bundle
    from scoligait_edge.research.models.io import save_checkpoint
    from tests.signing_helpers import fixture_signing_key

    model = make_model()
    windows = all_windows()
    calibrate_head(model, windows)
    ckpt = root / "ckpt" / "tiny"
    save_checkpoint(model, ckpt, extra={"note": "random tiny model for tests"})
    table = root / "assets" / "sentences.npy"
    table.parent.mkdir(parents=True, exist_ok=True)
    np.save(table, np.random.default_rng(0).standard_normal((4, 384)).astype(np.float32), allow_pickle=False)
    stats = root / "assets" / "reference_stats.json"
    stats.write_text('{"shoulder_tilt": {"mean": 0.0, "std": 0.02}}\n')
    bundle_dir = root / "bundle"
    create_bundle(
        ckpt,
        bundle_dir,
        threshold=0.5,
        threshold_source="test fixture: logits centred on 0",
        provenance=SIMULATED_PROVENANCE,
        sentence_table=table,
        reference_statistics=stats,
        formats=["onnx", "onnx-fp16", "onnx-int8", "ort"],
        report=lambda s: None,
        signing_key=fixture_signing_key(),
    )
    return TinyBundle(bundle_dir, ckpt, model, windows)
