"""The bundle's sentence table is the .npy rows, whichever file the exporter was handed (issue 15)."""

from __future__ import annotations

import numpy as np
import pytest

from export.build import sentence_table_rows
from scoligait_edge.assets import ASSETS_DIR
from scoligait_edge.bundle.load import load_bundle
from scoligait_edge.errors import BundleError
from scoligait_edge.screener import demo_bundle_path

TEXT = ASSETS_DIR / "text"


def test_json_metadata_stands_for_its_npy_rows():
    assert sentence_table_rows(TEXT / "sentences_v1.json") == TEXT / "sentence_embeddings_v1.npy"
    assert sentence_table_rows(TEXT / "sentence_embeddings_v1.npy") == TEXT / "sentence_embeddings_v1.npy"


def test_json_metadata_whose_rows_do_not_match_is_refused(tmp_path):
    (tmp_path / "sentences_v1.json").write_text((TEXT / "sentences_v1.json").read_text())
    np.save(tmp_path / "sentence_embeddings_v1.npy", np.zeros((75, 384), np.float32))
    with pytest.raises(BundleError, match="sentence-table"):
        sentence_table_rows(tmp_path / "sentences_v1.json")


def test_shipped_demo_bundle_names_an_npy_table_numpy_reads():
    """The contract the Android core reads too (BundleReaderTest): float32 [sentences, 384] rows."""
    bundle = load_bundle(demo_bundle_path())
    name = bundle.manifest.text.sentence_table
    assert name.endswith(".npy")
    rows = np.load(bundle.path(name), allow_pickle=False)
    assert rows.dtype == np.float32 and rows.shape == (75, 384)
