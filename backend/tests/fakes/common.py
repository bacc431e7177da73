"""Shared machinery of the upstream fakes: a real aiohttp server on 127.0.0.1 with fault injection,
statistics, result files and a command-line entry point.

Faults come two ways:
- queued: ``server.faults.push(Fault("429", options={"retry-after": "2"}))`` or
  ``POST /_fake/faults`` with ``{"kind": "429", "options": {...}, "action": "...", "count": 1}``
  (or ``{"marker": "429:retry-after=2"}``); each is consumed by the next request it matches;
- prompt markers: ``[fault:429:retry-after=2]`` anywhere in the prompt, applied to every request
  with that prompt, or to the first N of them with the ``times=N`` option.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import re
import secrets
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from aiohttp import web
from PIL import Image, ImageDraw

from tests.fakes.photos import FORMATS, photo_bytes

FAULT_MARKER = re.compile(r"\[fault:([^\]]+)\]")
CONTROL_PREFIX = "/_fake/"
FILES_PREFIX = "/files/"
FILES_ACTION = "files"


# --------------------------------------------------------------------------------------------
# Faults


@dataclass(slots=True)
class Fault:
    """One injected failure. ``kind`` is the marker name ("429", "moderation-input", ...);
    ``args`` the positional parts ("partial:1" -> ("1",)); ``options`` the ``k=v`` parts;
    ``action`` restricts a queued fault to one action (Visual ``Action``, Ark
    ``images.generations``, ``files``); ``count`` how many requests a queued fault hits."""

    kind: str
    args: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)
    action: str | None = None
    count: int = 1
    marker: str = ""

    @classmethod
    def parse(cls, text: str, *, action: str | None = None, count: int = 1) -> Fault:
        parts = [part.strip() for part in text.split(":")]
        args: list[str] = []
        options: dict[str, str] = {}
        kind = parts[0].lower()
        if "=" in parts[0]:
            # "code=50413": the kind carries its own value.
            kind, _, value = parts[0].partition("=")
            kind = kind.strip().lower()
            options[kind] = value.strip()
        for part in parts[1:]:
            if "=" in part:
                key, _, value = part.partition("=")
                options[key.strip().lower()] = value.strip()
            elif part:
                args.append(part)
        return cls(kind=kind, args=tuple(args), options=options, action=action, count=count, marker=text)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        count = int(data.get("count", 1))
        if "marker" in data:
            return cls.parse(str(data["marker"]), action=data.get("action"), count=count)
        return cls(
            kind=str(data["kind"]).lower(),
            args=tuple(str(arg) for arg in data.get("args", ())),
            options={str(k).lower(): str(v) for k, v in (data.get("options") or {}).items()},
            action=data.get("action"),
            count=count,
        )

    def option_float(self, name: str) -> float | None:
        value = self.options.get(name)
        return float(value) if value is not None else None

    def int_args(self) -> set[int]:
        return {int(arg) for arg in self.args if arg.lstrip("-").isdigit()}

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "args": list(self.args), "options": self.options, "action": self.action,
                "count": self.count}


class FaultQueue:
    """Programmable faults, each consumed by the next request that matches it."""

    def __init__(self) -> None:
        self._items: list[Fault] = []

    def push(self, fault: Fault | str, *, action: str | None = None, count: int = 1) -> None:
        if isinstance(fault, str):
            fault = Fault.parse(fault, action=action, count=count)
        self._items.append(fault)

    def take(self, action: str, kinds: Iterable[str] | None = None) -> Fault | None:
        allowed = set(kinds) if kinds is not None else None
        for position, fault in enumerate(self._items):
            if fault.action not in (None, action):
                continue
            if allowed is not None and fault.kind not in allowed:
                continue
            # Result-file faults only make sense for file requests and vice versa.
            if (action == FILES_ACTION) != fault.kind.startswith("url-") and fault.action != action:
                continue
            fault.count -= 1
            if fault.count <= 0:
                del self._items[position]
            return fault
        return None

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def snapshot(self) -> list[dict[str, Any]]:
        return [fault.to_json() for fault in self._items]


# --------------------------------------------------------------------------------------------
# Statistics


@dataclass
class Stats:
    requests: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    # With a hidden concurrency limit: calls answered "too many" and calls admitted in flight.
    throttled: int = 0
    admitted_in_flight: int = 0
    # (action, parsed JSON body) of every API request, in arrival order.
    bodies: list[tuple[str, Any]] = field(default_factory=list)
    # Wall-clock time (time.time()) each streamed image frame was written and each result file was
    # asked for: a benchmark in another process subtracts them from its own clock (same machine).
    frame_times: list[float] = field(default_factory=list)
    file_times: list[float] = field(default_factory=list)

    def bodies_for(self, action: str) -> list[Any]:
        return [body for name, body in self.bodies if name == action]

    def reset(self) -> None:
        self.requests = 0
        self.actions.clear()
        self.max_in_flight = self.in_flight
        self.throttled = 0
        self.bodies.clear()
        self.frame_times.clear()
        self.file_times.clear()

    def to_json(self, *, include_bodies: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "requests": self.requests,
            "actions": dict(self.actions),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "throttled": self.throttled,
            "admitted_in_flight": self.admitted_in_flight,
            "frame_times": list(self.frame_times),
            "file_times": list(self.file_times),
        }
        if include_bodies:
            data["bodies"] = [{"action": name, "body": _shrink(body)} for name, body in self.bodies]
        return data


def _shrink(value: Any) -> Any:
    """Long strings (base64 images) cut down so /_fake/stats stays readable."""
    if isinstance(value, str) and len(value) > 200:
        return value[:80] + f"...({len(value)} chars)"
    if isinstance(value, list):
        return [_shrink(item) for item in value]
    if isinstance(value, dict):
        return {key: _shrink(item) for key, item in value.items()}
    return value


# --------------------------------------------------------------------------------------------
# Images


def fit_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """The pixel size actually rendered: the requested one, scaled down to ``max_side``."""
    width, height = max(width, 1), max(height, 1)
    if max_side and max(width, height) > max_side:
        ratio = max_side / max(width, height)
        width, height = max(1, round(width * ratio)), max(1, round(height * ratio))
    return width, height


@lru_cache(maxsize=64)
def jpeg_bytes(width: int, height: int) -> bytes:
    """A real JPEG of exactly ``width`` x ``height`` (cached: rendering 2K images is not free)."""
    image = Image.new("RGB", (width, height), (40 + width % 180, 90, 160 + height % 90))
    draw = ImageDraw.Draw(image)
    draw.rectangle((width // 8, height // 8, width * 7 // 8, height * 7 // 8), outline=(250, 250, 250),
                   width=max(1, min(width, height) // 64))
    draw.text((width // 8 + 4, height // 8 + 4), f"FAKE {width}x{height}", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


@lru_cache(maxsize=16)
def png_bytes(width: int, height: int) -> bytes:
    """A real PNG of exactly ``width`` x ``height`` (Seedream 5.x with output_format png)."""
    image = Image.open(io.BytesIO(jpeg_bytes(width, height)))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def parse_wxh(value: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"\s*(\d{1,5})\s*[xX*]\s*(\d{1,5})\s*", value)
    return (int(match.group(1)), int(match.group(2))) if match else None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def request_id() -> str:
    return time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(9).upper()


# --------------------------------------------------------------------------------------------
# SSE


class SSEWriter:
    """Writes ``event:`` + ``data:`` frames. ``pretty`` splits the JSON over several ``data:``
    lines (legal SSE, as the docs print it) and ``crlf`` uses CRLF line ends, so the client's
    parser is exercised on both."""

    def __init__(self, response: web.StreamResponse, *, pretty: bool = False, crlf: bool = False) -> None:
        self._response = response
        self._pretty = pretty
        self._eol = "\r\n" if crlf else "\n"

    def encode(self, event: str | None, data: Any) -> bytes:
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, indent=2 if self._pretty else None)
        lines = [f"event: {event}"] if event else []
        lines += [f"data: {line}" for line in text.split("\n")]
        return (self._eol.join(lines) + self._eol + self._eol).encode("utf-8")

    async def send(self, event: str | None, data: Any) -> None:
        await self._response.write(self.encode(event, data))


# --------------------------------------------------------------------------------------------
# Server


@dataclass(slots=True)
class StoredFile:
    data: bytes
    content_type: str = "image/jpeg"
    fault: str | None = None  # "url-403", "url-404", "url-html"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeServer:
    """Base of the fakes: lifecycle, control routes, result files, faults and stats."""

    service = "fake"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0.0,
        max_image_side: int | None = 512,
        timeout_seconds: float = 30.0,
        photo_format: str | None = None,
        concurrency_limit: int | None = None,
    ) -> None:
        self.host = host
        # An account's hidden limit: API calls beyond this many in flight are answered as
        # throttled (``throttle_response``), as the real services do (bench/adaptive.py).
        self.concurrency_limit = concurrency_limit
        self.port = port
        # Added to every API request before it is answered (benchmarks: a "slow upstream").
        self.latency_ms = latency_ms
        # Rendered images are scaled down to this long side; requested sizes are still reported.
        self.max_image_side = max_image_side
        # None: small flat JPEGs (cheap, for tests); "jpeg" / "png": photograph-like images of
        # realistic content and byte size (``tests.fakes.photos``, cached on disk; benchmarks).
        self.photo_format = photo_format
        # How long a `timeout` fault stalls; must exceed the client's read timeout.
        self.timeout_seconds = timeout_seconds
        # Seconds between the bytes of a `drip` fault.
        self.drip_interval = 0.5
        self.faults = FaultQueue()
        self.stats = Stats()
        self.files: dict[str, StoredFile] = {}
        self._marker_uses: Counter[tuple[str, str]] = Counter()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.origin

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=256 * 1024 * 1024)
        app.router.add_get(CONTROL_PREFIX + "stats", self._stats_route)
        app.router.add_post(CONTROL_PREFIX + "reset", self._reset_route)
        app.router.add_post(CONTROL_PREFIX + "faults", self._faults_route)
        app.router.add_get(FILES_PREFIX + "{name}", self._file_route)
        self.add_routes(app)
        return app

    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def action_of(self, request: web.Request) -> str:
        raise NotImplementedError

    async def start(self) -> None:
        self._closing.clear()
        self._runner = web.AppRunner(self.build_app(), handler_cancellation=True, shutdown_timeout=0.5,
                                     access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server  # the bound port is only known after start
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def reset(self) -> None:
        self.stats.reset()
        self.faults.clear()
        self._marker_uses.clear()

    # -- helpers for subclasses --------------------------------------------------------------------
    async def stall(self, seconds: float | None = None) -> None:
        """Sleep (for a timeout fault) but wake up at once when the server shuts down."""
        try:
            await asyncio.wait_for(self._closing.wait(), seconds if seconds is not None else self.timeout_seconds)
        except TimeoutError:
            pass

    def marker_faults(self, prompt: Any) -> list[Fault]:
        """Faults named in ``prompt``, minus those whose ``times=N`` budget is used up."""
        if not isinstance(prompt, str):
            return []
        found = []
        for match in FAULT_MARKER.finditer(prompt):
            fault = Fault.parse(match.group(1))
            times = fault.options.get("times")
            key = (match.group(1), prompt)
            if times is not None and self._marker_uses[key] >= int(times):
                continue
            found.append(fault)
        return found

    def use_marker(self, fault: Fault, prompt: str) -> None:
        if fault.marker:
            self._marker_uses[(fault.marker, prompt)] += 1

    def add_file(self, data: bytes, *, content_type: str | None = None, fault: str | None = None) -> str:
        if content_type is None:
            content_type = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
        name = secrets.token_hex(8) + (".jpeg" if content_type == "image/jpeg" else ".png")
        self.files[name] = StoredFile(data=data, content_type=content_type, fault=fault)
        return f"{self.origin}{FILES_PREFIX}{name}"

    def render(self, width: int, height: int) -> bytes:
        if self.photo_format is not None:
            return photo_bytes(*fit_size(width, height, self.max_image_side), self.photo_format)
        return jpeg_bytes(*fit_size(width, height, self.max_image_side))

    async def truncated(self, request: web.Request, payload: bytes, content_type: str, status: int = 200) -> web.StreamResponse:
        """Announce ``payload`` but send half of it, then drop the connection."""
        response = web.StreamResponse(status=status, headers={"Content-Type": content_type})
        response.content_length = len(payload)
        await response.prepare(request)
        await response.write(payload[: max(1, len(payload) // 2)])
        if request.transport is not None:
            request.transport.close()
        return response

    async def stalled_after_headers(self, request: web.Request, content_type: str) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": content_type})
        response.content_length = 1_000_000
        await response.prepare(request)
        await response.write(b"{")
        await self.stall()
        return response

    async def dripped(
        self, request: web.Request, payload: bytes, content_type: str, *, interval: float = 1.0
    ) -> web.StreamResponse:
        """The whole ``payload``, one byte every ``interval`` s: each byte resets a read timeout."""
        response = web.StreamResponse(status=200, headers={"Content-Type": content_type})
        response.content_length = len(payload)
        await response.prepare(request)
        for offset in range(len(payload)):
            await response.write(payload[offset : offset + 1])
            if self._closing.is_set():
                break
            await self.stall(interval)
        return response

    async def huge(self, request: web.Request, megabytes: float, content_type: str = "application/json") -> web.StreamResponse:
        """A body of ``megabytes`` MB (a JSON string that never ends), streamed without a length."""
        response = web.StreamResponse(status=200, headers={"Content-Type": content_type})
        await response.prepare(request)
        await response.write(b'{"data": [{"url": "')
        chunk = b"x" * (1024 * 1024)
        for _ in range(int(megabytes)):
            if self._closing.is_set():
                break
            await response.write(chunk)
        await response.write(b'"}]}')
        return response

    @staticmethod
    def garbage(status: int = 200) -> web.Response:
        return web.Response(
            status=status,
            body=b"<html><body>502 Bad Gateway</body></html>\x00\xff garbage",
            content_type="application/json",
        )

    # -- middleware and control routes -------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await handler(request)
        action = FILES_ACTION if request.path.startswith(FILES_PREFIX) else self.action_of(request)
        self.stats.requests += 1
        self.stats.actions[action] += 1
        self.stats.in_flight += 1
        self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
        limit = self.concurrency_limit if action != FILES_ACTION and self.limits(action) else None
        admitted = False
        try:
            if limit is not None:
                if self.stats.admitted_in_flight >= limit:
                    self.stats.throttled += 1
                    return self.throttle_response(request)
                self.stats.admitted_in_flight += 1
                admitted = True
            if self.latency_ms and action != FILES_ACTION:
                await asyncio.sleep(self.latency_ms / 1000)
            return await handler(request)
        finally:
            self.stats.in_flight -= 1
            if admitted:
                self.stats.admitted_in_flight -= 1

    def limits(self, action: str) -> bool:
        """Whether the hidden concurrency limit counts calls of ``action`` (subclasses narrow it)."""
        return True

    def throttle_response(self, request: web.Request) -> web.Response:
        return web.json_response({"error": {"code": "TooManyRequests", "message": "fake: over the limit"}}, status=429)

    async def _stats_route(self, request: web.Request) -> web.Response:
        bodies = request.query.get("bodies", "1") != "0"
        return web.json_response(self.stats.to_json(include_bodies=bodies) | {"faults": self.faults.snapshot()})

    async def _reset_route(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    async def _faults_route(self, request: web.Request) -> web.Response:
        data = await request.json()
        items = data if isinstance(data, list) else [data]
        for item in items:
            self.faults.push(Fault.from_json(item))
        return web.json_response({"ok": True, "queued": len(self.faults)})

    async def _file_route(self, request: web.Request) -> web.StreamResponse:
        self.stats.file_times.append(time.time())
        stored = self.files.get(request.match_info["name"])
        queued = self.faults.take(FILES_ACTION)
        fault = queued.kind if queued else (stored.fault if stored else None)
        if stored is None or fault == "url-404":
            return web.Response(status=404, text="<Error><Code>NoSuchKey</Code></Error>", content_type="application/xml")
        if fault == "url-403":
            return web.Response(
                status=403,
                text="<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                content_type="application/xml",
            )
        if fault == "url-html":
            return web.Response(text="<!DOCTYPE html><html><body>Link expired</body></html>", content_type="text/html")
        if fault == "url-500":
            return web.Response(status=500, text="internal error")
        if fault == "url-drip":
            return await self.dripped(request, stored.data, stored.content_type, interval=self.drip_interval)
        return web.Response(body=stored.data, content_type=stored.content_type)


# --------------------------------------------------------------------------------------------
# Command line


def common_arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every API request")
    parser.add_argument("--max-image-side", type=int, default=512, help="rendered images are scaled to this (0 = full size)")
    parser.add_argument("--timeout-seconds", type=float, default=30.0, help="how long [fault:timeout] stalls")
    parser.add_argument("--photo-format", choices=sorted(FORMATS), default=None,
                        help="serve photograph-like images in this format (cached on disk) instead of flat JPEGs")
    parser.add_argument("--concurrency-limit", type=int, default=None,
                        help="answer API calls beyond this many in flight as throttled (a hidden account limit)")
    return parser


def run_until_signal(server: FakeServer) -> None:
    """Serve until SIGINT/SIGTERM; prints ``READY <base_url>`` once listening."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await server.start()
        print(f"READY {server.base_url}", flush=True)
        try:
            await stop.wait()
        finally:
            await server.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    sys.stdout.flush()
