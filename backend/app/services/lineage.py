"""Lineage: the chain of images an edit result was made from, read from the tasks' parent links."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.core.db import Database
from app.core.errors import NotFound
from app.models.task import Image, Task, TaskType
from app.schemas.edit import LineagePublic, LineageStep
from app.services.users import Principal
from app.storage.files import ImageStore

# Far beyond any real chain; a guard, since a corrupted row must not loop a request forever.
MAX_DEPTH = 500


class LineageService:
    def __init__(self, db: Database, store: ImageStore) -> None:
        self.db = db
        self.store = store

    async def _image(self, image_id: str, who: Principal) -> tuple[Image, Task] | None:
        async with self.db.read() as session:
            row: Any = (
                await session.execute(select(Image, Task).join(Task, Task.id == Image.task_id).where(Image.id == image_id))
            ).first()
        if row is None or (who.scope is not None and row[1].owner_id != who.scope):
            return None
        return row[0], row[1]

    def _step(self, image: Image, task: Task) -> LineageStep:
        return LineageStep(
            image_id=image.id,
            task_id=task.id,
            type=TaskType(task.type),
            operation=task.operation,
            model=task.model,
            prompt=task.prompt,
            url=self.store.url_for(image.rel_path),
            thumbnail_url=self.store.url_for(image.thumb_rel_path) if image.thumb_rel_path else None,
            width=image.width,
            height=image.height,
            created_at=task.created_at,
            missing=not self.store.output_exists(image.rel_path),
        )

    async def ancestors(self, image_id: str, who: Principal) -> LineagePublic:
        found = await self._image(image_id, who)
        if found is None:
            raise NotFound(
                f"Image {image_id!r} does not exist (or is not yours).",
                message_zh=f"图片 {image_id!r} 不存在（或不属于您）。",
            )
        task = found[1]
        chain: list[LineageStep] = []
        seen = {image_id}
        while task.type == TaskType.EDIT and len(chain) < MAX_DEPTH:
            parent_id = task.parent_image_id
            if parent_id is None:
                return LineagePublic(image_id=image_id, ancestors=chain, from_upload=True)
            parent = await self._image(parent_id, who) if parent_id not in seen else None
            if parent is None:
                return LineagePublic(image_id=image_id, ancestors=chain, broken_at=parent_id)
            seen.add(parent_id)
            chain.append(self._step(*parent))
            task = parent[1]
        return LineagePublic(image_id=image_id, ancestors=chain)
