"""Keep the native libraries' logs (MediaPipe/LiteRT, OpenCV, ONNX Runtime) out of the user's way.

Left alone, the native libraries print dozens of lines per run (LiteRT environment
and accelerator INFO lines, "Sparsity tensors may not yet be fully supported"
warnings from LiteRT loading MediaPipe's pose landmarker, XNNPACK, glog
warnings, OpenCV's camera probing) that bury a one-line error.

* :func:`quiet_native_logs` sets the libraries' own knobs: ``GLOG_minloglevel``
  and ``TF_CPP_MIN_LOG_LEVEL`` (read when MediaPipe is imported, so call it
  first), ``OPENCV_LOG_LEVEL`` / ``cv2.setLogLevel`` and ONNX Runtime's default
  logger severity.
* LiteRT's loader writes straight to file descriptor 2 and honours none of
  them, so the CLI also points descriptor 2 at a scratch file while Python's
  own ``sys.stderr`` keeps the real terminal (:func:`divert_native_stderr`):
  our log lines and ``error:`` lines still show, native writes do not.

``--verbose`` skips both.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

log = logging.getLogger(__name__)

_ENV_DEFAULTS = {
    "GLOG_minloglevel": "2",  # glog / absl: errors only
    "TF_CPP_MIN_LOG_LEVEL": "2",  # TensorFlow Lite / LiteRT C++ logging: errors only
    "OPENCV_LOG_LEVEL": "SILENT",  # OpenCV (read at import)
    "OPENCV_VIDEOIO_DEBUG": "0",
}


def quiet_native_logs() -> None:
    """Silence the native libraries that honour a setting; the user's own environment wins."""
    for key, value in _ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    if "cv2" in sys.modules:  # already imported: the variable is no longer read
        try:
            sys.modules["cv2"].setLogLevel(0)
        except Exception:  # noqa: BLE001 - an OpenCV build without setLogLevel
            log.debug("cv2.setLogLevel unavailable", exc_info=True)
    # ONNX Runtime sessions are opened with SessionOptions.log_severity_level = 3 (errors) by the backend;
    # its process-wide logger too, if it is already loaded (importing it here would slow every error path).
    setter = getattr(sys.modules.get("onnxruntime"), "set_default_logger_severity", None)
    if setter is not None:  # absent while another thread is still importing onnxruntime
        setter(3)


def divert_native_stderr() -> IO[bytes] | None:
    """Point file descriptor 2 at a scratch file; ``sys.stderr`` keeps writing to the real stderr.

    For the CLI process only (it changes the process's descriptors for good).
    Returns the scratch file (its content is the native output, for debugging),
    or None when stderr has no descriptor to divert.
    """
    try:
        sys.stderr.flush()
        if sys.stderr.fileno() != 2:
            return None
    except (AttributeError, OSError, ValueError):  # replaced by a test harness, or closed
        return None
    real = os.dup(2)
    sink = tempfile.TemporaryFile(prefix="scoligait-native-")  # noqa: SIM115 - lives as long as the process
    os.dup2(sink.fileno(), 2)
    sys.stderr = os.fdopen(real, "w", buffering=1, encoding=sys.stderr.encoding or "utf-8", errors="backslashreplace")
    return sink


@contextmanager
def silenced_native_stderr(active: bool = True) -> Iterator[None]:
    """For a library: while the block runs (model loading), native writes to descriptor 2 go to a scratch
    file, and the descriptor is restored afterwards; the native knobs are set too (:func:`quiet_native_logs`).

    What the :class:`~scoligait_edge.screener.Screener` does by default, so an app that embeds it sees no
    LiteRT chatter. Python's ``sys.stderr`` keeps the real stderr during the block (our log lines still
    show); another thread's native output in those few hundred ms is lost with the chatter.
    ``active=False`` does nothing (``ScreenerOptions(native_logs=True)``).
    """
    if not active:
        yield
        return
    quiet_native_logs()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 at all
        yield
        return
    real_stderr = sys.stderr
    try:
        real_stderr.flush()
        swap = real_stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # a harness replaced sys.stderr: it does not write to 2
        swap = False
    if swap:
        sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="backslashreplace")
    try:
        with tempfile.TemporaryFile(prefix="scoligait-native-") as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
        if swap:
            ours, sys.stderr = sys.stderr, real_stderr
            ours.close()
