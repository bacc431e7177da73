"""The image store on S3-compatible object storage, against a real S3 server (moto) on 127.0.0.1."""

from __future__ import annotations

import io
import logging
import random
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from PIL import Image

from app.core.errors import ImageUnreadable, NotFound, StorageUnavailable
from app.storage import inventory
from app.storage import metadata as image_metadata
from app.storage.archive import stream_zip
from app.storage.objects import OUTPUT, ObjectImageStore
from app.storage.s3 import S3Client, S3Config
from app.storage.uploads import validate_upload_file
from tests.s3server import SECRET_KEY, MotoServer
from tests.storage.images import encode, picture

CREATED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PARAMS = {"task_id": "t-1", "prompt": "一只猫 a cat", "model": "demo", "seed": 7}


@pytest.fixture
def config(moto_server: MotoServer) -> S3Config:
    config = moto_server.config(addressing="path")
    moto_server.create_bucket(config)
    return config


@pytest.fixture
def store(config: S3Config, tmp_path: Path) -> Iterator[ObjectImageStore]:
    store = ObjectImageStore(config, tmp_path / "uploads")
    yield store
    store.close()


def _keys(store: ObjectImageStore) -> list[str]:
    return sorted(found.key for found in store.client.list_objects())


def test_store_output_puts_the_image_and_its_thumbnail_as_objects(store: ObjectImageStore) -> None:
    data = encode(picture((120, 80)), "PNG")
    stored = store.store_output("img_abcdefgh", data, created=CREATED, metadata=PARAMS)

    assert (stored.rel_path, stored.thumb_rel_path) == ("2026/11/30/img_abcdefgh.png", "2026/11/30/img_abcdefgh.thumb.webp")
    assert (stored.width, stored.height, stored.thumbnail_pending) == (120, 80, False)
    assert _keys(store) == [OUTPUT + stored.rel_path, OUTPUT + stored.thumb_rel_path]
    body = store.read_output(stored.rel_path)
    assert body is not None and len(body) == stored.bytes
    # The parameters are embedded in the object, as in a file on disk.
    assert image_metadata.read(body) == image_metadata.read(body) and (image_metadata.read(body) or {})["prompt"] == PARAMS["prompt"]
    thumb = store.read_output(stored.thumb_rel_path)
    assert thumb is not None
    with Image.open(io.BytesIO(thumb)) as im:
        assert im.format == "WEBP"
    assert store.output_exists(stored.rel_path) and store.presumed_present(stored.rel_path)


def test_storing_the_same_image_twice_is_idempotent(store: ObjectImageStore) -> None:
    data = encode(picture(), "JPEG")
    first = store.store_output("img_abcdefgh", data, created=CREATED, metadata=PARAMS)
    modified = {found.key: found.modified for found in store.client.list_objects()}
    again = store.store_output("img_abcdefgh", data, created=CREATED, metadata=PARAMS)
    assert again == first
    assert {found.key: found.modified for found in store.client.list_objects()} == modified


def test_an_undecodable_image_leaves_no_object(store: ObjectImageStore) -> None:
    with pytest.raises(ImageUnreadable):
        store.store_output("img_abcdefgh", encode(picture(), "PNG")[:-40], created=CREATED, metadata=PARAMS)
    assert _keys(store) == []


class _FailingPart(httpx.BaseTransport):
    """Passes requests to the server, but the n-th multipart part never arrives."""

    def __init__(self, fail_part: int) -> None:
        self._inner = httpx.HTTPTransport()
        self.fail_part = fail_part
        self.aborted = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and request.url.params.get("partNumber") == str(self.fail_part):
            raise httpx.WriteError("connection reset mid-upload")
        if request.method == "DELETE" and "uploadId" in request.url.params:
            self.aborted += 1
        return self._inner.handle_request(request)


def test_a_multipart_upload_that_fails_midway_leaves_no_visible_object(config: S3Config) -> None:
    transport = _FailingPart(fail_part=2)
    client = S3Client(
        S3Config(**{**_fields(config), "multipart_threshold": 1024, "part_size": 5 * 1024 * 1024}), transport=transport
    )
    data = bytes(range(256)) * (24 * 1024)  # 6 MiB: two parts of 5 MiB and 1 MiB
    with pytest.raises(StorageUnavailable):
        client.put("output/2026/11/30/big_abcdefgh.png", data, "image/png")
    assert list(client.list_objects()) == []
    assert client.incomplete_uploads() == []  # aborted, not left to a lifecycle rule
    assert transport.aborted == 1

    transport.fail_part = 0
    client.put("output/2026/11/30/big_abcdefgh.png", data, "image/png")
    assert client.get("output/2026/11/30/big_abcdefgh.png") == data
    client.close()


