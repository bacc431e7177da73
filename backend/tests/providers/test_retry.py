"""The retry policy, table by table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.core.errors import (
    ContentModeration,
    ProviderError,
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamBadResponse,
    UpstreamConnectionError,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTaskLost,
    UpstreamTimeout,
)
from app.providers.retry import (
    MAX_RETRY_AFTER,
    QUOTA_MIN_DELAY,
    backoff_delay,
    call_with_retries,
    flag_possibly_billed,
    is_possibly_billed,
    parse_retry_after,
    should_retry,
)

NOW = datetime(2025, 1, 15, 8, 30, 0, tzinfo=UTC)


def _billed(error: ProviderError) -> ProviderError:
    return flag_possibly_billed(error)


@pytest.mark.parametrize(
    ("error", "attempt", "max_attempts", "expected"),
    [
        # transient: retried until max_attempts
        (UpstreamRateLimited("x", message_zh="x", upstream_code="RateLimitExceeded.EndpointRPMExceeded"), 1, 4, True),
        (UpstreamRateLimited("x", message_zh="x", upstream_code="50430"), 3, 4, True),
        (UpstreamRateLimited("x", message_zh="x", upstream_code="50429"), 4, 4, False),
        (UpstreamServerError("x", message_zh="x", status=503), 2, 4, True),
        (UpstreamServerError("x", message_zh="x", upstream_code="ContentSecurityDetectionError"), 1, 4, True),
        (UpstreamTimeout("x", message_zh="x"), 3, 4, True),
        (UpstreamConnectionError("x", message_zh="x"), 1, 4, True),
        (UpstreamBadResponse("x", message_zh="x"), 1, 4, True),
        (UpstreamServerError("x", message_zh="x"), 1, 1, False),
        # once only
        (UpstreamServerError("x", message_zh="x", upstream_code="50500"), 1, 4, True),
        (UpstreamServerError("x", message_zh="x", upstream_code="50501"), 2, 4, False),
        (_billed(UpstreamTimeout("x", message_zh="x")), 1, 4, True),
        (_billed(UpstreamTimeout("x", message_zh="x")), 2, 4, False),
        (_billed(UpstreamConnectionError("x", message_zh="x")), 2, 4, False),
        (_billed(UpstreamBadResponse("x", message_zh="x")), 1, 4, True),
        # quota: a couple of times
        (UpstreamRateLimited("x", message_zh="x", upstream_code="QuotaExceeded"), 2, 4, True),
        (UpstreamRateLimited("x", message_zh="x", upstream_code="QuotaExceeded"), 3, 4, False),
        # never
        (UpstreamRateLimited("x", message_zh="x", upstream_code="SetLimitExceeded"), 1, 4, False),
        (UpstreamRateLimited("x", message_zh="x", upstream_code="SetLimitExceeded", retryable=True), 1, 4, False),
        (UpstreamAuthError("x", message_zh="x", status=401), 1, 4, False),
        (UpstreamBadRequest("x", message_zh="x", status=400), 1, 4, False),
        (UpstreamBadRequest("x", message_zh="x", status=404, upstream_code="ModelNotOpen"), 1, 4, False),
        (ContentModeration("x", message_zh="x", stage="input", upstream_code="50412"), 1, 4, False),
        (ContentModeration("x", message_zh="x", stage="output", upstream_code="50511"), 1, 4, False),
        (UpstreamTaskLost("x", message_zh="x", upstream_code="expired"), 1, 4, False),
        # x-should-retry overrides (the mapping sets `retryable` from the header)
        (UpstreamServerError("x", message_zh="x", retryable=False), 1, 4, False),
        (UpstreamBadRequest("x", message_zh="x", retryable=True), 1, 4, True),
    ],
)
def test_should_retry(error: ProviderError, attempt: int, max_attempts: int, expected: bool) -> None:
    assert should_retry(error, attempt, max_attempts) is expected


def test_billed_flag() -> None:
    error = UpstreamTimeout("x", message_zh="x")
    assert not is_possibly_billed(error)
    assert flag_possibly_billed(error) is error and is_possibly_billed(error)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("2", 2.0),
        ("2.5", 2.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("1000", MAX_RETRY_AFTER),
        ("soon", None),
        ("nan", None),
        ("Wed, 15 Jan 2025 08:30:30 GMT", 30.0),
        ("Wed, 15 Jan 2025 08:29:00 GMT", 0.0),
        ("Wed, 15 Jan 2025 10:00:00 GMT", MAX_RETRY_AFTER),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_parse_retry_after_uses_the_clock_by_default() -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=20)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    value = parse_retry_after(soon)
    assert value is not None and 17 <= value <= 20


@pytest.mark.parametrize(
    ("attempt", "rand", "jitter", "retry_after", "expected"),
    [
        (1, 0.0, "equal", None, 0.25),
        (1, 1.0, "equal", None, 0.5),
        (2, 0.5, "equal", None, 0.75),
        (3, 1.0, "equal", None, 2.0),
        (5, 1.0, "equal", None, 8.0),
        (9, 0.0, "equal", None, 4.0),  # capped step, at least half of it
        (3, 0.0, "full", None, 0.0),
        (3, 0.5, "full", None, 1.0),
        (9, 1.0, "full", None, 8.0),
        (1, 0.3, "equal", 3.0, 3.0),  # Retry-After wins
        (1, 0.3, "equal", 0.0, 0.0),
        (1, 0.3, "equal", 600.0, MAX_RETRY_AFTER),
    ],
)
def test_backoff_delay(attempt: int, rand: float, jitter: str, retry_after: float | None, expected: float) -> None:
    delay = backoff_delay(attempt, base=0.5, cap=8.0, retry_after=retry_after, rand=lambda: rand,
                          jitter=jitter)  # type: ignore[arg-type]
    assert delay == pytest.approx(expected)


class _Script:
    """fn(attempt) that raises the scripted errors, then returns "ok"."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.attempts: list[int] = []

    async def __call__(self, attempt: int) -> str:
        self.attempts.append(attempt)
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


