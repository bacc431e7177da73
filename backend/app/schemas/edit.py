"""Request bodies of the edit endpoints (``POST /api/v1/edit/{operation}``).

Shapes and absolute bounds only: which fields an operation takes, and its limits for the chosen
model, are decided by ``app.providers.catalog.edits.validate_edit`` before anything is spent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.models.task import TaskType
from app.providers.catalog.edits import EditInput
from app.providers.catalog.specs import EditOperationName
from app.schemas.generation import clean_prompt

_ID = r"^[0-9a-z]{1,32}$"
_UPLOAD_ID = r"^[0-9a-f]{64}$"


class EditSource(BaseModel):
    """The image to edit: one from history (``image_id``, an output's id) or an upload."""

    model_config = ConfigDict(extra="forbid")

    image_id: str | None = Field(default=None, pattern=_ID, description="An output id from a task (history)")
    upload_id: str | None = Field(default=None, pattern=_UPLOAD_ID, description="An id from POST /api/v1/uploads")

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.image_id is None) == (self.upload_id is None):
            raise ValueError("give exactly one of image_id and upload_id")
        return self


class EditMask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    upload_id: str = Field(
        pattern=_UPLOAD_ID,
        description="The mask, uploaded like a reference image: a PNG whose opaque (or, without "
        "transparency, white) pixels mark what to redraw. Same size as the source, or the same "
        "aspect ratio (then scaled to it).",
    )


class ExpandIn(BaseModel):
    """Outpaint: grow each edge by a ratio of the source's side, or grow to a target aspect."""

    model_config = ConfigDict(extra="forbid")

    top: float = Field(default=0, ge=0, le=10)
    bottom: float = Field(default=0, ge=0, le=10)
    left: float = Field(default=0, ge=0, le=10)
    right: float = Field(default=0, ge=0, le=10)
    aspect: str | None = Field(
        default=None,
        max_length=20,
        pattern=r"^\s*\d{1,5}\s*:\s*\d{1,5}\s*$",
        description='Target aspect "W:H" (e.g. "16:9"): the canvas grows evenly on the sides it must; '
        "not together with per-edge ratios",
    )

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        edges = self.top or self.bottom or self.left or self.right
        if self.aspect is not None and edges:
            raise ValueError("give per-edge ratios or a target aspect, not both")
        return self


class EditIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    model: str | None = Field(
        default=None, max_length=200, description="Model id; when omitted, the default model if it has the operation"
    )
    source: EditSource
    mask: EditMask | None = Field(default=None, description="inpaint and erase only")
    prompt: str | None = Field(
        default=None, max_length=4000, description="inpaint: what to paint (required); outpaint: optional"
    )
    expand: ExpandIn | None = Field(default=None, description="outpaint only")
    resolution: Literal["4k", "8k"] | None = Field(default=None, description="upscale only; 4k when omitted")
    seed: int | None = Field(default=None, ge=-1, le=2_147_483_647)

    @field_validator("prompt")
    @classmethod
    def _nfc(cls, value: str | None) -> str | None:
        return clean_prompt(value) or None

    def to_input(self) -> EditInput:
        expand = self.expand
        return EditInput(
            prompt=self.prompt,
            has_mask=self.mask is not None,
            expand=None if expand is None else (expand.top, expand.bottom, expand.left, expand.right),
            aspect=None if expand is None or expand.aspect is None else expand.aspect.replace(" ", ""),
            resolution=self.resolution,
            seed=self.seed,
        )


class LineageStep(BaseModel):
    """One image of an edit chain."""

    image_id: str
    task_id: str
    type: TaskType
    operation: EditOperationName | None = Field(description="The edit that made it; null for a generation")
    model: str
    prompt: str
    url: str
    thumbnail_url: str | None
    width: int
    height: int
    created_at: datetime
    missing: bool = Field(default=False, description="The stored file is gone")


class LineagePublic(BaseModel):
    image_id: str
    ancestors: list[LineageStep] = Field(
        description="What the image was made from: its parent first, back to the first image of the chain"
    )
    from_upload: bool = Field(
        default=False, description="The first edit of the chain was made from an uploaded image, not from history"
    )
    broken_at: str | None = Field(
        default=None,
        description="An ancestor that is no longer in history (deleted, or not yours): the chain stops there",
    )
