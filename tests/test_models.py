"""Screening models and ScoNet: shapes, masking, RoPE, pooling orientation, interpretation maps,
checkpoints and ONNX export. Tiny widths throughout so the file runs in seconds on 2 CPU cores."""

from __future__ import annotations

import itertools
import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from scoligait_edge.core.schema import NUM_FEATURES, domain_slices  # noqa: E402
from scoligait_edge.research.models.io import CheckpointError, load_checkpoint, save_checkpoint  # noqa: E402
from scoligait_edge.research.models.layers.attention import MultiHeadSelfAttention  # noqa: E402
from scoligait_edge.research.models.layers.latent_pool import LatentAttentionPooling, PMAPooling  # noqa: E402
from scoligait_edge.research.models.layers.patch import KnowledgeMapPatchEmbed  # noqa: E402
from scoligait_edge.research.models.layers.rope import RotaryEmbedding  # noqa: E402
from scoligait_edge.research.models.sconet import ScoNet, ScoNetConfig, ScoNetLoss  # noqa: E402
from scoligait_edge.research.models.screening import ScreeningLoss, ScreeningModel, ScreeningModelConfig  # noqa: E402

T = 16  # window frames in the tiny configs
TINY = dict(
    dim=32,
    heads=2,
    depth=1,
    window_frames=T,
    km_patch_frames=4,
    video_tubelet_frames=4,
    num_latents=8,
    latent_heads=4,
    dropout=0.0,
)
MODALITIES = ("km", "video", "km+video", "km+video+text")
FUSIONS = ("cat", "cat_att", "cat_latent", "cat_pma")


def tiny(**kw) -> ScreeningModel:
    torch.manual_seed(0)
    return ScreeningModel(ScreeningModelConfig(**{**TINY, **kw})).eval()


def inputs(model: ScreeningModel, batch: int = 2, text_tokens: int = 3, seed: int = 1) -> dict:
    return model.example_inputs(batch, text_tokens=text_tokens, seed=seed)


# ----------------------------------------------------------------- config and shapes
def test_config_resolves_paper_depths_and_fusion_blocks():
    assert ScreeningModelConfig(modalities="km").depth == 8
    assert ScreeningModelConfig(modalities="video").depth == 8
    assert ScreeningModelConfig(modalities="km+video").depth == 4
    assert ScreeningModelConfig(modalities="km+video+text", depth=6).depth == 6
    assert ScreeningModelConfig(fusion="cat_att").fusion_blocks == 1
    assert ScreeningModelConfig(fusion="cat_latent").fusion_blocks == 0
    cfg = ScreeningModelConfig(modalities="km")
    assert ScreeningModelConfig.model_validate_json(cfg.model_dump_json()) == cfg
    with pytest.raises(ValueError):
        ScreeningModelConfig(dim=30, heads=4)
    with pytest.raises(ValueError):
        ScreeningModelConfig(window_frames=90, km_patch_frames=8)


@pytest.mark.parametrize(
    "modalities,fusion,rope", list(itertools.product(MODALITIES, FUSIONS, ("aligned", "non_aligned")))
)
def test_output_shapes(modalities, fusion, rope):
    model = tiny(modalities=modalities, fusion=fusion, rope=rope)
    with torch.no_grad():
        out = model(**inputs(model, batch=2, text_tokens=3))
    n = model.num_km_tokens + model.num_video_tokens + (3 if "text" in modalities else 0)
    assert out.logit.shape == out.prob.shape == out.cobb.shape == (2,)
    assert out.token_saliency.shape == (2, n)
    assert out.km_attention_map.shape == (2, T, NUM_FEATURES)
    assert all(torch.isfinite(t).all() for t in out)
    assert torch.allclose(out.prob, torch.sigmoid(out.logit))


def test_token_saliency_splits_the_logit_exactly():
    for fusion in ("cat", "cat_att", "cat_latent"):
        model = tiny(fusion=fusion)
        with torch.no_grad():
            out = model(**inputs(model))
            assert torch.allclose(out.token_saliency.sum(1) + model.logit_bias(), out.logit, atol=1e-5)


