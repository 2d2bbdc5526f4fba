"""Exception types: every failure a user can cause maps to one of these, with a
message that says what was wrong and what to do, never a traceback from deep
inside a dependency."""

from __future__ import annotations


class ScoliGaitError(Exception):
    """Base class for every error this package raises on purpose."""


class VideoReadError(ScoliGaitError):
    """A video file or stream is missing, unreadable, corrupt or empty."""


class PoseModelError(ScoliGaitError):
    """A pose model bundle is missing or cannot be loaded."""


class NoPersonError(ScoliGaitError):
    """No person (or no walking subject) was found where one was required."""


class KeypointError(ScoliGaitError, ValueError):
    """Keypoints have the wrong shape, non-finite or out-of-range values."""


class TimestampError(ScoliGaitError, ValueError):
    """Timestamps are not strictly increasing or are otherwise unusable."""


class FrameRateError(TimestampError):
    """A frame rate is not a finite number of frames per second in the supported range (bools and strings too)."""


class FrameError(ScoliGaitError, ValueError):
    """An image frame is missing or not the expected uint8 H x W x 3 BGR array."""


class PoseFileError(ScoliGaitError):
    """A pose-sequence file (npz, JSON, array) is missing or malformed."""


class OptionalDependencyError(ScoliGaitError, ImportError):
    """An optional backend is not installed; the message gives the install command."""


class SplitLeakError(ScoliGaitError, ValueError):
    """A subject appears in more than one of train / validation / test."""


class DatasetError(ScoliGaitError, ValueError):
    """A dataset on disk (labels CSV, folder layout, split file, array file) is malformed;
    the message names the file and, for tables, the row."""


class BundleError(ScoliGaitError, ValueError):
    """A model bundle is missing, tampered with, unsafe, or made for another schema; the message says which file."""


class BundleSignatureError(BundleError):
    """A bundle is unsigned, signed by a key that is not trusted, or its signature does not match its manifest
    (or a signing/verification key cannot be read); the message says which and how to trust or opt out."""


class BundleLimitError(BundleError):
    """A bundle exceeds a safety limit (manifest size or nesting depth, file or zip member size, member count,
    total size) or a manifest number is out of range; refused before anything large is read or written."""


class BackendError(ScoliGaitError, RuntimeError):
    """An inference backend cannot load its model or was given inputs that do not match the model's inputs."""


class VideoWriteError(ScoliGaitError, OSError):
    """An output video cannot be created or written (bad path, no permission, codec missing)."""


class ResultsLogError(ScoliGaitError, OSError):
    """A line could not be written to the results log (disk full, the device gone, ...)."""


class ConcurrentUseError(ScoliGaitError, RuntimeError):
    """Two threads used one :class:`~scoligait_edge.screener.Screener` at the same time (it is not thread-safe)."""
