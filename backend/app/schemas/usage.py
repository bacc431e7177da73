"""Public shapes of spend: prices, estimates, usage figures and budgets (all money in CNY)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.billing.prices import Unit


class PricePublic(BaseModel):
    unit: Unit
    cny: float
    confirmed: bool = Field(description="False: an estimate, not confirmed from Volcengine's price list")
    source: str


class PriceList(BaseModel):
    checked: str = Field(description="Date the shipped prices were checked")
    currency: Literal["CNY"] | str
    default: PricePublic = Field(description="Counted for models the table does not list")
    models: dict[str, PricePublic]


class EstimatePublic(BaseModel):
    model: str
    images_max: int
    unit: Unit
    unit_price_cny: float
    cost_max_cny: float
    confirmed: bool


class UsageRowPublic(BaseModel):
    key: str = Field(description="A billing day (YYYY-MM-DD) or a model id")
    images: int
    cost_cny: float


class UsageReport(BaseModel):
    group_by: Literal["day", "model"]
    from_: date = Field(alias="from")
    to: date
    timezone: str
    rows: list[UsageRowPublic]
    images: int
    cost_cny: float

    model_config = ConfigDict(populate_by_name=True)


class BudgetState(BaseModel):
    name: Literal["daily", "monthly"]
    cap_cny: float | None
    spent_cny: float
    reserved_cny: float
    left_cny: float | None
    warning: bool = Field(description="80% or more of the cap is spent or reserved")


class UsageSummary(BaseModel):
    timezone: str
    today_cny: float
    month_cny: float
    budgets: list[BudgetState]


class BudgetsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    daily_cny: float | None = Field(default=None, ge=0, le=1_000_000)
    monthly_cny: float | None = Field(default=None, ge=0, le=10_000_000)


class BudgetsPublic(BaseModel):
    daily_cny: float | None
    monthly_cny: float | None
