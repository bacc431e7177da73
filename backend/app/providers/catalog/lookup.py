"""Which models this deployment knows, which it can call, and which one a request means."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from app.core.config import Settings
from app.core.errors import InvalidRequest
from app.providers.catalog.builtin import BUILTIN_MODELS, seedream40, seedream40_like
from app.providers.catalog.files import load_specs
from app.providers.catalog.specs import (
    ARK_DEFAULT_MODEL_ID,
    DEMO_MODEL_ID,
    VISUAL_DEFAULT_MODEL_ID,
    ModelSpec,
    ProviderName,
)


def parse_extra_models(entries: Iterable[str]) -> list[tuple[str, str]]:

    """``ARK_EXTRA_MODELS`` items as ``(id, label)``; an item is ``id`` or ``id:Label``."""
    parsed: list[tuple[str, str]] = []
    seen: set[str] = set()
    for entry in entries:
        model_id, _, label = entry.partition(":")
        model_id, label = model_id.strip(), label.strip()
        if not model_id or model_id in seen:
            continue
        seen.add(model_id)
        parsed.append((model_id, label or model_id))
    return parsed


_UNAVAILABLE_REASONS: dict[ProviderName, tuple[str, str]] = {
    "ark": ("ARK_API_KEY is not set.", "未配置 ARK_API_KEY。"),
    "visual": (
        "VOLCENGINE_ACCESS_KEY and VOLCENGINE_SECRET_KEY are not both set.",
        "未同时配置 VOLCENGINE_ACCESS_KEY 与 VOLCENGINE_SECRET_KEY。",
    ),
    "demo": ("", ""),
}


class Catalog:
    """Immutable view of the models this deployment knows and which of them it can call."""

    def __init__(
        self,
        specs: Sequence[ModelSpec],
        *,
        ark_configured: bool,
        visual_configured: bool,
        preferred_default: str | None = None,
    ) -> None:
        self._specs = tuple(specs)
        self._by_id = {spec.id: spec for spec in self._specs}
        if len(self._by_id) != len(self._specs):
            raise ValueError("duplicate model ids in the catalogue")
        self._configured: dict[ProviderName, bool] = {
            "ark": ark_configured,
            "visual": visual_configured,
            "demo": True,
        }
        self.default_model = self._pick_default(preferred_default)

    @classmethod
    def from_settings(cls, settings: Settings) -> Catalog:
        concurrency = settings.provider_concurrency
        # The shipped models were read at import; a user file means reading both again, merged.
        known = load_specs(settings.models_file) if settings.models_file is not None else BUILTIN_MODELS
        known_ids = {spec.id for spec in known}
        template = seedream40(known)
        extras = [
            seedream40_like(template, model_id, label)
            for model_id, label in parse_extra_models(settings.ark_extra_models)
            if model_id not in known_ids
        ]
        specs = list(known)
        # Extras belong with the Ark models, before Visual and demo.
        last_ark = max(i for i, spec in enumerate(specs) if spec.provider == "ark")
        specs[last_ark + 1 : last_ark + 1] = extras
        specs = [replace(spec, max_concurrency=concurrency[spec.provider]) for spec in specs]
        return cls(
            specs,
            ark_configured=settings.ark_configured,
            visual_configured=settings.visual_configured,
            preferred_default=settings.default_model,
        )

    def _pick_default(self, preferred: str | None) -> str:
        if preferred and preferred in self._by_id and self.available(self._by_id[preferred]):
            return preferred
        if self._configured["ark"]:
            return ARK_DEFAULT_MODEL_ID
        if self._configured["visual"]:
            return VISUAL_DEFAULT_MODEL_ID
        return DEMO_MODEL_ID

    def get(self, model_id: str) -> ModelSpec:
        spec = self._by_id.get(model_id)
        if spec is None:
            known = ", ".join(self._by_id)
            raise InvalidRequest(
                f"Unknown model {model_id!r}. Known models: {known}.",
                message_zh=f"未知模型 {model_id!r}。可用的模型：{known}。",
                details={"field": "model", "model": model_id},
            )
        return spec

    def resolve(self, model_id: str | None) -> ModelSpec:
        """The model a request names, or the default one when it names none."""
        return self.get(model_id or self.default_model)

    def all(self) -> tuple[ModelSpec, ...]:
        return self._specs

    def available(self, spec: ModelSpec) -> bool:
        return self._configured[spec.provider]

    def unavailable_reason(self, spec: ModelSpec) -> tuple[str, str] | None:
        """``(en, zh)`` explaining why ``spec`` cannot be used, or None when it can."""
        if self.available(spec):
            return None
        return _UNAVAILABLE_REASONS[spec.provider]
