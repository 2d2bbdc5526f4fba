"""The one inference contract every backend implements, and the input checks they all share.

A backend takes a batch of windows as numpy arrays keyed by the graph's input
names (see :mod:`scoligait_edge.bundle.specs`) and returns float32 numpy
outputs keyed by output name (``logit``, ``prob``, ``cobb``, ``km_attention``).
Inputs are checked here, before any runtime sees them, so a wrong name, shape
or dtype gives a :class:`BackendError` naming the input and the expected
shape, never an ONNX Runtime or TensorRT traceback. Omitted masks
(``km_mask``, ``text_mask``) mean "all valid" and are filled in.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

from scoligait_edge.bundle.specs import TensorSpec
from scoligait_edge.errors import BackendError

if TYPE_CHECKING:
    from scoligait_edge.bundle.load import Bundle

log = logging.getLogger(__name__)
Precision = Literal["fp32", "fp16", "int8"]
_NP_DTYPES = {"float32": np.float32, "float16": np.float16, "bool": np.bool_, "uint8": np.uint8, "int64": np.int64}
_FILLABLE_MASKS = {"km_mask": "km", "text_mask": "text"}


@runtime_checkable
class Backend(Protocol):
    """What every inference backend offers (torch, ONNX Runtime, TensorRT)."""

    name: str
    """Backend family and execution provider, e.g. ``"onnxruntime[CPUExecutionProvider]"``."""
    device: str
    """``"cpu"`` or ``"cuda:0"``."""
    precision: Precision
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]

    def infer(self, batch: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Screen a batch: ``{input name: array [B, ...]}`` -> ``{output name: float32 array [B, ...]}``."""
        ...

    def warmup(self, batch_sizes: Sequence[int] = (1,), iterations: int = 2) -> None:
        """Run dummy batches so the first real call pays no lazy initialisation."""
        ...

    def close(self) -> None:
        """Release sessions, engines and device memory; the backend cannot be used afterwards."""
        ...

    def __enter__(self) -> Backend: ...

    def __exit__(self, *exc: object) -> None: ...


def validate_batch(batch: Mapping[str, Any], specs: Sequence[TensorSpec]) -> dict[str, np.ndarray]:
    """Check ``batch`` against the input specs; return contiguous arrays in spec order (masks filled in).

    Raises :class:`BackendError` for unknown or missing inputs, non-arrays,
    wrong dtypes, wrong ranks or sizes, and batch or sentence counts that
    disagree between inputs.
    """
    if not isinstance(batch, Mapping):
        raise BackendError(f"inputs must be a dict of numpy arrays keyed by name, got {type(batch).__name__}")
    names = [s.name for s in specs]
    expected = "; ".join(s.describe() for s in specs)
    unknown = sorted(set(batch) - set(names))
    if unknown:
        raise BackendError(f"unknown input(s) {unknown}; this model takes: {expected}")
    dims: dict[str, tuple[int, str]] = {}  # axis name -> (size, which input set it)
    out: dict[str, np.ndarray] = {}
    for spec in specs:
        if spec.name not in batch:
            if spec.name in _FILLABLE_MASKS and _FILLABLE_MASKS[spec.name] in batch:
                continue  # filled below once the data input's shape is known
            raise BackendError(f"missing input {spec.name!r}; this model takes: {expected}")
        out[spec.name] = _checked_input(spec, batch[spec.name], dims)
    for spec in specs:
        if spec.name not in out:  # an omitted mask: everything valid
            src = out[_FILLABLE_MASKS[spec.name]]
            out[spec.name] = np.ones(src.shape[: len(spec.shape)], dtype=bool)
    for spec in specs:
        if spec.dtype.startswith("float"):
            out[spec.name] = _check_finite(spec.name, out[spec.name], out)
    return {n: out[n] for n in names}


