"""A member's library: collections of history items, prompt templates and saved reference sets.

Every row belongs to one member (``owner_id``) and is theirs alone, an admin's included: a
library is personal, unlike the history an admin oversees. Items point at tasks and uploads by
foreign key, so deleting a task takes it out of every collection, and a reference image is stored
once however many sets hold it (uploads are content-addressed).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class Collection(Base):
    __tablename__ = "collections"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Two albums one cannot tell apart in a menu are a mistake, not a wish.
    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_collections_owner_name"),)


class CollectionItem(Base):
    __tablename__ = "collection_items"

    collection_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    task_id: Mapped[str] = mapped_column(String(32), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Which collections hold a task (history cards, zips, the cascade on delete).
    __table_args__ = (Index("ix_collection_items_task", "task_id"),)


class PromptTemplate(Base):
    """A member's own template (placeholders such as ``{subject}``) or style preset (a fragment
    appended to the prompt). The shipped ones are data (app/library/presets.toml), not rows."""

    __tablename__ = "prompt_templates"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_prompt_templates_owner", "owner_id", "kind", "name"),)


class ReferenceSet(Base):
    __tablename__ = "reference_sets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_reference_sets_owner_name"),)


class ReferenceSetImage(Base):
    __tablename__ = "reference_set_images"

    set_id: Mapped[str] = mapped_column(String(32), ForeignKey("reference_sets.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    upload_id: Mapped[str] = mapped_column(String(64), ForeignKey("uploads.id"))
