"""Public shapes of tasks, history pages and related resources."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from app.models.task import TaskStatus, TaskType
from app.providers.catalog.specs import EditOperationName


class OutputPublic(BaseModel):
    id: str
    index: int
    url: str
    thumbnail_url: str | None
    width: int
    height: int
    seed: int | None
    bytes: int
    content_type: str
    missing: bool = Field(
        default=False, description="The stored file is gone (removed outside the app); the URL will not load"
    )


class FailurePublic(BaseModel):
    index: int
    code: str
    message: str = Field(description="Why this image is missing, in English")
    message_zh: str = Field(description="The same in Chinese")


class TaskError(BaseModel):
    code: str
    message: str = Field(description="What stopped the task, in English")
    message_zh: str = Field(description="The same in Chinese")
    retryable: bool = False
    stage: str | None = None
    upstream_code: str | None = None


UpstreamState = Literal["queued", "generating", "downloading"]


class TaskPublic(BaseModel):
    task_id: str
    type: TaskType
    model: str
    provider: str
    is_demo: bool
    status: TaskStatus
    progress: int = Field(ge=0, le=100)
    upstream_state: UpstreamState | None = Field(
        default=None,
        description="While processing, where the upstream is, when known: queued there (async models), "
        "generating, or its images being downloaded",
    )
    prompt: str
    negative_prompt: str | None
    parameters: dict[str, Any]
    images: list[str] = Field(description="Image URLs (kept for scripts written for the original app)")
    outputs: list[OutputPublic]
    failures: list[FailurePublic]
    expected_images: int
    error: TaskError | None
    favorite: bool
    rating: int | None = Field(default=None, ge=1, le=5, description="1-5 stars; null when not rated")
    collection_ids: list[str] | None = Field(
        default=None,
        description="Ids of the caller's collections holding this item (history pages and the task read; "
        "null where not looked up)",
    )
    unit_price_cny: float = Field(description="Price per billing unit accepted when the task was submitted")
    cost_max_cny: float = Field(description="The most this task may cost (reserved against the budgets while it runs)")
    billed_images: int | None = Field(description="Images the upstream billed; null until the task ends")
    web_searches: int | None = Field(
        default=None, description="Web searches the model ran (billed on their own); null until the task ends"
    )
    cost_cny: float | None = Field(description="What the task cost; null until it ends")
    attempts: int
    retry_of: str | None
    operation: EditOperationName | None = Field(
        default=None, description="For an edit (type \"edit\"): inpaint, erase, outpaint or upscale"
    )
    parent_image_id: str | None = Field(
        default=None,
        description="For an edit: the history image (output id) it was made from; null when the source was an "
        "upload. The whole chain: GET /api/v1/images/{image_id}/lineage",
    )
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


class TaskList(BaseModel):
    items: list[TaskPublic]


class HistoryPage(BaseModel):
    total: int
    items: list[TaskPublic]
    page: int
    page_size: int
    # Pass as `cursor` for the page after this one (keyset: as fast on page 2,000 as on page 1);
    # null on the last page.
    next_cursor: str | None = None


class HistoryUpdate(BaseModel):
    """Marks of a history item; a field left out keeps its value."""

    model_config = {"extra": "forbid"}

    favorite: bool | None = None
    rating: int | None = Field(default=None, ge=1, le=5, description="1-5 stars; null clears the rating")

    @model_validator(mode="after")
    def _something(self) -> HistoryUpdate:
        if not self.model_fields_set:
            raise ValueError("give favorite and/or rating")
        if "favorite" in self.model_fields_set and self.favorite is None:
            raise ValueError("favorite is true or false")
        return self


class DownloadRequest(BaseModel):
    ids: list[str] = Field(min_length=1, max_length=1000)


class UploadPublic(BaseModel):
    id: str
    width: int
    height: int
    bytes: int
    content_type: str


class InspectResult(BaseModel):
    found: bool
    metadata: dict[str, Any] | None


class HistoryQuery(BaseModel):
    model_config = {"extra": "ignore"}

    page: int = Field(default=1, ge=1, le=100_000)
    page_size: int = Field(default=20, ge=1, le=200)
    q: str | None = Field(
        default=None, max_length=500, pattern=r"^[^\x00]*$", description="Substring of the prompt"
    )
    model: str | None = Field(default=None, max_length=200)
    type: TaskType | None = None
    favorite: bool | None = None
    operation: EditOperationName | None = Field(default=None, description="Only edits of this operation")
    since: datetime | None = None
    until: datetime | None = None
    collection: str | None = Field(default=None, max_length=32, description="Only items in this collection of yours")
    min_rating: int | None = Field(default=None, ge=1, le=5, description="Only items rated at least this")
    cursor: str | None = Field(
        default=None,
        max_length=200,
        description="next_cursor of the previous page: the page after it (page is then not used)",
    )
