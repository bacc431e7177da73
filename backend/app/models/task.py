"""Generation tasks, their stored images and uploaded reference images."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UTCDateTime, utcnow


class TaskStatus(StrEnum):
    """Where a task is; the one list of values for the table, the services, the API and the TS
    client (stored as these strings)."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TaskType(StrEnum):
    TEXT2IMAGE = "text2image"
    IMAGE2IMAGE = "image2image"
    EDIT = "edit"


TERMINAL_STATUSES = (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED)
ACTIVE_STATUSES = (TaskStatus.PENDING, TaskStatus.PROCESSING)
# The partial index of the job queue; a query uses it only when its WHERE repeats this term.
CLAIMABLE_WHERE = "status IN ('pending', 'processing')"
# Every task that is not in the history: the partial index of exact search totals (migration 0014).
UNFINISHED_WHERE = "status != 'completed'"


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    model: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=TaskStatus.PENDING)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    prompt: Mapped[str] = mapped_column(Text)
    negative_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The validated request (references as upload ids): enough to run or retry the job.
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    expected_images: Mapped[int] = mapped_column(Integer, default=1)
    # Provider checkpoint ({"provider": {...}, "urls": {"0": "..."}}): what a re-run needs to
    # resume without paying twice.
    checkpoint: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    failures: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    retry_of: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The user whose task this is (users.id); NULL only between the migration and the first start,
    # which gives such rows to the first admin.
    owner_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Edits: which one ("inpaint", "erase", "outpaint", "upscale") and the history image it was
    # made from (NULL for an uploaded source, or once that image is deleted: lineage is
    # history, not a constraint).
    operation: Mapped[str | None] = mapped_column(String(20), nullable=True)
    parent_image_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    favorite: Mapped[bool] = mapped_column(Boolean, default=False)
    # The owner's rating, 1-5 stars; NULL until rated.
    rating: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # Money, in integer micro-yuan: the unit price accepted at submission, the maximum this task
    # may still cost while it runs (counted against the budgets; 0 once settled), and what it cost.
    unit_price_micro: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    reserved_micro: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    billed_images: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Web searches the model ran (Ark usage.tool_usage.web_search); null until the task ends.
    web_searches: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cost_micro: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    images: Mapped[list[Image]] = relationship(
        back_populates="task", order_by="Image.index", cascade="all, delete-orphan", lazy="selectin"
    )

    __table_args__ = (
        Index("ix_tasks_lease", "status", "lease_expires_at"),
        # History pages: completed tasks newest first, optionally per model / favourites.
        Index("ix_tasks_history", "status", "created_at", "id"),
        Index("ix_tasks_model_history", "model", "status", "created_at"),
        # Newest-first pages of one model without walking other models' rows.
        Index("ix_tasks_model_recent", "model", "status", "created_at", "id"),
        Index("ix_tasks_favorite_history", "favorite", "status", "created_at"),
        # Usage figures: what was settled in a period.
        Index("ix_tasks_completed", "completed_at"),
        # The live channel: what changed since a moment.
        Index("ix_tasks_updated", "updated_at"),
        # The job claim, oldest first: only queued and running tasks, so it stays a few entries
        # long however big the history grows, and the planner keeps choosing it once ANALYZE
        # has seen 100,000 completed rows (with ix_tasks_lease it then preferred a full scan).
        Index(
            "ix_tasks_claimable",
            "created_at",
            "id",
            sqlite_where=text(CLAIMABLE_WHERE),
            postgresql_where=text(CLAIMABLE_WHERE),
        ),
        # One member's history pages.
        Index("ix_tasks_owner_history", "owner_id", "status", "created_at", "id"),
        # History filtered by edit operation, and the edits made from one image.
        Index("ix_tasks_operation_history", "operation", "status", "created_at", "id"),
        Index("ix_tasks_parent_image", "parent_image_id"),
        # Search totals: the matches that are not completed, subtracted from the FTS count.
        Index(
            "ix_tasks_unfinished",
            "status",
            sqlite_where=text(UNFINISHED_WHERE),
            postgresql_where=text(UNFINISHED_WHERE),
        ),
    )

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class Image(Base):
    __tablename__ = "images"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    rel_path: Mapped[str] = mapped_column(String(300))
    thumb_rel_path: Mapped[str | None] = mapped_column(String(300), nullable=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(50))
    seed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    task: Mapped[Task] = relationship(back_populates="images")

    __table_args__ = (UniqueConstraint("task_id", "index", name="uq_images_task_index"),)


class Upload(Base):
    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the bytes
    ext: Mapped[str] = mapped_column(String(10))
    content_type: Mapped[str] = mapped_column(String(50))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AppSetting(Base):
    """Settings changed in the UI (budgets, ...): they win over the environment's."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
