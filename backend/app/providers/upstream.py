"""What talks to the upstream services (the HTTP session, the providers, the result downloader),
built on first use.

aiohttp costs ~0.1 s of CPU and ~9 MB to import (it makes its SSL contexts at import, reading the
CA bundle): a process that answers the API and has not run a job yet never needs it, and start-up
(process start to healthy) does not wait for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.config import Settings
from app.providers.catalog.lookup import Catalog
from app.providers.limits import Limits

if TYPE_CHECKING:
    import aiohttp

    from app.providers.base import Provider
    from app.providers.download import ResultFetcher
    from app.providers.registry import ProviderRegistry


def upstream_session(settings: Settings) -> aiohttp.ClientSession:
    import aiohttp

    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
        timeout=aiohttp.ClientTimeout(
            total=None, connect=settings.upstream_connect_timeout, sock_read=settings.upstream_read_timeout
        ),
        # Proxies from the environment would see signed upstream requests: only what settings say.
        trust_env=False,
    )


@dataclass(frozen=True, slots=True)
class _Parts:
    session: aiohttp.ClientSession
    registry: ProviderRegistry
    fetcher: ResultFetcher


class Upstream:
    """One session, one provider of each kind and one downloader per process, shared by all jobs
    and webhook deliveries. Must first be used inside the event loop that will close it."""

    def __init__(self, settings: Settings, catalog: Catalog, limits: Limits) -> None:
        self._settings = settings
        self._catalog = catalog
        self._limits = limits
        self._parts: _Parts | None = None

    def _built(self) -> _Parts:
        if self._parts is None:
            from app.providers.download import ResultFetcher
            from app.providers.registry import ProviderRegistry

            session = upstream_session(self._settings)
            self._parts = _Parts(
                session=session,
                registry=ProviderRegistry.build(self._settings, session, self._catalog, self._limits),
                fetcher=ResultFetcher(self._settings, session),
            )
        return self._parts

    def session(self) -> aiohttp.ClientSession:
        return self._built().session

    def provider_for(self, model_id: str) -> Provider:
        return self._built().registry.for_model(model_id)

    async def fetch(self, url: str) -> tuple[bytes, str]:
        """A result image's bytes and their real content type (``ResultFetcher.fetch``)."""
        return await self._built().fetcher.fetch(url)

    async def aclose(self) -> None:
        if self._parts is None:
            return
        try:
            await self._parts.registry.aclose()
        finally:
            await self._parts.session.close()
