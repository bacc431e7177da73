"""Use cases around tasks: submit, read, cancel, retry, history, favourites, delete, download.

Services own their transactions; routes only parse input and shape output. Every use case is asked
on behalf of a ``Principal``: a member reaches only their own tasks and uploads (another's task id
is "not found", so that its existence does not show), an admin reaches everything.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, BinaryIO, TypeVar

import orjson
from sqlalchemy import Result, Select, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.billing.prices import cny_float
from app.core.db import Database, rowcount
from app.core.errors import (
    Conflict,
    DatabaseFull,
    InvalidRequest,
    ModelUnavailable,
    NotFound,
)
from app.jobs.codec import public_parameters, request_to_parameters
from app.jobs.events import TaskEvents
from app.jobs.handlers import CANCELLED
from app.models.base import utcnow
from app.models.layers import ImageLayer
from app.models.library import CollectionItem
from app.models.task import ACTIVE_STATUSES, Image, Task, TaskStatus, TaskType, Upload
from app.models.user import UploadOwner
from app.providers.base import GenerationMode as Mode
from app.providers.base import ReferenceImage
from app.providers.catalog.lookup import Catalog
from app.providers.catalog.validation import validate_request
from app.schemas.generation import GenerateIn, Image2ImageIn
from app.schemas.task import (
    FailurePublic,
    HistoryPage,
    HistoryQuery,
    OutputPublic,
    TaskError,
    TaskPublic,
    UpstreamState,
)
from app.services.collections import CollectionService
from app.services.history_search import Cursor, completed_matches, completed_total, prompt_condition
from app.services.usage import UsageService
from app.services.users import Principal
from app.storage.archive import ArcnameAllocator, stream_zip
from app.storage.files import ImageStore
from app.storage.names import download_name
from app.storage.reserve import DiskReserve
from app.storage.uploads import decode_data_uri, validate_upload_file

T = TypeVar("T")
# Uploads decoded at once (see receive_upload); measured in bench/uploads_memory.py.
UPLOAD_DECODES = 2
SEED_LIMIT = 2**31  # upstream seeds are in [0, 2147483647]
UPLOAD_ID = re.compile(r"^[0-9a-f]{64}$")
# How often wait() re-reads a task nobody announced a change of.
WAIT_RESCAN_SECONDS = 1.0


_STATUS_ZH = {TaskStatus.PENDING: "排队中", TaskStatus.PROCESSING: "生成中"}


def _mine(stmt: Select[Any], who: Principal) -> Select[Any]:
    scope = who.scope
    return stmt if scope is None else stmt.where(Task.owner_id == scope)


def scoped_idempotency_key(owner_id: str, key: str) -> str:
    """Idempotency keys are per user: one member's key never returns another's task."""
    scoped = f"{owner_id}:{key}"
    if len(scoped) > 200:
        scoped = f"{owner_id}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return scoped


def _task_not_found(task_id: str) -> NotFound:
    return NotFound(f"Task {task_id!r} does not exist.", message_zh=f"任务 {task_id!r} 不存在。")


def _still_active(task: Task, hint_en: str, hint_zh: str) -> Conflict:
    return Conflict(
        f"Task {task.id} is still {task.status}; {hint_en}.",
        message_zh=f"任务 {task.id} 仍在{_STATUS_ZH.get(TaskStatus(task.status), task.status)}，{hint_zh}。",
    )


def _missing_listing(names: list[str], stored_as: dict[str, str]) -> bytes:
    lines = [
        "These images are listed in metadata.json (\"missing\": true) but their files were no longer in",
        "the studio's storage when this archive was made, so they are not in it.",
        "以下图片列在 metadata.json 中（\"missing\": true），但打包时其文件已不在服务器存储中，因此未包含在压缩包内。",
        "",
        *(f"{name}\t{stored_as[name]}" for name in names),
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _entry_comment(rating: int | None, collections: list[str]) -> str:
    """The zip entry's comment (shown by unzip -l -z and most archive tools): rating, collections."""
    stars = f"rating {rating}/5" if rating else "not rated"
    return f"{stars}; collections: {', '.join(collections)}" if collections else stars


