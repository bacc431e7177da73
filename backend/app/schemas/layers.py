"""A layered image as the API shows it: the base image and its transparent layers."""

from __future__ import annotations

from pydantic import BaseModel, Field

Box = tuple[int, int, int, int]


class LayerPublic(BaseModel):
    id: str
    position: int = Field(description="Place in the stack from 1 (bottom) up; the base image is 0")
    z_index: int = Field(description="Stacking order as the upstream gave it (the base image is 0)")
    url: str
    thumbnail_url: str | None
    width: int = Field(description="Pixel size of the layer's PNG")
    height: int
    box: Box | None = Field(
        description="[x0, y0, x1, y1] in base-image pixels where the layer's content is; null when unknown"
    )
    box_normalized: Box | None = Field(description="The same box on a 0-1000 scale of the base image")
    full_canvas: bool = Field(
        description="The layer's PNG is the size of the base image (draw it at 0,0); otherwise draw it into box"
    )
    name: str | None
    description: str | None
    content_type: str
    bytes: int
    missing: bool = False


class LayeredSetPublic(BaseModel):
    image_id: str
    task_id: str
    width: int = Field(description="Canvas (base image) width")
    height: int
    base_url: str
    base_thumbnail_url: str | None
    layers: list[LayerPublic] = Field(description="Bottom first")
    zip_url: str = Field(description="A ZIP of the PNG layers with manifest.json")
    is_demo: bool
