"""``python -m scoligait_edge.kiosk``: the screening station, served to a local full-screen browser.

With no source it screens the bundled sample video on a loop with the bundled
demo model (trained on SIMULATED gait), so it demos out of the box. A
screening aid, not a diagnosis.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import secrets
import signal
import socket
import sys
import webbrowser
from pathlib import Path

EXIT_OK, EXIT_ERROR = 0, 2
log = logging.getLogger("scoligait_edge.kiosk")


def build_parser() -> argparse.ArgumentParser:
    """The run command's source and model flags, plus the station's own."""
    p = argparse.ArgumentParser(prog="python -m scoligait_edge.kiosk", description=(__doc__ or "").splitlines()[0])
    src = p.add_mutually_exclusive_group()
    src.add_argument("--camera", type=int, metavar="INDEX")
    src.add_argument("--video", type=Path, metavar="PATH", help="read whole, every frame; looped while guiding")
    src.add_argument("--rtsp", metavar="URL")
    src.add_argument(
        "--browser-camera",
        action="store_true",
        help="the page's own camera (getUserMedia): a tablet as the station; off localhost it needs TLS",
    )
    p.add_argument("--bundle", type=Path, default=None, help="model bundle folder or zip (default: the demo model)")
    p.add_argument("--allow-unsigned-bundle", action="store_true", help="load an unsigned or untrusted bundle")
    p.add_argument("--pose-model", default="full", help="lite, full or the path of a .task bundle")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime", "tensorrt"])
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--token", default=None, help="access token; required for any host but localhost")
    p.add_argument("--pin", default=None, help="operator PIN for the settings panel (default: a random one, printed)")
    p.add_argument("--tls-cert", type=Path, default=None, help="TLS certificate (PEM): https, needed off localhost")
    p.add_argument("--tls-key", type=Path, default=None, help="TLS private key (PEM)")
    p.add_argument("--rules", type=Path, default=None, help="session rules JSON (default: the shipped rules)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.add_argument("--no-pace", action="store_true", help="read a video as fast as it can be screened")
    p.add_argument("--verbose", action="store_true", help="our INFO logs and the native libraries' logs")
    return p


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return EXIT_ERROR


def _origins(host: str, port: int, scheme: str) -> set[str]:
    names = {host, "127.0.0.1", "localhost", "[::1]"}
    if not _is_loopback(host):
        names |= {socket.gethostname(), socket.getfqdn()}
    return {f"{scheme}://{n}:{port}" for n in names}


def main(argv: list[str] | None = None) -> int:
    """Check the flags, then serve until SIGINT / SIGTERM (uvicorn's handlers: a clean shutdown)."""
    args = build_parser().parse_args(argv)
    if not args.verbose:
        from scoligait_edge.native_logs import quiet_native_logs

        quiet_native_logs()
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        import scoligait_edge.kiosk  # noqa: F401 - the extra's check, with the pip command
    except ImportError as exc:
        return _error(str(exc))
    if (args.tls_cert is None) != (args.tls_key is None):
        return _error("--tls-cert and --tls-key go together")
    for flag, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key), ("--video", args.video)):
        if path is not None and not path.expanduser().is_file():
            return _error(f"{flag} {path}: no such file")
    if not _is_loopback(args.host) and not args.token:
        return _error(
            f"--host {args.host} serves other machines: give an access token (--token SECRET). "
            "A tablet's camera (--browser-camera) off localhost also needs TLS: --tls-cert CERT.pem --tls-key KEY.pem"
        )
    if not 0 < args.port < 65536:
        return _error(f"--port must be 1-65535, got {args.port}")
    from scoligait_edge.errors import ScoliGaitError
    from scoligait_edge.session_rules import load_session_rules

    try:
        rules = load_session_rules(args.rules)
    except ScoliGaitError as exc:
        return _error(str(exc))
    return _serve(args, rules)


def _serve(args: argparse.Namespace, rules: object) -> int:
    import uvicorn

    from scoligait_edge.kiosk.app import MAX_MESSAGE_BYTES, KioskApp, Security
    from scoligait_edge.kiosk.station import Station, StationConfig
    from scoligait_edge.session_rules import SessionRules

    assert isinstance(rules, SessionRules)
    try:
        with socket.create_server((args.host, args.port)):
            pass  # the port is free: say so now, not after the models load
    except OSError as exc:
        return _error(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}")
    scheme = "https" if args.tls_cert else "http"
    pin = args.pin or f"{secrets.randbelow(10**6):06d}"
    security = Security(allowed_origins=_origins(args.host, args.port, scheme), token=args.token, operator_pin=pin)
    config = StationConfig(
        camera=args.camera,
        video=args.video,
        rtsp=args.rtsp,
        browser_camera=args.browser_camera,
        bundle=args.bundle,
        allow_unsigned_bundle=args.allow_unsigned_bundle,
        pose_model=args.pose_model,
        backend=args.backend,
        pace_video=not args.no_pace,
    )
    app = KioskApp(Station(config, rules), security)
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    url = f"{scheme}://{shown}:{args.port}/" + (f"?token={args.token}" if args.token else "")
    if args.video is None and args.camera is None and args.rtsp is None and not args.browser_camera:
        print("No source given: the bundled sample video on a loop (BSD-3, sports2d).")
    print(f"Screening station: {url}", flush=True)
    print(f"Operator PIN: {pin}", flush=True)
    server = uvicorn.Server(
        uvicorn.Config(
            app.app,
            host=args.host,
            port=args.port,
            log_level="info" if args.verbose else "warning",
            ws_max_size=MAX_MESSAGE_BYTES,
            ssl_certfile=str(args.tls_cert) if args.tls_cert else None,
            ssl_keyfile=str(args.tls_key) if args.tls_key else None,
            timeout_graceful_shutdown=5,
            lifespan="on",
        )
    )
    if args.open:
        webbrowser.open(url)
    # SIGINT / SIGTERM: uvicorn stops serving and the lifespan shutdown stops the station (nothing is on disk to
    # half-write). uvicorn then re-raises the signal to the handler it found: ours only notes it, so the exit is 0.
    received: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: received.append(signum))
    server.run()
    if received:
        print(f"{signal.Signals(received[0]).name}: the station stopped cleanly", flush=True)
    return EXIT_OK


def _cli() -> int:
    if "--verbose" not in sys.argv[1:]:
        from scoligait_edge.native_logs import divert_native_stderr

        divert_native_stderr()
    return main()


if __name__ == "__main__":
    raise SystemExit(_cli())
