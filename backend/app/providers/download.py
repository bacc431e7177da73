"""Downloads result images from upstream URLs, and only from the hosts we trust.

Result URLs come from the upstream's answer, so they are treated as untrusted input: http(s)
only, no userinfo, host on ``settings.result_url_hosts`` (re-checked on every redirect), a size
cap, and the bytes must really be an image. An expired link (403/404, or an HTML error page with
200) is a clear, non-retryable failure; 5xx and connection errors are retried.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import yarl

from app.core.config import Settings
from app.core.errors import ProviderError, UpstreamBadResponse, UpstreamServerError
from app.core.images import sniff_image_type
from app.providers.http_errors import transport_error
from app.providers.retry import DOWNLOAD_BACKOFF, Retrier
from app.providers.transport import Service, exchange_timeout, read_limited

if TYPE_CHECKING:
    import aiohttp

logger = logging.getLogger(__name__)

SERVICE = Service("the result image host", "结果图片服务器")
MAX_RESULT_BYTES = 64 * 1024 * 1024
MAX_REDIRECTS = 5
_REDIRECTS = {301, 302, 303, 307, 308}
_GONE = {401, 403, 404, 410}

def host_allowed(url: yarl.URL, allowed: Sequence[str]) -> bool:
    """Whether ``url``'s host (and port) matches an entry: ``host``, ``host:port`` or ``*.domain``
    (any subdomain, not the bare domain). Case-insensitive; a trailing dot is ignored."""
    host = (url.host or "").lower().rstrip(".")
    if not host:
        return False
    port = url.port
    for entry in allowed:
        pattern = entry.strip().lower()
        if not pattern:
            continue
        want_port: int | None = None
        # "host:port"; an IPv6 literal would be "[::1]:8080".
        if pattern.startswith("["):
            literal, _, rest = pattern[1:].partition("]")
            pattern, want_port = literal, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
        elif pattern.count(":") == 1:
            name, _, port_text = pattern.partition(":")
            if not port_text.isdigit():
                continue
            pattern, want_port = name, int(port_text)
        pattern = pattern.rstrip(".")
        if want_port is not None and want_port != port:
            continue
        if pattern.startswith("*."):
            suffix = pattern[1:]
            if host.endswith(suffix) and len(host) > len(suffix):
                return True
        elif host == pattern:
            return True
    return False


def _gone(detail: str, detail_zh: str, status: int | None = None) -> UpstreamBadResponse:
    return UpstreamBadResponse(
        f"The result image is no longer available ({detail}); upstream links expire after 24 hours. "
        "Generate the image again.",
        message_zh=f"结果图片已无法获取（{detail_zh}）；上游的图片链接 24 小时后失效。请重新生成。",
        status=status,
        retryable=False,
    )


def _refused(url: yarl.URL, why: str, why_zh: str) -> UpstreamBadResponse:
    # Only the host goes in the message: the query of a signed URL is a credential of sorts.
    source_zh = f" {url.host} " if url.host else "无效的地址"
    return UpstreamBadResponse(
        f"Refusing to download a result image from {url.host or 'an invalid URL'}: {why}. If this host is "
        "legitimate, add it to RESULT_URL_HOSTS.",
        message_zh=f"拒绝从{source_zh}下载结果图片：{why_zh}。如果该主机可信，请把它加入 RESULT_URL_HOSTS。",
        retryable=False,
    )


class ResultFetcher:
    def __init__(
        self, settings: Settings, session: aiohttp.ClientSession, *, max_bytes: int = MAX_RESULT_BYTES
    ) -> None:
        self._settings = settings
        self._session = session
        self._max_bytes = max_bytes
        self._retry = Retrier.from_settings(settings, DOWNLOAD_BACKOFF)
        self._timeout = exchange_timeout(settings)

    def check_url(self, url: str | yarl.URL) -> yarl.URL:
        """The parsed URL if we may fetch it; otherwise raises a non-retryable error."""
        try:
            parsed = url if isinstance(url, yarl.URL) else yarl.URL(url)
        except (TypeError, ValueError):
            raise _refused(yarl.URL(), "not a valid URL", "不是有效的地址") from None
        if parsed.scheme not in ("http", "https"):
            raise _refused(
                parsed,
                f"scheme {parsed.scheme or '(none)'} is not http(s)",
                f"协议 {parsed.scheme or '（无）'} 不是 http(s)",
            )
        if parsed.user is not None or parsed.password is not None:
            raise _refused(parsed, "the URL carries credentials", "地址中带有登录凭证")
        if not host_allowed(parsed, self._settings.result_url_hosts):
            raise _refused(parsed, "the host is not on the allow-list", "该主机不在允许列表中")
        return parsed

    async def fetch(self, url: str) -> tuple[bytes, str]:
        """The image bytes and their real content type (sniffed, not the server's claim)."""
        start = self.check_url(url)

        async def attempt(number: int) -> tuple[bytes, str]:
            return await self._fetch_once(start)

        return await self._retry.run(attempt)

    async def _fetch_once(self, url: yarl.URL) -> tuple[bytes, str]:
        import aiohttp  # loaded already: this fetcher's session is an aiohttp one

        for _ in range(MAX_REDIRECTS + 1):
            try:
                async with self._session.get(url, allow_redirects=False, timeout=self._timeout) as response:
                    if response.status in _REDIRECTS:
                        location = response.headers.get("Location")
                        if not location:
                            raise UpstreamBadResponse(
                                "A result image redirect had no target.",
                                message_zh="结果图片的重定向没有目标地址。",
                                status=response.status,
                            )
                        url = self.check_url(url.join(yarl.URL(location)))
                        continue
                    return await self._read(response)
            except ProviderError:
                raise
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise transport_error(exc, service=SERVICE, billed=False) from exc
        raise UpstreamBadResponse(
            "A result image link redirected too many times.",
            message_zh="结果图片链接的重定向次数过多。",
            retryable=False,
        )

    async def _read(self, response: aiohttp.ClientResponse) -> tuple[bytes, str]:
        status = response.status
        if status in _GONE:
            raise _gone(f"HTTP {status}", f"HTTP {status}", status)
        if status >= 500 or status in (408, 429):
            raise UpstreamServerError(
                f"The result image host failed (HTTP {status}). Try again in a moment.",
                message_zh=f"结果图片服务器出错（HTTP {status}）。请稍后再试。",
                status=status,
            )
        if status != 200:
            raise UpstreamBadResponse(
                f"The result image host answered HTTP {status}.",
                message_zh=f"结果图片服务器返回了 HTTP {status}。",
                status=status,
                retryable=False,
            )
        data = await read_limited(response, self._max_bytes, service=SERVICE)
        image_type = sniff_image_type(data)
        if image_type is None:
            declared = response.content_type
            raise _gone(
                f"got {declared or 'unknown type'} instead of an image",
                f"收到的是 {declared} 内容，不是图片" if declared else "收到的内容不是图片",
            )
        content_type = image_type.content_type
        logger.info("result.fetched", extra={"host": response.url.host, "bytes": len(data), "content_type": content_type})
        return data, content_type