def test_wrong_inputs_give_clear_errors():
    model = tiny(modalities="km+video+text")
    x = inputs(model)
    with pytest.raises(ValueError, match="text"):
        model(x["km"], x["km_mask"], x["video"])
    with pytest.raises(ValueError, match="km must be"):
        model(x["km"][:, :5], x["km_mask"][:, :5], x["video"], x["text"])


# ----------------------------------------------------------------- masking
@pytest.mark.parametrize("fusion", FUSIONS)
def test_masked_frames_and_text_do_not_change_the_output(fusion):
    model = tiny(modalities="km+video+text", fusion=fusion)
    x = inputs(model, batch=2, text_tokens=3)
    km_mask = torch.ones(2, T, dtype=torch.bool)
    km_mask[0, 4:8] = False  # a whole time patch
    km_mask[1, [1, 9, 15]] = False  # scattered frames inside valid patches
    video_mask = torch.ones(2, T, dtype=torch.bool)
    video_mask[1, 12:] = False
    text_mask = torch.tensor([[True, False, True], [True, True, False]])
    with torch.no_grad():
        ref = model(x["km"], km_mask, x["video"], x["text"], text_mask, video_mask=video_mask)
        km2, vid2, txt2 = x["km"].clone(), x["video"].clone(), x["text"].clone()
        km2[~km_mask] = float("nan")
        vid2[~video_mask] = 0.77
        txt2[~text_mask] = 1e3
        out = model(km2, km_mask, vid2, txt2, text_mask, video_mask=video_mask)
    for a, b in zip(ref, out, strict=True):
        assert torch.allclose(a, b, atol=1e-6, rtol=0), (a - b).abs().max()
    # padding tokens carry no saliency
    n_km = model.num_km_tokens
    text_sal = ref.token_saliency[:, n_km + model.num_video_tokens :]
    assert (text_sal[~text_mask] == 0).all()


