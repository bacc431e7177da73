"""The provider registry: one instance per provider, looked up through the catalogue."""

from __future__ import annotations

from typing import Any, ClassVar

import aiohttp
import pytest

from app.core.errors import InvalidRequest, ModelUnavailable
from app.providers.base import GenerationRequest, JobContext, Provider
from app.providers.catalog.lookup import Catalog
from app.providers.demo import DemoProvider
from app.providers.limits import Limits
from app.providers.registry import ProviderRegistry

from .test_catalog import make_settings


class RecordingProvider(Provider):
    name: ClassVar[str] = "ark"

    def __init__(self, closed: list[str], *, fail_close: bool = False) -> None:
        self._closed = closed
        self._fail_close = fail_close

    async def generate(self, request: GenerationRequest, ctx: JobContext) -> None:
        raise AssertionError("not called in these tests")

    async def aclose(self) -> None:
        self._closed.append(self.name)
        if self._fail_close:
            raise RuntimeError("close failed")


class RecordingVisual(RecordingProvider):
    name: ClassVar[str] = "visual"


CATALOG = Catalog.from_settings(make_settings(ark_extra_models=["ep-1"]))


def test_for_model_routes_by_the_catalogue_provider() -> None:
    closed: list[str] = []
    demo, ark, visual = DemoProvider(), RecordingProvider(closed), RecordingVisual(closed)
    registry = ProviderRegistry([demo, ark, visual], CATALOG)
    assert registry.names() == ("demo", "ark", "visual")
    assert registry.for_model("demo") is demo
    for model_id in ("doubao-seedream-4-5-251128", "doubao-seededit-3-0-i2i-250628", "ep-1"):
        assert registry.for_model(model_id) is ark
    for model_id in ("jimeng_t2i_v40", "seededit_v3.0", "high_aes_general_v21_L"):
        assert registry.for_model(model_id) is visual
    assert registry.get("visual") is visual
    assert registry.catalog is CATALOG


def test_unknown_model_is_an_invalid_request() -> None:
    registry = ProviderRegistry([DemoProvider()], CATALOG)
    with pytest.raises(InvalidRequest) as err:
        registry.for_model("nope")
    assert err.value.details["field"] == "model"


def test_model_whose_provider_is_missing() -> None:
    registry = ProviderRegistry([DemoProvider()], CATALOG)
    with pytest.raises(ModelUnavailable) as err:
        registry.for_model("jimeng_t2i_v30")
    assert err.value.details == {"field": "model", "model": "jimeng_t2i_v30", "provider": "visual"}
    with pytest.raises(KeyError):
        registry.get("ark")


def test_duplicate_provider_names_are_refused() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        ProviderRegistry([DemoProvider(), DemoProvider()], CATALOG)


async def test_aclose_closes_every_provider_even_after_a_failure() -> None:
    closed: list[str] = []
    registry = ProviderRegistry([RecordingProvider(closed, fail_close=True), RecordingVisual(closed)], CATALOG)
    await registry.aclose()
    assert closed == ["ark", "visual"]


async def test_build_makes_one_instance_of_each_provider() -> None:
    ark_module: Any = pytest.importorskip("app.providers.ark")
    visual_module: Any = pytest.importorskip("app.providers.visual")
    settings = make_settings(ark=True, visual=True)
    catalog = Catalog.from_settings(settings)
    async with aiohttp.ClientSession() as session:
        registry = ProviderRegistry.build(settings, session, catalog, Limits.from_settings(settings))
        try:
            assert registry.names() == ("demo", "ark", "visual")
            assert isinstance(registry.for_model("demo"), DemoProvider)
            assert isinstance(registry.for_model("doubao-seedream-4-0-250828"), ark_module.ArkProvider)
            assert isinstance(registry.for_model("jimeng_t2i_v30"), visual_module.VisualProvider)
            # Shared instances, not one per lookup.
            assert registry.for_model("jimeng_t2i_v40") is registry.for_model("seededit_v3.0")
        finally:
            await registry.aclose()
        assert not session.closed  # the session belongs to the app, not to the providers
