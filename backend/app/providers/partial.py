"""Partial failure, decided once for every provider and for the job that runs them.

A job asks for several images. When some come and others do not, the user keeps what came and
sees why the rest did not ("2 of 4"); when nothing came, the job fails with the first reason.
Two failures stop the job from *starting* more paid calls: the account's credentials were
refused (every other call would be refused too) and the image store is full (results could not
be kept). Calls already in flight finish: they are billed whatever we do, so their images are
worth storing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping

from app.core.errors import ProviderError, StorageError, UpstreamAuthError
from app.providers.base import JobContext

JobFailure = ProviderError | StorageError
# After one of these, no further upstream call is started.
STOPPING: tuple[type[Exception], ...] = (UpstreamAuthError, StorageError)


async def generate_each(
    ctx: JobContext,
    total: int,
    one: Callable[[int], Awaitable[None]],
    *,
    concurrent: bool,
    first_alone: bool = False,
) -> None:
    """Run ``one(index)`` for every index of ``range(total)`` not done yet, then settle failures.

    ``concurrent`` starts every call at once (Ark); otherwise one after another, so a stopping
    failure saves the calls that have not started. ``first_alone`` (with ``concurrent``, Visual):
    the first call runs by itself and the rest together once it is through, so a full store or
    refused credentials cost one paid call, as one after another would, not ``total`` of them.
    """
    pending = [index for index in range(total) if not ctx.is_done(index)]
    if not pending:
        return
    errors: dict[int, JobFailure] = {}
    stop: list[JobFailure] = []

    async def guarded(index: int) -> None:
        if stop:
            errors[index] = stop[0]
            return
        try:
            await one(index)
        except (ProviderError, StorageError) as error:
            errors[index] = error
            if isinstance(error, STOPPING):
                stop.append(error)

    if concurrent:
        rest = pending
        if first_alone:
            await guarded(pending[0])
            rest = pending[1:]
        outcomes = await asyncio.gather(*(guarded(index) for index in rest), return_exceptions=True)
        # Anything else (cancellation by the user, a bug) ends the job as it is.
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
    else:
        for index in pending:
            await guarded(index)
    delivered_any = len(errors) < len(pending) or len(pending) < total
    await settle(ctx, errors, delivered_any=delivered_any)


async def settle(ctx: JobContext, errors: Mapping[int, JobFailure], *, delivered_any: bool) -> None:
    """Keep what came: record each missing image's reason, or fail the job when nothing came."""
    if not errors:
        return
    if not delivered_any:
        raise errors[min(errors)]
    for index, error in sorted(errors.items()):
        await ctx.fail_image(index, error)


async def fail_remaining(ctx: JobContext, indexes: Iterable[int], error: JobFailure) -> None:
    """Record ``error`` for every index in ``indexes`` that has neither an image nor a failure."""
    for index in indexes:
        if not ctx.is_done(index):
            await ctx.fail_image(index, error)
