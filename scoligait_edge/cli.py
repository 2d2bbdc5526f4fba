"""``scoligait``: one command, one subcommand per job (``scoligait run --help``, ``scoligait train --help``).

Each subcommand is the ``main(argv)`` of its module, imported only when asked for, so ``scoligait run``
never loads torch or the research wing. The ``python -m`` forms (``python -m scoligait_edge.run``...)
run the same functions.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import NamedTuple


class Subcommand(NamedTuple):
    module: str
    summary: str


SUBCOMMANDS: dict[str, Subcommand] = {
    "run": Subcommand("scoligait_edge.run", "screen a camera, video, RTSP stream or image folder"),
    "kiosk": Subcommand(
        "scoligait_edge.kiosk.__main__", "the screening station: a local web app for a school or clinic"
    ),
    "validate": Subcommand(
        "scoligait_edge.validate", "check a bundle on a folder of labelled walking videos (external validation)"
    ),
    "kmap": Subcommand("scoligait_edge.research.kmap_demo", "the knowledge map of a video: heatmap and gait events"),
    "train": Subcommand("scoligait_edge.research.train", "train a screening model (train extra)"),
    "evaluate": Subcommand("scoligait_edge.research.evaluate", "evaluate a trained run on its test split"),
    "ablate": Subcommand("scoligait_edge.research.ablate", "the ablation table of docs/ABLATION.md"),
    "baselines": Subcommand("scoligait_edge.research.run_baselines", "simple baselines on the same splits"),
    "preprocess": Subcommand("scoligait_edge.research.preprocess", "fill the per-clip cache (local or Ray)"),
    "export": Subcommand("scoligait_edge.export.__main__", "write, convert and sign model bundles"),
    "schema-doc": Subcommand("scoligait_edge.kinematics.schema_doc", "regenerate docs/FEATURE_SCHEMA.md"),
}


def _usage() -> str:
    width = max(map(len, SUBCOMMANDS))
    lines = ["usage: scoligait <command> [options]   (scoligait <command> --help for its options)", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {sub.summary}" for name, sub in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the subcommand's ``main``; exit status 2 with the usage for an unknown one, or with the
    install command when the subcommand's optional extra is missing."""
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    sub = SUBCOMMANDS.get(name)
    if sub is None:
        print(f"scoligait: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(sub.module)
    except ImportError as exc:  # an optional extra is missing: its message names the pip command
        print(f"scoligait {name}: {exc}", file=sys.stderr)
        return 2
    entry: Callable[[list[str]], int | None] = module.main
    sys.argv[0] = f"scoligait {name}"
    return int(entry(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
