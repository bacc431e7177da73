"""Image work in worker processes: started on first use, errors intact, thumbnails later or on view."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from app.core.errors import ImageUnreadable, StorageFull, UpstreamTimeout
from app.storage import files
from app.storage.files import DEFERRED_THUMBNAIL_PIXELS, ImageStore
from app.storage.offload import ImageWorkers
from tests.storage.images import encode, picture

CREATED = datetime(2026, 11, 30, 9, 0)
PARAMS = {"prompt": "雨后的石板路 a wet cobbled street", "seed": 3, "model": "demo"}


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "output", tmp_path / "uploads", min_free_bytes=0)


def _large_png() -> bytes:
    # Just above the deferral threshold, in the real (not monkeypatched) worker processes.
    side = int(DEFERRED_THUMBNAIL_PIXELS**0.5) + 8
    return encode(picture((side, side)), "PNG", compress_level=1)


def test_errors_cross_process_boundaries_with_their_fields() -> None:
    error = ImageUnreadable("bad bytes", message_zh="坏的字节", retryable=False)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.message, copy.message_zh, copy.retryable, copy.code) == (
        ImageUnreadable, "bad bytes", "坏的字节", False, error.code)
    full = pickle.loads(pickle.dumps(StorageFull("full", message_zh="满了")))
    assert (full.message_zh, full.status_code) == ("满了", 507)
    timeout = pickle.loads(pickle.dumps(UpstreamTimeout("slow", message_zh="慢", retryable=True)))
    assert timeout.to_dict() == UpstreamTimeout("slow", message_zh="慢", retryable=True).to_dict()


async def test_the_pool_starts_on_first_use_stores_and_stops(store: ImageStore) -> None:
    workers = ImageWorkers(store, processes=2)
    assert not workers.started
    try:
        stored = await workers.store_output("pool1234abcd", encode(picture((96, 64)), "JPEG"),
                                            created=CREATED, metadata=PARAMS)
        assert workers.started
        assert (stored.width, stored.height, stored.thumbnail_pending) == (96, 64, False)
        assert (store.output_dir / stored.rel_path).is_file()
        assert (store.output_dir / stored.thumb_rel_path).is_file()
        pool = workers._pool
        assert pool is not None
        pids = [p.pid for p in pool._processes.values()]  # type: ignore[union-attr]
        assert pids and os.getpid() not in pids
        # The store's refusal arrives as itself, in both languages.
        with pytest.raises(ImageUnreadable) as caught:
            await workers.store_output("pool1234bad0", b"\x89PNG\r\n\x1a\nnot really", created=CREATED, metadata=PARAMS)
        assert caught.value.message_zh.startswith("生成的图片")
    finally:
        await workers.aclose()
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped: no worker outlives the services
    with pytest.raises(RuntimeError):
        await workers.store_output("pool1234late", b"", created=CREATED, metadata=PARAMS)


async def test_a_large_png_gets_its_thumbnail_in_the_background(store: ImageStore) -> None:
    workers = ImageWorkers(store, processes=1)
    try:
        stored = await workers.store_output("pool1234png0", _large_png(), created=CREATED, metadata=PARAMS)
        assert stored.thumbnail_pending
        thumb = store.output_dir / stored.thumb_rel_path
        assert not thumb.exists()
        workers.thumbnail_soon(stored.rel_path, stored.thumb_rel_path)
        # Concurrent askers share the one decode in flight.
        assert await workers.ensure_thumbnail(stored.rel_path, stored.thumb_rel_path) is True
        with Image.open(io.BytesIO(thumb.read_bytes())) as im:
            assert im.format == "WEBP" and max(im.size) == 384
    finally:
        await workers.aclose()


async def test_threads_instead_of_processes(store: ImageStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "DEFERRED_THUMBNAIL_PIXELS", 10)
    workers = ImageWorkers(store, processes=0)
    stored = await workers.store_output("thread12abcd", encode(picture((40, 30)), "PNG"), created=CREATED, metadata=PARAMS)
    assert stored.thumbnail_pending and not workers.started
    assert await workers.ensure_thumbnail(stored.rel_path, stored.thumb_rel_path)
    await workers.aclose()


OWNER = """
import asyncio, sys
from datetime import datetime
from pathlib import Path
from app.storage.files import ImageStore
from app.storage.offload import ImageWorkers
from tests.storage.images import encode, picture

async def main():
    root = Path(sys.argv[1])
    workers = ImageWorkers(ImageStore(root / "o", root / "u", 0), processes=2)
    await workers.store_output("owner1234abc", encode(picture((32, 24)), "JPEG"), created=datetime(2026, 1, 1),
                               metadata={})
    print(" ".join(str(p.pid) for p in workers._pool._processes.values()), flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return status == "Z"


def test_workers_end_when_their_owner_is_killed(tmp_path: Path) -> None:
    """A SIGKILLed API process (OOM, supervisor's last resort) leaves no image worker behind."""
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(tmp_path)], cwd=Path(__file__).resolve().parents[2],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        pids = [int(p) for p in owner.stdout.readline().split()]
        assert pids and not any(_gone(p) for p in pids)
    finally:
        owner.kill()
        owner.wait(10)
    deadline = time.monotonic() + 10
    while not all(_gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(p) for p in pids)
