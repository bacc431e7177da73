"""Image files: atomic storage, thumbnails, embedded metadata, upload validation, ZIP streaming."""

from app.storage.archive import stream_zip
from app.storage.files import ImageStore, StoredImage
from app.storage.metadata import embed as embed_metadata
from app.storage.metadata import read as read_metadata
from app.storage.thumbnails import make_thumbnail
from app.storage.uploads import UploadInfo, decode_data_uri, sniff_image_type, validate_upload

__all__ = [
    "ImageStore",
    "StoredImage",
    "UploadInfo",
    "decode_data_uri",
    "embed_metadata",
    "make_thumbnail",
    "read_metadata",
    "sniff_image_type",
    "stream_zip",
    "validate_upload",
]
