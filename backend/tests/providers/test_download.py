"""ResultFetcher: allow-list, redirects, size cap, image sniffing, expired links and retries."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import aiohttp
import pytest
import yarl
from aiohttp import web
from PIL import Image

from app.core.errors import ProviderError, UpstreamBadResponse
from app.core.images import sniff_image_type
from app.providers.download import ResultFetcher, host_allowed
from tests.fakes.common import FakeServer, Fault, jpeg_bytes
from tests.providers.conftest import provider_settings


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="PNG")
    return out.getvalue()


class _FileServer(FakeServer):
    """The fakes' file serving plus a few redirect routes."""

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/redirect", self._redirect)

    def action_of(self, request: web.Request) -> str:
        return request.path

    async def _redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])


@pytest.fixture
async def files() -> AsyncIterator[_FileServer]:
    async with _FileServer() as server:
        yield server


def _fetcher(session: aiohttp.ClientSession, hosts: list[str] | None = None, **kw: int) -> ResultFetcher:
    settings = provider_settings(result_url_hosts=hosts if hosts is not None else ["127.0.0.1"], upstream_max_attempts=3)
    return ResultFetcher(settings, session, **kw)


@pytest.mark.parametrize(
    ("url", "hosts", "allowed"),
    [
        ("http://127.0.0.1:8080/x.jpeg", ["127.0.0.1"], True),
        ("http://127.0.0.1:8080/x.jpeg", ["127.0.0.1:8080"], True),
        ("http://127.0.0.1:8080/x.jpeg", ["127.0.0.1:9090"], False),
        ("https://ark-bucket.tos-cn-beijing.volces.com/a.jpeg", ["*.volces.com"], True),
        ("https://ARK.VOLCES.COM./a.jpeg", ["*.volces.com"], True),
        ("https://a.volces.com/a.jpeg", ["*.VOLCES.com"], True),
        ("https://volces.com/a.jpeg", ["*.volces.com"], False),
        ("https://evilvolces.com/a.jpeg", ["*.volces.com"], False),
        ("https://volces.com.evil.net/a.jpeg", ["*.volces.com"], False),
        ("http://127.0.0.1.evil.net/", ["127.0.0.1"], False),
        ("https://a.volces.com:8443/", ["*.volces.com:8443"], True),
        ("https://a.volces.com/", ["*.volces.com:8443"], False),
        ("http://[::1]:8080/", ["[::1]:8080"], True),
        ("https://x.com/", [], False),
        ("https://x.com/", ["", " "], False),
    ],
)
def test_host_allowed(url: str, hosts: list[str], allowed: bool) -> None:
    assert host_allowed(yarl.URL(url), hosts) is allowed


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"\xff\xd8\xff\xe0rest", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\nrest", "image/png"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"GIF89a....", "image/gif"),
        (b"BM" + b"\x00" * 12 + (40).to_bytes(4, "little"), "image/bmp"),
        # "BM" alone is text as often as it is a bitmap: the same rule as uploads.
        (b"BM......", None),
        (b"II*\x00....", "image/tiff"),
        (b"MM\x00*....", "image/tiff"),
        (b"<!DOCTYPE html>", None),
        (b"", None),
        (b"RIFF\x00\x00\x00\x00WAVE", None),
    ],
)
def test_sniff_image_type(data: bytes, content_type: str | None) -> None:
    sniffed = sniff_image_type(data)
    assert (sniffed.content_type if sniffed else None) == content_type


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/a.jpeg",
        "file:///etc/passwd",
        "http://user:pw@127.0.0.1/a.jpeg",
        "http://127.0.0.1@evil.example/a.jpeg",
        "http://localhost/a.jpeg",
        "https://evil.example/a.jpeg",
        "not a url",
    ],
)
async def test_refuses_urls_outside_the_rules(http_session: aiohttp.ClientSession, url: str) -> None:
    with pytest.raises(UpstreamBadResponse) as info:
        await _fetcher(http_session).fetch(url)
    assert info.value.retryable is False
    assert "RESULT_URL_HOSTS" in info.value.message


async def test_fetches_an_image_and_sniffs_its_type(files: _FileServer, http_session: aiohttp.ClientSession) -> None:
    jpeg = jpeg_bytes(16, 16)
    png = _png()
    assert await _fetcher(http_session).fetch(files.add_file(jpeg)) == (jpeg, "image/jpeg")
    # The server's claimed type does not matter; the bytes do.
    assert await _fetcher(http_session).fetch(files.add_file(png, content_type="application/octet-stream")) == (png, "image/png")


@pytest.mark.parametrize("fault", ["url-403", "url-404", "url-html"])
async def test_expired_links_fail_clearly_without_retry(
    files: _FileServer, http_session: aiohttp.ClientSession, fault: str
) -> None:
    url = files.add_file(jpeg_bytes(16, 16), fault=fault)
    with pytest.raises(UpstreamBadResponse) as info:
        await _fetcher(http_session).fetch(url)
    assert "no longer available" in info.value.message and info.value.retryable is False
    assert files.stats.actions["files"] == 1


async def test_server_errors_are_retried(files: _FileServer, http_session: aiohttp.ClientSession) -> None:
    url = files.add_file(jpeg_bytes(16, 16))
    files.faults.push(Fault("url-500"))
    data, _ = await _fetcher(http_session).fetch(url)
    assert data == jpeg_bytes(16, 16)
    assert files.stats.actions["files"] == 2


async def test_follows_redirects_only_inside_the_allow_list(files: _FileServer, http_session: aiohttp.ClientSession) -> None:
    target = files.add_file(jpeg_bytes(16, 16))
    inside = str(yarl.URL(f"{files.origin}/redirect").with_query(to=target))
    assert (await _fetcher(http_session).fetch(inside))[1] == "image/jpeg"

    outside = str(yarl.URL(f"{files.origin}/redirect").with_query(to="http://evil.example/x.jpeg"))
    with pytest.raises(UpstreamBadResponse) as info:
        await _fetcher(http_session).fetch(outside)
    assert "evil.example" in info.value.message and info.value.retryable is False


async def test_size_cap(files: _FileServer, http_session: aiohttp.ClientSession) -> None:
    url = files.add_file(jpeg_bytes(64, 64))
    with pytest.raises(UpstreamBadResponse) as info:
        await _fetcher(http_session, max_bytes=100).fetch(url)
    assert "larger than" in info.value.message and info.value.retryable is False


async def test_connection_errors_are_retried_then_reported(http_session: aiohttp.ClientSession) -> None:
    server = _FileServer()
    await server.start()
    url = server.add_file(jpeg_bytes(8, 8))
    await server.stop()
    with pytest.raises(ProviderError) as info:
        await _fetcher(http_session).fetch(url)
    assert info.value.code == "upstream_error" and info.value.retryable is True
