"""One partial-failure rule for every provider: keep what came, stop paying after a stopping error."""

from __future__ import annotations

import asyncio

import pytest

from app.core.errors import StorageFull, UpstreamAuthError, UpstreamServerError
from app.providers.base import ImageResult
from app.providers.partial import generate_each

from .conftest import RecordingContext


def _flaky(ctx: RecordingContext, outcomes: dict[int, Exception], started: list[int]):
    async def one(index: int) -> None:
        started.append(index)
        await asyncio.sleep(0)
        if index in outcomes:
            raise outcomes[index]
        await ctx.deliver(ImageResult(index=index, data=b"\x89PNG\r\n\x1a\n"))

    return one


@pytest.mark.parametrize("concurrent", [True, False])
async def test_some_images_fail_the_rest_are_kept(concurrent: bool) -> None:
    ctx = RecordingContext()
    started: list[int] = []
    await generate_each(ctx, 3, _flaky(ctx, {1: UpstreamServerError("boom", message_zh="boom")}, started), concurrent=concurrent)
    assert sorted(ctx.images) == [0, 2]
    assert list(ctx.failures) == [1] and ctx.failures[1].code == "upstream_error"


@pytest.mark.parametrize("concurrent", [True, False])
async def test_nothing_came_fails_the_job_with_the_first_reason(concurrent: bool) -> None:
    ctx = RecordingContext()
    errors: dict[int, Exception] = {0: UpstreamServerError("first", message_zh="first"), 1: UpstreamServerError("second", message_zh="second")}
    with pytest.raises(UpstreamServerError, match="first"):
        await generate_each(ctx, 2, _flaky(ctx, errors, []), concurrent=concurrent)
    assert ctx.failures == {}


@pytest.mark.parametrize("error", [StorageFull("disk full", message_zh="disk full"), UpstreamAuthError("bad key", message_zh="bad key")])
async def test_one_after_another_a_stopping_error_starts_no_more_calls(error: Exception) -> None:
    ctx = RecordingContext()
    started: list[int] = []
    await generate_each(ctx, 4, _flaky(ctx, {1: error}, started), concurrent=False)
    # Image 0 is kept; 2 and 3 were never paid for and carry the same reason.
    assert started == [0, 1]
    assert sorted(ctx.images) == [0]
    assert sorted(ctx.failures) == [1, 2, 3]
    assert {type(e) for e in ctx.failures.values()} == {type(error)}


async def test_all_at_once_calls_in_flight_finish_after_a_stopping_error() -> None:
    ctx = RecordingContext()
    started: list[int] = []
    await generate_each(ctx, 3, _flaky(ctx, {0: StorageFull("disk full", message_zh="disk full")}, started), concurrent=True)
    # Billed whatever we do: the others still deliver.
    assert sorted(started) == [0, 1, 2]
    assert sorted(ctx.images) == [1, 2] and list(ctx.failures) == [0]


async def test_a_stopping_error_with_nothing_delivered_fails_the_job() -> None:
    ctx = RecordingContext()
    with pytest.raises(StorageFull):
        await generate_each(ctx, 2, _flaky(ctx, {0: StorageFull("disk full", message_zh="disk full")}, []), concurrent=False)


async def test_indexes_already_done_are_skipped_and_count_as_delivered() -> None:
    ctx = RecordingContext(done={0})
    started: list[int] = []
    await generate_each(ctx, 2, _flaky(ctx, {1: UpstreamServerError("x", message_zh="x")}, started), concurrent=False)
    assert started == [1]
    assert list(ctx.failures) == [1]


async def test_first_alone_runs_the_first_call_by_itself_then_the_rest_together() -> None:
    ctx = RecordingContext()
    running: list[int] = []
    overlaps: dict[int, list[int]] = {}

    async def one(index: int) -> None:
        running.append(index)
        overlaps[index] = list(running)
        await asyncio.sleep(0.01)
        running.remove(index)
        await ctx.deliver(ImageResult(index=index, data=b"\x89PNG\r\n\x1a\n"))

    await generate_each(ctx, 4, one, concurrent=True, first_alone=True)
    assert overlaps[0] == [0]
    assert sorted(overlaps[3]) == [1, 2, 3]
    assert sorted(ctx.images) == [0, 1, 2, 3]


async def test_first_alone_stops_the_rest_when_the_first_cannot_be_stored() -> None:
    ctx = RecordingContext()
    started: list[int] = []
    full = StorageFull("disk full", message_zh="磁盘已满")

    async def one(index: int) -> None:
        started.append(index)
        raise full

    with pytest.raises(StorageFull):
        await generate_each(ctx, 3, one, concurrent=True, first_alone=True)
    assert started == [0]
