"""Quota-aware concurrency: how many calls each upstream model gets at once, learned from its answers.

Fixed caps either leave the account idle or get it throttled. Instead, one limiter per provider and
model adapts like TCP's congestion window (AIMD):

- it starts at a setting (``ARK_INITIAL_CONCURRENCY``, ``VISUAL_INITIAL_CONCURRENCY``) and, until
  the first throttle, grows by one per successful call (doubling per round of calls: slow start);
- a throttle (HTTP 429, Visual 50429 / 50430, Ark's rate and quota codes) multiplies the limit by
  ``BACKOFF`` once per round: calls that started before the last decrease do not decrease it again,
  so one burst of 429s is one step down, not a collapse to 1;
- after that it grows by one per round (``1 / limit`` per success), and by a quarter of that within
  one of the level it was last throttled at, halved again each time a throttle confirms that level
  (down to 1/32): it probes a known ceiling slowly, so few calls are throttled and most of the time
  is spent just under the account's limit. Past the ceiling without a throttle, the account's limit
  has grown: back to the normal pace;
- ``Retry-After`` pauses new calls of that model until it has passed;
- with ``ARK_IMAGES_PER_MINUTE`` set, Ark calls also start no faster than that rate allows.

``AimdController`` is the arithmetic (no waiting, time passed in: tested with a fake clock);
``AdaptiveLimiter`` makes callers wait for it; ``Limits`` holds one limiter per (provider, model)
and reports what they learned (GET /api/v1/limits).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from app.core.config import Settings
from app.core.errors import ProviderError, UpstreamRateLimited

BACKOFF = 0.85
# Growth per success near the last throttle level, as a share of the normal 1 / limit.
CEILING_PROBE = 0.25
# Confirmations of one ceiling slow the probe further, down to CEILING_PROBE / MAX_PATIENCE.
MAX_PATIENCE = 8
# Upstream codes that are throttling of calls, not the account's spending cap.
_NOT_THROTTLING = frozenset({"SetLimitExceeded"})

Clock = Callable[[], float]


def is_throttle(error: ProviderError) -> bool:
    """Whether ``error`` says "too many calls" (what AIMD backs off from)."""
    return isinstance(error, UpstreamRateLimited) and (error.upstream_code or "") not in _NOT_THROTTLING


@dataclass(slots=True)
class AimdController:
    """The limit of one upstream model and what moved it. Pure: every method takes ``now``."""

    initial: int
    maximum: int
    minimum: int = 1
    images_per_minute: float | None = None
    limit: float = field(init=False)
    slow_start: bool = field(init=False, default=True)
    # The limit at the last throttle: where the account's real limit was last seen.
    ceiling: float | None = field(init=False, default=None)
    # Bumped at each decrease; a call carries the epoch it started in.
    epoch: int = field(init=False, default=0)
    patience: int = field(init=False, default=1)
    paused_until: float = field(init=False, default=0.0)
    next_start: float = field(init=False, default=0.0)
    successes: int = field(init=False, default=0)
    throttles: int = field(init=False, default=0)
    decreases: int = field(init=False, default=0)
    last_throttle_at: float | None = field(init=False, default=None)
    last_retry_after: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.minimum = max(1, self.minimum)
        self.maximum = max(self.minimum, self.maximum)
        self.limit = float(min(max(self.initial, self.minimum), self.maximum))

    @property
    def slots(self) -> int:
        """Calls that may be in flight now."""
        return max(self.minimum, math.floor(self.limit))

    def start_delay(self, now: float) -> float:
        """Seconds before another call may start (a Retry-After pause, the images-per-minute pace)."""
        return max(self.paused_until - now, self.next_start - now, 0.0)

    def started(self, now: float, images: int = 1) -> int:
        """A call starts now; returns the epoch to hand back with its outcome."""
        if self.images_per_minute:
            interval = 60.0 * images / self.images_per_minute
            self.next_start = max(self.next_start, now) + interval
        return self.epoch

    def succeeded(self) -> None:
        self.successes += 1
        if self.slow_start:
            step = 1.0
        else:
            step = 1.0 / self.limit
            if self.ceiling is not None and self.limit >= self.ceiling - 1:
                step *= CEILING_PROBE / self.patience
        self.limit = min(float(self.maximum), self.limit + step)
        if self.ceiling is not None and self.limit > self.ceiling + 1:
            self.ceiling, self.patience = None, 1  # no throttle past it: the account allows more now

    def throttled(self, epoch: int, now: float, retry_after: float | None) -> None:
        self.throttles += 1
        self.last_throttle_at = now
        if retry_after is not None and retry_after > 0:
            self.last_retry_after = retry_after
            self.paused_until = max(self.paused_until, now + retry_after)
        if epoch < self.epoch:
            return  # started before the last decrease: that decrease already answered it
        same_level = self.ceiling is not None and abs(self.limit - self.ceiling) <= 1.5
        self.patience = min(MAX_PATIENCE, self.patience * 2) if same_level else 1
        self.ceiling = self.limit
        self.limit = max(float(self.minimum), self.limit * BACKOFF)
        self.slow_start = False
        self.epoch += 1
        self.decreases += 1


@dataclass(frozen=True, slots=True)
class LimitSnapshot:
    provider: str
    model: str
    limit: float
    slots: int
    in_flight: int
    waiting: int
    initial: int
    maximum: int
    slow_start: bool
    ceiling: float | None
    successes: int
    throttles: int
    decreases: int
    last_throttle_ago: float | None
    last_retry_after: float | None
    paused_for: float
    images_per_minute: float | None


class Slot:
    """One call's place in a limiter: report how it ended (``ok`` / ``throttled``)."""

    __slots__ = ("_epoch", "_limiter")

    def __init__(self, limiter: AdaptiveLimiter, epoch: int) -> None:
        self._limiter = limiter
        self._epoch = epoch

    def ok(self) -> None:
        self._limiter.controller.succeeded()
        self._limiter.wake()

    def throttled(self, retry_after: float | None) -> None:
        self._limiter.controller.throttled(self._epoch, self._limiter.clock(), retry_after)

    def outcome(self, error: ProviderError) -> None:
        if is_throttle(error):
            self.throttled(error.retry_after)


