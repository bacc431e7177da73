"""Image work (validation, metadata, thumbnails, the writes) in a pool of worker processes.

Pillow holds the GIL for much of a decode, resize or encode, so threads of the API process would
share one core with its event loop. Worker processes use every core and leave the loop free.
The pool starts on first use (start-up and processes that never store an image pay nothing) and
is closed with the services. Workers are started by a fork server, never forked from the
threaded API process, and ignore Ctrl-C: the API process decides when they stop. With
``processes=0`` the work runs on threads of this process instead.

What crosses the process boundary is small and plain: the store's settings, the image's bytes,
and back a ``StoredImage`` (or the store's exception, which pickles with its fields).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from app.core.memory import return_large_blocks_to_os
from app.storage.files import ImageStore, StoredImage

if TYPE_CHECKING:
    from app.storage.s3 import S3Config

logger = logging.getLogger(__name__)

T = TypeVar("T")
_STRIPES = 64


@dataclass(frozen=True, slots=True)
class StoreSpec:
    """What a worker process needs to build the same ``ImageStore``."""

    output_dir: Path
    uploads_dir: Path
    min_free_bytes: int
    max_output_pixels: int
    s3: S3Config | None = None

    @classmethod
    def of(cls, store: ImageStore) -> StoreSpec:
        s3: S3Config | None = getattr(store, "config", None)
        return cls(store.output_dir, store.uploads_dir, store.min_free_bytes, store.max_output_pixels, s3)

    def build(self) -> ImageStore:
        if self.s3 is not None:
            # Imported here: httpx (and the click and rich it loads) costs a worker ~0.3 s that
            # a store on disk never needs (bench/s3_client.py).
            from app.storage.objects import ObjectImageStore

            return ObjectImageStore(self.s3, self.uploads_dir, max_output_pixels=self.max_output_pixels)
        return ImageStore(
            self.output_dir, self.uploads_dir, self.min_free_bytes, max_output_pixels=self.max_output_pixels
        )


@lru_cache(maxsize=8)
def _built(spec: StoreSpec) -> ImageStore:
    # One store per spec and process, so an object store keeps its connections between calls
    # (a new TLS connection per image would add a round trip or two to every store).
    return spec.build()


def _init_worker(owner_pid: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return_large_blocks_to_os()
    threading.Thread(target=_exit_with, args=(owner_pid,), name="owner-watch", daemon=True).start()


def _exit_with(owner_pid: int) -> None:
    """End this worker when the process that owns the pool is gone, however it ended.

    A pool worker holds both ends of its task queue (and the fork server's liveness pipe), so it
    never sees its owner close them: after a SIGKILL of the API process its workers, and the fork
    server waiting for them, would live on forever.
    """
    try:
        fd = os.pidfd_open(owner_pid)
    except ProcessLookupError:
        os._exit(0)
    except OSError:  # no pidfd (old kernel): look every second instead
        while _alive(owner_pid):
            time.sleep(1.0)
        os._exit(0)
    select.select([fd], [], [])  # readable once the owner has exited
    os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _store_output(spec: StoreSpec, image_id: str, data: bytes, created: datetime, metadata: dict[str, Any]) -> StoredImage:
    return _built(spec).store_output(image_id, data, created=created, metadata=metadata)


def _ensure_thumbnail(spec: StoreSpec, rel_path: str, thumb_rel_path: str) -> bool:
    return _built(spec).ensure_thumbnail(rel_path, thumb_rel_path)


class ImageWorkers:
    def __init__(self, store: ImageStore, processes: int) -> None:
        self.store = store
        self.processes = processes
        self._spec = StoreSpec.of(store)
        self._pool: ProcessPoolExecutor | None = None
        # Two stores of one image id at once (a job run twice) are serialised here, in the one
        # process that hands out the work; the workers cannot see each other's locks.
        self._locks = tuple(asyncio.Lock() for _ in range(_STRIPES))
        self._thumbnails: dict[str, asyncio.Future[bool]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._closed = False

    @property
    def started(self) -> bool:
        return self._pool is not None

    def _executor(self) -> Executor:
        if self._pool is None:
            if self._closed:
                raise RuntimeError("image workers are closed")
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(
                self.processes, mp_context=context, initializer=_init_worker, initargs=(os.getpid(),)
            )
        return self._pool

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self.processes == 0:
            return await asyncio.to_thread(fn, self._spec, *args)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor(), partial(fn, self._spec, *args))
        except BrokenProcessPool:
            # A worker died (killed for memory, say): every call in flight failed with it. Start a
            # new pool and run this call once more there.
            logger.warning("image_workers.pool_broken")
            broken, self._pool = self._pool, None
            if broken is not None:
                broken.shutdown(wait=False, cancel_futures=True)
            return await loop.run_in_executor(self._executor(), partial(fn, self._spec, *args))

    async def store_output(
        self, image_id: str, data: bytes, *, created: datetime, metadata: dict[str, Any]
    ) -> StoredImage:
        """``ImageStore.store_output`` in a worker; its exceptions are raised here."""
        async with self._locks[hash(image_id) % _STRIPES]:
            return await self._run(_store_output, image_id, data, created, metadata)

    async def ensure_thumbnail(self, rel_path: str, thumb_rel_path: str) -> bool:
        """``ImageStore.ensure_thumbnail`` in a worker; callers asking for the same thumbnail at
        once share one decode."""
        pending = self._thumbnails.get(thumb_rel_path)
        if pending is None:
            pending = asyncio.ensure_future(self._run(_ensure_thumbnail, rel_path, thumb_rel_path))
            self._thumbnails[thumb_rel_path] = pending
            pending.add_done_callback(lambda _f: self._thumbnails.pop(thumb_rel_path, None))
        return await asyncio.shield(pending)

    def thumbnail_soon(self, rel_path: str, thumb_rel_path: str) -> None:
        """Make a pending thumbnail in the background (failures are logged: the first view
        asks again)."""
        if self._closed:
            return
        task = asyncio.ensure_future(self._thumbnail_quietly(rel_path, thumb_rel_path))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _thumbnail_quietly(self, rel_path: str, thumb_rel_path: str) -> None:
        try:
            await self.ensure_thumbnail(rel_path, thumb_rel_path)
        except Exception as exc:
            logger.warning("image_workers.thumbnail_failed", extra={"path": rel_path, "error": type(exc).__name__})

    async def aclose(self) -> None:
        """Stop background thumbnails, wait for work in flight, then stop the workers."""
        self._closed = True
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
