"""Functions of the package (scoligait_edge/, export/, runtimes/) by length in lines, longest first.

    python tools/function_lengths.py            # counts over 50 and over 120, and the 20 longest
    python tools/function_lengths.py --over 50  # every function over 50 lines

Generated code is not in these folders; tests and benchmarks are left out.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("scoligait_edge", "export", "runtimes")


def function_lengths() -> list[tuple[int, str]]:
    """``(lines, "path:line name")`` of every function and method, decorators and docstring included."""
    out = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                    length = (node.end_lineno or node.lineno) - start + 1
                    out.append((length, f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"))
    return sorted(out, reverse=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--over", type=int, default=None, help="list every function longer than this")
    args = parser.parse_args(argv)
    lengths = function_lengths()
    over50 = sum(1 for n, _ in lengths if n > 50)
    over120 = sum(1 for n, _ in lengths if n > 120)
    print(f"{len(lengths)} functions; {over50} over 50 lines, {over120} over 120")
    shown = [x for x in lengths if x[0] > args.over] if args.over is not None else lengths[:20]
    for n, where in shown:
        print(f"{n:5d}  {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
