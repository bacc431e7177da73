"""The models we ship, read from ``models.toml`` once at import: a file that fails its schema
stops the app at start-up with the file, model and field named (``files.CatalogFileError``)."""

from __future__ import annotations

from dataclasses import replace

from app.providers.catalog.files import load_specs
from app.providers.catalog.specs import ARK_DEFAULT_MODEL_ID, ModelSpec

BUILTIN_MODELS: tuple[ModelSpec, ...] = load_specs()


def seedream40_like(template: ModelSpec, model_id: str, label: str) -> ModelSpec:
    """An ``ARK_EXTRA_MODELS`` entry: Seedream 4.0's rules (``template``) under another id."""
    return replace(
        template,
        id=model_id,
        label_zh=label,
        label_en=label,
        description_zh="用户在 ARK_EXTRA_MODELS 中添加的方舟模型或推理接入点，按 Seedream 4.0 的能力处理。",
        description_en="Ark model or endpoint listed in ARK_EXTRA_MODELS, treated like Seedream 4.0.",
        extra=True,
        status="active",
        source="ARK_EXTRA_MODELS",
    )


def seedream40(specs: tuple[ModelSpec, ...]) -> ModelSpec:
    return next(spec for spec in specs if spec.id == ARK_DEFAULT_MODEL_ID)