class AdaptiveLimiter:
    """Callers wait in ``slot()`` until the controller lets one more call of this model start."""

    def __init__(self, controller: AimdController, *, clock: Clock = time.monotonic) -> None:
        self.controller = controller
        self.clock = clock
        self.in_flight = 0
        self.waiting = 0
        self._changed = asyncio.Event()

    def wake(self) -> None:
        self._changed.set()

    @asynccontextmanager
    async def slot(self, images: int = 1) -> AsyncIterator[Slot]:
        epoch = await self._acquire(images)
        try:
            yield Slot(self, epoch)
        finally:
            self.in_flight -= 1
            self.wake()

    async def _acquire(self, images: int) -> int:
        self.waiting += 1
        try:
            while True:
                delay = self.controller.start_delay(self.clock())
                if delay <= 0 and self.in_flight < self.controller.slots:
                    self.in_flight += 1
                    return self.controller.started(self.clock(), images)
                self._changed.clear()
                # Woken by a call ending or the limit growing; a pause ends by itself.
                try:
                    await asyncio.wait_for(self._changed.wait(), timeout=delay if delay > 0 else None)
                except TimeoutError:
                    pass
        finally:
            self.waiting -= 1
            # Another waiter may fit too (the limit grew by more than one).
            self._changed.set()


@dataclass(frozen=True, slots=True)
class ProviderLimits:
    initial: int
    maximum: int
    images_per_minute: float | None = None


class Limits:
    """One limiter per (provider, model), made on first use; ``None`` for unlimited providers."""

    def __init__(self, providers: dict[str, ProviderLimits], *, clock: Clock = time.monotonic) -> None:
        self._providers = providers
        self._clock = clock
        self._limiters: dict[tuple[str, str], AdaptiveLimiter] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        if not settings.adaptive_concurrency:
            # Fixed: each model starts at its setting and stays there.
            return cls(
                {
                    "ark": ProviderLimits(settings.ark_initial_concurrency, settings.ark_initial_concurrency),
                    "visual": ProviderLimits(settings.visual_initial_concurrency, settings.visual_initial_concurrency),
                }
            )
        ceiling = settings.upstream_max_concurrency
        return cls(
            {
                "ark": ProviderLimits(
                    settings.ark_initial_concurrency,
                    min(ceiling, settings.ark_max_concurrency or ceiling),
                    settings.ark_images_per_minute,
                ),
                "visual": ProviderLimits(
                    settings.visual_initial_concurrency, min(ceiling, settings.visual_max_concurrency or ceiling)
                ),
            }
        )

    def get(self, provider: str, model: str) -> AdaptiveLimiter | None:
        config = self._providers.get(provider)
        if config is None:
            return None
        limiter = self._limiters.get((provider, model))
        if limiter is None:
            controller = AimdController(
                initial=min(config.initial, config.maximum),
                maximum=config.maximum,
                images_per_minute=config.images_per_minute,
            )
            limiter = AdaptiveLimiter(controller, clock=self._clock)
            self._limiters[(provider, model)] = limiter
        return limiter

    def snapshot(self) -> list[LimitSnapshot]:
        now = self._clock()
        out = []
        for (provider, model), limiter in sorted(self._limiters.items()):
            c = limiter.controller
            out.append(
                LimitSnapshot(
                    provider=provider,
                    model=model,
                    limit=round(c.limit, 2),
                    slots=c.slots,
                    in_flight=limiter.in_flight,
                    waiting=limiter.waiting,
                    initial=c.initial,
                    maximum=c.maximum,
                    slow_start=c.slow_start,
                    ceiling=None if c.ceiling is None else round(c.ceiling, 2),
                    successes=c.successes,
                    throttles=c.throttles,
                    decreases=c.decreases,
                    last_throttle_ago=None if c.last_throttle_at is None else round(now - c.last_throttle_at, 1),
                    last_retry_after=c.last_retry_after,
                    paused_for=round(max(c.paused_until - now, 0.0), 1),
                    images_per_minute=c.images_per_minute,
                )
            )
        return out

    def configured(self) -> dict[str, ProviderLimits]:
        return dict(self._providers)