def _checked_input(spec: TensorSpec, arr: Any, dims: dict[str, tuple[int, str]]) -> np.ndarray:
    """One input checked against its spec (array, dtype, rank, fixed sizes), contiguous.

    ``dims`` maps each named axis (``batch``, ...) to the size the first input with it set and that input's
    name; this input must agree with it, and adds the axes it is first to name.
    """
    if not isinstance(arr, np.ndarray):
        raise BackendError(f"input {spec.name!r} must be a numpy array, got {type(arr).__name__}")
    want = np.dtype(_NP_DTYPES[spec.dtype])
    if arr.dtype != want:
        raise BackendError(
            f"input {spec.name!r} has dtype {arr.dtype}, expected {want} "
            f"({spec.describe()}); convert it with .astype(np.{want.name})"
        )
    if arr.ndim != len(spec.shape):
        raise BackendError(f"input {spec.name!r} has shape {arr.shape}, expected {spec.describe()}")
    for axis, (got, dim) in enumerate(zip(arr.shape, spec.shape, strict=True)):
        if isinstance(dim, int):
            if got != dim:
                raise BackendError(
                    f"input {spec.name!r} has shape {arr.shape}, expected {spec.describe()} (axis {axis} must be {dim})"
                )
        elif dim in dims and dims[dim][0] != got:
            raise BackendError(f"input {spec.name!r} has {dim}={got} but {dims[dim][1]!r} has {dims[dim][0]}")
        else:
            dims.setdefault(dim, (got, spec.name))
    if dims.get("batch", (1, ""))[0] < 1:
        raise BackendError(f"input {spec.name!r} has an empty batch")
    return np.ascontiguousarray(arr)


def _check_finite(name: str, arr: np.ndarray, feed: Mapping[str, np.ndarray]) -> np.ndarray:
    """Non-finite values are allowed only where the input's mask says invalid (they are zeroed there)."""
    finite = np.isfinite(arr)
    if finite.all():
        return arr
    mask_name = {v: k for k, v in _FILLABLE_MASKS.items()}.get(name)
    if mask_name is None or mask_name not in feed:
        raise BackendError(f"input {name!r} contains NaN or infinity")
    mask = feed[mask_name]
    bad_rows = ~finite.reshape(*mask.shape, -1).all(-1)
    if (bad_rows & mask).any():
        raise BackendError(f"input {name!r} contains NaN or infinity on entries its mask {mask_name!r} marks valid")
    return np.where(finite, arr, np.zeros((), arr.dtype))


def dummy_batch(specs: Sequence[TensorSpec], batch: int = 1, text_tokens: int = 1) -> dict[str, np.ndarray]:
    """Zeros (masks all True) shaped like the inputs, for warm-up."""
    out: dict[str, np.ndarray] = {}
    for s in specs:
        shape = tuple(batch if d == "batch" else text_tokens if d == "text_tokens" else int(d) for d in s.shape)
        dtype = _NP_DTYPES[s.dtype]
        out[s.name] = np.ones(shape, dtype) if s.dtype == "bool" else np.zeros(shape, dtype)
    return out


class BackendBase:
    """Shared plumbing: validation, warm-up, context manager, closed-state checks."""

    name: str = "backend"
    device: str = "cpu"
    precision: Precision | Literal["bf16"] = "fp32"  # bf16: TorchBackend's autocast
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    # set by load_backend on the backend it returns (not by the constructors)
    selection: list[str]
    threshold: float
    labels: tuple[str, str]
    bundle: Bundle

    def __init__(self, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec]) -> None:
        self.inputs, self.outputs = list(inputs), list(outputs)
        self._closed = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, device={self.device!r}, precision={self.precision!r})"

    @property
    def input_names(self) -> list[str]:
        return [s.name for s in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [s.name for s in self.outputs]

    def infer(self, batch: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self._closed:
            raise BackendError(f"{self.name} backend is closed")
        feed = validate_batch(batch, self.inputs)
        out = self._run(feed)
        return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}

    def _run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def warmup(self, batch_sizes: Sequence[int] = (1,), iterations: int = 2) -> None:
        for b in batch_sizes:
            feed = dummy_batch(self.inputs, batch=b)
            for _ in range(iterations):
                self.infer(feed)

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> BackendBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
