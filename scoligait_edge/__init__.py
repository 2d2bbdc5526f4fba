"""scoligait_edge: gait-based scoliosis screening aid for edge devices.

A screening aid, not a diagnosis. Models bundled with the package are trained
on simulated gait and carry no clinical validity.
"""

from __future__ import annotations

import logging
import os

# ONNX Runtime writes a device id, the OS, CPU, memory and the executable's path under
# ~/.cache/Microsoft/DeveloperTools/ unless this is set before it is first imported (its
# disable_telemetry_events() does not stop those files). A screening device keeps nothing it does not need.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"

SCREENING_NOTICE = (
    "Screening aid, not a diagnosis: a positive result means 'refer for a clinical "
    "examination', a negative one rules nothing out."
)

logging.getLogger(__name__).addHandler(logging.NullHandler())

from scoligait_edge import _moved  # noqa: E402  (old module names of 0.1 keep importing, with a warning)

_moved.install()

__all__ = ["__version__", "SCREENING_NOTICE"]
