"""Retry policy for upstream calls, as small pure functions plus one loop that applies them.

The policy is decided from the error alone (its class, ``retryable`` flag and upstream code), so it
can be tested with tables and every provider retries the same way:

- throttling, 5xx, transport errors and bad bodies are retried with capped, jittered exponential
  backoff that honours ``Retry-After``;
- some failures get a single retry only: a failure *after* a billed generation request reached the
  upstream (it may have produced, and charged for, images: see ``flag_possibly_billed``) and the
  Visual internal errors 50500/50501, which the upstream documents as not worth retrying;
- ``QuotaExceeded`` is retried a couple of times with a long delay, then surfaced;
- auth, bad parameters, moderation and the account's own spending cap are never retried here.
  (Visual 50511, output moderation, deserves one retry *with a new seed*; only the provider can
  change the seed, so it does that itself.)
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal, TypeVar

from app.core.config import Settings
from app.core.errors import ProviderError
from app.providers.limits import AdaptiveLimiter

logger = logging.getLogger(__name__)

T = TypeVar("T")
E = TypeVar("E", bound=ProviderError)

# A server asking for more than this is either confused or telling us to give up for now; waiting
# longer than a minute inside a job helps nobody.
MAX_RETRY_AFTER = 60.0
# Quota / queue-full errors clear slowly; retrying at the usual sub-second pace only burns attempts.
QUOTA_MIN_DELAY = 20.0

# Upstream codes retried at most this many times (by attempt number, see ``should_retry``).
_LIMITED_CODES: dict[str, int] = {
    "50500": 1,
    "50501": 1,
    "QuotaExceeded": 2,
    # Endpoint closed for now / clock skew (re-signed with a fresh date): worth one more look.
    "InvalidEndpoint.ClosedEndpoint": 1,
    "InvalidTimestamp": 1,
}
# Codes that are never retried whatever their HTTP status says.
_NEVER_CODES = frozenset({"SetLimitExceeded"})

_BILLED_FLAG = "possibly_billed"


def flag_possibly_billed(error: E) -> E:
    """Mark ``error`` as having happened after a billed generation request reached the upstream.

    A read timeout, a dropped connection or a garbled body at that point may still have produced
    (and billed) images, so such an error is retried once at most.
    """
    setattr(error, _BILLED_FLAG, True)
    return error


def is_possibly_billed(error: ProviderError) -> bool:
    return bool(getattr(error, _BILLED_FLAG, False))


def retry_limit(error: ProviderError) -> float:
    """How many attempts may fail with an error like this and still be retried (inf = no limit
    beyond ``max_attempts``; 0 = never retry)."""
    code = error.upstream_code or ""
    if code in _NEVER_CODES or not error.retryable:
        return 0
    if is_possibly_billed(error):
        return 1
    return _LIMITED_CODES.get(code, math.inf)


def should_retry(error: ProviderError, attempt: int, max_attempts: int) -> bool:
    """Whether to try again after ``attempt`` (1-based) failed with ``error``.

    Limited retries count the attempt number, not occurrences of that error: a once-only error on
    attempt 2 is not retried even if attempt 1 failed differently. That errs on the side of fewer
    billed duplicates.
    """
    if attempt >= max_attempts:
        return False
    return attempt <= retry_limit(error)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date), capped.

    Returns None for a missing or unparsable value; a date in the past means "now" (0).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        current = now or datetime.now(UTC)
        if current.tzinfo is None:
            current = current.replace(tzinfo=UTC)
        seconds = (when - current).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None,
    rand: Callable[[], float],
    jitter: Literal["equal", "full"] = "equal",
    max_retry_after: float = MAX_RETRY_AFTER,
) -> float:
    """Delay before the retry that follows failed ``attempt`` (1-based).

    Exponential (``base * 2**(attempt-1)``, capped at ``cap``) with jitter: "equal" keeps at least
    half the step so retries never bunch at zero; "full" spreads over the whole step. A server's
    ``Retry-After`` wins over the computed value (it knows its own load), up to ``max_retry_after``.
    """
    if retry_after is not None and retry_after >= 0:
        return min(retry_after, max_retry_after)
    step = min(cap, base * 2.0 ** max(attempt - 1, 0))
    if jitter == "full":
        return step * rand()
    return step / 2 + (step / 2) * rand()


def suggested_retry_after(error: ProviderError) -> float | None:
    """The wait the error asks for; quota errors get a long floor even without a header."""
    if error.upstream_code == "QuotaExceeded":
        return max(error.retry_after or 0.0, QUOTA_MIN_DELAY)
    return error.retry_after


RetryPolicy = Callable[[ProviderError, int, int], bool]
OnRetry = Callable[[int, ProviderError, float], None]


async def call_with_retries(
    fn: Callable[[int], Awaitable[T]],
    *,
    max_attempts: int,
    base: float,
    cap: float,
    scale: float,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    rand: Callable[[], float] = random.random,
    on_retry: OnRetry | None = None,
    policy: RetryPolicy = should_retry,
) -> T:
    """Run ``fn(attempt)`` until it returns, or raise the last ``ProviderError``.

    ``fn`` gets the 1-based attempt number so it can rebuild (re-sign) its request each time.
    ``scale`` multiplies every delay (settings.retry_backoff_scale; tests use 0). ``policy``
    lets a caller narrow the default (e.g. a stream that already delivered images must not be
    replayed).
    """
    attempt = 1
    while True:
        try:
            return await fn(attempt)
        except ProviderError as error:
            if not policy(error, attempt, max_attempts):
                raise
            delay = backoff_delay(
                attempt, base=base, cap=cap, retry_after=suggested_retry_after(error), rand=rand
            )
            logger.info(
                "upstream.retry",
                extra={
                    "attempt": attempt,
                    "error_code": error.code,
                    "upstream_code": error.upstream_code,
                    "status": error.status,
                    "delay": round(delay, 3),
                },
            )
            if on_retry is not None:
                on_retry(attempt, error, delay)
            await sleep(delay * scale)
            attempt += 1


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float
    cap: float


# One table of upstream pacing. Ark's own SDK backs off 0.5 s doubling to 8 s; the Visual API's
# throttling wants 1-2 s doubling, capped around 30 s (reference section 4); result downloads
# come from a CDN and follow Ark's pace.
ARK_BACKOFF = Backoff(base=0.5, cap=8.0)
VISUAL_BACKOFF = Backoff(base=1.0, cap=30.0)
DOWNLOAD_BACKOFF = Backoff(base=0.5, cap=8.0)


@dataclass(frozen=True, slots=True)
class Retrier:
    """``call_with_retries`` bound to one upstream's pacing and the deployment's settings."""

    max_attempts: int
    backoff: Backoff
    scale: float

    @classmethod
    def from_settings(cls, settings: Settings, backoff: Backoff) -> Retrier:
        return cls(settings.upstream_max_attempts, backoff, settings.retry_backoff_scale)

    async def run(
        self,
        fn: Callable[[int], Awaitable[T]],
        *,
        policy: RetryPolicy = should_retry,
        limiter: AdaptiveLimiter | None = None,
        images: int = 1,
    ) -> T:
        """``fn`` with retries; with a ``limiter``, each attempt waits for a place in it and tells
        it how the attempt went (the retry's back-off is spent outside it)."""
        if limiter is not None:
            fn = _limited(fn, limiter, images)
        return await call_with_retries(
            fn,
            max_attempts=self.max_attempts,
            base=self.backoff.base,
            cap=self.backoff.cap,
            scale=self.scale,
            policy=policy,
        )


def _limited(fn: Callable[[int], Awaitable[T]], limiter: AdaptiveLimiter, images: int) -> Callable[[int], Awaitable[T]]:
    async def attempt(number: int) -> T:
        async with limiter.slot(images) as slot:
            try:
                result = await fn(number)
            except ProviderError as error:
                slot.outcome(error)
                raise
            slot.ok()
            return result

    return attempt
