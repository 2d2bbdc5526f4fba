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

    # signing (Ed25519; see docs/BUNDLES.md): make a key pair once, keep the private key out of the repo
    python -m scoligait_edge.export --generate-key ~/keys/my_signing_key.pem   # + my_signing_key.pub
    # every command that writes a manifest signs it with --signing-key; --sign signs an existing bundle
    python -m scoligait_edge.export --bundle out/demo_bundle --formats onnx --signing-key ~/keys/my_signing_key.pem
    python -m scoligait_edge.export --bundle out/demo_bundle --sign --signing-key ~/keys/my_signing_key.pem

    # add the training input statistics (out-of-distribution flag) to an existing bundle, re-signed
    python -m scoligait_edge.export --bundle out/demo_bundle --input-reference run/input_reference.json \\
        --sign --signing-key ~/keys/my_signing_key.pem
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from scoligait_edge.errors import ScoliGaitError
from scoligait_edge.export.build import FORMATS, add_formats, add_input_reference, create_bundle, parse_formats
from scoligait_edge.export.bundle import SIMULATED_PROVENANCE, sign_bundle
from scoligait_edge.export.signing import Ed25519PrivateKey, generate_keypair, key_id, load_private_key

if TYPE_CHECKING:
    from scoligait_edge.bundle.load import Bundle


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


def _add_signing_arguments(p: argparse.ArgumentParser) -> None:
    k = p.add_argument_group("signing (Ed25519)")
    k.add_argument(
        "--signing-key",
        metavar="PEM",
        help="Ed25519 private key: sign every manifest this command writes "
        "(without it the bundle is left UNSIGNED and loads only with allow_unsigned)",
    )
    k.add_argument(
        "--sign",
        action="store_true",
        help="sign the existing --bundle with --signing-key (after "
        "verifying every file's hash); combine with --formats to export and sign in one go",
    )
    k.add_argument(
        "--generate-key",
        metavar="PEM",
        help="write a new Ed25519 private key here (mode 600) and its public key beside it (.pub), then exit",
    )


def _add_checkpoint_arguments(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    g = p.add_argument_group("creating a bundle from a checkpoint")
    g.add_argument("--checkpoint", help="checkpoint path stem (or its .safetensors) written by save_checkpoint")
    g.add_argument("--threshold", type=float, help="decision threshold on prob, chosen on validation data")
    g.add_argument("--threshold-source", help="how the threshold was chosen (stored in the manifest)")
    g.add_argument(
        "--provenance",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="training provenance entry, e.g. data=simulated (repeatable)",
    )
    g.add_argument("--provenance-json", help="JSON file with the provenance object")
    g.add_argument("--simulated", action="store_true", help=f"provenance = {SIMULATED_PROVENANCE}")
    g.add_argument(
        "--sentence-table",
        help="text model: sentence-embedding table to ship (the .npy rows, or its sentences_v<N>.json, which stands for them)",
    )
    g.add_argument("--reference-statistics", help="text model: reference-statistics file to ship")
    return g


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m scoligait_edge.export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--bundle", help="bundle folder or .zip (created when --checkpoint is given)")
    p.add_argument("--formats", default="", help=f"comma-separated, from: {','.join(FORMATS)}")
    p.add_argument("--engine-precision", default="fp16", help="TensorRT engine precision(s): fp32, fp16 or both")
    _add_signing_arguments(p)
    g = _add_checkpoint_arguments(p)
    p.add_argument(
        "--input-reference",
        metavar="JSON",
        help="training input statistics (input_reference.json from "
        "a training run) for the out-of-distribution flag: put into the new bundle (default: the file "
        "beside --checkpoint) or added to an existing --bundle",
    )
    g.add_argument("--force", action="store_true", help="replace an existing bundle at --bundle")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _write_new_key(path: str) -> None:
    priv, pub = generate_keypair(path)
    print(
        f"wrote private key {priv} (mode 600; keep it out of any repository) and public key {pub} "
        f"(key id {key_id(load_private_key(priv).public_key())[:16]}...)"
    )


def _engine_precisions(text: str) -> list[str]:
    precisions = [s.strip() for s in text.split(",") if s.strip()]
    if any(pr not in ("fp32", "fp16") for pr in precisions):
        raise SystemExit(f"--engine-precision takes fp32 and/or fp16, got {text!r}")
    return precisions


def _create_from_checkpoint(
    args: argparse.Namespace, target: Path, formats: list[str], precisions: list[str], key: Ed25519PrivateKey | None
) -> Bundle:
    """A new bundle from the checkpoint (refusing to replace one without --force), then the asked formats."""
    if target.exists() and not args.force:
        raise SystemExit(f"{target} exists; pass --force to replace it, or drop --checkpoint to add formats")
    bundle = create_bundle(
        args.checkpoint,
        target,
        threshold=args.threshold,
        threshold_source=args.threshold_source,
        provenance=_provenance(args.provenance, args.simulated, args.provenance_json),
        sentence_table=args.sentence_table,
        reference_statistics=args.reference_statistics,
        signing_key=key,
        input_reference=args.input_reference,
    )
    if formats:
        bundle = add_formats(target, formats, engine_precisions=precisions, signing_key=key)
    return bundle


def _update_existing(
    args: argparse.Namespace, target: Path, formats: list[str], precisions: list[str], key: Ed25519PrivateKey | None
) -> Bundle:
    """Add the input reference and formats to an existing bundle, and sign it when asked.

    Writing the manifest signs it already when a key is given; only an engine-only export
    (which leaves the manifest as it was) or a bare --sign needs an explicit signing.
    """
    if not formats and not args.sign and not args.input_reference:
        raise SystemExit(
            "nothing to do: give --formats (and --checkpoint to create a bundle), --input-reference or --sign"
        )
    if args.input_reference:
        bundle = add_input_reference(target, args.input_reference, signing_key=key)
    if formats:
        if args.input_reference:
            bundle.close()
        bundle = add_formats(target, formats, engine_precisions=precisions, signing_key=key)
        if args.sign and not bundle.signature.verified:  # engine-only: the manifest was not rewritten
            assert key is not None  # --sign needs --signing-key, checked above
            bundle.close()
            bundle = sign_bundle(target, key)
    elif not args.input_reference:
        assert key is not None  # only --sign is left (else "nothing to do"), and it needs --signing-key
        bundle = sign_bundle(target, key)
    return bundle


def _print_summary(bundle: Bundle, target: Path) -> None:
    m = bundle.manifest
    print(
        f"bundle {target}: formats {', '.join(sorted(m.formats))}; threshold {m.threshold.value:g}; "
        f"provenance {m.provenance.get('data')}; signature: {bundle.signature.status} "
        f"({bundle.signature.reason})"
    )
    for name, entry in sorted(m.files.items()):
        print(f"  {name:40s} {entry.size:>12,d} B  sha256 {entry.sha256[:16]}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        if args.generate_key:
            _write_new_key(args.generate_key)
            return 0
        if not args.bundle:
            raise SystemExit("--bundle is required (except with --generate-key)")
        if args.sign and not args.signing_key:
            raise SystemExit("--sign needs --signing-key PEM")
        key = load_private_key(args.signing_key) if args.signing_key else None
        formats = parse_formats(args.formats)
        precisions = _engine_precisions(args.engine_precision)
        target = Path(args.bundle)
        if args.checkpoint:
            bundle = _create_from_checkpoint(args, target, formats, precisions, key)
        else:
            bundle = _update_existing(args, target, formats, precisions, key)
        _print_summary(bundle, target)
        bundle.close()
    except (ScoliGaitError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
