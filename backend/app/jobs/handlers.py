"""Running one generation job: provider call, downloads, storage, checkpoints, final state.

Every step that costs money or bytes is checkpointed before the next one starts:
- a result URL is written to the task before it is downloaded (URLs live 24 h, so a re-run
  downloads it instead of generating again);
- each stored image is a row (task_id, index) written right after its files, so a re-run skips
  it (``is_done``) and never stores it twice;
- the provider's own state (Visual's upstream task id) goes through ``save_state``.
A group stream cannot be resumed upstream: if a re-run finds part of a group stored, it keeps
those images and reports the rest as interrupted rather than paying for the whole group again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.billing.prices import PriceTable, cny_float
from app.core.db import Database
from app.core.errors import (
    ImageUnreadable,
    JobCancelled,
    ProviderError,
    StorageError,
    UpstreamBadResponse,
    UpstreamTimeout,
)
from app.jobs import layers as layer_store
from app.jobs import statements
from app.jobs.codec import parameters_to_request, public_parameters
from app.jobs.events import TaskEvents
from app.jobs.queue import ClaimedJob
from app.models.base import utcnow
from app.models.task import Image, Task, TaskStatus
from app.providers.base import GenerationRequest, ImageResult, LayerResult, Provider
from app.providers.partial import JobFailure, fail_remaining
from app.storage.files import ImageStore, StoredImage
from app.storage.offload import ImageWorkers

logger = logging.getLogger("app.jobs")

# Outcomes stored on a task are read later in either language, so each carries both.
INTERRUPTED = {
    "code": "interrupted",
    "message": "The service restarted while this group was being generated; the images that had "
    "arrived are kept. Retry to generate the rest.",
    "message_zh": "生成这组图片时服务重启了；已收到的图片都已保留。重试即可生成其余图片。",
}
CANCELLED = {"code": "cancelled", "message": "Cancelled by the user.", "message_zh": "已被用户取消。", "retryable": True}
INTERNAL_ERROR = {
    "code": "internal_error",
    "message": "An unexpected error stopped this job; it was logged.",
    "message_zh": "任务因意外错误而中止；错误已记入日志。",
    "retryable": True,
}
NO_IMAGE = {
    "code": "upstream_error",
    "message": "The upstream returned no image.",
    "message_zh": "上游没有返回任何图片。",
    "retryable": True,
}


@dataclass(slots=True)
class JobServices:
    db: Database
    store: ImageStore
    images: ImageWorkers
    events: TaskEvents
    provider_for: Callable[[str], Provider]
    fetch: Callable[[str], Any]  # async (url) -> (bytes, content_type)
    prices: PriceTable
    max_attempts: int = 3
    # Seconds a whole job may take (settings.job_timeout).
    job_timeout: float = 1800.0


def image_id_for(task_id: str, index: int) -> str:
    return f"{task_id[:26]}i{index:05d}"


class TaskJobContext:
    """``JobContext`` backed by the tasks table (see ``app.providers.base``)."""

    def __init__(self, services: JobServices, task: Task, cancel: asyncio.Event) -> None:
        self.s = services
        self.task_id = task.id
        self.created_at: datetime = task.created_at
        self.model = task.model
        self.prompt = task.prompt
        self.negative_prompt = task.negative_prompt
        self.parameters = public_parameters(task.parameters)
        # Lineage travels in the file too: an edit found outside the app still names its parent.
        self.lineage = (
            {"operation": task.operation, "parent_image_id": task.parent_image_id} if task.operation else {}
        )
        self.checkpoint: dict[str, Any] = dict(task.checkpoint or {})
        self.expected = task.expected_images
        self.done: set[int] = {img.index for img in task.images}
        self.failures: list[dict[str, Any]] = list(task.failures or [])
        self.failed: set[int] = {f["index"] for f in self.failures}
        self.cancel = cancel
        self.unit_price = task.unit_price_micro
        self.is_group = task.parameters.get("group_max_images") is not None
        # Images the upstream said it billed (usage.generated_images), when it says so.
        self.billed_reported = 0

    # --- JobContext --------------------------------------------------------------------------
    @property
    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.checkpoint.setdefault("provider", {})
        return state

    async def save_state(self, **values: Any) -> None:
        self.state.update(values)
        await self._update(checkpoint=dict(self.checkpoint))

    def is_done(self, index: int) -> bool:
        return index in self.done or index in self.failed

    def check_cancelled(self) -> None:
        if self.cancel.is_set():
            raise JobCancelled()

    def add_billed(self, images: int) -> None:
        if images > 0:
            self.billed_reported += images

    def add_web_searches(self, searches: int) -> None:
        # Kept in the checkpoint (written with the next stored image): a re-run after a crash
        # does not repeat the calls that searched, so their count must survive it.
        if searches > 0:
            self.checkpoint["web_searches"] = self.web_searches + searches

    @property
    def web_searches(self) -> int:
        value = self.checkpoint.get("web_searches", 0)
        return value if isinstance(value, int) else 0

    @property
    def billed_images(self) -> int:
        # An image we stored was billed even when the upstream sent no usage; one it reported but
        # we could not keep (an expired link, a full disk) was billed too.
        return max(self.billed_reported, len(self.done))

    async def set_expected(self, count: int) -> None:
        if count != self.expected:
            self.expected = count
            await self._update(expected_images=count, progress=self._progress())

    async def fail_image(self, index: int, error: JobFailure) -> None:
        if self.is_done(index):
            return
        self.failed.add(index)
        self.failures.append({"index": index, "code": error.code, "message": error.message, "message_zh": error.message_zh})
        await self._update(failures=list(self.failures), progress=self._progress())

    async def deliver(self, result: ImageResult) -> None:
        if result.index in self.done:
            return
        data = result.data
        if data is None:
            if not result.url:
                raise ProviderError(
                    "The upstream returned an image with neither URL nor data.",
                    message_zh="上游返回的图片既没有链接也没有数据。",
                )
            urls = self.checkpoint.setdefault("urls", {})
            saved_layers = layer_store.to_checkpoint(result.layers) if result.layers else None
            # A set whose layers came as bytes cannot be fetched again: its base URL alone would
            # resume as an image without layers, so nothing is checkpointed for it.
            resumable = not result.layers or saved_layers is not None
            if resumable and (urls.get(str(result.index)) != result.url or (
                saved_layers is not None and self.checkpoint.get("layers", {}).get(str(result.index)) != saved_layers
            )):
                urls[str(result.index)] = result.url
                if saved_layers is not None:
                    self.checkpoint.setdefault("layers", {})[str(result.index)] = saved_layers
                await self._update(checkpoint=dict(self.checkpoint))
            data, _ = await self.s.fetch(result.url)
        layers = await layer_store.fetch_layers(self.s.fetch, result.layers) if result.layers else []
        await self._store(result.index, data, result.seed, result.layers, layers)

    # --- internals -----------------------------------------------------------------------------
    def _progress(self) -> int:
        if self.expected <= 0:
            return 0
        finished = len(self.done) + len(self.failed)
        return max(5, min(99, int(finished * 100 / self.expected)))

    async def _update(self, **values: Any) -> None:
        stmt = statements.task_update_of(frozenset(values) | {"updated_at"})
        params = statements.task_values(self.task_id, {**values, "updated_at": utcnow()})
        await self.s.db.run_write(lambda session: session.execute(stmt, params))
        self.s.events.publish(self.task_id)

    async def _delete_files(self, rel_path: str, thumb: str | None) -> None:
        await asyncio.to_thread(self.s.store.delete_output, rel_path, thumb)

    async def _store(
        self, index: int, data: bytes, seed: int | None,
        layers: tuple[LayerResult, ...] = (), layer_data: list[bytes] | None = None,
    ) -> None:
        # Derived from (task, index), not random: a re-run after a crash writes the same path,
        # so a file whose row never landed is replaced, not left behind as an orphan.
        image_id = image_id_for(self.task_id, index)
        metadata = {
            "task_id": self.task_id,
            "index": index,
            "model": self.model,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "seed": seed,
            "parameters": self.parameters,
            **self.lineage,
            "created_at": self.created_at.isoformat(),
            "unit_price_cny": cny_float(self.unit_price),
        }
        writing = asyncio.ensure_future(
            self.s.images.store_output(image_id, data, created=self.created_at, metadata=metadata)
        )
        try:
            # A worker cannot be interrupted: let the write finish, so a cancel knows what it left.
            stored = await asyncio.shield(writing)
        except asyncio.CancelledError:
            if self.cancel.is_set():
                # Cancelled by the user: nothing is kept after the cancel. (Shutdown or a lost lease
                # keep the file: the re-run writes the same path and records it.)
                await self._discard_written(writing)
            raise
        except ImageUnreadable as exc:
            # The store refused bytes the upstream sent: to the job, that is the upstream's garbage.
            raise UpstreamBadResponse(exc.message, message_zh=exc.message_zh, retryable=exc.retryable) from None
        stored_layers: list[layer_store.StoredLayer] = []
        if layers:
            try:
                stored_layers = await layer_store.store_layer_files(
                    self.s.images.store_output, image_id, layers, layer_data or [],
                    created=self.created_at, metadata=metadata, delete=self._delete_files,
                )
            except BaseException as exc:
                if not isinstance(exc, asyncio.CancelledError) or self.cancel.is_set():
                    await self._drop_unreferenced(index, stored.rel_path, stored.thumb_rel_path)
                if isinstance(exc, ImageUnreadable):
                    raise UpstreamBadResponse(exc.message, message_zh=exc.message_zh, retryable=exc.retryable) from None
                raise
        urls = self.checkpoint.get("urls", {})
        urls.pop(str(index), None)
        self.checkpoint.get("layers", {}).pop(str(index), None)
        self.done.add(index)
        image = Image(
            id=image_id,
            task_id=self.task_id,
            index=index,
            rel_path=stored.rel_path,
            thumb_rel_path=stored.thumb_rel_path,
            width=stored.width,
            height=stored.height,
            bytes=stored.bytes,
            sha256=stored.sha256,
            content_type=stored.content_type,
            seed=seed,
            created_at=utcnow(),
        )
        progress = statements.task_values(
            self.task_id, {"progress": self._progress(), "checkpoint": dict(self.checkpoint), "updated_at": utcnow()}
        )

        layer_rows = layer_store.layer_rows(image_id, stored.width, stored.height, stored_layers)

        def record(session: Session) -> None:
            session.add(image)
            if layer_rows:
                # The image row first (the layers' foreign key); one transaction: a re-run finds
                # the whole set or none of it.
                session.flush()
                session.add_all(layer_rows)
            session.execute(statements.STORED_PROGRESS, progress)

        try:
            await self.s.db.run_write(record)
        except IntegrityError:
            # Another run stored this index first (a stalled worker came back). Its row points at
            # the same path (ids are derived from task and index), so the file stays.
            pass
        except asyncio.CancelledError:
            # Shutdown or crash simulation: the re-run rewrites the same path, so nothing is orphaned.
            self.done.discard(index)
            raise
        except Exception:
            self.done.discard(index)
            if await self._drop_unreferenced(index, stored.rel_path, stored.thumb_rel_path):
                await layer_store.delete_layer_files(self._delete_files, stored_layers)
            raise
        if stored.thumbnail_pending:
            # Off the job's path; until it is there the first view of it makes it.
            self.s.images.thumbnail_soon(stored.rel_path, stored.thumb_rel_path)
        for item in stored_layers:
            if item.stored.thumbnail_pending:
                self.s.images.thumbnail_soon(item.stored.rel_path, item.stored.thumb_rel_path)
        self.s.events.publish(self.task_id)


    async def _discard_written(self, writing: asyncio.Future[StoredImage]) -> None:
        try:
            stored = await writing
        except Exception:
            return  # the write failed: nothing was left
        await asyncio.to_thread(self.s.store.delete_output, stored.rel_path, stored.thumb_rel_path)

    async def _drop_unreferenced(self, index: int, rel_path: str, thumb: str | None) -> bool:
        """Remove files whose row did not land, unless another run's row points at them; True
        when they were removed."""
        async with self.s.db.read() as session:
            row = (
                await session.execute(select(Image.id).where(Image.task_id == self.task_id, Image.index == index))
            ).first()
        if row is None:
            await asyncio.to_thread(self.s.store.delete_output, rel_path, thumb)
            return True
        return False


# Telling the upstream to stop (Visual CVCancelTask) is a courtesy: never longer than this.
UPSTREAM_CANCEL_SECONDS = 10.0


class JobRunner:
    def __init__(self, services: JobServices) -> None:
        self.s = services
        # Upstream cancellations still running after their job ended (kept so they are not
        # collected mid-flight, and closed with the runner).
        self._courtesy: set[asyncio.Task[None]] = set()

    async def __call__(self, job: ClaimedJob, cancel: asyncio.Event) -> None:
        async with self.s.db.read() as session:
            task = (
                await session.execute(statements.TASK_BY_ID, statements.task_id_param(job.task_id))
            ).scalar_one_or_none()
        if task is None or task.status != TaskStatus.PROCESSING:
            return
        self.s.events.publish(task.id)
        ctx = TaskJobContext(self.s, task, cancel)
        outcome: dict[str, Any]
        request: GenerationRequest | None = None
        try:
            if task.cancel_requested:
                raise JobCancelled()
            if job.attempts > self.s.max_attempts:
                raise ProviderError(
                    f"This job was interrupted {job.attempts - 1} times and was stopped to avoid paying "
                    "for it again. Retry it if you still want it.",
                    message_zh=f"此任务已被中断 {job.attempts - 1} 次，为避免重复付费已停止。如仍需要，请重试。",
                    retryable=True,
                )
            request = await asyncio.to_thread(parameters_to_request, task.parameters, self.s.store.load_upload)
            outcome = await self._bounded(self._run(request, job, ctx), ctx)
        except JobCancelled:
            outcome = {"status": TaskStatus.CANCELLED, "error": CANCELLED}
        except asyncio.CancelledError:
            # Shutdown or a lost lease: leave the job to be resumed from its checkpoint.
            raise
        except (ProviderError, StorageError) as exc:
            outcome = self._failed_outcome(ctx, exc.to_dict())
        except Exception:
            logger.exception("jobs.unexpected_error", extra={"task_id": task.id})
            outcome = self._failed_outcome(ctx, INTERNAL_ERROR)
        # The final write must land even if shutdown cancels us now, or the job would run again.
        await asyncio.shield(self._finish(ctx, outcome))
        if outcome["status"] == TaskStatus.CANCELLED and request is not None:
            courtesy = asyncio.create_task(self._cancel_upstream(request, ctx.state, ctx.task_id))
            self._courtesy.add(courtesy)
            courtesy.add_done_callback(self._courtesy.discard)

    async def _bounded(self, work: Awaitable[dict[str, Any]], ctx: TaskJobContext) -> dict[str, Any]:
        """Run ``work`` until it ends, the user cancels (``JobCancelled`` at once, whatever the
        upstream is doing) or the job's deadline passes (a retryable timeout)."""
        running = asyncio.ensure_future(work)
        cancelled = asyncio.ensure_future(ctx.cancel.wait())
        try:
            async with asyncio.timeout(self.s.job_timeout):
                await asyncio.wait({running, cancelled}, return_when=asyncio.FIRST_COMPLETED)
        except TimeoutError:
            raise UpstreamTimeout(
                f"The job did not finish within {self.s.job_timeout:g} s (retries and waits included); "
                "it was stopped. Retry it, or raise JOB_TIMEOUT.",
                message_zh=f"任务未能在 {self.s.job_timeout:g} 秒内完成（含重试和等待），已被停止。请重试，"
                "或调大 JOB_TIMEOUT。",
                retryable=True,
            ) from None
        finally:
            cancelled.cancel()
            if not running.done():
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)
        if running.cancelled() and ctx.cancel.is_set():
            raise JobCancelled()
        return running.result()  # re-raises what the work raised, a cancellation included

    async def _cancel_upstream(self, request: GenerationRequest, state: dict[str, Any], task_id: str) -> None:
        provider = self.s.provider_for(request.model)
        try:
            async with asyncio.timeout(UPSTREAM_CANCEL_SECONDS):
                await provider.cancel(request, state)
        except Exception:
            logger.warning("jobs.upstream_cancel_failed", extra={"task_id": task_id}, exc_info=True)

    async def aclose(self) -> None:
        for courtesy in list(self._courtesy):
            courtesy.cancel()
        await asyncio.gather(*self._courtesy, return_exceptions=True)

    async def _run(self, request: GenerationRequest, job: ClaimedJob, ctx: TaskJobContext) -> dict[str, Any]:
        # Downloads that were checkpointed but not finished: fetch, don't generate again.
        saved_layers = ctx.checkpoint.get("layers", {})
        for index, url in sorted(ctx.checkpoint.get("urls", {}).items()):
            ctx.check_cancelled()
            layers = layer_store.from_checkpoint(saved_layers.get(index))
            await ctx.deliver(ImageResult(index=int(index), url=url, layers=layers))
        if request.is_group and job.attempts > 1 and ctx.done:
            for index in range(request.expected_images):
                if not ctx.is_done(index):
                    ctx.failed.add(index)
                    ctx.failures.append({"index": index, **INTERRUPTED})
            return self._completed_outcome(ctx)
        if not all(ctx.is_done(i) for i in range(request.expected_images)) or request.is_group:
            await self._generate(request, ctx)
        ctx.check_cancelled()
        if not ctx.done:
            first = ctx.failures[0] if ctx.failures else None
            error = (
                {
                    "code": first["code"],
                    "message": first["message"],
                    # Failures recorded before messages were stored in both languages have no zh.
                    "message_zh": first.get("message_zh") or first["message"],
                    "retryable": True,
                }
                if first
                else NO_IMAGE
            )
            return self._failed_outcome(ctx, error)
        return self._completed_outcome(ctx)

    async def _generate(self, request: GenerationRequest, ctx: TaskJobContext) -> None:
        provider = self.s.provider_for(request.model)
        try:
            await provider.generate(request, ctx)
        except (ProviderError, StorageError) as exc:
            if not ctx.done:
                raise
            # Some images are stored: keep them, name the ones that did not come.
            await fail_remaining(ctx, range(max(ctx.expected, 1)), exc)

    def _completed_outcome(self, ctx: TaskJobContext) -> dict[str, Any]:
        return {"status": TaskStatus.COMPLETED, "error": None, "progress": 100, "failures": ctx.failures}

    def _failed_outcome(self, ctx: TaskJobContext, error: dict[str, Any]) -> dict[str, Any]:
        if ctx.done:
            return self._completed_outcome(ctx)
        return {"status": TaskStatus.FAILED, "error": error, "failures": ctx.failures}

    async def _finish(self, ctx: TaskJobContext, outcome: dict[str, Any]) -> None:
        values: dict[str, Any] = {
            "status": outcome["status"],
            "error": outcome.get("error"),
            "failures": outcome.get("failures", ctx.failures),
            "completed_at": utcnow(),
            "updated_at": utcnow(),
            "lease_owner": None,
            "lease_expires_at": None,
            "expected_images": max(ctx.expected, len(ctx.done) + len(ctx.failed)),
            # Settle: the reservation goes, the actual cost stays.
            "reserved_micro": 0,
            "billed_images": ctx.billed_images,
            "web_searches": ctx.web_searches,
            "cost_micro": self.s.prices.cost(
                ctx.model,
                ctx.unit_price,
                billed_images=ctx.billed_images,
                calls=(1 if ctx.done else 0) if ctx.is_group else len(ctx.done),
            ),
        }
        stmt = statements.FINISH
        if "progress" in outcome:
            values["progress"] = outcome["progress"]
            stmt = statements.FINISH_WITH_PROGRESS
        params = statements.task_values(ctx.task_id, values)
        await self.s.db.run_write(lambda session: session.execute(stmt, params))
        self.s.events.publish(ctx.task_id)
        logger.info(
            "jobs.finished",
            extra={"task_id": ctx.task_id, "status": outcome["status"], "images": len(ctx.done)},
        )
