"""What ``/health`` reports, and how it stays fast whatever else the process is doing.

A HEALTHCHECK that times out restarts a container that was merely busy. So no probe here waits
for a shared resource: the database is asked on a connection and thread of its own
(``Database.ping``), the disk on a thread of its own (not the default executor, which stored
images and uploads keep busy), and concurrent callers share one probe in flight instead of
queueing one each. Each probe has a deadline: a database or disk that does not answer within it
is reported unhealthy rather than waited for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from app import __version__
from app.core.config import Settings
from app.core.db import Database, DatabaseProblem
from app.schemas.health import Health, HealthWarning, ProviderHealth
from app.storage.files import ImageStore

T = TypeVar("T")
PROBE_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class _Disk:
    problem: str | None
    free: int | None


class HealthService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        store: ImageStore,
        *,
        auth_required: bool,
        probe_timeout: float = PROBE_TIMEOUT,
    ) -> None:
        self.settings = settings
        self.probe_timeout = probe_timeout
        self.db = db
        self.store = store
        self.auth_required = auth_required
        self._disk_thread = ThreadPoolExecutor(1, thread_name_prefix="health-disk")
        self._inflight: dict[str, asyncio.Future[Any]] = {}

    async def report(self) -> Health:
        database, disk = await asyncio.gather(self._database(), self._disk())
        storage = disk.problem or "ok"
        settings = self.settings
        configured = settings.ark_configured or settings.visual_configured
        warnings: list[HealthWarning] = []
        if configured and not self.auth_required:
            warnings.append(
                HealthWarning(
                    code="no_app_password",
                    message="Volcengine credentials are configured but APP_PASSWORD is not set: anyone who can "
                    "reach this port can spend the account's credit.",
                    message_zh="已配置火山引擎凭证，但没有设置 APP_PASSWORD：任何能访问此端口的人都能花费账户的余额。",
                )
            )
        return Health(
            status="healthy" if database == "ok" and storage == "ok" else "unhealthy",
            version=__version__,
            volcengine_configured=configured,
            providers={
                "ark": ProviderHealth(configured=settings.ark_configured),
                "visual": ProviderHealth(configured=settings.visual_configured),
                "demo": ProviderHealth(configured=True),
            },
            database=database,
            storage=storage,
            disk_free_bytes=disk.free,
            auth_required=self.auth_required,
            warnings=warnings,
        )

    async def _database(self) -> str:
        try:
            await self._shared("database", self.db.ping)
        except TimeoutError:
            return f"error: no answer within {self.probe_timeout:g} s"
        except DatabaseProblem as exc:
            return f"error: {exc}"
        except Exception as exc:  # any failure to reach the DB makes us unhealthy
            return f"error: {type(exc).__name__}"
        return "ok"

    async def _disk(self) -> _Disk:
        try:
            return await self._shared("disk", self._disk_on_thread)
        except TimeoutError:
            return _Disk(f"Data volume did not answer within {self.probe_timeout:g} s", None)

    async def _disk_on_thread(self) -> _Disk:
        return await asyncio.get_running_loop().run_in_executor(self._disk_thread, self._check_disk)

    def _check_disk(self) -> _Disk:
        problem = self.store.check_writable()
        try:
            free: int | None = self.store.free_bytes()
        except OSError:
            free = None
        if problem is None and free is not None and free < self.settings.min_free_bytes:
            problem = f"low disk space: {free // (1024 * 1024)} MB free"
        return _Disk(problem, free)

    async def _shared(self, key: str, probe: Callable[[], Awaitable[T]]) -> T:
        """Run ``probe`` once for all callers that arrive while it runs, each waiting at most
        ``probe_timeout`` (a timed-out caller leaves the probe running for the others)."""
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(probe())
            self._inflight[key] = future
            future.add_done_callback(lambda done: self._forget(key, done))
        return cast(T, await asyncio.wait_for(asyncio.shield(future), self.probe_timeout))

    def _forget(self, key: str, done: asyncio.Future[Any]) -> None:
        self._inflight.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved: callers that timed out never saw it

    def close(self) -> None:
        self._disk_thread.shutdown(wait=False)