def test_a_large_image_goes_up_in_parts_and_comes_back_whole(config: S3Config, tmp_path: Path) -> None:
    store = ObjectImageStore(
        S3Config(**{**_fields(config), "multipart_threshold": 1024, "part_size": 5 * 1024 * 1024}), tmp_path / "uploads"
    )
    noise = Image.frombytes("RGB", (1500, 1500), random.Random(1).randbytes(1500 * 1500 * 3))
    data = encode(noise, "PNG")
    assert len(data) > 5 * 1024 * 1024
    stored = store.store_output("big_abcdefgh", data, created=CREATED, metadata=PARAMS)
    assert stored.thumbnail_pending  # a large PNG's thumbnail comes after the job, as on disk
    assert store.read_output(stored.rel_path) is not None
    assert store.ensure_thumbnail(stored.rel_path, stored.thumb_rel_path)
    assert store.output_exists(stored.thumb_rel_path)
    store.close()


def test_a_failed_thumbnail_put_takes_the_image_back(store: ObjectImageStore, monkeypatch: pytest.MonkeyPatch) -> None:
    real_put = store.client.put

    def put(name: str, data: bytes, content_type: str) -> None:
        if name.endswith(".thumb.webp"):
            raise StorageUnavailable("HTTP 500", message_zh="HTTP 500")
        real_put(name, data, content_type)

    monkeypatch.setattr(store.client, "put", put)
    with pytest.raises(StorageUnavailable):
        store.store_output("img_abcdefgh", encode(picture(), "PNG"), created=CREATED, metadata=PARAMS)
    assert _keys(store) == []


def test_delete_removes_the_image_and_its_thumbnail(store: ObjectImageStore) -> None:
    stored = store.store_output("img_abcdefgh", encode(picture(), "PNG"), created=CREATED, metadata=PARAMS)
    store.delete_output(stored.rel_path, stored.thumb_rel_path)
    store.delete_output(stored.rel_path, stored.thumb_rel_path)  # deletes may be retried
    assert _keys(store) == []
    assert not store.output_exists(stored.rel_path)
    with pytest.raises(ValueError):
        store.delete_output("../app.db", None)


def test_a_missing_thumbnail_is_made_again_from_the_image(store: ObjectImageStore) -> None:
    stored = store.store_output("img_abcdefgh", encode(picture(), "PNG"), created=CREATED, metadata=PARAMS)
    store.client.delete(OUTPUT + stored.thumb_rel_path)
    assert store.image_for_thumbnail(stored.thumb_rel_path) == stored.rel_path
    assert store.ensure_thumbnail(stored.rel_path, stored.thumb_rel_path)
    assert store.output_exists(stored.thumb_rel_path)
    store.delete_output(stored.rel_path, stored.thumb_rel_path)
    assert not store.ensure_thumbnail(stored.rel_path, stored.thumb_rel_path)


async def test_zip_streams_objects_with_their_bytes(store: ObjectImageStore) -> None:
    a = store.store_output("img_aaaaaaaa", encode(picture((64, 64)), "PNG"), created=CREATED, metadata=PARAMS)
    b = store.store_output("img_bbbbbbbb", encode(picture((32, 48)), "JPEG"), created=CREATED, metadata=PARAMS)
    gone = "2026/11/30/img_cccccccc.png"
    entries = [("a.png", store.zip_source(a.rel_path)), ("b.jpg", store.zip_source(b.rel_path)),
               ("c.png", store.zip_source(gone))]
    chunks = [chunk async for chunk in stream_zip(entries, lambda missing: {"missing.txt": "\n".join(missing).encode()})]
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["a.png", "b.jpg", "missing.txt"]
        assert archive.read("a.png") == store.read_output(a.rel_path)
        assert archive.read("b.jpg") == store.read_output(b.rel_path)
        assert archive.read("missing.txt") == b"c.png"


def test_an_object_is_read_in_bounded_chunks(store: ObjectImageStore) -> None:
    store.client.put("output/2026/11/30/blob_abcdefgh.png", b"x" * (3 * 1024 * 1024 + 5), "image/png")
    reader = store.open_output("2026/11/30/blob_abcdefgh.png")
    assert reader is not None
    try:
        sizes = []
        while chunk := reader.read(1024 * 1024):
            sizes.append(len(chunk))
            # Never more than what was asked plus one network chunk held back.
            assert len(reader._buffer) <= 1024 * 1024  # type: ignore[attr-defined]
        assert sizes == [1024 * 1024] * 3 + [5]
    finally:
        reader.close()


def test_uploads_are_kept_as_objects_deduplicated(store: ObjectImageStore) -> None:
    data = encode(picture(), "PNG")
    for _ in range(2):
        incoming = store.receive_upload(io.BytesIO(data), 10**7)
        info = validate_upload_file(incoming.path, sha256=incoming.sha256, max_pixels=10**7)
        store.keep_upload(incoming, info)
        assert not incoming.path.exists()  # the local tmp file is gone either way
    assert [key for key in _keys(store) if key.startswith("uploads/")] == [f"uploads/{info.sha256}.png"]
    assert store.load_upload(info.sha256) == (data, "image/png")
    with pytest.raises(NotFound):
        store.load_upload("0" * 64)


