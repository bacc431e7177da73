"""Hostile input: upload attacks, path traversal through /images, odd prompts, JSON nesting bombs,
and the two URL rules (the backend never fetches a URL a user supplied; result URLs are fetched
only from allow-listed hosts, redirects included)."""

from __future__ import annotations

import asyncio
import io
import struct
import unicodedata
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import aiohttp
import pytest
from aiohttp import web
from fastapi import FastAPI
from PIL import Image

from app.core.config import Settings
from app.core.errors import UpstreamBadResponse
from app.providers.download import ResultFetcher
from tests.conftest import Studio, StudioFactory
from tests.reliability.conftest import (
    ArkFake,
    StatusLog,
    recorded_studio,
    upstream_settings,
)

DEMO = {"model": "demo", "width": 256, "height": 256}


def _png(width: int = 64, height: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_bomb(side: int = 100_000) -> bytes:
    """A few hundred bytes announcing side x side pixels (the IDAT is a tiny zlib stream)."""
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 4096, 9)) + _chunk(b"IEND", b"")


def _jpeg_with_exif(exif_bytes: int, segments: int = 1) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 10, 10)).save(out, format="JPEG")
    data = out.getvalue()
    payload = b"Exif\0\0" + b"II*\0\x08\0\0\0" + b"\0" * (exif_bytes - 14)
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + app1 * segments + data[2:]


UPLOADS: list[tuple[str, bytes, str, set[int]]] = [
    ("decompression bomb (100000x100000 PNG header)", _png_bomb(), "bomb.png", {413, 422}),
    ("0 bytes", b"", "empty.png", {422}),
    ("truncated PNG", _png(256, 256)[:300], "cut.png", {422}),
    ("SVG with script", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "x.svg", {415}),
    ("HTML named .png", b"<!DOCTYPE html><script>alert(1)</script>\x89PNG\r\n\x1a\n", "x.png", {415}),
    ("polyglot: PNG + appended HTML/zip", _png() + b"<script>alert(1)</script>PK\x03\x04" + b"\0" * 64, "p.png", {200, 422}),
    ("huge EXIF (one 64 KB APP1)", _jpeg_with_exif(65_000), "exif.jpg", {200, 422}),
    ("huge EXIF (120 x 64 KB APP1)", _jpeg_with_exif(65_000, 120), "exif2.jpg", {200, 413, 422}),
    ("wrong extension (PNG bytes named .jpg)", _png(), "photo.jpg", {200}),
    ("oversized (11 MB)", b"\x89PNG\r\n\x1a\n" + b"\0" * (11 * 1024 * 1024), "big.png", {413}),
]


@pytest.mark.parametrize(("name", "data", "filename", "allowed"), UPLOADS, ids=[u[0] for u in UPLOADS])
async def test_upload_attacks(studio: Studio, name: str, data: bytes, filename: str, allowed: set[int]) -> None:
    response = await studio.client.post("/api/v1/uploads", files={"file": (filename, data, "image/jpeg")})
    assert response.status_code in allowed, (response.status_code, response.text[:300])
    if response.status_code == 200:
        body = response.json()
        # The type comes from the bytes, never from the name or the client's claim.
        assert body["content_type"] in ("image/png", "image/jpeg")
        if data.startswith(b"\x89PNG"):
            assert body["content_type"] == "image/png"
    else:
        assert response.json()["error"]["code"] in ("invalid_request", "payload_too_large", "unsupported_media_type")
    # The same bytes through the other two entry points: never a 5xx.
    inspect = await studio.client.post("/api/v1/images/inspect", files={"file": (filename, data, "image/png")})
    assert inspect.status_code < 500, inspect.text[:300]
    i2i = await studio.client.post(
        "/api/v1/generate/image2image",
        data={"prompt": "edit", "model": "demo"},
        files=[("images", (filename, data, "image/png"))],
    )
    assert i2i.status_code < 500, i2i.text[:300]
    # Uploads are never served: no URL under /images reaches uploads/.
    uploads = studio.services.store.uploads_dir
    for path in uploads.glob("*"):
        assert (await studio.client.get(f"/images/../uploads/{path.name}")).status_code == 404


async def _raw_get(app: FastAPI, raw_path: bytes) -> tuple[int, bytes]:
    """GET with the path exactly as a client sent it (httpx would normalise dot segments)."""
    path, _, query = raw_path.partition(b"?")
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": unquote(path.decode("latin-1")), "raw_path": path, "query_string": query, "root_path": "",
        "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
        "state": {},
    }
    status = 0
    body = bytearray()

    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # a client that stays connected
        sent = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(scope, receive, send)
    return status, bytes(body)


