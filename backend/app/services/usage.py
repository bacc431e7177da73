"""Spend: estimates before a job, admission under the budgets, usage figures after.

Every figure comes from the tasks table: a task's ``reserved_micro`` is its maximum cost while it
runs (0 once settled) and ``cost_micro`` what it cost, settled by the job runner when it ends. So
admission (spent + reserved + this job's maximum <= cap) survives crashes and restarts with no
separate ledger to drift, and runs inside the same write transaction as the task's insert, so
parallel submits cannot overshoot a cap.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.billing.budget import CapState, Period, day_bounds, local_day, periods
from app.billing.prices import Price, PriceTable, cny_float, to_micro
from app.core.config import Settings
from app.core.db import Database
from app.core.errors import AppError, InvalidRequest
from app.models.base import utcnow
from app.models.task import ACTIVE_STATUSES, AppSetting, Task, TaskStatus
from app.providers.base import GenerationRequest

BUDGET_KEYS = ("budget_daily_cny", "budget_monthly_cny")
# app_settings key of one member's own caps: this prefix and their user id.
MEMBER_BUDGETS = "member_budget:"
# PostgreSQL: admissions take this transaction-scoped lock, so two replicas admit one at a time.
_ADMISSION_LOCK = 0x5354_5544_494F  # "STUDIO"
MAX_RANGE_DAYS = 3660
GroupBy = Literal["day", "model"]


class BudgetExceeded(AppError):
    status_code = 402
    code = "budget_exceeded"


@dataclass(frozen=True, slots=True)
class Estimate:
    model: str
    images_max: int
    price: Price
    cost_max: int  # micro-yuan


@dataclass(frozen=True, slots=True)
class UsageRow:
    key: str
    images: int
    cost: int  # micro-yuan


def _member_caps_from(row: AppSetting | None) -> dict[str, float | None]:
    saved = row.value if row is not None and isinstance(row.value, dict) else {}
    return {key: saved.get(key) for key in BUDGET_KEYS}


def _check_caps(values: dict[str, float | None]) -> None:
    for key, value in values.items():
        if key not in BUDGET_KEYS:
            raise InvalidRequest(f"Unknown budget {key!r}.", message_zh=f"未知的预算项 {key!r}。", details={"field": key})
        if value is not None and value < 0:
            raise InvalidRequest("A budget cannot be negative.", message_zh="预算不能为负数。", details={"field": key})


class UsageService:
    def __init__(
        self,
        *,
        db: Database,
        prices: PriceTable,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.prices = prices
        self.tz = ZoneInfo(settings.billing_timezone)
        self._env_caps = {
            "budget_daily_cny": settings.budget_daily_cny,
            "budget_monthly_cny": settings.budget_monthly_cny,
        }
        self.clock = clock

    # --- estimates -------------------------------------------------------------------------------
    def estimate(self, model: str, images_max: int, *, group: bool) -> Estimate:
        price = self.prices.price(model)
        # A call-billed model costs one unit per call: a group is one call, independent images one each.
        units = (1 if group else images_max) if price.unit == "call" else images_max
        return Estimate(model=model, images_max=images_max, price=price, cost_max=units * price.micro)

    def estimate_request(self, request: GenerationRequest) -> Estimate:
        return self.estimate(request.price_key, request.expected_images, group=request.is_group)

    # --- budgets ---------------------------------------------------------------------------------
    async def caps(self) -> dict[str, float | None]:
        """The caps in force (CNY): a value saved in Settings wins over the environment's."""
        async with self.db.read() as session:
            rows = (await session.execute(select(AppSetting).where(AppSetting.key.in_(BUDGET_KEYS)))).scalars().all()
        return self._caps_from(rows)

    def caps_in(self, session: Session) -> dict[str, float | None]:
        """``caps`` read inside a (synchronous) write transaction: the admission's own snapshot,
        and no read of its own on the submit path."""
        rows = session.execute(select(AppSetting).where(AppSetting.key.in_(BUDGET_KEYS))).scalars().all()
        return self._caps_from(rows)

    def _caps_from(self, rows: Sequence[AppSetting]) -> dict[str, float | None]:
        saved = {row.key: row.value for row in rows}
        return {key: saved[key] if key in saved else self._env_caps[key] for key in BUDGET_KEYS}

    async def set_caps(self, values: dict[str, float | None]) -> dict[str, float | None]:
        _check_caps(values)

        def save(session: Session) -> None:
            for key, value in values.items():
                row = session.get(AppSetting, key)
                if row is None:
                    session.add(AppSetting(key=key, value=value, updated_at=utcnow()))
                else:
                    row.value = value
                    row.updated_at = utcnow()

        await self.db.run_write(save)
        return await self.caps()

    async def member_caps(self, user_id: str) -> dict[str, float | None]:
        """One member's own caps (CNY; None = none), on top of the install's."""
        async with self.db.read() as session:
            row = await session.get(AppSetting, MEMBER_BUDGETS + user_id)
        return _member_caps_from(row)

    def member_caps_in(self, session: Session, user_id: str) -> dict[str, float | None]:
        """``member_caps`` read inside a (synchronous) write transaction, like ``caps_in``: only
        a priced admission needs them, and it then costs no read session of its own."""
        return _member_caps_from(session.get(AppSetting, MEMBER_BUDGETS + user_id))

    async def set_member_caps(self, user_id: str, values: dict[str, float | None]) -> dict[str, float | None]:
        _check_caps(values)

        def save(session: Session) -> None:
            row = session.get(AppSetting, MEMBER_BUDGETS + user_id)
            if row is None:
                session.add(AppSetting(key=MEMBER_BUDGETS + user_id, value=dict(values), updated_at=utcnow()))
            else:
                row.value = dict(values)
                row.updated_at = utcnow()

        await self.db.run_write(save)
        return await self.member_caps(user_id)

    def cap_states(
        self, session: Session, caps: dict[str, float | None], owner: str | None = None, *, member: bool = False
    ) -> list[CapState]:
        """Spent and reserved per cap period (of one owner's tasks, or everyone's), read inside
        ``session`` (sync: the writer thread)."""
        today, month = periods(self.clock(), self.tz)
        stmt = select(func.coalesce(func.sum(Task.reserved_micro), 0)).where(Task.status.in_(ACTIVE_STATUSES))
        if owner is not None:
            stmt = stmt.where(Task.owner_id == owner)
        reserved = int(session.execute(stmt).scalar_one())
        states = []
        for period, key in ((today, "budget_daily_cny"), (month, "budget_monthly_cny")):
            cap = caps[key]
            states.append(
                CapState(
                    name=period.name,
                    cap=None if cap is None else to_micro(cap),
                    spent=self._spent(session, period, owner),
                    reserved=reserved,
                    member=member,
                )
            )
        return states

    def _spent(self, session: Session, period: Period, owner: str | None = None) -> int:
        stmt = select(func.coalesce(func.sum(Task.cost_micro), 0)).where(
            Task.completed_at >= period.start, Task.completed_at < period.end
        )
        if owner is not None:
            stmt = stmt.where(Task.owner_id == owner)
        return int(session.execute(stmt).scalar_one() or 0)

    def admit(
        self,
        session: Session,
        caps: dict[str, float | None],
        cost_max: int,
        *,
        owner: str | None = None,
        member_caps: dict[str, float | None] | None = None,
    ) -> None:
        """Raise ``BudgetExceeded`` unless ``cost_max`` fits under every cap: the install's, and
        ``owner``'s own ``member_caps`` over their tasks. Call inside the write transaction that
        inserts the task (its reservation), so admissions are serial."""
        member = member_caps if owner is not None and member_caps else {}
        if cost_max <= 0 or all(value is None for value in (*caps.values(), *member.values())):
            return
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADMISSION_LOCK})
        states = self.cap_states(session, caps)
        if any(value is not None for value in member.values()):
            states += self.cap_states(session, member, owner, member=True)
        for state in states:
            if not state.fits(cost_max):
                left = state.left or 0
                raise BudgetExceeded(
                    f"This job may cost up to {cny_float(cost_max):g} CNY, but only {cny_float(left):g} CNY is left "
                    f"of {state.describe(zh=False)} ({cny_float(state.spent):g} spent, "
                    f"{cny_float(state.reserved):g} reserved by running jobs). Raise the budget in Settings or wait.",
                    message_zh=f"本任务最多花费 {cny_float(cost_max):g} 元，但{state.describe(zh=True)}只剩 "
                    f"{cny_float(left):g} 元（已花费 {cny_float(state.spent):g} 元，运行中的任务预留 "
                    f"{cny_float(state.reserved):g} 元）。请在设置中提高预算或稍后再试。",
                    details={
                        "budget": state.name,
                        "scope": "member" if state.member else "install",
                        "cap_cny": cny_float(state.cap or 0),
                        "spent_cny": cny_float(state.spent),
                        "reserved_cny": cny_float(state.reserved),
                        "left_cny": cny_float(left),
                        "cost_max_cny": cny_float(cost_max),
                    },
                )

    async def summary(self, owner: str | None = None) -> tuple[dict[str, float | None], list[CapState], int, int]:
        """(caps, states, spent today, spent this month) for Settings and the usage page. The caps
        are the install's; with ``owner`` the spend is that user's own, beside the states of every
        user's spend (what the caps are about)."""
        caps = await self.caps()
        async with self.db.read() as session:
            states = await session.run_sync(lambda sync: self.cap_states(sync, caps))
            own = states if owner is None else await session.run_sync(lambda sync: self.cap_states(sync, caps, owner))
        return caps, states, own[0].spent, own[1].spent

    # --- figures ---------------------------------------------------------------------------------
    async def rows(self, start: date, end: date, group_by: GroupBy, owner: str | None = None) -> list[UsageRow]:
        """Images and cost per billing day (every day of the range, zeros included) or per model,
        of one owner's tasks or (None) everyone's."""
        if end < start:
            raise InvalidRequest("`to` is before `from`.", message_zh="结束日期早于开始日期。", details={"field": "to"})
        if (end - start).days > MAX_RANGE_DAYS:
            raise InvalidRequest(
                f"Ask for at most {MAX_RANGE_DAYS} days at a time.",
                message_zh=f"一次最多查询 {MAX_RANGE_DAYS} 天。",
                details={"field": "from"},
            )
        lower, upper = day_bounds(start, self.tz)[0], day_bounds(end, self.tz)[1]
        stmt = select(Task.completed_at, Task.model, Task.billed_images, Task.cost_micro).where(
            Task.completed_at >= lower,
            Task.completed_at < upper,
            Task.status.in_((TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED)),
            Task.cost_micro.is_not(None),
        )
        if owner is not None:
            stmt = stmt.where(Task.owner_id == owner)
        async with self.db.read() as session:
            settled = (await session.execute(stmt)).all()
        images: dict[str, int] = defaultdict(int)
        cost: dict[str, int] = defaultdict(int)
        for completed_at, model, billed, micro in settled:
            if completed_at is None:
                continue
            key = local_day(completed_at, self.tz).isoformat() if group_by == "day" else model
            images[key] += billed or 0
            cost[key] += micro or 0
        if group_by == "day":
            keys = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
        else:
            keys = sorted(images, key=lambda k: (-cost[k], k))
        return [UsageRow(key=k, images=images.get(k, 0), cost=cost.get(k, 0)) for k in keys]

    @staticmethod
    def to_csv(rows: Sequence[UsageRow], group_by: GroupBy) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([group_by, "images", "cost_cny"])
        for row in rows:
            writer.writerow([row.key, row.images, f"{cny_float(row.cost):.4f}"])
        return out.getvalue()

    def price_list(self) -> dict[str, Any]:
        def entry(price: Price) -> dict[str, Any]:
            return {"unit": price.unit, "cny": cny_float(price.micro), "confirmed": price.confirmed, "source": price.source}

        return {
            "checked": self.prices.checked,
            "currency": self.prices.currency,
            "default": entry(self.prices.default),
            "models": {model: entry(price) for model, price in self.prices.models.items()},
        }
