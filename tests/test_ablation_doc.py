"""`python -m scoligait_edge.research.ablate --quick --doc ...` end to end on configs/ablation_ci.yaml (2-3 minutes on
2 cores, so marked slow): the document has the notice, command, cohort, table with baselines and claims."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_quick_ablation_writes_the_whole_document(tmp_path, capsys):
    from scoligait_edge.research import ablate

    doc = tmp_path / "ABLATION.md"
    argv = [
        "--config",
        "configs/ablation_ci.yaml",
        "--quick",
        "--jobs",
        "2",
        "--out",
        str(tmp_path / "out"),
        "--doc",
        str(doc),
    ]
    assert ablate.main(argv) == 0
    text = doc.read_text()
    assert "a test of the machinery, not evidence about patients" in text
    assert "python -m scoligait_edge.research.ablate --config configs/ablation_ci.yaml --quick" in text
    assert "Wall time of this call:" in text and "training runs took" in text
    assert "## Cohort" in text and "| test |" in text
    for row in (
        "| km+video+text | 1 |",
        "| cat_latent | 1 |",
        "| sconet_mt_1:1:2 | 1 |",
        "| sconet_mt_1:1:2 (Youden) | 1 |",
        "| baseline logreg (km) | 1 |",
        "| baseline hgb (silhouette) | 1 |",
    ):
        assert row in text, row
    assert "AUC of seed mean [95% CI]" in text
    assert "## The paper's claims on this data" in text
    for claim in (
        "km > video",
        "km+video > km",
        "km+video+text > km+video",
        "cat_att > cat",
        "cat_latent > cat_att",
        "aligned > non-aligned",
    ):
        assert f"| {claim} |" in text, claim
    assert "vs the best baseline" in text and "**Paper**" in text and "## Seconds per run" in text
    res = json.loads((tmp_path / "out/ablation.json").read_text())
    # a second call reuses every finished run (resumable) and gives the same table
    assert ablate.main(argv) == 0
    assert json.loads((tmp_path / "out/ablation.json").read_text())["rows"] == res["rows"]
    assert {c["verdict"] for c in res["claims"]} <= {"holds", "not shown", "reversed"}
    assert res["sconet_decision"].startswith("argmax")