@pytest.mark.sqlite_only  # the SQLite file and its disk reserve
async def test_path_traversal_through_images(studio: Studio) -> None:
    task_id = await studio.submit(DEMO | {"prompt": "a real image"})
    await studio.run_jobs()
    task = await studio.task(task_id)
    url = task["outputs"][0]["url"]
    assert (await _raw_get(studio.app, url.encode()))[0] == 200
    store = studio.services.store
    data_dir = store.output_dir.parent
    secret = (data_dir / "app.db").read_bytes()[:16]
    # A symlink planted inside output/ (looks like a stored image) pointing at the database.
    link_dir = store.output_dir / "2020/01/01"
    link_dir.mkdir(parents=True, exist_ok=True)
    (link_dir / "aaaaaaaaaaaa.png").symlink_to(data_dir / "app.db")
    date = url.split("/")[2:5]
    attacks = [
        b"/images/../app.db", b"/images/%2e%2e/app.db", b"/images/..%2fapp.db", b"/images/%2e%2e%2fapp.db",
        b"/images/%252e%252e%252fapp.db", b"/images/..%5capp.db", b"/images/..\\app.db",
        ("/images/" + "/".join(date) + "/..%2f..%2f..%2f..%2fapp.db").encode(),
        ("/images/" + "/".join(date) + "/../../../../app.db").encode(),
        b"/images//etc/passwd", b"/images/%2fetc%2fpasswd", b"/images/x%00.png", b"/images/2020/01/01/aaaaaaaaaaaa.png",
        b"/images/2020/01/01/aaaaaaaaaaaa.png%00.png", b"/images/.health-0000.tmp", b"/images/",
        ("/images/" + url.removeprefix("/images/") + "/../../../../../app.db").encode(),
    ]
    for raw in attacks:
        status, body = await _raw_get(studio.app, raw)
        assert status == 404, (raw, status, body[:100])
        assert secret not in body


PROMPTS = [
    ("4001 characters", "x" * 4001, {422}),
    ("1 MB", "y" * 1_000_000, {413, 422}),
    ("whitespace only", " \n\t ", {422}),
    ("NUL and C0 controls", "a\x00b\x01c\x07d\x1b[31mred", {202, 422}),
    ("bidi override / zero-width", "safe\u202etxt.exe\u200b\ufeff", {202}),
    ("emoji and astral plane", "🐼" * 500 + "𝕏", {202}),
    ("RTL + CJK", "שלום 竹林里的熊猫 مرحبا", {202}),
]


@pytest.mark.parametrize(("name", "prompt", "allowed"), PROMPTS, ids=[p[0] for p in PROMPTS])
async def test_odd_prompts(studio: Studio, name: str, prompt: str, allowed: set[int]) -> None:
    response = await studio.client.post("/api/v1/generate/text2image", json=DEMO | {"prompt": prompt})
    assert response.status_code in allowed, response.text[:300]
    if response.status_code != 202:
        assert response.json()["error"]["code"] in ("invalid_request", "payload_too_large")
        return
    await studio.run_jobs()
    task = await studio.task(response.json()["task_id"])
    assert task["status"] == "completed", task
    assert task["prompt"] == unicodedata.normalize("NFC", prompt.strip())
    # The image remembers the prompt and reading it back works.
    image = (await studio.client.get(task["outputs"][0]["url"])).content
    inspect = await studio.client.post("/api/v1/images/inspect", files={"file": ("i.png", image, "image/png")})
    assert inspect.status_code == 200 and inspect.json()["metadata"]["prompt"] == task["prompt"]
    assert (await studio.client.get("/api/v1/history", params={"q": task["prompt"][:20]})).json()["total"] == 1


async def test_unicode_normalisation_nfc_nfd_search(studio: Studio) -> None:
    nfc, nfd = unicodedata.normalize("NFC", "café crème brûlée"), unicodedata.normalize("NFD", "café crème brûlée")
    assert nfc != nfd
    await studio.submit(DEMO | {"prompt": nfd})
    await studio.submit(DEMO | {"prompt": "100% _literal_ wildcards"})
    await studio.run_jobs()
    for q, total in ((nfc, 1), (nfd, 1), ("crème", 1), ("100%", 1), ("_literal_", 1), ("%", 1), ("_", 1), ("c_fé", 0)):
        response = await studio.client.get("/api/v1/history", params={"q": q})
        assert response.status_code == 200
        assert response.json()["total"] == total, (ascii(q), response.json()["total"])


