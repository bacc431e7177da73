"""What every upstream exchange shares: its name in messages, its timeouts and bounded reads of
its answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.config import Settings
from app.core.errors import UpstreamBadResponse

if TYPE_CHECKING:
    import aiohttp

# An error answer is a few hundred bytes of JSON; more is noise we do not need to read.
MAX_ERROR_BODY_BYTES = 64 * 1024
_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class Service:
    """An upstream as error messages name it, in English and in Chinese."""

    en: str
    zh: str


def exchange_timeout(settings: Settings) -> aiohttp.ClientTimeout:
    """Connect, between-bytes and whole-exchange limits: a dripping body cannot hold a job."""
    # Here, not at the top: aiohttp is a tenth of a second of start-up (app.providers.upstream).
    import aiohttp

    return aiohttp.ClientTimeout(
        total=settings.upstream_total_timeout,
        sock_connect=settings.upstream_connect_timeout,
        # Between bytes: covers the wait for headers (the first image) and between frames.
        sock_read=settings.upstream_read_timeout,
    )


class BodyTooLarge(UpstreamBadResponse):
    """An answer above the size we read; retrying would only fetch it again."""

    retryable = False


async def read_limited(response: aiohttp.ClientResponse, limit: int, *, service: Service) -> bytes:
    """The body, read in chunks, refusing one larger than ``limit`` before it is all in memory."""
    declared = response.content_length
    if declared is not None and declared > limit:
        raise _too_large(service, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise _too_large(service, limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_error_body(response: aiohttp.ClientResponse) -> bytes:
    """The start of an error answer: enough for its code and message, never a flood."""
    import aiohttp  # loaded already: there is a response

    try:
        return await response.content.read(MAX_ERROR_BODY_BYTES)
    except (aiohttp.ClientError, TimeoutError):
        return b""


def _too_large(service: Service, limit: int) -> BodyTooLarge:
    big = limit >= 1024 * 1024
    size = f"{limit / (1024 * 1024):g} MB" if big else f"{limit} bytes"
    size_zh = size if big else f"{limit} 字节"
    return BodyTooLarge(
        f"{service.en[:1].upper()}{service.en[1:]} sent an answer larger than {size}, the most accepted.",
        message_zh=f"{service.zh}返回的内容超过了可接受的上限（{size_zh}）。",
    )
