"""One instance of each provider, built once in the app's lifespan and shared by all jobs."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from app.core.config import Settings
from app.core.errors import ModelUnavailable
from app.providers.base import Provider
from app.providers.catalog.lookup import Catalog
from app.providers.demo import DemoProvider
from app.providers.limits import Limits

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger(__name__)


class ProviderRegistry:
    def __init__(self, providers: Iterable[Provider], catalog: Catalog) -> None:
        self._providers: dict[str, Provider] = {}
        for provider in providers:
            if provider.name in self._providers:
                raise ValueError(f"provider {provider.name!r} registered twice")
            self._providers[provider.name] = provider
        self._catalog = catalog

    @classmethod
    def build(
        cls, settings: Settings, session: aiohttp.ClientSession, catalog: Catalog, limits: Limits
    ) -> ProviderRegistry:
        # Imported here so that importing the registry (and the demo) never pulls in the HTTP
        # providers' dependencies; the app builds the registry once at start-up.
        from app.providers.ark import ArkProvider
        from app.providers.visual import VisualProvider

        return cls(
            [
                DemoProvider(),
                ArkProvider(settings, session, catalog, limits),
                VisualProvider(settings, session, catalog, limits),
            ],
            catalog,
        )

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def get(self, name: str) -> Provider:
        provider = self._providers.get(name)
        if provider is None:
            raise KeyError(name)
        return provider

    def names(self) -> tuple[str, ...]:
        return tuple(self._providers)

    def for_model(self, model_id: str) -> Provider:
        """The provider that serves ``model_id``; unknown ids raise ``InvalidRequest``."""
        spec = self._catalog.get(model_id)
        provider = self._providers.get(spec.provider)
        if provider is None:
            raise ModelUnavailable(
                f"{spec.label_en} cannot be used: its provider is not running on this server.",
                message_zh=f"{spec.label_zh} 无法使用：此服务器未启用其服务提供方。",
                details={"field": "model", "model": spec.id, "provider": spec.provider},
            )
        return provider

    async def aclose(self) -> None:
        """Close every provider, even when one of them fails to close."""
        for name, provider in self._providers.items():
            try:
                await provider.aclose()
            except Exception:
                log.exception("provider_close_failed", extra={"provider": name})
