"""Text from outside (a bundle's manifest, a file name, a stream URL) made safe to print.

A terminal obeys control characters: ``"\\r\\x1b[2K"`` in a model notice erases the line it is on
(the UNVERIFIED mark before it included), and bidirectional overrides reorder what a reader sees.
Everything printed from such a source goes through :func:`printable` first.
"""

from __future__ import annotations

import unicodedata
from typing import Any


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: object, *, keep_newlines: bool = False) -> str:
    """``str(text)`` with every control and format character (C0, C1, DEL, newlines unless kept,
    bidirectional overrides, zero-width characters, unpaired surrogates) escaped as ``\\xNN`` / ``\\uNNNN``."""
    s = str(text)
    return "".join(
        c
        if (keep_newlines and c == "\n") or unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Zl", "Zp")
        else _escape(c)
        for c in s
    )


def printable_tree(value: Any) -> Any:
    """:func:`printable` applied to every string (keys included) of a JSON-like value."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(k) if isinstance(k, str) else k: printable_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(printable_tree(v) for v in value)
    return value
