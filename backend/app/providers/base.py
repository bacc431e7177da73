"""The interface between jobs and providers.

A provider turns a validated ``GenerationRequest`` into images and hands each one to the running
job through ``JobContext.deliver`` as soon as it has it. The job stores the image (downloading it
when the upstream gave a URL) and checkpoints it before ``deliver`` returns, so a provider that is
interrupted and run again can ask ``ctx.is_done(index)`` and skip what is already paid for.

Rule: every job may run twice. Providers keep whatever they need to resume (an upstream task id)
in ``ctx.state`` via ``ctx.save_state`` *before* the step that would be lost otherwise.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from app.core.errors import ProviderError, StorageError

# What a generation route asks for; "edit" is a request built by the edit validation.
GenerationMode = Literal["text2image", "image2image"]
Mode = Literal["text2image", "image2image", "edit"]


@dataclass(frozen=True, slots=True)
class ReferenceImage:
    data: bytes
    content_type: str  # "image/png", "image/jpeg", ...
    width: int
    height: int

    def data_uri(self) -> str:
        fmt = self.content_type.split("/", 1)[1].lower()
        return f"data:image/{fmt};base64,{base64.b64encode(self.data).decode('ascii')}"

    def b64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """A request already checked against its model's rules (see ``app.providers.catalog``)."""

    model: str
    mode: Mode
    prompt: str
    negative_prompt: str | None = None
    # Either a named level ("1K", "2K", "4K", "adaptive") or explicit pixels; never both.
    size: str | None = None
    width: int | None = None
    height: int | None = None
    seed: int | None = None
    guidance_scale: float | None = None
    strength: float | None = None
    # Independent images (1-4). Index i of the output is the i-th call.
    num_images: int = 1
    # Group generation ("sequential_image_generation": "auto") when set.
    group_max_images: int | None = None
    watermark: bool = False
    optimize_prompt: str | None = None  # None, "standard" or "fast"
    style_preset: str | None = None
    # "png" / "jpeg" for models that let the caller choose; None = the upstream's default.
    output_format: str | None = None
    # Let the model search the web before it draws (Ark tools: [{"type": "web_search"}]).
    web_search: bool = False
    # Ask for the image as a layered set: a base image plus transparent layers (Ark
    # layer_decomposition); each result then carries its layers (``ImageResult.layers``).
    layer_decomposition: bool = False
    references: tuple[ReferenceImage, ...] = ()
    # Edits (mode "edit"): the operation, its upstream req_key, and its inputs. The source is
    # references[0]; inpaint and erase carry the normalised mask (single channel, 255 = redraw)
    # as references[1].
    operation: str | None = None
    edit_req_key: str | None = None
    # Outpaint: how far each edge grows, as a ratio of the source's side.
    expand_top: float = 0.0
    expand_bottom: float = 0.0
    expand_left: float = 0.0
    expand_right: float = 0.0
    # Upscale: "4k" / "8k" and the long side it stands for.
    resolution: str | None = None
    target_long_side: int | None = None
    # Lineage: the history image this edit was made from (None for an uploaded source).
    parent_image_id: str | None = None

    @property
    def source(self) -> ReferenceImage | None:
        return self.references[0] if self.operation and self.references else None

    @property
    def mask(self) -> ReferenceImage | None:
        return self.references[1] if self.operation and len(self.references) > 1 else None

    @property
    def price_key(self) -> str:
        """The price table's entry for this request: an edit is priced by its req_key."""
        return self.edit_req_key or self.model

    @property
    def is_group(self) -> bool:
        return self.group_max_images is not None

    @property
    def expected_images(self) -> int:
        return self.group_max_images if self.group_max_images is not None else self.num_images


@dataclass(frozen=True, slots=True)
class LayerResult:
    """One transparent layer of a layered image, as the upstream described it.

    Boxes are ``(x0, y0, x1, y1)``: ``box`` in the base image's pixels, ``box_normalized`` on the
    upstream's 0-1000 scale; either may be missing (the upstream calls both optional).
    """

    z_index: int
    url: str | None = None
    data: bytes | None = None
    box: tuple[int, int, int, int] | None = None
    box_normalized: tuple[int, int, int, int] | None = None
    name: str | None = None
    description: str | None = None
    output_format: str | None = None


@dataclass(slots=True)
class ImageResult:
    """One output image as the upstream delivered it: a URL to fetch or the bytes themselves."""

    index: int
    url: str | None = None
    data: bytes | None = None
    size: str | None = None  # "WxH" as reported upstream, informational
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Layer decomposition: the transparent layers above this (base) image, bottom first.
    layers: tuple[LayerResult, ...] = ()


class JobContext(Protocol):
    """What a provider may use of the job it runs."""

    @property
    def state(self) -> dict[str, Any]:
        """Provider checkpoint persisted with the job (e.g. ``{"upstream_task_id": "..."}``)."""

    async def save_state(self, **values: Any) -> None:
        """Merge ``values`` into ``state`` and persist it before returning."""

    def is_done(self, index: int) -> bool:
        """True when the image at ``index`` is already stored or recorded as failed."""

    async def deliver(self, result: ImageResult) -> None:
        """Store one image (download it when ``result.url``), checkpointed before returning; a
        layered image is stored whole (base and every layer) or not at all.

        Raises ``ProviderError`` when the download fails for good (or the bytes are not an
        image) and ``StorageError`` when the store cannot keep it.
        """

    async def fail_image(self, index: int, error: ProviderError | StorageError) -> None:
        """Record that the image at ``index`` will not come (group partial failure)."""

    async def set_expected(self, count: int) -> None:
        """Tell the job how many images it may end up with (groups learn this late)."""

    def add_billed(self, images: int) -> None:
        """The upstream says it billed ``images`` more images (Ark's usage.generated_images)."""

    def add_web_searches(self, searches: int) -> None:
        """The upstream says its web-search tool ran ``searches`` more times (usage.tool_usage)."""

    def check_cancelled(self) -> None:
        """Raise ``JobCancelled`` when the user cancelled the job."""


class Provider(ABC):
    """A source of images. Instances are built once per app and shared by all jobs."""

    name: ClassVar[str]

    @abstractmethod
    async def generate(self, request: GenerationRequest, ctx: JobContext) -> None:
        """Produce every image of ``request`` through ``ctx.deliver``; raise ``ProviderError`` when
        nothing more can be produced. Already delivered indexes (``ctx.is_done``) are skipped."""

    async def cancel(self, request: GenerationRequest, state: dict[str, Any]) -> None:
        """Best effort: stop upstream work for a job that was cancelled (Visual: CVCancelTask)."""
        return None

    async def aclose(self) -> None:
        return None