def test_km_attention_map_paints_token_saliency_on_valid_cells_only():
    model = tiny(modalities="km", fusion="cat_latent")
    x = inputs(model, batch=2)
    mask = torch.ones(2, T, dtype=torch.bool)
    mask[0, 8:12] = False
    mask[1, 3] = False
    with torch.no_grad():
        out = model(x["km"], mask)
    amap = out.km_attention_map
    assert amap.shape == (2, T, NUM_FEATURES)
    assert (amap[~mask] == 0).all()
    assert (amap[mask] != 0).float().mean() > 0.99  # every valid cell belongs to a valid token
    layout = model.km_token_layout
    assert len(layout) == model.num_km_tokens == (T // 4) * 29
    for tok in (layout[0], layout[37], layout[-1]):
        cells = amap[0, tok.frame_start : tok.frame_stop][:, list(tok.feature_indices)]
        assert torch.allclose(cells, out.token_saliency[0, tok.index].expand_as(cells))


def test_km_patches_never_straddle_a_domain():
    embed = KnowledgeMapPatchEmbed(16, window_frames=8, patch_frames=4)
    spans = domain_slices()
    covered = set()
    for tok in embed.token_layout:
        dom = spans[tok.domain]
        assert all(dom.start <= i < dom.stop for i in tok.feature_indices)
        assert tok.position == (tok.frame_start + tok.frame_stop - 1) / 2
        covered |= {(f, i) for f in range(tok.frame_start, tok.frame_stop) for i in tok.feature_indices}
    assert len(covered) == 8 * NUM_FEATURES  # every cell exactly once (the layout is a partition)
    assert sum(len(t.feature_indices) for t in embed.token_layout) == 2 * NUM_FEATURES


# ----------------------------------------------------------------- RoPE
def test_aligned_positions_share_the_frame_timebase():
    model = tiny(modalities="km+video", rope="aligned")
    km_pos, vid_pos = model.stream_positions("km", 1)[0], model.stream_positions("video", 1)[0]
    for tok in model.km_token_layout:
        same_frames = [v for v in model.video_token_layout if v.frame_start == tok.frame_start]
        assert same_frames
        assert all(vid_pos[v.index] == km_pos[tok.index] == (tok.frame_start + 1.5) for v in same_frames)
    assert km_pos.max() == T - 2.5  # centre frame indices, not scaled to [0, 1]


def test_non_aligned_only_shifts_streams_apart_across_modalities():
    aligned = tiny(modalities="km+video", fusion="cat_att", rope="aligned")
    model = tiny(modalities="km+video", fusion="cat_att", rope="non_aligned")
    km_pos, vid_pos = model.stream_positions("km", 1)[0], model.stream_positions("video", 1)[0]
    assert torch.equal(km_pos, aligned.stream_positions("km", 1)[0])  # km keeps its frame positions
    assert torch.equal(vid_pos, aligned.stream_positions("video", 1)[0] + T)  # video laid after km
    # inside each encoder nothing differs: same weights give the same encoder tokens
    with torch.no_grad():  # sharp joint attention (the 0.02 init is near uniform, hiding positions)
        for p in aligned.fusion.joint.parameters():
            p.normal_(0.0, 0.5, generator=torch.Generator().manual_seed(p.numel()))
    model.load_state_dict(aligned.state_dict())
    x = inputs(model)
    with torch.no_grad():
        assert torch.equal(
            model.km_encoder(x["km"], x["km_mask"]).tokens, aligned.km_encoder(x["km"], x["km_mask"]).tokens
        )
        assert not torch.allclose(model(**x).logit, aligned(**x).logit, atol=1e-6)  # the joint block sees it


def test_without_joint_blocks_alignment_cannot_matter():
    aligned = tiny(modalities="km+video", fusion="cat_latent", fusion_blocks=0, rope="aligned")
    other = tiny(modalities="km+video", fusion="cat_latent", fusion_blocks=0, rope="non_aligned")
    other.load_state_dict(aligned.state_dict())
    x = inputs(aligned)
    with torch.no_grad():
        assert torch.equal(aligned(**x).logit, other(**x).logit)


def test_fused_attention_kernel_matches_the_explicit_export_path():
    torch.manual_seed(0)
    attn, rope = MultiHeadSelfAttention(32, 2).eval(), RotaryEmbedding(16)
    x, pos = torch.randn(3, 10, 32), torch.rand(3, 10) * 90
    mask = torch.ones(3, 10, dtype=torch.bool)
    mask[1, 7:] = False
    mask[2, :] = False  # fully padded: uniform weights on both paths, never NaN
    with torch.no_grad():
        fast, none = attn(x, rope(pos), mask)
        explicit, _ = attn(x, rope(pos), mask, need_weights=True)
    assert none is None
    assert torch.isfinite(fast).all()
    assert torch.allclose(fast, explicit, atol=1e-5)


def test_rope_scores_depend_only_on_position_differences():
    torch.manual_seed(0)
    attn, rope = MultiHeadSelfAttention(32, 2).eval(), RotaryEmbedding(16)
    x, pos = torch.randn(2, 10, 32), torch.rand(2, 10) * 90
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[1, 7:] = False
    with torch.no_grad():
        y0, a0 = attn(x, rope(pos), mask, need_weights=True)
        y1, a1 = attn(x, rope(pos + 37.0), mask, need_weights=True)
        y2, _ = attn(x, rope(pos * 2.0), mask, need_weights=True)
    assert torch.allclose(a0, a1, atol=1e-5) and torch.allclose(y0, y1, atol=1e-5)
    assert not torch.allclose(y0, y2, atol=1e-3)  # positions do matter
    assert (a0[1, :, :, 7:] == 0).all()  # padding keys get exactly zero weight


def test_encoder_output_is_shift_invariant_in_time():
    model = tiny(modalities="km+video", fusion="cat_att")
    x = inputs(model)
    pos = model.stream_positions("km", 2)
    with torch.no_grad():
        a = model.km_encoder(x["km"], x["km_mask"], pos).tokens
        b = model.km_encoder(x["km"], x["km_mask"], pos + 100.0).tokens
    assert torch.allclose(a, b, atol=1e-4)


# ----------------------------------------------------------------- pooling orientation
def test_latent_pooling_tokens_are_the_queries():
    torch.manual_seed(0)
    pool = LatentAttentionPooling(32, num_latents=8, heads=4).eval()
    x, mask = torch.randn(3, 11, 32), torch.ones(3, 11, dtype=torch.bool)
    mask[2, 5:] = False
    out = pool(x, mask)
    assert out.pooled.shape == (3, 32)
    assert out.attention.shape == (3, 4, 11, 8)  # [B, heads, N_tokens, num_latents]
    assert torch.allclose(out.attention.sum(-1), torch.ones(3, 4, 11))  # each token distributes over latents
    assert torch.allclose(out.saliency.sum(-1), torch.ones(3), atol=1e-4)  # shares of the pooled vector
    assert (out.saliency[2, 5:] == 0).all()
    assert pool.num_latents == 8 and LatentAttentionPooling(32).num_latents == 512


def test_pma_pooling_is_the_inverse_orientation():
    pool = PMAPooling(32, num_queries=2, heads=4).eval()
    x, mask = torch.randn(3, 11, 32), torch.ones(3, 11, dtype=torch.bool)
    mask[0, 6:] = False
    out = pool(x, mask)
    assert out.attention.shape == (3, 4, 2, 11)  # [B, heads, num_queries, N_tokens]
    assert torch.allclose(out.saliency.sum(-1), torch.ones(3), atol=1e-5)
    assert (out.saliency[0, 6:] == 0).all()


# ----------------------------------------------------------------- ScoNet
def test_sconet_shapes_and_losses():
    torch.manual_seed(0)
    model = ScoNet(ScoNetConfig(width=0.125))
    sil = (torch.rand(6, 5, 64, 44) > 0.5).to(torch.uint8) * 255
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    out = model(sil)
    assert out.embeddings.shape == (6, 256, 16)
    assert out.part_logits.shape == (6, 3, 16) and out.logits.shape == (6, 3)
    mt = ScoNetLoss(multi_task=True)(out, labels)
    plain = ScoNetLoss(multi_task=False)(out, labels)
    assert all(torch.isfinite(v) for v in (*mt, *plain))
    assert mt.triplet > 0 and plain.triplet == 0
    mt.total.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_sconet_set_pooling_ignores_frame_order_and_padding():
    torch.manual_seed(0)
    model = ScoNet(ScoNetConfig(width=0.125)).eval()
    sil = torch.rand(2, 6, 1, 64, 44)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    with torch.no_grad():
        ref = model(sil, mask).logits
        shuffled = model(sil[:, [3, 1, 0, 2, 4, 5]], mask).logits
        padded = sil.clone()
        padded[1, 4:] = 1.0
        assert torch.allclose(ref, shuffled, atol=1e-5)
        assert torch.allclose(ref, model(padded, mask).logits, atol=1e-6)


# ----------------------------------------------------------------- checkpoints
def test_safetensors_round_trip_is_exact(tmp_path):
    model = tiny(modalities="km+video+text", fusion="cat_latent")
    with torch.no_grad():
        model.km_encoder.patch_embed.set_normalization(torch.rand(NUM_FEATURES), torch.rand(NUM_FEATURES) + 0.5)
    x = inputs(model)
    path = save_checkpoint(model, tmp_path / "best", extra={"epoch": 3})
    assert path.suffix == ".safetensors" and (tmp_path / "best.json").is_file()
    assert json.loads((tmp_path / "best.json").read_text())["config"]["modalities"] == "km+video+text"
    loaded = load_checkpoint(tmp_path / "best", expected_config=model.config)
    with torch.no_grad():
        for a, b in zip(model(**x), loaded(**x), strict=True):
            assert torch.equal(a, b)
    with pytest.raises(CheckpointError, match="fusion"):
        load_checkpoint(path, expected_config=ScreeningModelConfig(**{**TINY, "fusion": "cat"}))
    sconet = ScoNet(ScoNetConfig(width=0.0625)).eval()
    save_checkpoint(sconet, tmp_path / "sconet")
    sil = torch.rand(1, 3, 64, 44)
    assert torch.equal(sconet(sil).logits, load_checkpoint(tmp_path / "sconet.safetensors")(sil).logits)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing")


# ----------------------------------------------------------------- ONNX
def test_onnx_export_matches_torch(tmp_path):
    import warnings

    model = tiny(modalities="km+video+text", fusion="cat_latent")
    x = inputs(model, batch=2, text_tokens=2)
    names = list(x)
    outputs = ["logit", "prob", "cobb", "token_saliency", "km_attention_map"]
    path = tmp_path / "screening.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            tuple(x.values()),
            str(path),
            dynamo=False,
            opset_version=18,
            input_names=names,
            output_names=outputs,
            dynamic_axes={n: {0: "batch"} for n in names + outputs},
        )
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        xb = inputs(model, batch=batch, text_tokens=2, seed=batch)
        xb["km_mask"][0, 5:9] = False
        xb["text_mask"][0, 1] = False
        got = sess.run(outputs, {k: v.numpy() for k, v in xb.items()})
        with torch.no_grad():
            want = model(**xb)
        for name, g, w in zip(outputs, got, want, strict=True):
            assert g.shape == tuple(w.shape), name
            assert abs(g - w.numpy()).max() < 1e-4, (name, batch, abs(g - w.numpy()).max())