def test_a_big_upload_is_put_from_its_file_in_parts(config: S3Config, tmp_path: Path) -> None:
    store = ObjectImageStore(
        S3Config(**{**_fields(config), "multipart_threshold": 1024, "part_size": 5 * 1024 * 1024}), tmp_path / "uploads"
    )
    noise = Image.frombytes("RGB", (1400, 1400), random.Random(2).randbytes(1400 * 1400 * 3))
    data = encode(noise, "PNG")
    incoming = store.receive_upload(io.BytesIO(data), 10**8)
    info = validate_upload_file(incoming.path, sha256=incoming.sha256, max_pixels=10**7)
    store.keep_upload(incoming, info)
    assert store.load_upload(info.sha256) == (data, "image/png")
    assert store.client.incomplete_uploads() == []
    store.close()


def test_inventory_reads_the_history_back_from_the_bucket(store: ObjectImageStore) -> None:
    stored = store.store_output("img_abcdefgh", encode(picture(), "PNG"), created=CREATED, metadata=PARAMS)
    store.client.put("output/2026/11/30/notes.txt", b"not ours", "text/plain")
    assert list(inventory.stored_images(store)) == [stored.rel_path]
    assert inventory.count_stored_images(store) == 1
    found = inventory.read_image(store, stored.rel_path)
    assert (found.image_id, found.stored.sha256, found.has_thumbnail) == ("img_abcdefgh", stored.sha256, True)
    assert (found.metadata or {})["task_id"] == "t-1"
    store.client.delete(OUTPUT + stored.thumb_rel_path)
    inventory.remake_thumbnail(store, found)
    assert store.output_exists(stored.thumb_rel_path)
    assert store.find_orphans({stored.rel_path, stored.thumb_rel_path}) == ["2026/11/30/notes.txt"]


def test_check_writable_reports_a_missing_bucket(moto_server: MotoServer, tmp_path: Path) -> None:
    store = ObjectImageStore(moto_server.config(bucket="no-such-bucket-here"), tmp_path / "uploads")
    problem = store.check_writable()
    assert problem is not None and "no-such-bucket-here" in problem and "404" in problem
    assert SECRET_KEY not in problem
    store.close()


def test_an_unreachable_endpoint_is_storage_unavailable(moto_server: MotoServer, tmp_path: Path) -> None:
    config = moto_server.config(endpoint="http://127.0.0.1:9", timeout=2.0)
    store = ObjectImageStore(config, tmp_path / "uploads")
    with pytest.raises(StorageUnavailable) as raised:
        store.store_output("img_abcdefgh", encode(picture(), "PNG"), created=CREATED, metadata=PARAMS)
    assert raised.value.status_code == 503 and raised.value.message_zh != raised.value.message
    assert SECRET_KEY not in str(raised.value)
    store.close()


def test_presigned_urls_open_one_object_without_credentials(store: ObjectImageStore) -> None:
    stored = store.store_output("img_abcdefgh", encode(picture(), "PNG"), created=CREATED, metadata=PARAMS)
    url = store.presigned_url(stored.rel_path)
    assert url is not None and "X-Amz-Expires=300" in url and SECRET_KEY not in url
    answer = httpx.get(url)
    assert answer.status_code == 200 and answer.content == store.read_output(stored.rel_path)
    assert answer.headers["cache-control"] == "private, max-age=150"
    assert store.presigned_url("../../etc/passwd") is None


def test_one_image_keeps_one_url_for_half_its_lifetime(store: ObjectImageStore) -> None:
    rel = "2026/11/30/img_abcdefgh.png"
    window = 1_800_000_000 - 1_800_000_000 % 150  # S3_PRESIGN_SECONDS=300: windows of 150 s
    first = store.presigned_url(rel, now=window + 1)
    assert first == store.presigned_url(rel, now=window + 149)  # the browser's cache can answer
    assert first != store.presigned_url(rel, now=window + 150)
    # Signed at the window's start and valid 300 s from there: >= 150 s left when handed out.
    assert "X-Amz-Date=20270115T080000Z" in (first or "") and "X-Amz-Expires=300" in (first or "")


def test_clean_tmp_aborts_multipart_uploads_a_killed_process_left(store: ObjectImageStore) -> None:
    created = store.client._request("POST", store.config.key("output/2026/11/30/x_abcdefgh.png"), query=[("uploads", "")])
    assert created.status_code == 200
    assert len(store.client.incomplete_uploads()) == 1
    # moto dates every multipart upload 2010-11-10: "young" is measured from there.
    started = store.client.incomplete_uploads()[0][2]
    assert store.clean_tmp(3600, now=started.timestamp() + 60) == []  # may be a write in progress
    removed = store.clean_tmp(3600, now=started.timestamp() + 7200)
    assert [path.name for path in removed] == ["x_abcdefgh.png.tmp"]
    assert store.client.incomplete_uploads() == []


def test_secrets_never_reach_the_logs(store: ObjectImageStore, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    store.store_output("img_abcdefgh", encode(picture(), "PNG"), created=CREATED, metadata=PARAMS)
    store.check_writable()
    assert SECRET_KEY not in caplog.text


def _fields(config: S3Config) -> dict[str, object]:
    return {name: getattr(config, name) for name in S3Config.__dataclass_fields__}
