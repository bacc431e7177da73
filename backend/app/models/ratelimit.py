"""Hits per key and time bucket, shared by every replica (PostgreSQL).

A sliding window is estimated from two fixed buckets (this one and the one before, weighted by how
much of it still falls in the window): two rows per key at most, one upsert per allowed hit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime


class RateCounter(Base):
    __tablename__ = "rate_counters"

    # "<limiter>:<client>", e.g. "generate:203.0.113.9".
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    # Start of the bucket / its length (seconds since the epoch).
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    # When the bucket can no longer count (two windows after it began): rows past it are deleted.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_rate_counters_expires_at", "expires_at"),)
