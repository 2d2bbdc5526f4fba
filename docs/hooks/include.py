"""MkDocs hook: pages that include files from outside docs/, generated CLI help, the installed layout.

Two directives, each alone on a line of a page under docs/:

    <!-- include: ../README.md -->          the file's text, its relative links rewritten for the page
    <!-- cli-help: scoligait_edge.run -->   the module's ``--help`` text in a code block

Included files stay where GitHub readers expect them (README.md, CHANGELOG.md, benchmarks/RESULTS.md,
android_demo/README.md); one copy, so the site cannot drift from them. Their links to pages under docs/
are rewritten relative to the including page; links to other files of the repository (configs, sources)
have no page on the site and become their text and the path in code, so ``mkdocs build --strict`` checks
every link that is left.

mkdocstrings reads the sources statically, from ``build/pkg/``: ``scoligait_edge/`` with ``runtimes/`` and
``export/`` linked in as ``scoligait_edge.runtimes`` and ``scoligait_edge.export``, the layout that
``package-dir`` in pyproject.toml installs (``make typecheck`` uses the same tree).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
from pathlib import Path

try:
    from mkdocs.plugins import event_priority
except ImportError:  # `make typecheck` imports link_installed_layout without the docs extra

    def event_priority(priority):  # type: ignore[no-redef]
        return lambda f: f


_INCLUDE = re.compile(r"^<!-- include: (?P<path>\S+) -->$", re.M)
_CLI = re.compile(r"^<!-- cli-help: (?P<module>[\w.]+) -->$", re.M)
_LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]+)\]\((?P<target>[^)\s]+)\)")
_EXTERNAL = re.compile(r"^([a-z][a-z0-9+.-]*:|#|/)", re.I)


_INCLUDED: dict[Path, Path] = {}
"""Included file -> the page under docs/ that includes it (a link to README.md goes to index.md)."""


def _rewrite_links(text: str, source: Path, page_dir: Path, docs_dir: Path, root: Path) -> str:
    def fix(m: re.Match[str]) -> str:
        target = m["target"]
        if _EXTERNAL.match(target):
            return m[0]
        path, _, anchor = target.partition("#")
        resolved = (source.parent / path).resolve()
        resolved = _INCLUDED.get(resolved, resolved)
        if resolved.is_relative_to(docs_dir):
            new = os.path.relpath(resolved, page_dir).replace(os.sep, "/")
            return f"[{m['text']}]({new}{'#' + anchor if anchor else ''})"
        shown = resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else path
        text = m["text"]
        return text if shown in text else f"{text} (`{shown}`)"

    return _LINK.sub(fix, text)


def _cli_help(module: str) -> str:
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: fix it so the page does not depend on one
    mod = importlib.import_module(module)
    if hasattr(mod, "__path__") and not hasattr(mod, "main"):  # a package run as `python -m`: its __main__
        mod = importlib.import_module(f"{module}.__main__")
    if hasattr(mod, "build_parser"):
        text = mod.build_parser().format_help()
    else:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            mod.main(["--help"])
        text = out.getvalue()
    if not text.strip():
        raise RuntimeError(f"{module}: no --help text")
    return f"```text\n{text.rstrip()}\n```"


def link_installed_layout(root: Path) -> Path:
    """``build/pkg/scoligait_edge``: links to the package's entries plus ``runtimes`` and ``export``."""
    pkg = root / "build" / "pkg" / "scoligait_edge"
    pkg.mkdir(parents=True, exist_ok=True)
    for old in pkg.iterdir():
        old.unlink()
    entries = [p for p in (root / "scoligait_edge").iterdir() if p.name != "__pycache__"]
    for target in [*entries, root / "runtimes", root / "export"]:
        (pkg / target.name).symlink_to(os.path.relpath(target, pkg))
    return pkg.parent


@event_priority(100)  # before mkdocstrings' on_config, which drops search paths that do not exist yet
def on_config(config):
    link_installed_layout(Path(config["config_file_path"]).resolve().parent)
    return config


def on_files(files, config):
    _INCLUDED.clear()
    for f in files.documentation_pages():
        page = Path(f.abs_src_path).resolve()
        for m in _INCLUDE.finditer(page.read_text(encoding="utf-8")):
            _INCLUDED[(page.parent / m["path"]).resolve()] = page
    return files


def on_page_markdown(markdown, page, config, files):
    docs_dir = Path(config["docs_dir"]).resolve()
    root = docs_dir.parent
    page_path = Path(page.file.abs_src_path).resolve()

    def include(m: re.Match[str]) -> str:
        source = (page_path.parent / m["path"]).resolve()
        return _rewrite_links(source.read_text(encoding="utf-8"), source, page_path.parent, docs_dir, root)

    markdown = _INCLUDE.sub(include, markdown)
    return _CLI.sub(lambda m: _cli_help(m["module"]), markdown)