async def _run(script: _Script, *, scale: float = 1.0, max_attempts: int = 4, **kw: object) -> tuple[str, list[float]]:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    result = await call_with_retries(script, max_attempts=max_attempts, base=0.5, cap=8.0, scale=scale,
                                     sleep=sleep, rand=lambda: 1.0, **kw)  # type: ignore[arg-type]
    return result, sleeps


async def test_call_with_retries_backs_off_and_honours_retry_after() -> None:
    retried: list[tuple[int, str, float]] = []
    script = _Script(UpstreamServerError("x", message_zh="x"), UpstreamRateLimited("x", message_zh="x", retry_after=3.0), UpstreamTimeout("x", message_zh="x"))
    result, sleeps = await _run(script, on_retry=lambda a, e, d: retried.append((a, e.code, d)))
    assert result == "ok"
    assert script.attempts == [1, 2, 3, 4]
    assert sleeps == [0.5, 3.0, 2.0]
    assert retried == [(1, "upstream_error", 0.5), (2, "upstream_rate_limited", 3.0), (3, "upstream_timeout", 2.0)]


async def test_call_with_retries_scale_zero_never_sleeps() -> None:
    script = _Script(UpstreamServerError("x", message_zh="x"), UpstreamServerError("x", message_zh="x"))
    result, sleeps = await _run(script, scale=0.0)
    assert result == "ok" and sleeps == [0.0, 0.0]


async def test_quota_waits_long_even_without_retry_after() -> None:
    script = _Script(UpstreamRateLimited("x", message_zh="x", upstream_code="QuotaExceeded"))
    _, sleeps = await _run(script)
    assert sleeps == [QUOTA_MIN_DELAY]


async def test_call_with_retries_raises_the_last_error_when_exhausted() -> None:
    last = UpstreamServerError("third", message_zh="third")
    script = _Script(UpstreamServerError("first", message_zh="first"), UpstreamServerError("second", message_zh="second"), last)
    with pytest.raises(UpstreamServerError) as info:
        await _run(script, max_attempts=3)
    assert info.value is last and script.attempts == [1, 2, 3]


async def test_call_with_retries_does_not_retry_final_errors_or_foreign_exceptions() -> None:
    script = _Script(UpstreamAuthError("no", message_zh="no"))
    with pytest.raises(UpstreamAuthError):
        await _run(script)
    assert script.attempts == [1]

    script = _Script(KeyError("bug"))
    with pytest.raises(KeyError):
        await _run(script)
    assert script.attempts == [1]


async def test_call_with_retries_policy_can_narrow_the_default() -> None:
    script = _Script(UpstreamServerError("x", message_zh="x"))
    with pytest.raises(UpstreamServerError):
        await _run(script, policy=lambda error, attempt, max_attempts: False)
    assert script.attempts == [1]
