"""Webhooks: admin-configured endpoints told when a task completes or fails.

Each delivery is a POST of JSON ``{"event", "delivery_id", "task"}`` signed with the endpoint's
secret: ``X-Studio-Signature: sha256=<hex HMAC-SHA256(secret, "<X-Studio-Timestamp>." + body)>``,
so a receiver checks both the body and its age (refuse old timestamps to stop replays).

Deliveries are a durable outbox in the database: a row per endpoint, task and event (unique: the
replicas that see one completion insert it once), claimed with a lease like jobs, retried with
backoff (10 s, 30 s, 2 min, 10 min, 30 min, 1 h, ...) until a 2xx or ``MAX_ATTEMPTS``, each attempt
logged. Targets obey WEBHOOK_HOSTS (the rules of result downloads: http(s), no credentials, a host
on the list); redirects are not followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import yarl
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.core.background import BackgroundTask
from app.core.config import Settings
from app.core.db import Database, rowcount
from app.core.errors import InvalidRequest, NotFound
from app.jobs.events import TaskEvents
from app.models.base import utcnow
from app.models.task import Task, TaskStatus
from app.models.webhook import Webhook, WebhookDelivery
from app.providers.download import host_allowed
from app.services.tasks import TaskService

if TYPE_CHECKING:
    import aiohttp

logger = logging.getLogger(__name__)

EVENTS = {TaskStatus.COMPLETED: "task.completed", TaskStatus.FAILED: "task.failed"}
ALL_EVENTS = tuple(EVENTS.values())
RETRY_DELAYS = (10.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 3600.0)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# An attempt's lease: a replica that dies mid-attempt leaves the row to be retried after it.
ATTEMPT_LEASE = timedelta(seconds=60)
REQUEST_TIMEOUT = 10.0
# How far back a starting process looks for finished tasks (completed while it was down).
LOOKBACK = timedelta(minutes=10)
# Look back this much at every scan: task rows commit a little after they stamp updated_at.
OVERLAP = timedelta(seconds=2)
BATCH = 16
# At most about four rounds a second: a delivery waits a quarter second more, a burst of jobs
# does not pay a round per task change.
ROUND_GAP = 0.25
MAX_WEBHOOKS = 20


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _not_allowed(url: str) -> InvalidRequest:
    return InvalidRequest(
        f"Webhooks may only point at hosts on WEBHOOK_HOSTS (http or https, no credentials in the URL): {url}",
        message_zh=f"Webhook 只能指向 WEBHOOK_HOSTS 中的主机（http 或 https，地址中不能带凭证）：{url}",
        code="webhook_host_not_allowed",
        details={"field": "url"},
    )


class WebhookService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        # Called at each delivery: the session is opened by the first one (``app.providers.upstream``).
        session: Callable[[], aiohttp.ClientSession],
        tasks: TaskService,
        events: TaskEvents,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.settings = settings
        self.session = session
        self.tasks = tasks
        self.events = events
        self.clock = clock
        self._watermark = clock() - LOOKBACK
        self._background = BackgroundTask("webhooks", self._loop)

    # --- endpoints ----------------------------------------------------------------------------

    def check_url(self, url: str) -> yarl.URL:
        try:
            parsed = yarl.URL(url)
        except (TypeError, ValueError):
            raise _not_allowed(url) from None
        if (
            parsed.scheme not in ("http", "https")
            or parsed.user is not None
            or parsed.password is not None
            or not host_allowed(parsed, self.settings.webhook_hosts)
        ):
            raise _not_allowed(url)
        return parsed

    async def create(self, url: str, events: Sequence[str], description: str = "") -> tuple[Webhook, str]:
        self.check_url(url)
        chosen = [e for e in ALL_EVENTS if e in set(events)]
        if not chosen or len(chosen) != len(set(events)):
            raise InvalidRequest(
                f"Events must be among {', '.join(ALL_EVENTS)} (at least one).",
                message_zh=f"事件必须是 {', '.join(ALL_EVENTS)} 中的一个或多个。",
                details={"field": "events"},
            )
        secret = "whsec_" + secrets.token_urlsafe(24)
        hook = Webhook(
            id=secrets.token_hex(16), url=url, secret=secret, events=chosen, description=description,
            enabled=True, created_at=self.clock(),
        )

        def insert(session: Session) -> None:
            count = session.execute(select(func.count()).select_from(Webhook)).scalar_one()
            if count >= MAX_WEBHOOKS:
                raise InvalidRequest(
                    f"At most {MAX_WEBHOOKS} webhooks; delete one first.",
                    message_zh=f"最多 {MAX_WEBHOOKS} 个 Webhook，请先删除一个。",
                    code="too_many_webhooks",
                )
            session.add(hook)

        await self.db.run_write(insert)
        return hook, secret

    async def endpoints(self) -> list[Webhook]:
        async with self.db.read() as session:
            return list((await session.execute(select(Webhook).order_by(Webhook.created_at))).scalars().all())

    async def _get(self, webhook_id: str) -> Webhook:
        async with self.db.read() as session:
            hook = await session.get(Webhook, webhook_id)
        if hook is None:
            raise NotFound("No such webhook.", message_zh="没有这个 Webhook。", details={"webhook_id": webhook_id})
        return hook

    async def set_enabled(self, webhook_id: str, enabled: bool) -> Webhook:
        await self._get(webhook_id)
        await self.db.run_write(
            lambda s: s.execute(update(Webhook).where(Webhook.id == webhook_id).values(enabled=enabled))
        )
        return await self._get(webhook_id)

    async def delete(self, webhook_id: str) -> None:
        def remove(session: Session) -> int:
            session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id))
            return rowcount(session.execute(delete(Webhook).where(Webhook.id == webhook_id)))

        if not await self.db.run_write(remove):
            raise NotFound("No such webhook.", message_zh="没有这个 Webhook。", details={"webhook_id": webhook_id})

    async def deliveries(self, webhook_id: str, limit: int = 50) -> list[WebhookDelivery]:
        await self._get(webhook_id)
        stmt = (
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
            .limit(limit)
        )
        async with self.db.read() as session:
            return list((await session.execute(stmt)).scalars().all())

    # --- the outbox ---------------------------------------------------------------------------

    async def enqueue_finished(self) -> int:
        """Make the deliveries of tasks that finished since the last scan; how many were new."""
        now = self.clock()
        since, self._watermark = self._watermark - OVERLAP, now
        async with self.db.read() as session:
            hooks = list((await session.execute(select(Webhook).where(Webhook.enabled.is_(True)))).scalars().all())
            if not hooks:
                return 0
            finished = list(
                (
                    await session.execute(
                        select(Task)
                        .where(Task.updated_at >= since, Task.status.in_(list(EVENTS)))
                        .order_by(Task.updated_at)
                        .limit(1000)
                    )
                ).scalars().all()
            )
        rows: list[dict[str, Any]] = []
        for task in finished:
            event = EVENTS[TaskStatus(task.status)]
            payload = self.tasks.to_public(task).model_dump(mode="json")
            for hook in hooks:
                if event in hook.events:
                    delivery_id = secrets.token_hex(16)
                    rows.append({
                        "id": delivery_id, "webhook_id": hook.id, "task_id": task.id, "event": event,
                        "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
                        "payload": {"event": event, "delivery_id": delivery_id, "task": payload},
                    })
        if rows:
            # The scan overlaps the last one: skip what is already in the outbox by a read, so a
            # quiet round makes no write (on conflict still settles a replica's race).
            async with self.db.read() as session:
                found = await session.execute(
                    select(WebhookDelivery.webhook_id, WebhookDelivery.task_id, WebhookDelivery.event).where(
                        # both: the unique index (webhook_id, task_id, event) serves it
                        WebhookDelivery.webhook_id.in_({row["webhook_id"] for row in rows}),
                        WebhookDelivery.task_id.in_({row["task_id"] for row in rows}),
                    )
                )
                known = {(hook_id, task_id, event) for hook_id, task_id, event in found}
            rows = [row for row in rows if (row["webhook_id"], row["task_id"], row["event"]) not in known]
        if not rows:
            return 0
        insert = sqlite_insert if self.db.is_sqlite else pg_insert
        stmt = insert(WebhookDelivery).values(rows).on_conflict_do_nothing(
            index_elements=["webhook_id", "task_id", "event"]
        )
        return await self.db.run_write(lambda s: rowcount(s.execute(stmt)))

    async def _claim(self) -> list[tuple[WebhookDelivery, Webhook]]:
        now = self.clock()
        due = (
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(BATCH)
        )
        chosen: Any = (
            due.scalar_subquery()
            if self.db.is_sqlite
            else select(due.with_for_update(skip_locked=True).cte("due", nesting=False).prefix_with("MATERIALIZED"))
        )
        # A read first: this runs every round, and an empty claim would still take the
        # database's one writer from the jobs (SQLite) or cost a write transaction (PostgreSQL).
        async with self.db.read() as session:
            if (await session.execute(due.limit(1))).first() is None:
                return []
        stmt = (
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(chosen), WebhookDelivery.status == "pending")
            .values(next_attempt_at=now + ATTEMPT_LEASE, attempts=WebhookDelivery.attempts + 1)
            .returning(WebhookDelivery.id)
            .execution_options(synchronize_session=False)
        )
        ids = list(await self.db.run_write(lambda s: s.execute(stmt).scalars().all()))
        if not ids:
            return []
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(WebhookDelivery, Webhook)
                    .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                    .where(WebhookDelivery.id.in_(ids))
                )
            ).all()
        return [(d, h) for d, h in rows]

    async def _attempt(self, delivery: WebhookDelivery, hook: Webhook) -> tuple[int | None, str | None]:
        """(HTTP status, error) of one POST; (2xx, None) is success."""
        try:
            url = self.check_url(hook.url)
        except InvalidRequest:
            return None, "the host is no longer on WEBHOOK_HOSTS"
        body = orjson.dumps(delivery.payload)
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "volcengine-image-studio-webhook",
            "X-Studio-Event": delivery.event,
            "X-Studio-Delivery": delivery.id,
            "X-Studio-Timestamp": stamp,
            "X-Studio-Signature": sign(hook.secret, stamp, body),
        }
        # Here, not at the top: aiohttp is a tenth of a second of start-up (app.providers.upstream).
        import aiohttp

        try:
            async with self.session().post(
                url, data=body, headers=headers, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return response.status, None
                if 300 <= response.status < 400:
                    return response.status, "redirects are not followed"
                return response.status, f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return None, f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__

    async def _record(self, delivery: WebhookDelivery, status: int | None, error: str | None) -> None:
        now = self.clock()
        values: dict[str, Any] = {"last_status": status, "last_error": error}
        if error is None:
            values.update(status="delivered", delivered_at=now)
        elif delivery.attempts >= MAX_ATTEMPTS:
            values.update(status="failed")
        else:
            delay = RETRY_DELAYS[delivery.attempts - 1] * self.settings.retry_backoff_scale
            values.update(next_attempt_at=now + timedelta(seconds=delay))
        await self.db.run_write(
            lambda s: s.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery.id).values(**values))
        )
        if error is not None:
            logger.warning(
                "webhook.attempt_failed",
                extra={"delivery": delivery.id, "attempt": delivery.attempts, "status": status, "error": error},
            )

    async def deliver_due(self) -> int:
        """Attempt every delivery that is due now; how many were attempted."""
        claimed = await self._claim()

        async def one(delivery: WebhookDelivery, hook: Webhook) -> None:
            status, error = await self._attempt(delivery, hook)
            await self._record(delivery, status, error)

        await asyncio.gather(*(one(d, h) for d, h in claimed))
        return len(claimed)

    async def run_once(self) -> None:
        await self.enqueue_finished()
        while await self.deliver_due() == BATCH:
            pass

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    async def _loop(self) -> None:
        with self.events.subscribe_all() as changed:
            while True:
                changed.clear()
                try:
                    await self.run_once()
                except Exception:
                    logger.exception("webhook.round_failed")
                # Woken by task changes; retries come due with time, so look every second anyway.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), timeout=1.0)
                # A burst of task changes makes one round, not one per change (each round reads).
                await asyncio.sleep(ROUND_GAP)
