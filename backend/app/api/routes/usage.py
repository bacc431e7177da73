from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from app.api.deps import AdminDep, PrincipalDep, ServicesDep
from app.billing.budget import CapState, local_day
from app.billing.prices import cny_float
from app.models.base import utcnow
from app.schemas.errors import ErrorResponse
from app.schemas.generation import Image2ImageIn
from app.schemas.usage import (
    BudgetsIn,
    BudgetsPublic,
    BudgetState,
    EstimatePublic,
    PriceList,
    UsageReport,
    UsageRowPublic,
    UsageSummary,
)

router = APIRouter(prefix="/api/v1/usage", tags=["usage"])
ERRORS: dict[int | str, dict[str, Any]] = {422: {"model": ErrorResponse}}


@router.get("/prices", response_model=PriceList)
async def prices(services: ServicesDep) -> PriceList:
    """The price per model and billing unit, with the date it was checked (PRICES_FILE overrides)."""
    return PriceList.model_validate(services.usage.price_list())


@router.post("/estimate", response_model=EstimatePublic, responses=ERRORS)
async def estimate(body: Image2ImageIn, services: ServicesDep) -> EstimatePublic:
    """What a generation with this body may cost at most (a group at its maximum size)."""
    spec = services.catalog.resolve(body.model)
    group = body.group is not None
    images_max = body.group.max_images if body.group is not None else body.num_images
    result = services.usage.estimate(spec.id, images_max, group=group)
    return EstimatePublic(
        model=spec.id,
        images_max=images_max,
        unit=result.price.unit,
        unit_price_cny=cny_float(result.price.micro),
        cost_max_cny=cny_float(result.cost_max),
        confirmed=result.price.confirmed,
    )


@router.get(
    "",
    response_model=UsageReport,
    responses={**ERRORS, 200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
)
async def usage(
    services: ServicesDep,
    who: PrincipalDep,
    from_: Annotated[date | None, Query(alias="from", description="First billing day (default: 29 days ago)")] = None,
    to: Annotated[date | None, Query(description="Last billing day (default: today)")] = None,
    group_by: Literal["day", "model"] = "day",
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Images and spend per billing day or per model (days in BILLING_TIMEZONE): a member's own,
    an admin's of everyone."""
    usage = services.usage
    today = local_day(utcnow(), usage.tz)
    end = to or today
    start = from_ or end - timedelta(days=29)
    rows = await usage.rows(start, end, group_by, who.scope)
    if format == "csv":
        return Response(
            usage.to_csv(rows, group_by),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="usage-{group_by}-{start}-{end}.csv"'},
        )
    return UsageReport(
        group_by=group_by,
        from_=start,
        to=end,
        timezone=str(usage.tz),
        rows=[UsageRowPublic(key=r.key, images=r.images, cost_cny=cny_float(r.cost)) for r in rows],
        images=sum(r.images for r in rows),
        cost_cny=cny_float(sum(r.cost for r in rows)),
    )


def _state(state: CapState) -> BudgetState:
    return BudgetState(
        name="daily" if state.name == "daily" else "monthly",
        cap_cny=None if state.cap is None else cny_float(state.cap),
        spent_cny=cny_float(state.spent),
        reserved_cny=cny_float(state.reserved),
        left_cny=None if state.left is None else cny_float(state.left),
        warning=state.warning,
    )


@router.get("/summary", response_model=UsageSummary)
async def summary(services: ServicesDep, who: PrincipalDep) -> UsageSummary:
    """Spend today and this month (a member's own), and where each budget of the install stands
    (with a warning from 80%)."""
    _, states, today, month = await services.usage.summary(who.scope)
    return UsageSummary(
        timezone=str(services.usage.tz),
        today_cny=cny_float(today),
        month_cny=cny_float(month),
        budgets=[_state(s) for s in states],
    )


@router.get("/budgets", response_model=BudgetsPublic)
async def get_budgets(services: ServicesDep) -> BudgetsPublic:
    caps = await services.usage.caps()
    return BudgetsPublic(daily_cny=caps["budget_daily_cny"], monthly_cny=caps["budget_monthly_cny"])


@router.put("/budgets", response_model=BudgetsPublic, responses=ERRORS)
async def put_budgets(body: BudgetsIn, services: ServicesDep, _admin: AdminDep) -> BudgetsPublic:
    """Set the caps (null = no cap); saved in the database, they win over BUDGET_*_CNY."""
    caps = await services.usage.set_caps(
        {"budget_daily_cny": body.daily_cny, "budget_monthly_cny": body.monthly_cny}
    )
    return BudgetsPublic(daily_cny=caps["budget_daily_cny"], monthly_cny=caps["budget_monthly_cny"])