# ----------------------------------------------------------------- training sanity
def test_km_model_overfits_a_small_batch():
    model = tiny(modalities="km", fusion="cat_latent", depth=2)
    model.train()
    g = torch.Generator().manual_seed(3)
    km = torch.randn(16, T, NUM_FEATURES, generator=g)
    labels = torch.arange(16) % 2
    km[labels == 1, :, 140:172] += 0.5  # separable: self-skeleton angles shifted for the positives
    mask = torch.ones(16, T, dtype=torch.bool)
    loss_fn = ScreeningLoss(cobb_weight=0.0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss = loss_fn(model(km, mask), labels).total
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0], losses[::10]
    model.eval()
    with torch.no_grad():
        assert ((model(km, mask).prob > 0.5).long() == labels).all()


def test_video_uint8_rgb_and_single_text_embedding_inputs():
    model = tiny(modalities="km+video+text", video_channels=3)
    x = inputs(model, batch=2, text_tokens=1)
    video_u8 = (torch.rand(2, T, 3, 64, 44) * 255).to(torch.uint8)
    with torch.no_grad():
        a = model(x["km"], x["km_mask"], video_u8, x["text"][:, 0])  # [B, 384]: one sentence, no mask
        b = model(x["km"], x["km_mask"], video_u8.float() / 255, x["text"], x["text_mask"])
    for u, v in zip(a, b, strict=True):
        assert torch.allclose(u, v, atol=1e-5)


def test_tubelet_matmul_path_equals_the_conv3d_kernel():
    """The tubelet projection as reshape + matmul (uint8 scaled after the product) gives the Conv3d's tokens."""
    from scoligait_edge.research.models.layers.patch import TubeletEmbed, conv3d_tubelets

    torch.manual_seed(0)
    embed = TubeletEmbed(16, window_frames=32, tubelet_frames=8, patch_size=(16, 11), image_size=(64, 44))
    video = (torch.rand(2, 32, 1, 64, 44) * 255).to(torch.uint8)
    mask = torch.rand(2, 32) > 0.2
    with torch.no_grad():
        fast, fast_mask, _ = embed(video, mask)
        with conv3d_tubelets():
            slow, slow_mask, _ = embed(video, mask)
            slow_float, _, _ = embed(video.float() / 255, mask)
    assert torch.equal(fast_mask, slow_mask)
    assert torch.allclose(fast, slow, atol=1e-5) and torch.allclose(fast, slow_float, atol=1e-5)
