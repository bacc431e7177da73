"""The one place an edit request is checked against its model's edit operations.

``edit_operation`` answers which operation of which model a request means (before any image is
read); ``validate_edit`` checks the caller's fields against that operation's rules and the source
image (and normalised mask) against its input limits, and answers a ``GenerationRequest`` that is
safe to queue. Every refusal is an ``InvalidRequest`` (or a subclass with its own code) in English
and Chinese, naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from app.core.errors import (
    ExpandOutOfRange,
    InvalidMask,
    InvalidRequest,
    ModelUnavailable,
    OperationNotSupported,
    SourceTooLarge,
)
from app.providers.base import GenerationRequest, ReferenceImage
from app.providers.catalog.specs import EDIT_OPERATIONS, EditOperation, ModelSpec

OPERATION_NAMES = {
    "inpaint": ("inpaint", "局部重绘"),
    "erase": ("erase", "消除"),
    "outpaint": ("outpaint", "扩图"),
    "upscale": ("upscale", "超清放大"),
}
# Edges under this are no growth at all (a UI slider's rounding).
_NO_GROWTH = 1e-6


@dataclass(frozen=True, slots=True)
class EditInput:
    """What a caller asked for, before it is checked against an operation (no transport types)."""

    prompt: str | None = None
    has_mask: bool = False
    # Outpaint: (top, bottom, left, right) ratios, or a target aspect "W:H".
    expand: tuple[float, float, float, float] | None = None
    aspect: str | None = None
    resolution: str | None = None
    seed: int | None = None


def _ratio_text(value: Fraction) -> str:
    return f"{value.numerator}:{value.denominator}"


def edit_operation(spec: ModelSpec, operation: str, *, available: bool) -> EditOperation:
    """The operation ``operation`` of ``spec``, or a refusal naming the models that have it."""
    op = spec.edit_operation(operation)
    en, zh = OPERATION_NAMES.get(operation, (operation, operation))
    if op is None:
        offered = [o.name for o in spec.edit_operations]
        raise OperationNotSupported(
            f"Model {spec.id!r} cannot {en}."
            + (f" It offers: {', '.join(offered)}." if offered else " It offers no edit operations."),
            message_zh=f"模型 {spec.id!r} 不支持{zh}。"
            + (f"它支持：{'、'.join(OPERATION_NAMES[o][1] for o in offered)}。" if offered else "它不支持任何编辑操作。"),
            details={"field": "model", "model": spec.id, "operation": operation, "offered": offered},
        )
    if not available:
        raise ModelUnavailable(
            f"Model {spec.id!r} is not configured on this server.",
            message_zh=f"此服务器未配置模型 {spec.id!r}。",
            details={"field": "model", "model": spec.id},
        )
    return op


def _not_taken(op: EditOperation, field: str, en_what: str, zh_what: str) -> OperationNotSupported:
    en, zh = OPERATION_NAMES[op.name]
    return OperationNotSupported(
        f"{en.capitalize()} takes no {en_what}; leave {field} out.",
        message_zh=f"{zh}不接受{zh_what}，请去掉 {field}。",
        details={"field": field, "operation": op.name},
    )


def _check_fields(op: EditOperation, body: EditInput) -> None:
    if op.takes_mask and not body.has_mask:
        raise InvalidMask(
            f"{OPERATION_NAMES[op.name][0].capitalize()} needs a mask: upload it and give mask.upload_id.",
            message_zh=f"{OPERATION_NAMES[op.name][1]}需要蒙版：请上传蒙版并填写 mask.upload_id。",
            details={"field": "mask", "operation": op.name},
        )
    if not op.takes_mask and body.has_mask:
        raise _not_taken(op, "mask", "mask", "蒙版")
    if op.name == "outpaint" and body.expand is None and body.aspect is None:
        raise ExpandOutOfRange(
            "Outpaint needs expand: per-edge ratios (top, bottom, left, right) or a target aspect.",
            message_zh="扩图需要 expand：各边扩展比例（top、bottom、left、right）或目标宽高比 aspect。",
            details={"field": "expand"},
        )
    if op.name != "outpaint" and (body.expand is not None or body.aspect is not None):
        raise _not_taken(op, "expand", "expansion", "扩展参数")
    if op.name != "upscale" and body.resolution is not None:
        raise _not_taken(op, "resolution", "resolution", "分辨率")
    if op.name == "upscale" and body.seed is not None:
        raise _not_taken(op, "seed", "seed", "随机种子")
    if op.prompt == "none" and body.prompt:
        raise _not_taken(op, "prompt", "prompt", "提示词")
    if op.prompt == "required" and not body.prompt:
        raise InvalidRequest(
            f"{OPERATION_NAMES[op.name][0].capitalize()} needs a prompt: describe what to paint in the masked area.",
            message_zh=f"{OPERATION_NAMES[op.name][1]}需要提示词：请描述蒙版区域要画的内容。",
            details={"field": "prompt"},
            code="prompt_required",
        )
    if body.prompt and len(body.prompt) > op.prompt_max_length:
        raise InvalidRequest(
            f"The prompt has {len(body.prompt)} characters; this operation takes at most {op.prompt_max_length}.",
            message_zh=f"提示词有 {len(body.prompt)} 个字符，此操作最多 {op.prompt_max_length} 个。",
            details={"field": "prompt", "max": op.prompt_max_length},
        )


def check_source(op: EditOperation, source: ReferenceImage) -> None:
    """The source within the operation's input limits (its bytes already fitted, see
    ``app.storage.edit_inputs.fit_source``)."""
    w, h = source.width, source.height
    if op.max_side is not None and max(w, h) > op.max_side:
        raise SourceTooLarge(
            f"The source image is {w}x{h}; {OPERATION_NAMES[op.name][0]} takes at most {op.max_side} px per side.",
            message_zh=f"原图为 {w}x{h}，{OPERATION_NAMES[op.name][1]}每边最多 {op.max_side} 像素。",
            details={"field": "source", "width": w, "height": h, "max_side": op.max_side},
        )
    if min(w, h) < op.min_side:
        raise InvalidRequest(
            f"The source image is {w}x{h}; each side must be at least {op.min_side} px.",
            message_zh=f"原图为 {w}x{h}，每边至少 {op.min_side} 像素。",
            details={"field": "source", "width": w, "height": h, "min_side": op.min_side},
        )
    if op.max_bytes is not None and len(source.data) > op.max_bytes:
        mb = op.max_bytes / 1024 / 1024
        raise SourceTooLarge(
            f"The source image is {len(source.data) / 1024 / 1024:.1f} MB even as JPEG; "
            f"{OPERATION_NAMES[op.name][0]} takes at most {mb:.1f} MB.",
            message_zh=f"原图即使转为 JPEG 也有 {len(source.data) / 1024 / 1024:.1f} MB，"
            f"{OPERATION_NAMES[op.name][1]}最多 {mb:.1f} MB。",
            details={"field": "source", "bytes": len(source.data), "max_bytes": op.max_bytes},
        )


def _aspect_edges(source: ReferenceImage, aspect: str) -> tuple[float, float, float, float]:
    w_text, _, h_text = aspect.partition(":")
    if int(w_text) == 0 or int(h_text) == 0:
        raise ExpandOutOfRange(
            f"{aspect!r} is not an aspect ratio like \"16:9\".",
            message_zh=f"{aspect!r} 不是形如 \"16:9\" 的宽高比。",
            details={"field": "expand.aspect"},
        )
    target = Fraction(int(w_text), int(h_text))
    current = Fraction(source.width, source.height)
    if target == current:
        raise ExpandOutOfRange(
            f"The source is already {aspect}: nothing to extend.",
            message_zh=f"原图已是 {aspect}，无需扩展。",
            details={"field": "expand.aspect"},
        )
    if target > current:  # wider: grow left and right evenly
        grow = float(target / current) - 1
        return 0.0, 0.0, grow / 2, grow / 2
    grow = float(current / target) - 1
    return grow / 2, grow / 2, 0.0, 0.0


def _resolve_expand(op: EditOperation, body: EditInput, source: ReferenceImage) -> tuple[float, float, float, float]:
    if body.aspect is not None:
        edges = _aspect_edges(source, body.aspect)
        field = "expand.aspect"
    else:
        assert body.expand is not None
        edges = body.expand
        field = "expand"
    if all(edge < _NO_GROWTH for edge in edges):
        raise ExpandOutOfRange(
            "Outpaint needs at least one edge to grow (a ratio above 0).",
            message_zh="扩图至少需要一条边的扩展比例大于 0。",
            details={"field": field},
        )
    for name, edge in zip(("top", "bottom", "left", "right"), edges, strict=True):
        if edge > op.max_expand + _NO_GROWTH:
            raise ExpandOutOfRange(
                f"expand.{name} is {edge:.3g}: one edge grows by at most {op.max_expand:g} x the source's side.",
                message_zh=f"expand.{name} 为 {edge:.3g}：每条边最多扩展原图边长的 {op.max_expand:g} 倍。",
                details={"field": field if field == "expand.aspect" else f"expand.{name}", "max": op.max_expand},
            )
    top, bottom, left, right = edges
    canvas_w = round(source.width * (1 + left + right))
    canvas_h = round(source.height * (1 + top + bottom))
    shape = Fraction(canvas_w, canvas_h)
    if (op.min_aspect is not None and shape < op.min_aspect) or (op.max_aspect is not None and shape > op.max_aspect):
        lo = _ratio_text(op.min_aspect) if op.min_aspect is not None else "any"
        hi = _ratio_text(op.max_aspect) if op.max_aspect is not None else "any"
        raise ExpandOutOfRange(
            f"The new canvas would be {canvas_w}x{canvas_h}; its aspect must stay between {lo} and {hi}.",
            message_zh=f"扩展后的画布为 {canvas_w}x{canvas_h}，宽高比须在 {lo} 与 {hi} 之间。",
            details={"field": field, "width": canvas_w, "height": canvas_h},
        )
    return edges


def _resolve_resolution(op: EditOperation, body: EditInput, source: ReferenceImage) -> tuple[str, int]:
    sides = dict(op.resolutions)
    resolution = body.resolution or (op.resolutions[0][0] if op.resolutions else "4k")
    if resolution not in sides:
        raise InvalidRequest(
            f"Resolution {resolution!r} is not offered; choose one of {', '.join(sides)}.",
            message_zh=f"不支持分辨率 {resolution!r}，可选：{'、'.join(sides)}。",
            details={"field": "resolution", "allowed": list(sides)},
        )
    long_side = sides[resolution]
    if max(source.width, source.height) >= long_side:
        raise SourceTooLarge(
            f"The source is already {source.width}x{source.height}, as large as {resolution.upper()} "
            f"({long_side} px on its long side): nothing to upscale.",
            message_zh=f"原图已为 {source.width}x{source.height}，不小于 {resolution.upper()}（长边 {long_side} 像素），无需放大。",
            details={"field": "resolution", "width": source.width, "height": source.height, "long_side": long_side},
        )
    return resolution, long_side


def validate_edit(
    spec: ModelSpec,
    op: EditOperation,
    body: EditInput,
    *,
    source: ReferenceImage,
    mask: ReferenceImage | None,
    parent_image_id: str | None,
) -> GenerationRequest:
    """A queueable request for ``op`` on ``source`` (and ``mask``, already normalised)."""
    assert op.name in EDIT_OPERATIONS
    _check_fields(op, body)
    check_source(op, source)
    if op.takes_mask and (mask is None or (mask.width, mask.height) != (source.width, source.height)):
        raise InvalidMask(
            "The mask must be the size of the source image.",
            message_zh="蒙版须与原图尺寸相同。",
            details={"field": "mask"},
        )
    expand = _resolve_expand(op, body, source) if op.name == "outpaint" else (0.0, 0.0, 0.0, 0.0)
    resolution, long_side = _resolve_resolution(op, body, source) if op.name == "upscale" else (None, None)
    prompt = op.fixed_prompt or body.prompt or ""
    return GenerationRequest(
        model=spec.id,
        mode="edit",
        prompt=prompt,
        seed=body.seed if op.name != "upscale" else None,
        num_images=1,
        references=(source, mask) if op.takes_mask and mask is not None else (source,),
        operation=op.name,
        edit_req_key=op.req_key,
        expand_top=expand[0],
        expand_bottom=expand[1],
        expand_left=expand[2],
        expand_right=expand[3],
        resolution=resolution,
        target_long_side=long_side,
        parent_image_id=parent_image_id,
    )
