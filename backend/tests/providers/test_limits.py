"""Adaptive upstream concurrency (AIMD): the controller's arithmetic on a fake clock, the limiter's
waiting, and the whole loop against fakes that throttle above a hidden limit."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from app.core.errors import UpstreamRateLimited, UpstreamServerError
from app.providers.ark import ArkProvider
from app.providers.base import GenerationRequest
from app.providers.download import ResultFetcher
from app.providers.http_errors import ark_error, visual_error
from app.providers.limits import BACKOFF, AdaptiveLimiter, AimdController, Limits, is_throttle
from app.providers.visual import VisualProvider
from tests.fakes.ark import SEEDREAM_40, FakeArkServer
from tests.fakes.visual import FakeVisualServer
from tests.providers.conftest import ARK_KEY, VISUAL_AK, VISUAL_SK, RecordingContext, provider_settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_slow_start_doubles_per_round_up_to_the_maximum() -> None:
    c = AimdController(initial=2, maximum=10)
    for _ in range(2):
        c.started(0.0)
        c.succeeded()
    assert c.limit == 4 and c.slots == 4 and c.slow_start
    for _ in range(20):
        c.succeeded()
    assert c.limit == 10 and c.slots == 10


def test_a_throttle_cuts_once_per_round_then_growth_is_additive_and_slower_near_the_ceiling() -> None:
    c = AimdController(initial=20, maximum=64)
    epochs = [c.started(0.0) for _ in range(20)]
    c.throttled(epochs[0], 0.0, None)
    assert c.limit == 20 * BACKOFF and c.ceiling == 20 and not c.slow_start and c.decreases == 1
    # The rest of that round's 429s answer calls started before the cut: no second cut.
    for epoch in epochs[1:5]:
        c.throttled(epoch, 0.0, None)
    assert c.limit == 17 and c.decreases == 1 and c.throttles == 5
    # Congestion avoidance: +1 per round of `limit` successes.
    for _ in range(17):
        c.succeeded()
    assert 17.9 < c.limit < 18.1
    while c.limit < 19:
        c.succeeded()
    before = c.limit
    for _ in range(19):
        c.succeeded()
    assert 0.2 < c.limit - before < 0.3  # a quarter of the pace within one of the ceiling
    # A call started after the cut can cut again.
    c.throttled(c.started(0.0), 0.0, None)
    assert c.decreases == 2 and c.limit == pytest.approx(c.ceiling * BACKOFF)


def test_the_limit_never_drops_below_one() -> None:
    c = AimdController(initial=3, maximum=8)
    for _ in range(20):
        c.throttled(c.started(0.0), 0.0, None)
    assert c.limit == 1 and c.slots == 1


def test_retry_after_pauses_new_calls_and_a_shorter_one_does_not_shorten_it() -> None:
    c = AimdController(initial=4, maximum=8)
    c.throttled(c.started(100.0), 100.0, 5.0)
    assert c.start_delay(100.0) == 5.0
    c.throttled(c.epoch - 1, 101.0, 1.0)
    assert c.start_delay(102.0) == 3.0
    assert c.start_delay(105.0) == 0.0
    assert c.last_retry_after == 1.0


def test_images_per_minute_paces_call_starts() -> None:
    c = AimdController(initial=8, maximum=8, images_per_minute=120)
    c.started(10.0)
    assert c.start_delay(10.0) == pytest.approx(0.5)
    c.started(10.5, images=4)  # a group of 4 uses four images of the budget
    assert c.start_delay(10.5) == pytest.approx(2.0)
    assert c.start_delay(13.0) == 0.0


def test_what_counts_as_throttling() -> None:
    assert is_throttle(ark_error(429, b'{"error":{"code":"RateLimitExceeded","message":"x"}}', {}))
    assert is_throttle(visual_error(429, {"code": 50430, "message": "Concurrent Limit"}, b"", secrets=()))
    assert is_throttle(visual_error(429, {"code": 50429, "message": "QPS Limit"}, b"", secrets=()))
    # The account's spending cap is no reason to send fewer calls.
    assert not is_throttle(ark_error(429, b'{"error":{"code":"SetLimitExceeded","message":"x"}}', {}))
    assert not is_throttle(UpstreamServerError("x", message_zh="x"))


def simulate(hidden: int, seconds: int, *, initial: int = 2) -> tuple[list[int], int, int]:
    """Rounds of one latency each: every slot calls; calls above ``hidden`` are throttled at once,
    the others succeed at the end of the round. Returns admitted per round, calls, throttled."""
    c = AimdController(initial=initial, maximum=256)
    admitted: list[int] = []
    calls = throttled = 0
    for second in range(seconds):
        n = c.slots
        epochs = [c.started(float(second)) for _ in range(n)]
        ok = min(n, hidden)
        for epoch in epochs[ok:]:
            c.throttled(epoch, float(second), None)
        for _ in range(ok):
            c.succeeded()
        admitted.append(ok)
        calls += n
        throttled += n - ok
    return admitted, calls, throttled


@pytest.mark.parametrize("hidden", [3, 7, 20, 50])
def test_converges_to_a_hidden_limit_and_stays_near_it_with_few_throttled_calls(hidden: int) -> None:
    # From 2, within 30 rounds of latency (30 s at 1 s per call), whatever the hidden limit.
    first, first_calls, first_throttled = simulate(hidden, 30)
    assert max(first[-5:]) >= 0.9 * hidden
    # Then, over the next 600 rounds: >= 90 % of the limit used, < 2 % of the calls throttled.
    admitted, calls, throttled = simulate(hidden, 630)
    steady = admitted[30:]
    assert sum(steady) / len(steady) >= 0.9 * hidden
    assert (throttled - first_throttled) / (calls - first_calls) < 0.02


def test_a_confirmed_ceiling_is_probed_ever_more_slowly_and_a_higher_limit_is_found_again() -> None:
    c = AimdController(initial=10, maximum=64)
    paces = []
    for _ in range(4):
        c.throttled(c.started(0.0), 0.0, None)  # at about the same level each time
        while c.limit < c.ceiling - 1:
            c.succeeded()
        before = c.limit
        c.succeeded()
        paces.append(c.limit - before)
        while c.limit < c.ceiling:
            c.succeeded()
    assert paces[0] > paces[1] > paces[2] > paces[3] > 0
    old = c.ceiling
    while c.ceiling is not None:  # no throttle past the old ceiling: the account allows more
        c.succeeded()
    assert c.limit > old + 1 and c.patience == 1
    before = c.limit
    c.succeeded()
    assert c.limit - before == pytest.approx(1 / before)


async def test_the_limiter_holds_calls_beyond_its_slots_and_releases_them_in_turn() -> None:
    clock = Clock()
    limiter = AdaptiveLimiter(AimdController(initial=2, maximum=2), clock=clock)
    running: list[int] = []
    peak = 0
    release = asyncio.Event()

    async def call(i: int) -> None:
        nonlocal peak
        async with limiter.slot() as slot:
            running.append(i)
            peak = max(peak, len(running))
            await release.wait()
            running.remove(i)
            slot.ok()

    tasks = [asyncio.create_task(call(i)) for i in range(5)]
    await asyncio.sleep(0.01)
    assert len(running) == 2 and limiter.waiting == 3
    release.set()
    await asyncio.gather(*tasks)
    assert peak == 2 and limiter.in_flight == 0 and limiter.waiting == 0


async def test_a_retry_after_holds_new_calls_until_it_has_passed() -> None:
    limiter = AdaptiveLimiter(AimdController(initial=4, maximum=4))
    async with limiter.slot() as slot:
        slot.throttled(0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with limiter.slot() as slot:
        slot.ok()
    assert loop.time() - started >= 0.15


def _limits(**overrides: Any) -> tuple[Any, Limits]:
    settings = provider_settings(**overrides)
    return settings, Limits.from_settings(settings)


async def test_ark_learns_a_hidden_limit_and_every_image_arrives(http_session: aiohttp.ClientSession) -> None:
    async with FakeArkServer(api_key=ARK_KEY, max_image_side=16, latency_ms=40, concurrency_limit=6) as fake:
        settings, limits = _limits(
            ark_base_url=fake.base_url, ark_initial_concurrency=2, upstream_max_attempts=10
        )
        provider = ArkProvider(settings, http_session, limits=limits)
        fetcher = ResultFetcher(settings, http_session)
        request = GenerationRequest(model=SEEDREAM_40, mode="text2image", prompt="a fox", num_images=1)
        contexts = [RecordingContext(fetcher) for _ in range(150)]
        await asyncio.gather(*(provider.generate(request, ctx) for ctx in contexts))
        stats = fake.stats.to_json(include_bodies=False)
    assert all(len(ctx.images) == 1 and not ctx.failures for ctx in contexts)
    [learned] = limits.snapshot()
    assert learned.model == SEEDREAM_40 and learned.ceiling is not None
    assert 5 <= learned.ceiling <= 9 and 4 <= learned.limit <= 9
    assert learned.successes == 150 and learned.throttles == stats["throttled"] >= 1
    # It grew from 2 to the hidden limit, and few calls were refused on the way.
    assert stats["max_in_flight"] >= 6
    assert stats["throttled"] <= 0.15 * 150


async def test_ark_fixed_limits_stay_put_when_adaptation_is_off(http_session: aiohttp.ClientSession) -> None:
    async with FakeArkServer(api_key=ARK_KEY, max_image_side=16, latency_ms=20) as fake:
        settings, limits = _limits(ark_base_url=fake.base_url, ark_initial_concurrency=3, adaptive_concurrency=False)
        provider = ArkProvider(settings, http_session, limits=limits)
        fetcher = ResultFetcher(settings, http_session)
        request = GenerationRequest(model=SEEDREAM_40, mode="text2image", prompt="a fox", num_images=1)
        await asyncio.gather(*(provider.generate(request, RecordingContext(fetcher)) for _ in range(30)))
        assert fake.stats.max_in_flight == 3
    assert limits.snapshot()[0].limit == 3


async def test_visual_runs_the_images_of_a_job_in_parallel_within_its_limit(
    http_session: aiohttp.ClientSession,
) -> None:
    async with FakeVisualServer(
        access_key=VISUAL_AK, secret_key=VISUAL_SK, max_image_side=16, latency_ms=60, concurrency_limit=3
    ) as fake:
        settings, limits = _limits(visual_base_url=fake.base_url, visual_initial_concurrency=4,
                                   upstream_max_attempts=10)
        provider = VisualProvider(settings, http_session, limits=limits)
        ctx = RecordingContext(ResultFetcher(settings, http_session))
        request = GenerationRequest(model="jimeng_t2i_v40", mode="text2image", prompt="山水", num_images=5)
        await provider.generate(request, ctx)
        submits = fake.stats.actions["CVSync2AsyncSubmitTask"]
        overlapping = fake.stats.max_in_flight
        throttled = fake.stats.throttled
    assert sorted(ctx.images) == [0, 1, 2, 3, 4] and not ctx.failures
    # The first alone, then four at once: one of them refused with 50430 (the hidden limit is 3)
    # and tried again once a place was free.
    assert throttled >= 1 and submits == 5 + throttled
    [learned] = limits.snapshot()
    assert learned.throttles == throttled and learned.ceiling is not None and learned.limit < 4
    # In parallel (one after another, the fake would never see two calls at once).
    assert overlapping >= 3


async def test_the_limits_endpoint_reports_what_was_learned(studio_factory: Any) -> None:
    studio = await studio_factory(ark_initial_concurrency=5, visual_initial_concurrency=3, ark_images_per_minute=500)
    body = (await studio.client.get("/api/v1/limits")).json()
    assert body["adaptive"] is True and body["models"] == []
    providers = {p["provider"]: p for p in body["providers"]}
    assert providers["ark"] == {"provider": "ark", "initial": 5, "maximum": 64, "images_per_minute": 500.0}
    assert providers["visual"]["initial"] == 3
    limiter = studio.services.limits.get("ark", SEEDREAM_40)
    assert limiter is not None
    async with limiter.slot() as slot:
        slot.throttled(2.0)
    [model] = (await studio.client.get("/api/v1/limits")).json()["models"]
    assert model["model"] == SEEDREAM_40 and model["throttles"] == 1 and model["ceiling"] == 5
    assert model["limit"] == 4.25 and model["slots"] == 4 and 0 < model["paused_for"] <= 2
    assert "key" not in str(model).lower()


def test_a_throttle_error_is_the_one_the_retry_loop_sees() -> None:
    error = UpstreamRateLimited("x", message_zh="x", upstream_code="50430", retry_after=3.0)
    assert is_throttle(error)
