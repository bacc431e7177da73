"""Use case: queue an edit (inpaint, erase, outpaint, upscale) of a history image or an upload.

Everything is checked before anything is spent: the operation against the model's catalogue entry,
the source against the operation's input limits, the mask against the source. The inputs the
upstream will get (the source, re-encoded when its format or size needs it, and the normalised
mask) are stored as uploads, content-addressed like references, so a job that runs again after a
crash rebuilds exactly the same request. The task then runs like any generation: same queue,
checkpoints, SSE events, history, budgets and idempotency.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.core.errors import InvalidRequest, NotFound
from app.jobs.codec import request_to_parameters
from app.models.base import utcnow
from app.models.task import Image, Task, TaskStatus, TaskType
from app.providers.base import ReferenceImage
from app.providers.catalog.edits import EditInput, edit_operation, validate_edit
from app.providers.catalog.specs import EditOperation, ModelSpec
from app.services.tasks import SEED_LIMIT, TaskService, scoped_idempotency_key
from app.services.usage import Estimate
from app.services.users import Principal
from app.storage.edit_inputs import fit_source, normalize_mask


def _image_not_found(image_id: str) -> NotFound:
    return NotFound(
        f"Image {image_id!r} does not exist (or is not yours).",
        message_zh=f"图片 {image_id!r} 不存在（或不属于您）。",
        details={"field": "source.image_id"},
    )


def _upload_not_found(field: str, upload_id: str) -> InvalidRequest:
    return InvalidRequest(
        f"Upload {upload_id[:12]}… ({field}) was not found; upload it again.",
        message_zh=f"上传的文件 {upload_id[:12]}…（{field}）不存在，请重新上传。",
        details={"field": field},
    )


class EditService:
    def __init__(self, tasks: TaskService) -> None:
        self.tasks = tasks

    def model_for(self, model_id: str | None, operation: str) -> ModelSpec:
        """The model named, or the one an edit without a model goes to."""
        catalog = self.tasks.catalog
        if model_id:
            return catalog.get(model_id)
        default = catalog.resolve(None)
        if default.edit_operation(operation) is not None and catalog.available(default):
            return default
        # The default model cannot do it: the first configured model that can (the demo always can).
        for spec in catalog.all():
            if spec.edit_operation(operation) is not None and catalog.available(spec):
                return spec
        return default  # refused by edit_operation with the list of what it offers

    def estimate(self, model_id: str | None, operation: str) -> tuple[ModelSpec, Estimate]:
        """What one edit may cost: the price of the operation's req_key."""
        spec = self.model_for(model_id, operation)
        op = edit_operation(spec, operation, available=True)
        return spec, self.tasks.usage.estimate(op.req_key, 1, group=False)

    async def _history_image(self, image_id: str, who: Principal) -> tuple[str, ReferenceImage]:
        """A history image as an upload (so the job reloads it like any input)."""
        async with self.tasks.db.read() as session:
            row = (
                await session.execute(
                    select(Image, Task.owner_id).join(Task, Task.id == Image.task_id).where(Image.id == image_id)
                )
            ).first()
        if row is None or (who.scope is not None and row[1] != who.scope):
            raise _image_not_found(image_id)
        image: Image = row[0]
        path = self.tasks.store.resolve_output(image.rel_path)
        if path is None or not await asyncio.to_thread(path.exists):
            raise NotFound(
                f"The file of image {image_id!r} is no longer in storage.",
                message_zh=f"图片 {image_id!r} 的文件已不在存储中。",
                details={"field": "source.image_id"},
            )
        data = await asyncio.to_thread(path.read_bytes)
        record = await self.tasks.save_upload(data, who.user_id)
        return record.id, ReferenceImage(data, record.content_type, record.width, record.height)

    async def _upload(self, upload_id: str, field: str, who: Principal) -> ReferenceImage:
        row = await self.tasks.find_upload(upload_id, who)
        if row is None:
            raise _upload_not_found(field, upload_id)
        data, content_type = await asyncio.to_thread(self.tasks.store.load_upload, upload_id)
        return ReferenceImage(data=data, content_type=content_type, width=row.width, height=row.height)

    async def _store(self, data: bytes, who: Principal) -> tuple[str, ReferenceImage]:
        record = await self.tasks.save_upload(data, who.user_id)
        return record.id, ReferenceImage(data, record.content_type, record.width, record.height)

    async def _fitted_source(self, op: EditOperation, source_id: str, source: ReferenceImage, who: Principal) -> tuple[str, ReferenceImage]:
        fitted = await asyncio.to_thread(
            fit_source, source.data, source.content_type, accepted=op.content_types, max_bytes=op.max_bytes
        )
        if fitted is None:
            return source_id, source
        return await self._store(fitted.data, who)

    async def submit(
        self,
        operation: str,
        model_id: str | None,
        body: EditInput,
        *,
        source_image_id: str | None,
        source_upload_id: str | None,
        mask_upload_id: str | None,
        who: Principal,
        idempotency_key: str | None = None,
        transparent_edits: bool = False,
    ) -> tuple[Task, bool]:
        """Validate and queue an edit for ``who``; the task and whether it was created now.
        ``transparent_edits``: the mask's transparent pixels are the ones to edit (OpenAI's rule)."""
        tasks = self.tasks
        if idempotency_key:
            idempotency_key = scoped_idempotency_key(who.user_id, idempotency_key)
            existing = await tasks.by_idempotency_key(idempotency_key)
            if existing is not None:
                return existing, False
        spec = self.model_for(model_id, operation)
        op = edit_operation(spec, operation, available=tasks.catalog.available(spec))
        if source_image_id is not None:
            source_id, source = await self._history_image(source_image_id, who)
        else:
            assert source_upload_id is not None
            source_id, source = source_upload_id, await self._upload(source_upload_id, "source.upload_id", who)
        source_id, source = await self._fitted_source(op, source_id, source, who)
        ids = [source_id]
        mask: ReferenceImage | None = None
        if op.takes_mask and mask_upload_id is not None:
            raw = await self._upload(mask_upload_id, "mask.upload_id", who)
            prepared = await asyncio.to_thread(
                normalize_mask, raw.data, source.width, source.height, transparent_edits=transparent_edits
            )
            mask_id, mask = await self._store(prepared.data, who)
            ids.append(mask_id)
        request = validate_edit(spec, op, body, source=source, mask=mask, parent_image_id=source_image_id)
        if op.name != "upscale" and (request.seed is None or request.seed < 0):
            # Drawn here, as for generations: the history shows it and a re-run redraws the same.
            request = replace(request, seed=secrets.randbelow(SEED_LIMIT))
        tasks.check_disk()
        estimate = tasks.usage.estimate_request(request)
        now = utcnow()
        task = Task(
            id=uuid.uuid4().hex,
            type=TaskType.EDIT,
            model=spec.id,
            provider=spec.provider,
            status=TaskStatus.PENDING,
            progress=0,
            prompt=request.prompt,
            negative_prompt=None,
            parameters=request_to_parameters(request, ids),
            expected_images=1,
            checkpoint={},
            failures=[],
            idempotency_key=idempotency_key,
            owner_id=who.user_id,
            operation=op.name,
            parent_image_id=source_image_id,
            unit_price_micro=estimate.price.micro,
            reserved_micro=estimate.cost_max,
            created_at=now,
            updated_at=now,
        )
        try:
            await tasks.admit(task, estimate.cost_max)
        except IntegrityError:
            existing = await tasks.by_idempotency_key(idempotency_key or "")
            if existing is None:
                raise
            return existing, False
        tasks.notify_worker()
        return task, True
