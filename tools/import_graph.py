"""Imports between the package's files and folders, read from the AST: circles and imports that run back up.

Why a script of our own beside import-linter: import-linter checks the contracts we wrote down; this
measures the house as it is (every import, lazy ones inside functions included, with the installed
layout's ``export/`` -> ``scoligait_edge.export`` and ``runtimes/`` -> ``scoligait_edge.runtimes``
mapping), so a newcomer can see the figures the contracts rest on.

    python tools/import_graph.py            # summary: files, arrows, circles, back-up imports
    python tools/import_graph.py --edges    # every folder-to-folder arrow with the files behind it
    python tools/import_graph.py --draw docs/architecture.svg   # the floors as a picture (docs/ARCHITECTURE.md)

Exit status 1 when a circle or an import back up the layers is found (``tests/test_architecture.py``
runs it).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# source folder -> the package it installs as (pyproject.toml's package-dir)
PACKAGE_DIRS = {
    "scoligait_edge": "scoligait_edge",
    "export": "scoligait_edge.export",
    "runtimes": "scoligait_edge.runtimes",
}
# Deprecation shims re-export moved names for one minor version; they are the only files allowed to
# import upwards, and the graph leaves them out (as the import-linter contracts do).
SHIM_MARKER = "DEPRECATION SHIM"

# The layers, top to bottom: a module may import from its own layer's packages and those below it.
# Packages on one line are independent siblings of one floor. Keep in sync with .importlinter.
LAYERS: list[list[str]] = [
    ["scoligait_edge.cli"],
    ["scoligait_edge.export"],
    ["scoligait_edge.research"],
    ["scoligait_edge.kiosk", "scoligait_edge.run", "scoligait_edge.validate"],
    ["scoligait_edge.session_report"],
    ["scoligait_edge.screener"],
    ["scoligait_edge.runtimes", "scoligait_edge.metrics"],
    ["scoligait_edge.viz"],
    ["scoligait_edge.stream", "scoligait_edge.interpret"],
    ["scoligait_edge.text", "scoligait_edge.kinematics", "scoligait_edge.results", "scoligait_edge.session_rules"],
    ["scoligait_edge.pose"],
    ["scoligait_edge.video"],
    ["scoligait_edge.bundle"],
    ["scoligait_edge.core"],
    ["scoligait_edge.native_logs", "scoligait_edge.assets"],
    ["scoligait_edge.errors"],
    ["scoligait_edge"],  # the package face: __version__, SCREENING_NOTICE
]

# The one import allowed to run up: the optional torch backend loads the research wing's checkpoint reader
# (torch and the model classes come only with the ``train`` extra, and only when that backend is asked for).
ALLOWED_UP = {("scoligait_edge.runtimes.torch_backend", "scoligait_edge.research.models")}


def source_files() -> dict[str, Path]:
    """Module name -> file, for every product file of the installed layout."""
    modules: dict[str, Path] = {}
    for folder, package in PACKAGE_DIRS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            modules[".".join([package, *parts])] = path
    return modules


def is_shim(path: Path) -> bool:
    return SHIM_MARKER in path.read_text(encoding="utf-8")[:2000]


def imported_modules(module: str, path: Path, known: set[str]) -> set[str]:
    """The package modules a file imports (top level and lazy), resolved to files of this tree."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")
                parent = parent if is_package else parent[:-1]
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join([*parent, base]) if base else ".".join(parent)
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    # `from pkg import sub` adds both pkg and pkg.sub: keep the most specific one
    return {n for n in found if not any(o != n and o.startswith(n + ".") for o in found)} or found


