"""Budget rules, pure: the billing day and month, and whether a job fits under the caps.

A job is admitted only when, for every cap, what was spent in the period plus what running jobs
have reserved plus this job's own maximum stays within the cap. Reservations are the running jobs'
maxima, recorded on their rows, so they survive a crash and are never counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.billing.prices import cny_float

# Warn when this share of a cap is used (spent + reserved).
WARN_AT = 0.8


@dataclass(frozen=True, slots=True)
class Period:
    name: str  # "daily" | "monthly"
    start: datetime  # UTC
    end: datetime  # UTC, exclusive


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of ``day`` in ``tz``, as UTC instants (DST-safe: midnights, not +24 h)."""
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def periods(now: datetime, tz: ZoneInfo) -> tuple[Period, Period]:
    local = now.astimezone(tz).date()
    first = local.replace(day=1)
    next_month = (first + timedelta(days=32)).replace(day=1)
    today = Period("daily", *day_bounds(local, tz))
    month = Period("monthly", day_bounds(first, tz)[0], day_bounds(next_month, tz)[0])
    return today, month


def local_day(instant: datetime, tz: ZoneInfo) -> date:
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(tz).date()


@dataclass(frozen=True, slots=True)
class CapState:
    name: str  # "daily" | "monthly"
    cap: int | None  # micro-yuan; None = no cap
    spent: int
    reserved: int
    # One member's own cap (their tasks only), on top of the install's.
    member: bool = False

    @property
    def used(self) -> int:
        return self.spent + self.reserved

    @property
    def left(self) -> int | None:
        return None if self.cap is None else max(self.cap - self.used, 0)

    def fits(self, cost: int) -> bool:
        return self.cap is None or self.used + cost <= self.cap

    @property
    def warning(self) -> bool:
        return self.cap is not None and self.cap > 0 and self.used >= WARN_AT * self.cap

    def describe(self, zh: bool) -> str:
        if zh:
            whose = "您的成员" if self.member else ""
            return f"{whose}{'每日' if self.name == 'daily' else '每月'}预算 {cny_float(self.cap or 0):g} 元"
        whose = "your member " if self.member else ""
        return f"{whose or 'the '}{self.name} budget of {cny_float(self.cap or 0):g} CNY"