def _upstream_state(task: Task) -> UpstreamState | None:
    """Read from the job's checkpoint: result URLs not yet stored mean the images are being
    downloaded; an async model's last polled status says whether it is queued or generating."""
    if task.status != TaskStatus.PROCESSING:
        return None
    checkpoint = task.checkpoint or {}
    if checkpoint.get("urls"):
        return "downloading"
    provider = checkpoint.get("provider")
    status = provider.get("upstream_status") if isinstance(provider, dict) else None
    if status == "in_queue":
        return "queued"
    return "generating" if status == "generating" else None


def _bilingual(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored error or failure with ``message_zh``: rows written before messages were kept in
    both languages have only the English one, which then stands for both."""
    return {**stored, "message_zh": stored.get("message_zh") or stored["message"]}


@dataclass(slots=True)
class UploadRecord:
    id: str
    width: int
    height: int
    bytes: int
    content_type: str


class TaskService:
    def __init__(
        self,
        *,
        db: Database,
        store: ImageStore,
        catalog: Catalog,
        events: TaskEvents,
        notify_worker: Any,
        notify_cancel: Any,
        max_upload_bytes: int,
        max_image_pixels: int,
        usage: UsageService,
        collections: CollectionService,
        reserve: DiskReserve | None = None,
    ) -> None:
        self.db = db
        self.collections = collections
        self.usage = usage
        self.store = store
        self.catalog = catalog
        self.events = events
        self._notify_worker = notify_worker
        self._notify_cancel = notify_cancel
        self.max_upload_bytes = max_upload_bytes
        self.max_image_pixels = max_image_pixels
        self.reserve = reserve
        self._decode_slots = asyncio.Semaphore(UPLOAD_DECODES)

    # --- uploads --------------------------------------------------------------------------------
    async def save_upload(self, data: bytes, owner_id: str) -> UploadRecord:
        """A reference image already in memory (a data: URI)."""
        return await self.receive_upload(io.BytesIO(data), owner_id)

    async def receive_upload(self, src: BinaryIO, owner_id: str) -> UploadRecord:
        """Store a reference image read from ``src`` (an uploaded file): streamed to disk, validated
        there, kept under its content hash; never held in memory whole."""
        incoming = await asyncio.to_thread(self.store.receive_upload, src, self.max_upload_bytes)
        try:
            # Decoding every pixel is how a truncated file is caught, and it is the memory cost of
            # an upload (width × height × channels): a few at a time, no slower on 2 cores.
            async with self._decode_slots:
                info = await asyncio.to_thread(
                    validate_upload_file, incoming.path, sha256=incoming.sha256, max_pixels=self.max_image_pixels
                )
            await asyncio.to_thread(self.store.keep_upload, incoming, info)
        finally:
            await asyncio.to_thread(self.store.discard_upload, incoming)  # nothing left when kept
        record = UploadRecord(
            id=info.sha256, width=info.width, height=info.height, bytes=info.bytes, content_type=info.content_type
        )
        async with self.db.write() as session:
            if await session.get(Upload, info.sha256) is None:
                session.add(
                    Upload(
                        id=info.sha256,
                        ext=info.ext,
                        content_type=info.content_type,
                        width=info.width,
                        height=info.height,
                        bytes=info.bytes,
                    )
                )
            if await session.get(UploadOwner, (info.sha256, owner_id)) is None:
                session.add(UploadOwner(upload_id=info.sha256, user_id=owner_id, created_at=utcnow()))
        return record

    async def find_upload(self, upload_id: str, who: Principal) -> Upload | None:
        """The upload ``who`` may use: another member's upload is as unknown as one never made."""
        async with self.db.read() as session:
            row = await session.get(Upload, upload_id)
            if row is not None and who.scope is not None and await session.get(UploadOwner, (upload_id, who.scope)) is None:
                return None
            return row

    async def _reference(self, item: str, position: int, who: Principal) -> tuple[str, ReferenceImage]:
        field = f"images[{position}]"
        if UPLOAD_ID.match(item):
            row = await self.find_upload(item, who)
            if row is None:
                raise InvalidRequest(
                    f"Reference image {position + 1} ({item[:12]}…) was not found; upload it again.",
                    message_zh=f"第 {position + 1} 张参考图（{item[:12]}…）不存在，请重新上传。",
                    details={"field": field},
                )
            data, content_type = await asyncio.to_thread(self.store.load_upload, item)
            return item, ReferenceImage(data=data, content_type=content_type, width=row.width, height=row.height)
        if item.startswith("data:"):
            data = decode_data_uri(item, self.max_upload_bytes)
            record = await self.save_upload(data, who.user_id)
            data, content_type = await asyncio.to_thread(self.store.load_upload, record.id)
            return record.id, ReferenceImage(
                data=data, content_type=content_type, width=record.width, height=record.height
            )
        raise InvalidRequest(
            f"Reference image {position + 1} must be an upload id from /api/v1/uploads or a data: URI; "
            "the service never fetches URLs you supply.",
            message_zh=f"第 {position + 1} 张参考图必须是 /api/v1/uploads 返回的 id 或 data: URI；服务不会抓取您提供的链接。",
            details={"field": field},
        )

    # --- submit -----------------------------------------------------------------------------------
    async def submit(
        self,
        body: GenerateIn,
        *,
        mode: Mode,
        who: Principal,
        idempotency_key: str | None = None,
        uploaded: Sequence[str] = (),
    ) -> tuple[Task, bool]:
        """Validate and queue a request for ``who``. Returns the task and whether it was created now."""
        if idempotency_key:
            idempotency_key = scoped_idempotency_key(who.user_id, idempotency_key)
            existing = await self.by_idempotency_key(idempotency_key)
            if existing is not None:
                return existing, False
        spec = self.catalog.resolve(body.model)
        reference_ids: list[str] = []
        references: list[ReferenceImage] = []
        items = list(body.images) if isinstance(body, Image2ImageIn) else []
        for position, item in enumerate(items):
            rid, ref = await self._reference(item, position, who)
            reference_ids.append(rid)
            references.append(ref)
        for upload_id in uploaded:  # multipart files, already stored by receive_upload
            rid, ref = await self._reference(upload_id, len(reference_ids), who)
            reference_ids.append(rid)
            references.append(ref)
        request = validate_request(
            spec, body.to_input(), mode=mode, references=references, available=self.catalog.available(spec)
        )
        if spec.seed and request.seed is None:
            # Draw "random" here rather than upstream: the seed is then in the history, a remix
            # reproduces the image, and a re-run after a crash makes the same picture.
            request = replace(request, seed=secrets.randbelow(SEED_LIMIT))
        self.check_disk()
        estimate = self.usage.estimate_request(request)
        task = Task(
            id=uuid.uuid4().hex,
            type=mode,
            model=spec.id,
            provider=spec.provider,
            status=TaskStatus.PENDING,
            progress=0,
            prompt=request.prompt,
            negative_prompt=request.negative_prompt,
            parameters=request_to_parameters(request, reference_ids),
            expected_images=request.expected_images,
            checkpoint={},
            failures=[],
            idempotency_key=idempotency_key,
            owner_id=who.user_id,
            unit_price_micro=estimate.price.micro,
            reserved_micro=estimate.cost_max,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        try:
            await self.admit(task, estimate.cost_max)
        except IntegrityError:
            # Two submits with one key raced; the other one won.
            existing = await self.by_idempotency_key(idempotency_key or "")
            if existing is None:
                raise
            return existing, False
        self._notify_worker()
        return task, True

    async def admit(self, task: Task, cost_max: int) -> None:
        """Insert ``task`` with its reservation, in the transaction that checks the budgets."""

        def insert(session: Session) -> None:
            if cost_max > 0:
                # Read here, not in a read session before: most jobs are free, and a priced one
                # then checks the caps it reads in the same snapshot.
                member = self.usage.member_caps_in(session, task.owner_id) if task.owner_id else None
                self.usage.admit(
                    session, self.usage.caps_in(session), cost_max, owner=task.owner_id, member_caps=member
                )
            session.add(task)

        await self.db.run_write(insert)

    def notify_worker(self) -> None:
        self._notify_worker()

    def check_disk(self) -> None:
        self.store.ensure_space()

    async def by_idempotency_key(self, key: str) -> Task | None:
        async with self.db.read() as session:
            return (await session.execute(select(Task).where(Task.idempotency_key == key))).scalar_one_or_none()

    # --- read -------------------------------------------------------------------------------------
    async def get(self, task_id: str, who: Principal) -> Task:
        async with self.db.read() as session:
            task = await session.get(Task, task_id)
        if task is None or (who.scope is not None and task.owner_id != who.scope):
            raise _task_not_found(task_id)
        return task

    async def active(self, who: Principal, limit: int = 500) -> list[Task]:
        async with self.db.read() as session:
            stmt = _mine(select(Task).where(Task.status.in_(ACTIVE_STATUSES)), who).order_by(Task.created_at).limit(limit)
            return list((await session.execute(stmt)).scalars().all())

    async def changed_since(self, since: datetime, who: Principal, limit: int = 500) -> list[Task]:
        """Tasks updated at or after ``since``, oldest change first (the live channel's scan)."""
        async with self.db.read() as session:
            stmt = (
                _mine(select(Task).where(Task.updated_at >= since), who)
                .order_by(Task.updated_at, Task.id)
                .limit(limit)
            )
            return list((await session.execute(stmt)).scalars().all())

    async def recent(self, limit: int, who: Principal) -> list[Task]:
        async with self.db.read() as session:
            active = (
                await session.execute(
                    _mine(select(Task).where(Task.status.in_(ACTIVE_STATUSES)), who).order_by(Task.created_at).limit(limit)
                )
            ).scalars().all()
            recent = (
                await session.execute(
                    _mine(select(Task).where(Task.status.not_in(ACTIVE_STATUSES)), who)
                    .order_by(Task.created_at.desc())
                    .limit(max(limit - len(active), 0))
                )
            ).scalars().all()
        return [*active, *recent]

    async def wait(self, task_id: str, who: Principal, timeout: float) -> Task:
        """The task once it has finished, or as it is after ``timeout`` seconds (still running).

        Woken by this process's change notices; re-reads every second as well, since a worker
        in another process (or replica without a relay) announces nothing here."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        with self.events.subscribe(task_id) as changed:
            while True:
                changed.clear()
                task = await self.get(task_id, who)
                left = deadline - loop.time()
                if task.is_terminal or left <= 0:
                    return task
                try:
                    await asyncio.wait_for(changed.wait(), timeout=min(left, WAIT_RESCAN_SECONDS))
                except TimeoutError:
                    pass

    # --- cancel / retry ---------------------------------------------------------------------------
    async def cancel(self, task_id: str, who: Principal) -> Task:
        task = await self.get(task_id, who)
        if task.is_terminal:
            raise Conflict(
                f"Task {task_id} already finished ({task.status}); it cannot be cancelled.",
                message_zh=f"任务 {task_id} 已结束（{task.status}），无法取消。",
            )
        now = utcnow()
        async with self.db.write() as session:
            result = await session.execute(
                update(Task)
                .where(Task.id == task_id, Task.status == TaskStatus.PENDING)
                .values(
                    status=TaskStatus.CANCELLED,
                    cancel_requested=True,
                    completed_at=now,
                    updated_at=now,
                    error=CANCELLED,
                )
                .execution_options(synchronize_session=False)
            )
            if not rowcount(result):
                await session.execute(
                    update(Task)
                    .where(Task.id == task_id, Task.status == TaskStatus.PROCESSING)
                    .values(cancel_requested=True, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
        self._notify_cancel(task_id)
        self.events.publish(task_id)
        return await self.get(task_id, who)

    async def retry(self, task_id: str, who: Principal) -> Task:
        original = await self.get(task_id, who)
        if not original.is_terminal:
            raise _still_active(original, "wait for it or cancel it first", "请等待完成或先取消")
        spec = self.catalog.get(original.model)
        if not self.catalog.available(spec):
            reason = self.catalog.unavailable_reason(spec) or ("This model is not available.", "该模型不可用。")
            raise ModelUnavailable(reason[0], message_zh=reason[1], details={"field": "model"})
        self.check_disk()
        params = original.parameters
        expected = params.get("group_max_images") or params.get("num_images", 1)
        # An edit is priced by its operation's req_key, as when it was first submitted.
        price_key = params.get("edit_req_key") or original.model
        estimate = self.usage.estimate(price_key, expected, group=params.get("group_max_images") is not None)
        now = utcnow()
        task = Task(
            id=uuid.uuid4().hex,
            type=original.type,
            model=original.model,
            provider=original.provider,
            status=TaskStatus.PENDING,
            progress=0,
            prompt=original.prompt,
            negative_prompt=original.negative_prompt,
            parameters=original.parameters,
            expected_images=expected,
            checkpoint={},
            failures=[],
            retry_of=original.id,
            operation=original.operation,
            parent_image_id=original.parent_image_id,
            owner_id=who.user_id,
            unit_price_micro=estimate.price.micro,
            reserved_micro=estimate.cost_max,
            created_at=now,
            updated_at=now,
        )
        await self.admit(task, estimate.cost_max)
        self._notify_worker()
        return await self.get(task.id, who)

    # --- history ----------------------------------------------------------------------------------
    def _history_query(
        self,
        *,
        q: str | None,
        model: str | None,
        type_: str | None,
        favorite: bool | None,
        since: datetime | None,
        until: datetime | None,
        who: Principal,
        operation: str | None = None,
        collection: str | None = None,
        min_rating: int | None = None,
        for_page: bool = False,
    ) -> Select[Any]:
        stmt = _mine(select(Task).where(Task.status == TaskStatus.COMPLETED), who)
        if q:
            stmt = stmt.where(prompt_condition(q, sqlite=self.db.is_sqlite, for_page=for_page))
        if model:
            stmt = stmt.where(Task.model == model)
        if type_:
            stmt = stmt.where(Task.type == type_)
        if favorite is not None:
            stmt = stmt.where(Task.favorite.is_(favorite))
        if operation:
            stmt = stmt.where(Task.operation == operation)
        if since:
            stmt = stmt.where(Task.created_at >= since)
        if until:
            stmt = stmt.where(Task.created_at < until)
        if min_rating is not None:
            stmt = stmt.where(Task.rating >= min_rating)
        if collection:
            stmt = stmt.where(
                Task.id.in_(select(CollectionItem.task_id).where(CollectionItem.collection_id == collection))
            )
        return stmt

    async def history_page(self, query: HistoryQuery, who: Principal) -> HistoryPage:
        total, items = await self.history(
            who=who,
            page=query.page,
            page_size=query.page_size,
            q=query.q.strip() if query.q and query.q.strip() else None,
            model=query.model or None,
            type_=query.type,
            favorite=query.favorite,
            operation=query.operation,
            since=query.since,
            until=query.until,
            collection=query.collection,
            min_rating=query.min_rating,
            cursor=Cursor.decode(query.cursor) if query.cursor else None,
        )
        more = len(items) > query.page_size
        items = items[: query.page_size]
        return HistoryPage(
            total=total,
            items=await self.to_public_with_collections(items, who),
            page=query.page,
            page_size=query.page_size,
            next_cursor=Cursor.of(items[-1]).encode() if more else None,
        )

    async def history(
        self,
        *,
        who: Principal,
        page: int,
        page_size: int,
        q: str | None = None,
        model: str | None = None,
        type_: str | None = None,
        favorite: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        collection: str | None = None,
        min_rating: int | None = None,
        cursor: Cursor | None = None,
        operation: str | None = None,
    ) -> tuple[int, list[Task]]:
        """The total of the filtered history and up to ``page_size + 1`` of its items, newest first
        (one more than a page tells whether another follows). With a ``cursor`` the items are
        those after it, and ``page`` is not used."""
        if collection:
            await self.collections.get(collection, who)  # another member's collection: 404
        filters: dict[str, Any] = dict(
            q=q, model=model, type_=type_, favorite=favorite, since=since, until=until, operation=operation,
            collection=collection, min_rating=min_rating,
        )
        # For whoever sees everything on SQLite, with no filter but the search: the install-wide
        # count table, or the search index's count. Anything else is counted through the tasks.
        count: Select[Any] | None = None
        if self.db.is_sqlite and who.scope is None and all(v is None for k, v in filters.items() if k != "q"):
            count = completed_total() if q is None else completed_matches(q)
        if count is None:
            count = select(func.count()).select_from(self._history_query(**filters, who=who).subquery())
        page_query = self._history_query(**filters, who=who, for_page=True)
        ordered = page_query.order_by(Task.created_at.desc(), Task.id.desc()).limit(page_size + 1)
        ordered = ordered.where(cursor.after()) if cursor else ordered.offset((page - 1) * page_size)
        async with self.db.read() as session:
            total = (await session.execute(count)).scalar_one()
            items = (await session.execute(ordered)).scalars().all()
        return total, list(items)

    async def _freeing_space(self, write: Callable[[], Awaitable[T]]) -> T:
        """Run a write the user needs on a full volume (deleting history is how they make room):
        if the database has no room for it, give back the disk reserve once and try again."""
        try:
            return await write()
        except DatabaseFull:
            if self.reserve is None or not await asyncio.to_thread(self.reserve.release):
                raise
        return await write()

    async def set_favorite(self, task_id: str, favorite: bool, who: Principal) -> Task:
        return await self.mark(task_id, {"favorite": favorite}, who)

    async def mark(self, task_id: str, values: dict[str, Any], who: Principal) -> Task:
        """Set the favourite flag and/or the rating (None: not rated) of a history item."""
        await self.get(task_id, who)  # another member's task: 404 before anything is written
        marks = {key: values[key] for key in ("favorite", "rating") if key in values}

        async def write() -> Result[Any]:
            async with self.db.write() as session:
                return await session.execute(
                    update(Task)
                    .where(Task.id == task_id)
                    .values(**marks, updated_at=utcnow())
                    .execution_options(synchronize_session=False)
                )

        result = await self._freeing_space(write)
        if not rowcount(result):
            raise _task_not_found(task_id)
        self.events.publish(task_id)
        return await self.get(task_id, who)

    async def delete(self, task_id: str, who: Principal) -> None:
        task = await self.get(task_id, who)
        if not task.is_terminal:
            raise _still_active(task, "cancel it before deleting it", "请先取消再删除")
        files = [(img.rel_path, img.thumb_rel_path) for img in task.images]
        image_ids = [img.id for img in task.images]
        async with self.db.read() as session:
            layer_files = (
                await session.execute(
                    select(ImageLayer.rel_path, ImageLayer.thumb_rel_path).where(ImageLayer.image_id.in_(image_ids))
                )
            ).all()
        files += [(row.rel_path, row.thumb_rel_path) for row in layer_files]

        async def write() -> None:
            async with self.db.write() as session:
                await session.execute(delete(ImageLayer).where(ImageLayer.image_id.in_(image_ids)))
                await session.execute(delete(Image).where(Image.task_id == task_id))
                await session.execute(delete(Task).where(Task.id == task_id))

        await self._freeing_space(write)
        # Rows first: a crash in between leaves orphan files (found by the storage scan), never a
        # history entry pointing at missing files.
        for rel_path, thumb in files:
            await asyncio.to_thread(self.store.delete_output, rel_path, thumb)

    async def download(self, ids: Sequence[str], who: Principal) -> AsyncIterator[bytes]:
        unique = list(dict.fromkeys(ids))
        async with self.db.read() as session:
            tasks = (await session.execute(_mine(select(Task).where(Task.id.in_(unique)), who))).scalars().all()
        found = {t.id: t for t in tasks}
        missing = [i for i in unique if i not in found]
        if missing:
            raise NotFound(
                f"{len(missing)} of the selected items no longer exist: {', '.join(m[:12] for m in missing[:5])}",
                message_zh=f"所选项目中有 {len(missing)} 个已不存在：{', '.join(m[:12] for m in missing[:5])}",
                details={"missing": missing},
            )
        entries = []
        metadata: list[dict[str, Any]] = []
        stored_as: dict[str, str] = {}
        comments: dict[str, str] = {}
        names = ArcnameAllocator()
        held = await self.collections.memberships(unique, who)
        for task_id in unique:
            task = found[task_id]
            in_collections = [c.name for c in held.get(task_id, ())]
            for img in task.images:
                path = self.store.zip_source(img.rel_path)
                # Same name as a single download; two that would clash (same second, same prompt)
                # are numbered here, so metadata.json names the member the zip really holds.
                name = names.allocate(download_name(task.created_at, task.prompt, task.id, img.index, img.rel_path.rsplit(".", 1)[-1]))
                entries.append((name, path))
                stored_as[name] = self.store.url_for(img.rel_path)
                comments[name] = _entry_comment(task.rating, in_collections)
                metadata.append(
                    {
                        "file": name,
                        "task_id": task.id,
                        "index": img.index,
                        "model": task.model,
                        "prompt": task.prompt,
                        "negative_prompt": task.negative_prompt,
                        "seed": img.seed,
                        "width": img.width,
                        "height": img.height,
                        "parameters": public_parameters(task.parameters),
                        "created_at": task.created_at.isoformat(),
                        "favorite": task.favorite,
                        "rating": task.rating,
                        "collections": in_collections,
                    }
                )

        def trailer(missing: list[str]) -> dict[str, bytes]:
            # Decided while streaming, so a file deleted during the download is reported too.
            gone = set(missing)
            for item in metadata:
                if item["file"] in gone:
                    item["missing"] = True
            extra = {"metadata.json": orjson.dumps(metadata, option=orjson.OPT_INDENT_2)}
            if missing:
                extra["MISSING.txt"] = _missing_listing(missing, stored_as)
            return extra

        return stream_zip(entries, trailer, comments=comments)

    # --- presentation -----------------------------------------------------------------------------
    async def to_public_with_collections(self, tasks: Sequence[Task], who: Principal) -> list[TaskPublic]:
        """As ``to_public``, with the ids of ``who``'s collections holding each task."""
        held = await self.collections.memberships([t.id for t in tasks], who)
        return [
            self.to_public(t).model_copy(update={"collection_ids": [c.id for c in held.get(t.id, ())]}) for t in tasks
        ]

    def to_public(self, task: Task) -> TaskPublic:
        outputs = [
            OutputPublic(
                id=img.id,
                index=img.index,
                url=self.store.url_for(img.rel_path),
                thumbnail_url=self.store.url_for(img.thumb_rel_path) if img.thumb_rel_path else None,
                width=img.width,
                height=img.height,
                seed=img.seed,
                bytes=img.bytes,
                content_type=img.content_type,
                missing=not self.store.presumed_present(img.rel_path),
            )
            for img in task.images
        ]
        return TaskPublic(
            task_id=task.id,
            type=TaskType(task.type),
            model=task.model,
            provider=task.provider,
            is_demo=task.provider == "demo",
            status=TaskStatus(task.status),
            progress=100 if task.status == TaskStatus.COMPLETED else task.progress,
            upstream_state=_upstream_state(task),
            prompt=task.prompt,
            negative_prompt=task.negative_prompt,
            parameters=public_parameters(task.parameters),
            images=[o.url for o in outputs],
            outputs=outputs,
            failures=[FailurePublic.model_validate(_bilingual(f)) for f in task.failures or ()],
            expected_images=task.expected_images,
            error=TaskError.model_validate(_bilingual(task.error)) if task.error else None,
            favorite=task.favorite,
            rating=task.rating,
            unit_price_cny=cny_float(task.unit_price_micro or 0),
            cost_max_cny=cny_float((task.unit_price_micro or 0) * max(task.expected_images, 1)),
            billed_images=task.billed_images,
            web_searches=task.web_searches,
            cost_cny=None if task.cost_micro is None else cny_float(task.cost_micro),
            attempts=task.attempts,
            retry_of=task.retry_of,
            operation=task.operation,
            parent_image_id=task.parent_image_id,
            created_at=task.created_at,
            started_at=task.started_at,
            completed_at=task.completed_at,
        )
