"""Text modality for the edge: per-window clinical sentences from a finite, versioned set.

A window's own kinematics, compared with reference statistics fitted on
training data, choose sentence ids (``describe``); the ids index a stored
all-MiniLM-L6-v2 embedding table (``embeddings``), so inference needs no text
transformer. Labels are used only when fitting the reference (``reference``).
"""

from __future__ import annotations

from scoligait_edge.core.lazy import lazy_face

_LAZY: dict[str, str] = {
    "describe": "Finding WindowDescription describe_batch describe_window",
    "embeddings": "EMBEDDING_DIM INSTALL_COMMAND MODEL_NAME SentenceEmbeddingTable TableMismatchError build_embedding_table default_embedding_table encode_sentences load_sentence_model",
    "features": "batch_text_feature_values text_feature_values window_view",
    "reference": "FeatureReference ReferenceMismatchError ReferenceStats fit_reference",
    "sentences": "NOT_ASSESSABLE_ID NUM_SENTENCES NUM_TEXT_FEATURES SENTENCES SEVERITY_THRESHOLDS Sentence TEXT_FEATURES TEXT_SCHEMA_VERSION TextFeature sentence_id sentence_set_hash text_features_hash",
}
"""Submodule -> the public names it defines (imported on first use)."""

__getattr__, __dir__, __all__ = lazy_face(__name__, _LAZY)
