"""Provider test kit: an in-memory ``JobContext``, an HTTP session, the upstream fakes and settings
pointing at them. Shared by every provider test file; add to it, do not change what is here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from app.core.config import Settings
from app.core.errors import JobCancelled, ProviderError
from app.core.images import sniff_image_type
from app.providers.base import ImageResult
from app.providers.download import ResultFetcher
from tests.fakes.ark import FakeArkServer
from tests.fakes.visual import FakeVisualServer

ARK_KEY = "ark-test-key"
VISUAL_AK = "AKLTproviderTestAccessKey"
VISUAL_SK = "provider-test-secret-key"


class RecordingContext:
    """A ``JobContext`` that keeps everything in memory. Delivered URLs are downloaded through
    ``ResultFetcher``, so the whole provider -> storage path runs against the fakes."""

    def __init__(
        self,
        fetcher: ResultFetcher | None = None,
        *,
        state: dict[str, Any] | None = None,
        done: set[int] | None = None,
        cancelled: bool = False,
    ) -> None:
        self._fetcher = fetcher
        self._state: dict[str, Any] = dict(state or {})
        self.saved: list[dict[str, Any]] = []
        self.images: dict[int, tuple[bytes, str, ImageResult]] = {}
        self.failures: dict[int, ProviderError] = {}
        self.expected: int | None = None
        self.done_before = set(done or ())
        self.cancelled = cancelled
        # ("deliver" | "fail", index) in call order.
        self.events: list[tuple[str, int]] = []
        self.billed = 0
        self.web_searches = 0

    @property
    def state(self) -> dict[str, Any]:
        return self._state

    async def save_state(self, **values: Any) -> None:
        self._state.update(values)
        self.saved.append(dict(values))

    def is_done(self, index: int) -> bool:
        return index in self.images or index in self.failures or index in self.done_before

    async def deliver(self, result: ImageResult) -> None:
        if result.url is not None:
            assert self._fetcher is not None, "a URL result needs a fetcher"
            data, content_type = await self._fetcher.fetch(result.url)
        else:
            assert result.data is not None
            data = result.data
            sniffed = sniff_image_type(data)
            content_type = sniffed.content_type if sniffed else "application/octet-stream"
        self.images[result.index] = (data, content_type, result)
        self.events.append(("deliver", result.index))

    async def fail_image(self, index: int, error: ProviderError) -> None:
        self.failures[index] = error
        self.events.append(("fail", index))

    async def set_expected(self, count: int) -> None:
        self.expected = count

    def add_billed(self, images: int) -> None:
        self.billed += images

    def add_web_searches(self, searches: int) -> None:
        self.web_searches += searches

    def check_cancelled(self) -> None:
        if self.cancelled:
            raise JobCancelled()


def provider_settings(**overrides: Any) -> Settings:
    """Settings for provider tests: never the real environment, no real sleeping."""
    values: dict[str, Any] = {
        "ark_api_key": ARK_KEY,
        "volcengine_access_key": VISUAL_AK,
        "volcengine_secret_key": VISUAL_SK,
        "result_url_hosts": ["127.0.0.1"],
        "retry_backoff_scale": 0.0,
        "visual_poll_interval": 0.0,
        "visual_poll_deadline": 30.0,
        "upstream_connect_timeout": 2.0,
        "upstream_read_timeout": 5.0,
        "upstream_max_attempts": 4,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def ark_fake() -> AsyncIterator[FakeArkServer]:
    async with FakeArkServer(api_key=ARK_KEY, max_image_side=64, timeout_seconds=5.0) as fake:
        yield fake


@pytest.fixture
async def visual_fake() -> AsyncIterator[FakeVisualServer]:
    async with FakeVisualServer(access_key=VISUAL_AK, secret_key=VISUAL_SK, max_image_side=64,
                                timeout_seconds=5.0) as fake:
        yield fake
