"""The worker loop: claim, run with bounded concurrency, heartbeat, drain.

Runs inside the API process by default (``RUN_WORKER=true``) or alone (``python -m app.worker``).
Tests use ``run(burst=True)``: the loop returns once nothing is runnable and nothing is running,
so no test sleeps waiting for a job.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress

from app.jobs.queue import ClaimedJob, JobQueue

logger = logging.getLogger("app.jobs.worker")

Runner = Callable[[ClaimedJob, asyncio.Event], Awaitable[None]]

# tasks.lease_owner holds it: String(64).
_HOST_PART = 40


def default_worker_id(hostname: str | None = None) -> str:
    """``w-<host>-<random>``: the host name (a container's id under Docker and podman) tells an
    operator, and the image test, which replica holds a job's lease; the random part tells apart
    two processes on one host and a restarted one from its predecessor."""
    host = (socket.gethostname() if hostname is None else hostname).strip()[:_HOST_PART] or "unknown"
    return f"w-{host}-{uuid.uuid4().hex[:16]}"


class Worker:
    def __init__(
        self,
        *,
        queue: JobQueue,
        runner: Runner,
        max_concurrent: int,
        provider_caps: Mapping[str, int | None],
        poll_interval: float = 1.0,
        heartbeat_interval: float | None = None,
        cancel_poll_interval: float = 1.0,
        worker_id: str | None = None,
    ) -> None:
        self.queue = queue
        self.runner = runner
        self.max_concurrent = max_concurrent
        self.provider_caps = dict(provider_caps)
        self.poll_interval = poll_interval
        self.heartbeat_interval = heartbeat_interval or max(queue.lease.total_seconds() / 3, 0.05)
        # Cancels asked through another process (an API replica) reach us this fast; ours at once.
        self.cancel_poll_interval = min(cancel_poll_interval, self.heartbeat_interval)
        self.worker_id = worker_id or default_worker_id()
        self._active: dict[str, tuple[asyncio.Task[None], asyncio.Event, str]] = {}
        # Jobs whose lease another worker holds now: cancelled here, never finished here.
        self._lost: set[str] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None

    # --- signals from the API ------------------------------------------------------------------
    def notify(self) -> None:
        """New work was queued: look for it now instead of at the next poll."""
        self._wake.set()

    def notify_cancel(self, task_id: str) -> bool:
        entry = self._active.get(task_id)
        if entry is None:
            return False
        entry[1].set()
        return True

    @property
    def active_ids(self) -> list[str]:
        return list(self._active)

    # --- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        recovered = await self.queue.recover_abandoned(self.worker_id)
        if recovered:
            logger.warning("jobs.recovered", extra={"count": recovered})
        self._loop_task = asyncio.create_task(self.run(), name="job-worker")
        self._heartbeat_task = asyncio.create_task(self._heartbeat_loop(), name="job-heartbeat")

    async def stop(self, drain_timeout: float = 10.0) -> None:
        """Stop claiming, let running jobs finish for a while, then hand the rest back."""
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            with suppress(asyncio.CancelledError):
                await self._loop_task
        tasks = [t for t, _, _ in self._active.values()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=drain_timeout)
            unfinished = [tid for tid, (t, _, _) in self._active.items() if t in pending]
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if unfinished:
                await self.queue.release(self.worker_id, unfinished)
                logger.warning("jobs.released_on_shutdown", extra={"count": len(unfinished)})
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            with suppress(asyncio.CancelledError):
                await self._heartbeat_task

    # --- the loop --------------------------------------------------------------------------------
    def _free_slots(self) -> dict[str, int]:
        free_total = self.max_concurrent - len(self._active)
        counts: dict[str, int] = {}
        for _, _, provider in self._active.values():
            counts[provider] = counts.get(provider, 0) + 1
        slots: dict[str, int] = {}
        for provider, cap in self.provider_caps.items():
            room = free_total if cap is None else min(free_total, cap - counts.get(provider, 0))
            if room > 0:
                slots[provider] = room
        return slots

    async def _claim_some(self) -> tuple[int, bool]:
        """Claim what the free slots allow; returns (claimed, maybe_more)."""
        free_total = self.max_concurrent - len(self._active)
        if free_total <= 0:
            return 0, False
        slots = self._free_slots()
        if not slots:
            return 0, False
        # A read first: a claim is a write transaction, and on SQLite every write waits for the
        # one writer, so claims that would find nothing are skipped.
        waiting = await self.queue.claimable_providers()
        uncapped = [p for p in slots if p in waiting and self.provider_caps.get(p) is None]
        capped = [p for p in slots if p in waiting and self.provider_caps.get(p) is not None]
        claimed: list[ClaimedJob] = []
        maybe_more = False
        if uncapped:
            got = await self.queue.claim(self.worker_id, free_total, providers=uncapped)
            maybe_more = len(got) == free_total
            claimed += got
        for provider in capped:
            room = min(slots[provider], self.max_concurrent - len(self._active) - len(claimed))
            if room > 0:
                got = await self.queue.claim(self.worker_id, room, providers=[provider])
                claimed += got
        for job in claimed:
            self._spawn(job)
        return len(claimed), maybe_more

    def _spawn(self, job: ClaimedJob) -> None:
        cancel = asyncio.Event()
        task = asyncio.create_task(self._run_one(job, cancel), name=f"job-{job.task_id}")
        self._active[job.task_id] = (task, cancel, job.provider)

    async def _run_one(self, job: ClaimedJob, cancel: asyncio.Event) -> None:
        try:
            await self.runner(job, cancel)
        except asyncio.CancelledError:
            if job.task_id in self._lost and not self._stopping:
                # We cancelled it ourselves (lease lost): the job is someone else's now.
                logger.warning("jobs.abandoned_after_lease_loss", extra={"task_id": job.task_id})
                return
            raise
        except Exception:
            # The runner records failures itself; reaching here is a bug, not a job failure.
            logger.exception("jobs.runner_crashed", extra={"task_id": job.task_id})
        finally:
            self._active.pop(job.task_id, None)
            self._lost.discard(job.task_id)
            self._wake.set()

    async def run(self, *, burst: bool = False) -> None:
        """Claim and run jobs until stopped (or, in burst mode, until idle)."""
        while not self._stopping:
            self._wake.clear()
            try:
                claimed, maybe_more = await self._claim_some()
            except Exception:
                logger.exception("jobs.claim_failed")
                claimed, maybe_more = 0, False
            if burst and claimed == 0 and not self._active:
                if not await self.queue.has_claimable():
                    return
                # Claimable work the caps keep us from taking right now cannot exist with no
                # job active; it must be a lease still running out.
                await asyncio.sleep(0.01)
                continue
            if maybe_more and len(self._active) < self.max_concurrent:
                # The claim was cut by its limit, not by the queue running dry: claim again now.
                continue
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=None if burst else self.poll_interval)

    async def _heartbeat_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_beat = loop.time() + self.heartbeat_interval
        while True:
            await asyncio.sleep(self.cancel_poll_interval)
            try:
                if loop.time() >= next_beat:
                    next_beat = loop.time() + self.heartbeat_interval
                    await self.heartbeat_once()
                elif self._active:
                    await self.poll_cancels()
            except Exception:
                logger.exception("jobs.heartbeat_failed")

    async def poll_cancels(self) -> None:
        for task_id in await self.queue.cancel_requested(list(self._active)):
            self.notify_cancel(task_id)

    async def heartbeat_once(self) -> None:
        ids = list(self._active)
        if not ids:
            return
        held = await self.queue.heartbeat(self.worker_id, ids)
        for task_id in ids:
            entry = self._active.get(task_id)
            if task_id not in held and entry is not None and task_id not in self._lost:
                # Lost the lease (another worker took over after a stall, or the row is gone):
                # stop working on it at once so the job is not run, and billed, twice.
                logger.warning("jobs.lease_lost", extra={"task_id": task_id})
                self._lost.add(task_id)
                entry[0].cancel()
        for task_id in await self.queue.cancel_requested(ids):
            self.notify_cancel(task_id)