JSON_ENDPOINTS = [
    "/api/v1/generate/text2image", "/api/v1/generate/image2image", "/api/v1/history/download",
    "/api/v1/auth/login", "/api/v1/tasks/00000000000000000000000000000000/cancel",
]


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
async def test_json_nesting_bombs_are_4xx(studio: Studio, path: str) -> None:
    bombs = [
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        '{"prompt": ' + "[" * 50_000 + "]" * 50_000 + "}",
        '{"model":"demo","prompt":"x","group":' + '{"max_images":' * 20_000 + "1" + "}" * 20_001,
        '{"ids": ' + "[" * 30_000 + "]" * 30_000 + "}",
        "[" * 100_000,
        '{"prompt": "' + "\\u0000" * 10 + '", "x": 1e999999}',
    ]
    for bomb in bombs:
        response = await studio.client.post(path, content=bomb, headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500, (path, bomb[:40], response.status_code, response.text[:200])
        assert "error" in response.json()


async def test_user_supplied_urls_are_never_fetched(
    studio_factory: StudioFactory, ark_fake: ArkFake
) -> None:
    log = StatusLog()
    studio = await recorded_studio(studio_factory, log, **upstream_settings(ark_fake, None))
    target = f"{ark_fake.origin}/files/anything.png"
    items = [
        target, "https://images.example.invalid/a.png", "file:///etc/passwd", "//127.0.0.1/x.png", "ftp://127.0.0.1/x.png",
        "data:text/html;base64,PHNjcmlwdD4=", "gopher://127.0.0.1:6379/_INFO", "http://[::1]/x.png",
        f"data:image/png;base64,{'A' * 12},{target}",
    ]
    for item in items:
        for model in ("demo", "doubao-seedream-4-0-250828"):
            response = await studio.client.post(
                "/api/v1/generate/image2image", json={"model": model, "prompt": "edit", "images": [item]}
            )
            assert response.status_code == 422, (item, response.text)
            assert response.json()["details"]["field"] == "images[0]" if "details" in response.json() else True
        response = await studio.client.post(
            "/api/v1/generate/image2image", data={"prompt": "edit", "model": "demo", "images": item}
        )
        assert response.status_code == 422, (item, response.text)
    await studio.run_jobs()
    assert ark_fake.stats.requests == 0
    assert log.server_errors == []


async def test_result_urls_only_from_allow_listed_hosts_redirects_included(tmp_path: Path) -> None:
    hits: dict[str, int] = {"allowed": 0, "foreign": 0}

    async def foreign(request: web.Request) -> web.Response:
        hits["foreign"] += 1
        return web.Response(body=_png(), content_type="image/png")

    foreign_app = web.Application()
    foreign_app.router.add_get("/{tail:.*}", foreign)
    foreign_runner = web.AppRunner(foreign_app)
    await foreign_runner.setup()
    foreign_site = web.TCPSite(foreign_runner, "127.0.0.1", 0)
    await foreign_site.start()
    foreign_port = foreign_site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def allowed(request: web.Request) -> web.Response:
        hits["allowed"] += 1
        target = request.query.get("to", "")
        raise web.HTTPFound(target)

    allowed_app = web.Application()
    allowed_app.router.add_get("/{tail:.*}", allowed)
    allowed_runner = web.AppRunner(allowed_app)
    await allowed_runner.setup()
    allowed_site = web.TCPSite(allowed_runner, "127.0.0.1", 0)
    await allowed_site.start()
    allowed_port = allowed_site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        settings = Settings(_env_file=None, data_dir=tmp_path, result_url_hosts=[f"127.0.0.1:{allowed_port}"],
                            retry_backoff_scale=0.0)
        async with aiohttp.ClientSession() as session:
            fetcher = ResultFetcher(settings, session)
            refused = [
                f"http://localhost:{foreign_port}/x.png",
                f"http://127.0.0.1:{foreign_port}/x.png",
                f"http://127.0.0.1.evil.invalid:{allowed_port}/x.png",
                f"http://user:pw@127.0.0.1:{allowed_port}/x.png",
                "file:///etc/passwd",
                # Allowed host, redirecting elsewhere: the hop is checked before it is followed.
                f"http://127.0.0.1:{allowed_port}/r?to=http://localhost:{foreign_port}/x.png",
                f"http://127.0.0.1:{allowed_port}/r?to=http://127.0.0.1:{foreign_port}/x.png",
            ]
            for url in refused:
                with pytest.raises(UpstreamBadResponse) as info:
                    await fetcher.fetch(url)
                assert info.value.retryable is False
                assert "RESULT_URL_HOSTS" in info.value.message or "not http" in info.value.message, info.value.message
        assert hits["foreign"] == 0
        assert hits["allowed"] == 2  # the two redirects were asked for, nothing beyond them
    finally:
        await allowed_runner.cleanup()
        await foreign_runner.cleanup()
