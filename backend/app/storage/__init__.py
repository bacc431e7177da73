"""Image files: atomic storage, thumbnails, embedded metadata, upload validation, ZIP streaming."""
