"""The image store the settings ask for: files on the data volume, or objects in a bucket."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.config import Settings
from app.storage.files import ImageStore

if TYPE_CHECKING:
    from app.storage.s3 import S3Config


def s3_config(settings: Settings) -> S3Config:
    # Imported here, as every S3 module: a store on disk never loads httpx (app.storage.offload).
    from app.storage.s3 import S3Config

    if settings.s3_endpoint is None or settings.s3_bucket is None:
        raise ValueError("STORAGE_BACKEND=s3 needs S3_ENDPOINT and S3_BUCKET")
    if settings.s3_access_key_id is None or settings.s3_secret_access_key is None:
        raise ValueError("STORAGE_BACKEND=s3 needs S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY")
    return S3Config(
        endpoint=settings.s3_endpoint.rstrip("/"),
        bucket=settings.s3_bucket,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=settings.s3_secret_access_key,
        prefix=settings.s3_prefix.strip("/"),
        addressing=settings.s3_addressing_style,
        presign_seconds=settings.s3_presign_seconds,
    )


def build_store(settings: Settings) -> ImageStore:
    if settings.storage_backend == "s3":
        from app.storage.objects import ObjectImageStore

        return ObjectImageStore(s3_config(settings), settings.uploads_dir)
    return ImageStore(settings.output_dir, settings.uploads_dir, min_free_bytes=settings.min_free_bytes)
