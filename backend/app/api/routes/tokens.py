"""Personal API tokens of the signed-in user (an admin may list and revoke anyone's)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from app.api.deps import PrincipalDep, ServicesDep
from app.core.errors import Forbidden
from app.models.user import ApiToken
from app.schemas.errors import ErrorResponse
from app.schemas.users import TokenCreate, TokenCreated, TokenList, TokenPublic

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (403, 404, 422)}


def _public(row: ApiToken) -> TokenPublic:
    return TokenPublic(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        user_id=row.user_id,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


@router.post("", status_code=201, response_model=TokenCreated, responses=ERRORS)
async def create_token(body: TokenCreate, services: ServicesDep, who: PrincipalDep) -> TokenCreated:
    """A new token for the caller; the answer is the only place the token is ever shown."""
    row, token = await services.tokens.create(who.user_id, body.name)
    return TokenCreated(id=row.id, name=row.name, token=token, prefix=row.prefix, created_at=row.created_at)


@router.get("", response_model=TokenList, responses=ERRORS)
async def list_tokens(
    services: ServicesDep,
    who: PrincipalDep,
    all_users: Annotated[bool, Query(alias="all", description="Every user's tokens (admins only)")] = False,
) -> TokenList:
    """The caller's tokens, revoked ones included, with when each was last used."""
    if all_users and not who.is_admin:
        raise Forbidden("Only an admin may list every user's tokens.", message_zh="只有管理员可以查看所有用户的令牌。")
    rows = await services.tokens.list(None if all_users else who.user_id)
    return TokenList(items=[_public(row) for row in rows])


@router.delete("/{token_id}", status_code=204, responses=ERRORS)
async def revoke_token(token_id: str, services: ServicesDep, who: PrincipalDep) -> Response:
    """Revoke a token: it stops working at once (on other replicas within seconds)."""
    await services.tokens.revoke(token_id, owner=who.scope)
    return Response(status_code=204)
