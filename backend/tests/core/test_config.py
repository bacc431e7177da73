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


S3 = {
    "STORAGE_BACKEND": "s3",
    "S3_ENDPOINT": "https://tos-s3-cn-beijing.volces.com",
    "S3_BUCKET": "studio-images",
    "S3_REGION": "cn-beijing",
    "S3_ACCESS_KEY_ID": "AKLT-test-id",
    "S3_SECRET_ACCESS_KEY": "tos-secret-never-shown",
}


def test_object_storage_settings(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, DATA_DIR=tmp_path, **S3)  # type: ignore[arg-type]
    assert settings.storage_backend == "s3" and settings.s3_addressing_style == "virtual"
    assert settings.image_origin == "https://studio-images.tos-s3-cn-beijing.volces.com"
    assert settings.disk_reserve_path is None  # the reserve is for images on the volume
    assert "tos-secret-never-shown" not in repr(settings) and "AKLT-test-id" not in repr(settings)
    assert {"tos-secret-never-shown", "AKLT-test-id"} <= set(settings.secret_values())
    path_style = Settings(_env_file=None, DATA_DIR=tmp_path, **{**S3, "S3_ADDRESSING_STYLE": "path",  # type: ignore[arg-type]
                                                                "S3_ENDPOINT": "http://minio:9000"})
    assert path_style.image_origin == "http://minio:9000"
    local = Settings(_env_file=None, DATA_DIR=tmp_path)
    assert local.storage_backend == "local" and local.image_origin == "" and local.disk_reserve_path is not None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"S3_BUCKET": ""}, "S3_BUCKET"),
        ({"S3_SECRET_ACCESS_KEY": ""}, "S3_SECRET_ACCESS_KEY"),
        ({"S3_ENDPOINT": "tos-s3-cn-beijing.volces.com"}, "http"),
        ({"S3_ENDPOINT": "https://user:pw@host"}, "host"),
        ({"S3_BUCKET": "Bad_Bucket"}, "bucket name"),
        ({"S3_ADDRESSING_STYLE": "dns"}, "virtual"),
        ({"STORAGE_BACKEND": "gcs"}, "local"),
    ],
)
def test_incomplete_or_wrong_object_storage_settings_are_refused(change: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        Settings(_env_file=None, **{**S3, **change})  # type: ignore[arg-type]
    assert "tos-secret-never-shown" not in str(raised.value)
