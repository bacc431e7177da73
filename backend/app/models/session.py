"""Sign-in sessions (APP_PASSWORD): one row per browser or script that signed in.

Only a hash of the token is stored, so the table alone signs nobody in. ``password_fingerprint``
ties the session to the password it was made with: a new APP_PASSWORD ends every older session.
``user_id`` names the account signed in (NULL in rows from before accounts: those are the admin's).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class LoginSession(Base):
    __tablename__ = "sessions"

    # sha256 of the cookie's token, hex.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # For a list of where one is signed in; never used to decide anything.
    user_agent: Mapped[str | None] = mapped_column(String(300), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(32), nullable=True)

    __table_args__ = (Index("ix_sessions_expires_at", "expires_at"), Index("ix_sessions_user_id", "user_id"))
