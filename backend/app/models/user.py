"""Accounts (admin, member) and their personal API tokens.

Passwords are stored as argon2id hashes; the admin made from ADMIN_PASSWORD / APP_PASSWORD has no
hash here (``password_hash`` NULL): that password lives in the settings and is checked against
them, so changing the environment is how it is changed. Tokens are stored as the sha256 of a
256-bit random value: a fast hash is right for a secret nobody can guess, and a lookup must cost
nothing on every API call.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20), default=Role.MEMBER)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # sha256 of the whole token, hex; the lookup key.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The token's first characters, shown in lists so a user can tell their tokens apart.
    prefix: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class UploadOwner(Base):
    """Who uploaded a reference image. Uploads are content-addressed (id = sha256 of the bytes), so
    two members uploading the same picture share one file and one ``uploads`` row: ownership is a
    set of users per upload, not one column."""

    __tablename__ = "upload_owners"

    upload_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_upload_owners_user_id", "user_id"),)
