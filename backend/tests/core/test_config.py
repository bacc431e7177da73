from __future__ import annotations

from pathlib import Path

import pytest

from app.core.config import Settings


def test_blank_values_mean_unset(tmp_path: Path) -> None:
    s = Settings(_env_file=None, data_dir=tmp_path, OUTPUT_DIR="", DATABASE_URL=" ", ARK_API_KEY="", DEFAULT_MODEL="")
    assert s.output_dir == (tmp_path / "output").resolve()
    assert s.database_url == f"sqlite+aiosqlite:///{(tmp_path / 'app.db').resolve()}"
    assert s.ark_api_key is None and s.default_model is None


def test_original_app_env_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VOLCENGINE_ACCESS_KEY", "AK1")
    monkeypatch.setenv("VOLCENGINE_SECRET_KEY", "SK1")
    monkeypatch.setenv("VOLCENGINE_REGION", "cn-north-1")
    monkeypatch.setenv("OUTPUT_DIR", str(tmp_path / "out"))
    s = Settings(_env_file=None)
    assert s.visual_configured
    assert s.output_dir == (tmp_path / "out").resolve()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgresql://u:p@db/studio", "postgresql+asyncpg://u:p@db/studio"),
        ("postgres://u:p@db/studio", "postgresql+asyncpg://u:p@db/studio"),
        ("sqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
    ],
)
def test_database_url_drivers(raw: str, expected: str) -> None:
    assert Settings(_env_file=None, DATABASE_URL=raw).database_url == expected


def test_secrets_are_not_in_repr() -> None:
    s = Settings(_env_file=None, ARK_API_KEY="ark-secret-value-123", APP_PASSWORD="pw-secret-456")
    assert "ark-secret-value-123" not in repr(s) and "pw-secret-456" not in repr(s)
    assert s.ark_configured


def test_csv_lists() -> None:
    s = Settings(_env_file=None, RESULT_URL_HOSTS="a.example, *.b.example ,", CORS_ORIGINS="http://x")
    assert s.result_url_hosts == ["a.example", "*.b.example"]
    assert s.cors_origins == ["http://x"]
