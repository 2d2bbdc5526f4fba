"""Regenerate the bundled sentence embedding table: ``python -m scoligait_edge.text.build_table``.

Needs the optional packages (see ``embeddings.INSTALL_COMMAND``); runs offline.
``--check`` only compares a fresh encoding with the committed table.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from scoligait_edge.errors import OptionalDependencyError
from scoligait_edge.text.embeddings import ASSETS_TEXT_DIR, SentenceEmbeddingTable, build_embedding_table
from scoligait_edge.text.sentences import NUM_SENTENCES, TEXT_SCHEMA_VERSION

log = logging.getLogger("scoligait_edge.text.build_table")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--out-dir", type=Path, default=ASSETS_TEXT_DIR, help="where to write the table (default: the package's assets)"
    )
    p.add_argument("--check", action="store_true", help="compare with the table in --out-dir instead of writing")
    p.add_argument("--atol", type=float, default=1e-5, help="--check tolerance")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    t0 = time.perf_counter()
    try:
        table = build_embedding_table()
    except OptionalDependencyError as e:
        log.error("%s", e)
        return 2
    log.info("built %d x %d table in %.1f s", len(table), table.dim, time.perf_counter() - t0)
    if args.check:
        old = SentenceEmbeddingTable.load(args.out_dir, TEXT_SCHEMA_VERSION)
        old.check()
        diff = float(np.abs(old.embeddings - table.embeddings).max())
        log.info("max |difference| to the committed table: %.2e (tolerance %.0e)", diff, args.atol)
        return 0 if diff <= args.atol else 1
    json_path, npy_path = table.save(args.out_dir)
    log.info("wrote %s and %s (%d sentences)", json_path, npy_path, NUM_SENTENCES)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
