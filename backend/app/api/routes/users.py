"""Accounts: an admin lists, creates, disables and resets users; everyone may ask who they are."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.deps import AdminDep, PrincipalDep, ServicesDep
from app.core.errors import Conflict
from app.models.user import Role, User
from app.schemas.errors import ErrorResponse
from app.schemas.usage import BudgetsIn, BudgetsPublic
from app.schemas.users import Me, UserCreate, UserList, UserPublic, UserUpdate

router = APIRouter(prefix="/api/v1/users", tags=["users"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (403, 404, 409, 422)}


def _public(row: User, services: ServicesDep) -> UserPublic:
    return UserPublic(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        disabled=row.disabled,
        configured=row.id == services.users.admin.user_id,
        created_at=row.created_at,
    )


@router.get("/me", response_model=Me)
async def me(who: PrincipalDep) -> Me:
    return Me(id=who.user_id, username=who.username, role=who.role)


@router.get("", response_model=UserList, responses=ERRORS)
async def list_users(services: ServicesDep, _admin: AdminDep) -> UserList:
    return UserList(items=[_public(row, services) for row in await services.users.list()])


@router.post("", status_code=201, response_model=UserPublic, responses=ERRORS)
async def create_user(body: UserCreate, services: ServicesDep, _admin: AdminDep) -> UserPublic:
    """Create a member (or another admin). Needs sign-in to be on (ADMIN_PASSWORD): without it
    everyone who reaches the studio is the admin, and an account would protect nothing."""
    if not services.auth.required:
        raise Conflict(
            "Accounts need sign-in: set ADMIN_PASSWORD (or APP_PASSWORD) and restart first.",
            message_zh="多用户需要登录：请先设置 ADMIN_PASSWORD（或 APP_PASSWORD）并重启。",
        )
    row = await services.users.create(body.username, body.password, body.role)
    return _public(row, services)


@router.patch("/{user_id}", response_model=UserPublic, responses=ERRORS)
async def update_user(user_id: str, body: UserUpdate, services: ServicesDep, _admin: AdminDep) -> UserPublic:
    """Disable or enable, reset the password, change the role; a reset or a disable signs the
    user out everywhere at once."""
    row = await services.users.update(user_id, disabled=body.disabled, password=body.password, role=body.role)
    return _public(row, services)


@router.get("/{user_id}/budgets", response_model=BudgetsPublic, responses=ERRORS)
async def get_member_budgets(user_id: str, services: ServicesDep, _admin: AdminDep) -> BudgetsPublic:
    """One user's own caps (null = none), on top of the install's budgets."""
    await services.users.get(user_id)
    caps = await services.usage.member_caps(user_id)
    return BudgetsPublic(daily_cny=caps["budget_daily_cny"], monthly_cny=caps["budget_monthly_cny"])


@router.put("/{user_id}/budgets", response_model=BudgetsPublic, responses=ERRORS)
async def put_member_budgets(user_id: str, body: BudgetsIn, services: ServicesDep, _admin: AdminDep) -> BudgetsPublic:
    """Cap what one user's tasks may spend per day / month; their generations are refused (402)
    once a cap is reached, whatever the install's budgets still allow."""
    await services.users.get(user_id)
    caps = await services.usage.set_member_caps(
        user_id, {"budget_daily_cny": body.daily_cny, "budget_monthly_cny": body.monthly_cny}
    )
    return BudgetsPublic(daily_cny=caps["budget_daily_cny"], monthly_cny=caps["budget_monthly_cny"])
