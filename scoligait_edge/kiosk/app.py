"""The station's web layer: one page, one WebSocket, an export endpoint (Starlette on uvicorn).

Messages from the page are small JSON commands (``begin``, ``stop``, ``next``,
``operator``) or, with ``--browser-camera``, binary JPEG frames. The server
sends the live state as JSON and the preview as binary JPEG, newest first: a
slow or closed page only ever misses states, it never holds up the pipeline.

Security: the Origin of a WebSocket must be the station's own; a token (when
set: required off localhost) must come with the page and the socket; messages
above ``max_message_bytes`` close the socket; one page owns the station at a
time, a reload of that page (same ``client`` id, kept in sessionStorage) takes
it back, any other page is told "station busy".
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from scoligait_edge.kiosk.station import OWNER_GRACE_S, Consent, Station

log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 1_000_000
"""Largest message a page may send (a 640 px JPEG frame is ~30-80 kB); larger ones close the socket (1009)."""
MAX_TEXT_BYTES = 16_384
"""Largest JSON command: commands are tiny, anything bigger is refused."""
BROWSER_FRAME_MIN_INTERVAL_S = 1 / 15
"""The page may send at most 15 frames a second; faster ones are dropped unread."""
STATE_MIN_INTERVAL_S = 1 / 15
"""States go to the page at most 15 times a second (the newest one; a change in between is never lost, only
merged): the skeleton and hints stay smooth at half the web work of one state per 30 fps frame."""
CLOSE_BUSY, CLOSE_FORBIDDEN, CLOSE_TOO_BIG, CLOSE_REPLACED = 4409, 4403, 1009, 4000


@dataclass
class Security:
    """What the CLI decided about access."""

    allowed_origins: set[str]
    token: str | None = None
    operator_pin: str = ""


@dataclass
class _Owner:
    client: str
    socket: WebSocket
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class KioskApp:
    """Builds the Starlette app around one :class:`Station`."""

    def __init__(self, station: Station, security: Security, *, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.station = station
        self.security = security
        self.max_message_bytes = max_message_bytes
        self._owner: _Owner | None = None
        self._owner_left: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._grace_task: asyncio.Task[None] | None = None
        static = resources.files("scoligait_edge.kiosk") / "static"
        self.index_html = (static / "index.html").read_text(encoding="utf-8")
        self.app = Starlette(
            routes=[
                Route("/", self.index),
                Route("/api/export", self.export, methods=["POST"]),
                Route("/api/health", self.health),
                WebSocketRoute("/ws", self.socket),
                Mount("/static", app=StaticFiles(directory=str(static)), name="static"),
            ],
            lifespan=self._lifespan,
        )

    # ------------------------------------------------------------------ lifecycle
    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self._startup()
        try:
            yield
        finally:
            await self._shutdown()

    async def _startup(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.station._on_change = self._changed_threadsafe
        self.station.start()

    async def _shutdown(self) -> None:
        if self._owner is not None:
            await self._close(self._owner.socket, 1001, "station shutting down")
        await asyncio.to_thread(self.station.close)

    def _changed_threadsafe(self) -> None:
        """Called by the pipeline thread: wake the sender (never blocks, never queues)."""
        loop, owner = self._loop, self._owner
        if loop is not None and owner is not None:
            loop.call_soon_threadsafe(owner.wake.set)

    # ------------------------------------------------------------------ HTTP
    def _token_ok(self, given: str | None) -> bool:
        want = self.security.token
        return want is None or (given is not None and hmac.compare_digest(given.encode(), want.encode()))

    async def index(self, request: Request) -> Response:
        if not self._token_ok(request.query_params.get("token")):
            return PlainTextResponse("a token is required: open the URL the station printed", status_code=403)
        return HTMLResponse(self.index_html, headers={"Cache-Control": "no-store"})

    async def health(self, request: Request) -> Response:
        """The phase, and whether anything of a subject is held (a yes/no: no subject data leaves here)."""
        traces = await asyncio.to_thread(self.station.subject_traces)
        held = any(v for v in traces.values())
        return Response(json.dumps({"phase": self.station.phase, "subject_held": held}), media_type="application/json")

    async def export(self, request: Request) -> Response:
        """The day's summaries, CSV or JSONL, for the operator (PIN); sent to the page, which saves it."""
        if not self._token_ok(request.query_params.get("token")):
            return PlainTextResponse("forbidden", status_code=403)
        origin = request.headers.get("origin")
        if origin is not None and origin not in self.security.allowed_origins:
            return PlainTextResponse("forbidden origin", status_code=403)
        try:
            body = json.loads((await request.body())[:MAX_TEXT_BYTES] or b"{}")
        except json.JSONDecodeError:
            return PlainTextResponse("bad request", status_code=400)
        if not isinstance(body, dict) or not self._pin_ok(body.get("pin")):
            return PlainTextResponse("wrong PIN", status_code=403)
        fmt = body.get("format")
        if fmt not in ("csv", "jsonl"):
            return PlainTextResponse("format must be csv or jsonl", status_code=400)
        text = self.station.export(fmt)
        day = time.strftime("%Y-%m-%d")
        media = "text/csv" if fmt == "csv" else "application/x-ndjson"
        return Response(
            text,
            media_type=media,
            headers={
                "Content-Disposition": f'attachment; filename="screening-{day}.{fmt}"',
                "Cache-Control": "no-store",
            },
        )

    def _pin_ok(self, pin: object) -> bool:
        return isinstance(pin, str) and hmac.compare_digest(pin.encode(), self.security.operator_pin.encode())

    # ------------------------------------------------------------------ WebSocket
    async def socket(self, ws: WebSocket) -> None:
        origin = ws.headers.get("origin")
        if origin is not None and origin not in self.security.allowed_origins:
            log.warning("WebSocket from a foreign origin refused: %s", origin)
            await ws.close(code=CLOSE_FORBIDDEN)  # before accept: the handshake gets 403
            return
        if not self._token_ok(ws.query_params.get("token")):
            await ws.close(code=CLOSE_FORBIDDEN)
            return
        client = ws.query_params.get("client") or ""
        await ws.accept()
        if not 8 <= len(client) <= 64:
            await self._close(ws, CLOSE_FORBIDDEN, "bad client id")
            return
        owner = self._owner
        if owner is not None and owner.client != client:
            await ws.send_text(json.dumps({"type": "busy", "message": "station busy: another page is using it"}))
            await self._close(ws, CLOSE_BUSY, "busy")
            return
        if owner is not None:  # the same page reloaded: it takes the session back
            await self._close(owner.socket, CLOSE_REPLACED, "replaced by a reload")
        elif self._owner_left is not None and getattr(self, "_last_client", None) != client:
            self.station.next_subject()  # a different page after the owner left: nothing of the last subject
        self._owner = me = _Owner(client, ws)
        self._last_client = client
        self._owner_left = None
        sender = asyncio.create_task(self._send_loop(me))
        try:
            await self._receive_loop(me)
        finally:
            sender.cancel()
            if self._owner is me:
                self._owner = None
                self._owner_left = time.monotonic()
                self._grace_task = asyncio.create_task(self._abandon_after_grace(client))

    async def _abandon_after_grace(self, client: str) -> None:
        """The owner's page closed mid-subject and did not come back: clear the subject (nothing kept)."""
        await asyncio.sleep(OWNER_GRACE_S)
        if self._owner is None and self.station.phase in ("guiding", "recording", "summary"):
            log.info("the station's page left %.0f s ago: subject session abandoned", OWNER_GRACE_S)
            self.station.next_subject()

    async def _receive_loop(self, me: _Owner) -> None:
        last_frame = 0.0
        while True:
            try:
                message = await me.socket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            data, text = message.get("bytes"), message.get("text")
            if data is not None:
                if len(data) > self.max_message_bytes:
                    await self._close(me.socket, CLOSE_TOO_BIG, "message too big")
                    return
                now = time.monotonic()
                if self.station.config.browser_camera and now - last_frame >= BROWSER_FRAME_MIN_INTERVAL_S:
                    last_frame = now
                    self.station.submit_browser_frame(data, time.time() * 1000.0)
                continue
            if text is None:
                continue
            if len(text) > MAX_TEXT_BYTES:
                await self._close(me.socket, CLOSE_TOO_BIG, "message too big")
                return
            reply = self._command(text)
            if reply is not None:
                await me.socket.send_text(json.dumps(reply))
            me.wake.set()

    def _command(self, text: str) -> dict[str, Any] | None:
        """One JSON command; malformed ones get an error reply, never an exception."""
        try:
            msg = json.loads(text)
            kind = msg.get("type") if isinstance(msg, dict) else None
        except json.JSONDecodeError:
            return {"type": "error", "message": "malformed message"}
        try:
            if kind == "begin":
                self.station.begin(Consent.model_validate(msg.get("consent")))
            elif kind == "stop":
                self.station.stop()
            elif kind == "next":
                self.station.next_subject()
            elif kind == "operator":
                if not self._pin_ok(msg.get("pin")):
                    return {"type": "operator", "ok": False, "message": "wrong PIN"}
                return {"type": "operator", "ok": True, "panel": self.station.operator_view()}
            elif kind == "ping":
                return {"type": "pong"}
            else:
                return {"type": "error", "message": f"unknown message type {kind!r}"}
        except (ValidationError, ValueError) as exc:
            return {"type": "error", "message": str(exc).splitlines()[0]}
        return None

    async def _send_loop(self, me: _Owner) -> None:
        """Newest state (and preview) whenever the pipeline changed something; a slow page skips states."""
        ws = me.socket
        sent_preview: float | None = None
        last_sent = 0.0
        await ws.send_text(json.dumps({"type": "hello", "views": self.station.views_trained}))
        try:
            while ws.application_state == WebSocketState.CONNECTED:
                try:
                    await asyncio.wait_for(me.wake.wait(), timeout=1.0)
                except TimeoutError:
                    pass
                me.wake.clear()
                if (wait := last_sent + STATE_MIN_INTERVAL_S - time.monotonic()) > 0:
                    await asyncio.sleep(wait)  # changes meanwhile are in the snapshot below
                    me.wake.clear()
                last_sent = time.monotonic()
                state = self.station.snapshot()
                await ws.send_text(json.dumps({"type": "state", **state}))
                preview = self.station.preview()
                if preview is not None and preview[1] != sent_preview:
                    sent_preview = preview[1]
                    await ws.send_text(json.dumps({"type": "preview", "captured_ms": preview[1]}))
                    await ws.send_bytes(preview[0])
        except (WebSocketDisconnect, RuntimeError, ConnectionError):
            return

    @staticmethod
    async def _close(ws: WebSocket, code: int, reason: str) -> None:
        try:
            if ws.application_state == WebSocketState.CONNECTED:
                await ws.close(code=code, reason=reason)
        except (RuntimeError, ConnectionError):
            pass
