"""The public view of the model catalogue (``GET /api/v1/models``), built from the specs."""

from __future__ import annotations

from fractions import Fraction

from app.providers.catalog.lookup import Catalog
from app.providers.catalog.specs import CAPABILITIES, EditOperation, ModelSpec, ParamRange
from app.schemas.catalog import (
    EditOperationPublic,
    GroupPublic,
    Localized,
    ModelCatalog,
    ModelPublic,
    ParamsPublic,
    ProvenancePublic,
    RangePublic,
    ReferenceRulesPublic,
    SizePresetPublic,
    SizeRulesPublic,
    UpscaleTargetPublic,
)


def public_catalog(catalog: Catalog) -> ModelCatalog:
    return ModelCatalog(default_model=catalog.default_model, models=[_model(catalog, spec) for spec in catalog.all()])


def _model(catalog: Catalog, spec: ModelSpec) -> ModelPublic:
    reason = catalog.unavailable_reason(spec)
    sizes, refs = spec.sizes, spec.refs
    return ModelPublic(
        id=spec.id,
        provider=spec.provider,
        label=Localized(zh=spec.label_zh, en=spec.label_en),
        description=Localized(zh=spec.description_zh, en=spec.description_en),
        modes=[mode for mode in CAPABILITIES if mode in spec.modes],
        available=reason is None,
        unavailable_reason=None if reason is None else Localized(en=reason[0], zh=reason[1]),
        references=ReferenceRulesPublic(
            min=refs.min_count,
            max=refs.max_count,
            content_types=list(refs.content_types),
            min_side=refs.min_side,
            max_side=refs.max_side,
            max_pixels=refs.max_pixels,
            max_bytes=refs.max_bytes,
            min_aspect=_float(refs.min_aspect),
            max_aspect=_float(refs.max_aspect),
        ),
        size=SizeRulesPublic(
            levels=list(sizes.levels),
            allow_custom=sizes.allow_custom_wh,
            min_pixels=sizes.min_pixels,
            max_pixels=sizes.max_pixels,
            min_side=sizes.min_side,
            max_side=sizes.max_side,
            min_aspect=_float(sizes.min_aspect),
            max_aspect=_float(sizes.max_aspect),
            presets=[SizePresetPublic(label=p.label, width=p.width, height=p.height) for p in sizes.presets],
            default=sizes.default,
        ),
        params=ParamsPublic(
            seed=spec.seed,
            guidance_scale=_range(spec.guidance_scale),
            strength=_range(spec.strength),
            negative_prompt=spec.negative_prompt,
            watermark=spec.watermark,
            optimize_prompt=list(spec.optimize_prompt),
            num_images_max=spec.max_num_images,
            group=None if spec.group is None else GroupPublic(max_images=spec.group.max_images, max_total=spec.group.max_total),
            streaming=spec.streaming,
            output_formats=list(spec.output_formats),
            web_search=spec.web_search,
            layer_decomposition=spec.layer_decomposition,
        ),
        prompt_max_length=spec.prompt_max_length,
        max_concurrency=spec.max_concurrency,
        sync=spec.visual.sync if spec.visual else spec.provider != "visual",
        extra=spec.extra,
        status=spec.status,
        edit_operations=[_edit_public(op) for op in spec.edit_operations],
        price_unit=spec.price_unit,
        provenance=ProvenancePublic(checked_on=spec.checked_on, source=spec.source),
        user_defined=spec.user_defined,
    )


def _edit_public(op: EditOperation) -> EditOperationPublic:
    return EditOperationPublic(
        operation=op.name,
        req_key=op.req_key,
        prompt=op.prompt,
        prompt_max_length=op.prompt_max_length,
        mask=op.takes_mask,
        formats=[content_type.split("/", 1)[1] for content_type in op.content_types],
        min_side=op.min_side,
        max_side=op.max_side,
        max_bytes=op.max_bytes,
        max_expand=op.max_expand if op.name == "outpaint" else None,
        min_aspect=_float(op.min_aspect) if op.name == "outpaint" else None,
        max_aspect=_float(op.max_aspect) if op.name == "outpaint" else None,
        resolutions=[UpscaleTargetPublic(resolution=name, long_side=side) for name, side in op.resolutions],
        provenance=ProvenancePublic(checked_on=op.checked_on, source=op.source),
        notes=op.notes,
    )


def _float(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


def _range(value: ParamRange | None) -> RangePublic | None:
    return None if value is None else RangePublic(min=value.min, max=value.max, default=value.default)
