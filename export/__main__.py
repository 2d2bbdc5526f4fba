"""``python -m scoligait_edge.export``: make a model bundle and export formats into it.

Examples::

    # add ONNX, fp16 ONNX and the ORT mobile model to an existing bundle (folder or zip)
    python -m scoligait_edge.export --bundle out/demo_bundle --formats onnx,onnx-fp16,ort

    # create a bundle from a checkpoint (run/best.safetensors + run/best.json), then export
    python -m scoligait_edge.export --checkpoint run/best --bundle out/demo_bundle \\
        --threshold 0.42 --threshold-source "validation split, Youden J, 412 windows" --simulated \\
        --formats onnx,onnx-fp16,ort

    # on the target GPU: build (and cache) the TensorRT engine beside the bundle
    python -m scoligait_edge.export --bundle out/demo_bundle --formats engine --engine-precision fp16
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from scoligait_edge.errors import ScoliGaitError
from scoligait_edge.export.build import FORMATS, add_formats, create_bundle, parse_formats
from scoligait_edge.export.bundle import SIMULATED_PROVENANCE


def _provenance(items: list[str], simulated: bool, json_file: str | None) -> dict | None:
    prov: dict = dict(SIMULATED_PROVENANCE) if simulated else {}
    if json_file:
        prov.update(json.loads(Path(json_file).read_text()))
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--provenance takes key=value, got {item!r}")
        prov[key.strip()] = value
    return prov or None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scoligait_edge.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", required=True, help="bundle folder or .zip (created when --checkpoint is given)")
    p.add_argument("--formats", default="", help=f"comma-separated, from: {','.join(FORMATS)}")
    p.add_argument("--engine-precision", default="fp16", help="TensorRT engine precision(s): fp32, fp16 or both")
    g = p.add_argument_group("creating a bundle from a checkpoint")
    g.add_argument("--checkpoint", help="checkpoint path stem (or its .safetensors) written by save_checkpoint")
    g.add_argument("--threshold", type=float, help="decision threshold on prob, chosen on validation data")
    g.add_argument("--threshold-source", help="how the threshold was chosen (stored in the manifest)")
    g.add_argument("--provenance", action="append", default=[], metavar="KEY=VALUE",
                   help="training provenance entry, e.g. data=simulated (repeatable)")
    g.add_argument("--provenance-json", help="JSON file with the provenance object")
    g.add_argument("--simulated", action="store_true",
                   help=f"provenance = {SIMULATED_PROVENANCE}")
    g.add_argument("--sentence-table", help="text model: sentence-embedding table file to ship")
    g.add_argument("--reference-statistics", help="text model: reference-statistics file to ship")
    g.add_argument("--force", action="store_true", help="replace an existing bundle at --bundle")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        formats = parse_formats(args.formats)
        precisions = [s.strip() for s in args.engine_precision.split(",") if s.strip()]
        if any(pr not in ("fp32", "fp16") for pr in precisions):
            raise SystemExit(f"--engine-precision takes fp32 and/or fp16, got {args.engine_precision!r}")
        target = Path(args.bundle)
        if args.checkpoint:
            if target.exists() and not args.force:
                raise SystemExit(f"{target} exists; pass --force to replace it, or drop --checkpoint to add formats")
            bundle = create_bundle(
                args.checkpoint, target, threshold=args.threshold, threshold_source=args.threshold_source,
                provenance=_provenance(args.provenance, args.simulated, args.provenance_json),
                sentence_table=args.sentence_table, reference_statistics=args.reference_statistics,
            )
            if formats:
                bundle = add_formats(target, formats, engine_precisions=precisions)
        else:
            if not formats:
                raise SystemExit("nothing to do: give --formats (and --checkpoint to create a bundle)")
            bundle = add_formats(target, formats, engine_precisions=precisions)
        m = bundle.manifest
        print(f"bundle {target}: formats {', '.join(sorted(m.formats))}; threshold {m.threshold.value:g}; "
              f"provenance {m.provenance.get('data')}")
        for name, entry in sorted(m.files.items()):
            print(f"  {name:40s} {entry.size:>12,d} B  sha256 {entry.sha256[:16]}")
        bundle.close()
    except (ScoliGaitError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
