"""Checkpoints as safetensors + a JSON config: no pickle, so loading a file can never run code.

``save_checkpoint(model, "run/best")`` writes ``run/best.safetensors`` (tensors,
with the model kind and config also in its header metadata) and
``run/best.json`` (human-readable config and provenance). ``load_checkpoint``
rebuilds the model from the stored config, refuses a checkpoint whose two
config copies disagree, whose knowledge-map schema differs from this package's,
or whose config differs from the one the caller expects, then loads the
tensors strictly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ValidationError
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from scoligait_edge import __version__
from scoligait_edge.core.schema import schema_hash
from scoligait_edge.errors import ScoliGaitError
from scoligait_edge.research.models.sconet import ScoNet, ScoNetConfig
from scoligait_edge.research.models.screening import ScreeningModel, ScreeningModelConfig

FORMAT = "scoligait-checkpoint-1"
MODEL_KINDS: dict[str, tuple[type[BaseModel], type[nn.Module]]] = {
    "ScreeningModel": (ScreeningModelConfig, ScreeningModel),
    "ScoNet": (ScoNetConfig, ScoNet),
}


class CheckpointError(ScoliGaitError, ValueError):
    """A checkpoint is missing, malformed, or does not match the expected model/config/schema."""


def _paths(path: str | Path) -> tuple[Path, Path]:
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def _kind_of(model: nn.Module) -> str:
    for kind, (_, cls) in MODEL_KINDS.items():
        if type(model) is cls:
            return kind
    raise CheckpointError(f"don't know how to checkpoint {type(model).__name__}; known: {sorted(MODEL_KINDS)}")


def save_checkpoint(model: nn.Module, path: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``<path>.safetensors`` and ``<path>.json``; ``extra`` (JSON-serialisable) goes into the JSON only.

    Returns the safetensors path.
    """
    kind = _kind_of(model)
    tensors_path, json_path = _paths(path)
    tensors_path.parent.mkdir(parents=True, exist_ok=True)
    config = model.config
    assert isinstance(config, BaseModel)  # every MODEL_KINDS model keeps its pydantic config
    config_json = config.model_dump_json()
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "model": kind, "config": config_json, "schema_hash": schema_hash()}
    save_file(state, str(tensors_path), metadata=meta)
    sidecar = {
        "format": FORMAT,
        "model": kind,
        "config": json.loads(config_json),
        "schema_hash": meta["schema_hash"],
        "package_version": __version__,
        "torch_version": torch.__version__,
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "safetensors_sha256": hashlib.sha256(tensors_path.read_bytes()).hexdigest(),
        "extra": dict(extra or {}),
    }
    json_path.write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
    return tensors_path


def read_checkpoint_config(path: str | Path) -> BaseModel:
    """The validated config stored in a checkpoint (cheap: reads only the safetensors header)."""
    return _read_header(_paths(path)[0])[1]


def _read_header(tensors_path: Path) -> tuple[str, BaseModel, dict[str, str]]:
    if not tensors_path.is_file():
        raise CheckpointError(f"checkpoint not found: {tensors_path}")
    try:
        with safe_open(str(tensors_path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise CheckpointError(f"{tensors_path} is not a readable safetensors file: {exc}") from exc
    if meta.get("format") != FORMAT or meta.get("model") not in MODEL_KINDS:
        raise CheckpointError(f"{tensors_path} is not a {FORMAT} checkpoint (metadata: {sorted(meta)})")
    config_cls = MODEL_KINDS[meta["model"]][0]
    try:
        config = config_cls.model_validate_json(meta["config"])
    except ValidationError as exc:
        raise CheckpointError(f"{tensors_path}: stored config is invalid for this version: {exc}") from exc
    return meta["model"], config, meta


def _config_diff(a: BaseModel, b: BaseModel) -> list[str]:
    da, db = a.model_dump(mode="json"), b.model_dump(mode="json")
    return [f"{k}: {da.get(k)!r} != {db.get(k)!r}" for k in sorted(set(da) | set(db)) if da.get(k) != db.get(k)]


def load_checkpoint(
    path: str | Path, expected_config: BaseModel | None = None, map_location: str | torch.device = "cpu"
) -> nn.Module:
    """Rebuild and load a model saved by :func:`save_checkpoint`; returned in eval mode.

    Raises :class:`CheckpointError` if the files are missing or inconsistent, the
    knowledge-map schema changed since training, or ``expected_config`` differs.
    """
    tensors_path, json_path = _paths(path)
    kind, config, meta = _read_header(tensors_path)
    if json_path.is_file():
        sidecar = json.loads(json_path.read_text())
        side_cfg = MODEL_KINDS[kind][0].model_validate(sidecar.get("config", {}))
        if sidecar.get("model") != kind or _config_diff(side_cfg, config):
            raise CheckpointError(f"{json_path} and {tensors_path} describe different models; re-save the checkpoint")
    if meta.get("schema_hash") != schema_hash():
        raise CheckpointError(
            f"{tensors_path} was trained on another knowledge-map schema ({meta.get('schema_hash', '?')[:12]} vs "
            f"{schema_hash()[:12]}); retrain or use the package version it was built with"
        )
    if expected_config is not None:
        if type(expected_config) is not type(config):
            raise CheckpointError(f"{tensors_path} holds a {kind}, expected {type(expected_config).__name__}")
        diff = _config_diff(config, expected_config)
        if diff:
            raise CheckpointError(f"{tensors_path} config differs from the expected one: " + "; ".join(diff))
    model = MODEL_KINDS[kind][1](config)
    with safe_open(str(tensors_path), framework="pt", device=str(map_location)) as f:
        state = {k: f.get_tensor(k) for k in f.keys()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{tensors_path} does not fit {kind}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model.to(map_location).eval()
