"""Public shapes of a member's library: collections, prompt history and templates, reference sets."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Printable text without NUL (PostgreSQL refuses it); names are trimmed.
NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"


class CollectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN)


class CollectionPublic(BaseModel):
    id: str
    name: str
    count: int = Field(description="History items in it")
    cover_url: str | None = Field(description="Thumbnail of its most recently added item")
    created_at: datetime
    updated_at: datetime


class CollectionList(BaseModel):
    items: list[CollectionPublic]


class CollectionItemsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_ids: list[str] = Field(min_length=1, max_length=1000)


class CollectionItemsResult(BaseModel):
    collection: CollectionPublic
    changed: int = Field(description="Items added (or removed) by this request; the others already were (or were not)")


class PromptUse(BaseModel):
    prompt: str
    uses: int = Field(description="Tasks submitted with exactly this prompt")
    last_used_at: datetime


class PromptHistory(BaseModel):
    items: list[PromptUse]


TemplateKind = Literal["template", "style"]


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: TemplateKind = Field(description="template: a prompt with {placeholders}; style: a fragment appended")
    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN)
    text: str = Field(min_length=1, max_length=4000, pattern=r"^[^\x00]+$")


class TemplatePublic(BaseModel):
    id: str = Field(description="A member's template id, or builtin:<key> for a shipped one")
    kind: TemplateKind
    builtin: bool
    name: str = Field(description="In the member's words; for a shipped one, in English")
    name_zh: str
    text: str = Field(description="English text (a shipped one) or the member's own")
    text_zh: str
    placeholders: list[str] = Field(description="Names of the {placeholders} in text, in order, once each")
    updated_at: datetime | None


class TemplateList(BaseModel):
    items: list[TemplatePublic] = Field(description="Shipped ones first (as shipped), then the member's by name")


class ReferenceSetIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN)
    upload_ids: list[str] = Field(min_length=1, max_length=14, description="Upload ids, in order (at most 14)")


class ReferenceSetUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=NAME_PATTERN)
    upload_ids: list[str] | None = Field(default=None, min_length=1, max_length=14)


class ReferenceImagePublic(BaseModel):
    upload_id: str
    url: str = Field(description="The stored image (the member's own uploads only)")
    width: int
    height: int
    bytes: int
    content_type: str


class ReferenceSetPublic(BaseModel):
    id: str
    name: str
    images: list[ReferenceImagePublic]
    created_at: datetime
    updated_at: datetime


class ReferenceSetList(BaseModel):
    items: list[ReferenceSetPublic]


class ReferenceSetUse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=200)
    already: int = Field(default=0, ge=0, le=100, description="References already in the form, counted in the limit")
