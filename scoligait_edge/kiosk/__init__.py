"""The screening station: ``python -m scoligait_edge.kiosk`` (docs/KIOSK.md).

A local web app (Starlette on uvicorn) around one :class:`~scoligait_edge.screener.Screener`:
welcome, consent, live guidance, summary, next subject, in a full-screen
browser. It needs the ``kiosk`` extra; without it, importing this package says
the exact command.
"""

from __future__ import annotations

KIOSK_INSTALL = 'pip install "scoligait-edge[kiosk]"'

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(f"the screening station needs the kiosk extra ({exc.name} is missing): {KIOSK_INSTALL}") from exc
