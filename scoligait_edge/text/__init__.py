"""Text modality for the edge: per-window clinical sentences from a finite, versioned set.

A window's own kinematics, compared with reference statistics fitted on
training data, choose sentence ids (``describe``); the ids index a stored
all-MiniLM-L6-v2 embedding table (``embeddings``), so inference needs no text
transformer. Labels are used only when fitting the reference (``reference``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scoligait_edge.core.lazy import lazy_face

if TYPE_CHECKING:
    from scoligait_edge.text.describe import Finding, WindowDescription, describe_batch, describe_window
    from scoligait_edge.text.embeddings import (
        EMBEDDING_DIM,
        INSTALL_COMMAND,
        MODEL_NAME,
        SentenceEmbeddingTable,
        TableMismatchError,
        build_embedding_table,
        default_embedding_table,
        encode_sentences,
        load_sentence_model,
    )
    from scoligait_edge.text.features import batch_text_feature_values, text_feature_values, window_view
    from scoligait_edge.text.reference import FeatureReference, ReferenceMismatchError, ReferenceStats, fit_reference
    from scoligait_edge.text.sentences import (
        NOT_ASSESSABLE_ID,
        NUM_SENTENCES,
        NUM_TEXT_FEATURES,
        SENTENCES,
        SEVERITY_THRESHOLDS,
        TEXT_FEATURES,
        TEXT_SCHEMA_VERSION,
        Sentence,
        TextFeature,
        sentence_id,
        sentence_set_hash,
        text_features_hash,
    )

_NAMES: dict[str, str] = {
    "EMBEDDING_DIM": "embeddings",
    "FeatureReference": "reference",
    "Finding": "describe",
    "INSTALL_COMMAND": "embeddings",
    "MODEL_NAME": "embeddings",
    "NOT_ASSESSABLE_ID": "sentences",
    "NUM_SENTENCES": "sentences",
    "NUM_TEXT_FEATURES": "sentences",
    "ReferenceMismatchError": "reference",
    "ReferenceStats": "reference",
    "SENTENCES": "sentences",
    "SEVERITY_THRESHOLDS": "sentences",
    "Sentence": "sentences",
    "SentenceEmbeddingTable": "embeddings",
    "TEXT_FEATURES": "sentences",
    "TEXT_SCHEMA_VERSION": "sentences",
    "TableMismatchError": "embeddings",
    "TextFeature": "sentences",
    "WindowDescription": "describe",
    "batch_text_feature_values": "features",
    "build_embedding_table": "embeddings",
    "default_embedding_table": "embeddings",
    "describe_batch": "describe",
    "describe_window": "describe",
    "encode_sentences": "embeddings",
    "fit_reference": "reference",
    "load_sentence_model": "embeddings",
    "sentence_id": "sentences",
    "sentence_set_hash": "sentences",
    "text_feature_values": "features",
    "text_features_hash": "sentences",
    "window_view": "features",
}
"""Public name -> the submodule that defines it (imported on first use)."""

__getattr__, __dir__ = lazy_face(__name__, _NAMES)

__all__ = [
    "EMBEDDING_DIM",
    "FeatureReference",
    "Finding",
    "INSTALL_COMMAND",
    "MODEL_NAME",
    "NOT_ASSESSABLE_ID",
    "NUM_SENTENCES",
    "NUM_TEXT_FEATURES",
    "ReferenceMismatchError",
    "ReferenceStats",
    "SENTENCES",
    "SEVERITY_THRESHOLDS",
    "Sentence",
    "SentenceEmbeddingTable",
    "TEXT_FEATURES",
    "TEXT_SCHEMA_VERSION",
    "TableMismatchError",
    "TextFeature",
    "WindowDescription",
    "batch_text_feature_values",
    "build_embedding_table",
    "default_embedding_table",
    "describe_batch",
    "describe_window",
    "encode_sentences",
    "fit_reference",
    "load_sentence_model",
    "sentence_id",
    "sentence_set_hash",
    "text_feature_values",
    "text_features_hash",
    "window_view",
]
