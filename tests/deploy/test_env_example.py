"""`.env.example` documents every setting of backend/app/core/config.py, by the name it is read under."""

from __future__ import annotations

import re

from pydantic import AliasChoices

from app.core.config import Settings

from .conftest import REPO


def env_names(field) -> list[str]:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    if isinstance(alias, str):
        return [alias]
    return []


def documented() -> set[str]:
    text = (REPO / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, re.M))


def test_every_setting_is_documented() -> None:
    names = documented()
    missing = []
    for field_name, field in Settings.model_fields.items():
        env = env_names(field) or [field_name.upper()]
        if env[0] not in names:
            missing.append(f"{env[0]} ({field_name})")
    assert not missing, "add to .env.example: " + ", ".join(missing)


def test_example_loads_as_settings(tmp_path, monkeypatch) -> None:
    """Copied as it is to .env, the example gives a working configuration (no credentials = demo)."""
    for field in Settings.model_fields.values():
        for name in env_names(field):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text((REPO / ".env.example").read_text())
    settings = Settings()
    assert settings.ark_api_key is None and settings.app_password is None
    assert not settings.ark_configured and not settings.visual_configured
