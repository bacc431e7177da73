"""The transparent layers of a layered image (Ark layer decomposition).

The base image is an ordinary ``Image`` row, so history, thumbnails and downloads treat a layered
set like any image; its layers hang off it here, written in the same transaction as the base row
(a set is stored whole or not at all) and removed with it.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class ImageLayer(Base):
    __tablename__ = "image_layers"

    # Derived from the base image id and the position, like image ids: a re-run writes the same
    # files and rows, never a second copy.
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    # 1-based position in the stack, bottom first (the base image is 0).
    position: Mapped[int] = mapped_column(Integer)
    z_index: Mapped[int] = mapped_column(Integer)
    rel_path: Mapped[str] = mapped_column(String(300))
    thumb_rel_path: Mapped[str | None] = mapped_column(String(300), nullable=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(50))
    # Bounding box in base-image pixels and on the upstream's 0-1000 scale; null when unknown.
    box_x0: Mapped[int | None] = mapped_column(Integer, nullable=True)
    box_y0: Mapped[int | None] = mapped_column(Integer, nullable=True)
    box_x1: Mapped[int | None] = mapped_column(Integer, nullable=True)
    box_y1: Mapped[int | None] = mapped_column(Integer, nullable=True)
    norm_x0: Mapped[int | None] = mapped_column(Integer, nullable=True)
    norm_y0: Mapped[int | None] = mapped_column(Integer, nullable=True)
    norm_x1: Mapped[int | None] = mapped_column(Integer, nullable=True)
    norm_y1: Mapped[int | None] = mapped_column(Integer, nullable=True)
    name: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (UniqueConstraint("image_id", "position", name="uq_image_layers_position"),)

    @property
    def box(self) -> tuple[int, int, int, int] | None:
        values = (self.box_x0, self.box_y0, self.box_x1, self.box_y1)
        return None if any(v is None for v in values) else tuple(v for v in values if v is not None)  # type: ignore[return-value]

    @property
    def box_normalized(self) -> tuple[int, int, int, int] | None:
        values = (self.norm_x0, self.norm_y0, self.norm_x1, self.norm_y1)
        return None if any(v is None for v in values) else tuple(v for v in values if v is not None)  # type: ignore[return-value]
