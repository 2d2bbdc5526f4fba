"""ScoNet-MT as OpenGait defines it: settings, the normalised classifier, the triplet loss on identities, P x K."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from scoligait_edge.research.models.sconet import (  # noqa: E402
    ScoNet,
    ScoNetConfig,
    ScoNetLoss,
    batch_all_triplet,
)
from scoligait_edge.research.training.sconet_run import (  # noqa: E402
    OPENGAIT_SCONET_MT,
    ScoNetRunConfig,
    departures,
    pk_batches,
)


def test_defaults_are_opengaits_settings():
    cfg = ScoNetRunConfig()
    assert departures(cfg) == {}
    assert (cfg.lr, cfg.momentum, cfg.weight_decay, cfg.iterations) == (0.1, 0.9, 5e-4, 20000)
    assert [round(f * cfg.iterations) for f in cfg.milestones] == [10000, 14000, 18000]
    assert (cfg.p, cfg.k, cfg.frames_per_sample, cfg.logit_scale, cfg.label_smoothing, cfg.margin) == (
        8,
        8,
        30,
        16.0,
        0.1,
        0.2,
    )
    reduced = ScoNetRunConfig(width=0.125, iterations=30)
    assert departures(reduced) == {"width": (0.125, 1.0), "iterations": (30, 20000)}
    assert set(OPENGAIT_SCONET_MT) >= {"lr", "momentum", "weight_decay", "p", "k", "triplet_on"}
    assert ScoNetRunConfig(epochs=2).total_iterations(130) == 2 * 3  # ceil(130 / 64) batches an epoch


def test_normalised_classifier_logits_are_scaled_cosines():
    torch.manual_seed(0)
    model = ScoNet(ScoNetConfig(width=0.125)).eval()
    with torch.no_grad():
        out = model(torch.rand(3, 4, 64, 44))
    assert out.part_logits.abs().max() <= 16.0 + 1e-4  # |cos| <= 1, times the scale 16
    plain = ScoNet(ScoNetConfig(width=0.125, norm_classifier=False)).eval()
    assert plain(torch.rand(1, 2, 64, 44)).logits.shape == (1, 3)


def test_triplet_uses_identities_and_every_violating_triple():
    emb = torch.tensor([[0.0], [0.1], [1.0], [1.05]]).unsqueeze(-1)  # [B=4, E=1, P=1]
    ids = torch.tensor([0, 0, 1, 1])
    assert float(batch_all_triplet(emb, ids, margin=0.2)) == 0.0  # every negative is > margin farther
    classes = torch.tensor([0, 1, 0, 1])  # the earlier variant's class labels would pull 0 and 1.0 together
    assert float(batch_all_triplet(emb, classes, margin=0.2)) > 0.5
    torch.manual_seed(0)
    model = ScoNet(ScoNetConfig(width=0.125))
    out = model((torch.rand(4, 5, 64, 44) > 0.5).float())
    res = ScoNetLoss()(out, torch.tensor([0, 0, 2, 2]), torch.tensor([7, 7, 9, 9]))
    assert torch.isfinite(res.total) and res.triplet >= 0
    res.total.backward()


def test_pk_batches_sample_p_identities_k_times():
    ids = ["a"] * 3 + ["b"] * 10 + [c for c in "cdefghij"]
    batch = next(pk_batches(ids, 8, 8, np.random.default_rng(0)))
    who = [ids[i] for i in batch]
    assert len(batch) == 64 and len(set(who)) == 8
    assert all(who[j * 8 : (j + 1) * 8].count(who[j * 8]) == 8 for j in range(8))  # K of one identity in a row
    b_rows = [i for i in batch if ids[i] == "b"]
    assert not b_rows or len(set(b_rows)) == 8  # 10 sequences >= K: drawn without replacement
    with pytest.raises(ValueError, match="at least 2 identities"):
        next(pk_batches(["a", "a"], 8, 8, np.random.default_rng(0)))
