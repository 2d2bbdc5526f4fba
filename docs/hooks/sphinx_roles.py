"""Griffe extension for the API pages: Sphinx roles in docstrings become inline code.

The docstrings use reStructuredText roles (``:class:`~scoligait_edge.results.ScreeningResult```, ``:func:``,
``:meth:`` ...) where a reader of the source wants them; rendered as Markdown they would show the role
literally. ``~a.b.C`` becomes ``C``, as Sphinx shows it. Docstrings in the sources stay as they are.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`(?P<tilde>~?)(?P<name>[^`]+)`")


def _plain(m: re.Match[str]) -> str:
    name = m["name"]
    return f"`{name.rsplit('.', 1)[-1] if m['tilde'] else name}`"


class SphinxRoles(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ":" in obj.docstring.value:
            obj.docstring.value = _ROLE.sub(_plain, obj.docstring.value)