def layer_of(module: str) -> int:
    best, best_len = len(LAYERS), -1
    for index, floor in enumerate(LAYERS):
        for package in floor:
            if (module == package or module.startswith(package + ".")) and len(package) > best_len:
                best, best_len = index, len(package)
    return best


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the components with more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def folder_of(module: str, modules: dict[str, Path]) -> str:
    path = modules[module]
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def measure() -> dict[str, object]:
    modules = source_files()
    product = {m: p for m, p in modules.items() if not is_shim(p)}
    known = set(modules)
    graph = {m: {t for t in imported_modules(m, p, known) if t in product} for m, p in product.items()}
    folders: dict[str, set[str]] = defaultdict(set)
    folder_edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for source, targets in graph.items():
        folders[folder_of(source, product)]
        for target in targets:
            a, b = folder_of(source, product), folder_of(target, product)
            if a != b and not b.startswith(a + ".") and not a.startswith(b + "."):
                folders[a].add(b)
                folder_edges[(a, b)].append(f"{source} -> {target}")
    back_up = [
        f"{s} (floor {layer_of(s)}) -> {t} (floor {layer_of(t)})"
        for s, ts in sorted(graph.items())
        for t in sorted(ts)
        if layer_of(t) < layer_of(s) and not any(s == a and (t == b or t.startswith(b + ".")) for a, b in ALLOWED_UP)
    ]
    return {
        "files": len(product),
        "shims": len(modules) - len(product),
        "arrows": sum(len(t) for t in graph.values()),
        "file_circles": strongly_connected(graph),
        "folder_circles": strongly_connected(dict(folders)),
        "back_up": back_up,
        "folder_edges": folder_edges,
    }


WINGS = {"scoligait_edge.research": "research wing", "scoligait_edge.export": "export", "scoligait_edge.cli": "entry"}


def draw(path: Path) -> None:
    """The floors as stacked boxes, top floor first, with the number of files on each package."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modules = source_files()
    counts = {pkg: sum(1 for m in modules if m == pkg or m.startswith(pkg + ".")) for floor in LAYERS for pkg in floor}
    counts["scoligait_edge"] = 1  # the package face alone
    fig, ax = plt.subplots(figsize=(9, 0.48 * len(LAYERS) + 0.6))
    for row, floor in enumerate(LAYERS):
        y = len(LAYERS) - 1 - row
        width = 1.0 / len(floor)
        for col, pkg in enumerate(floor):
            wing = next((w for p, w in WINGS.items() if pkg.startswith(p)), None)
            colour = {"research wing": "#f4d6b0", "export": "#d9c8ef", "entry": "#dddddd"}.get(wing or "", "#c8e0f4")
            if pkg in (
                "scoligait_edge.core",
                "scoligait_edge.errors",
                "scoligait_edge.assets",
                "scoligait_edge.native_logs",
            ):
                colour = "#cfe8c8"
            ax.add_patch(plt.Rectangle((col * width + 0.005, y + 0.08), width - 0.01, 0.84, color=colour, ec="#555"))
            label = ("scoligait_edge (face)" if pkg == "scoligait_edge" else pkg.removeprefix("scoligait_edge.")) + (
                f"  ({counts[pkg]})" if counts.get(pkg, 0) > 1 else ""
            )
            ax.text(col * width + width / 2, y + 0.5, label, ha="center", va="center", fontsize=8.5)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, len(LAYERS))
    ax.axis("off")
    ax.set_title(
        "scoligait_edge: each floor imports only the floors below it\n"
        "blue: runtime wing, orange: research wing, purple: export, green: ground floor (files in brackets)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", action="store_true", help="list every folder-to-folder arrow")
    parser.add_argument("--draw", type=Path, metavar="SVG", help="draw the floors into this file")
    args = parser.parse_args(argv)
    if args.draw:
        draw(args.draw)
    figures = measure()
    print(f"files {figures['files']} (+{figures['shims']} deprecation shims left out), arrows {figures['arrows']}")
    for label in ("file_circles", "folder_circles", "back_up"):
        items = figures[label]
        assert isinstance(items, list)
        print(f"{label.replace('_', ' ')}: {len(items)}")
        for item in items:
            print("  ", " <-> ".join(item) if isinstance(item, list) else item)
    if args.edges:
        edges = figures["folder_edges"]
        assert isinstance(edges, dict)
        for (a, b), why in sorted(edges.items()):
            print(f"{a} -> {b}: {', '.join(why)}")
    return 1 if figures["file_circles"] or figures["folder_circles"] or figures["back_up"] else 0


if __name__ == "__main__":
    sys.exit(main())
