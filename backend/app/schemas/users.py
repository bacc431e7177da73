"""API models of accounts and personal API tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.models.user import Role


class UserPublic(BaseModel):
    id: str
    username: str
    role: Role
    disabled: bool
    # The admin made from ADMIN_PASSWORD / APP_PASSWORD: changed only through the environment.
    configured: bool
    created_at: datetime


class UserList(BaseModel):
    items: list[UserPublic]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1000)
    role: Role = Role.MEMBER


class UserUpdate(BaseModel):
    """Any of: disable or enable, a new password (a reset: the user's sessions end), a new role."""

    model_config = ConfigDict(extra="forbid")
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=1, max_length=1000)
    role: Role | None = None


class Me(BaseModel):
    id: str
    username: str
    role: Role


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)


class TokenCreated(BaseModel):
    """The token itself is in this answer only: it is stored hashed."""

    id: str
    name: str
    token: str
    prefix: str
    created_at: datetime


class TokenPublic(BaseModel):
    id: str
    name: str
    prefix: str
    user_id: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenList(BaseModel):
    items: list[TokenPublic]
