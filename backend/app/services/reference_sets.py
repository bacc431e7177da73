"""Reference sets: a member's named, ordered groups of reference images (a character, a product),
reused across jobs in one click.

Images are uploads, kept once under their content hash however many sets (and tasks) use them; a
set holds only upload ids its owner uploaded. Sets are their owner's alone: another member's set
id is "not found". Using a set for a model checks its size against the model's reference limit
first, so the form can say why instead of failing at submit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.core.errors import Conflict, InvalidRequest, NotFound
from app.models.base import utcnow
from app.models.library import ReferenceSet, ReferenceSetImage
from app.models.task import Upload
from app.models.user import UploadOwner
from app.providers.catalog.lookup import Catalog
from app.services.users import Principal
from app.storage.files import ImageStore

MAX_SETS = 200


@dataclass(frozen=True, slots=True)
class SetView:
    id: str
    name: str
    images: list[Upload]
    created_at: datetime
    updated_at: datetime


def set_not_found(set_id: str) -> NotFound:
    return NotFound(
        f"Reference set {set_id!r} does not exist.", message_zh=f"参考图组 {set_id!r} 不存在。",
        code="reference_set_not_found",
    )


def upload_not_found(upload_id: str) -> NotFound:
    return NotFound(
        f"Upload {upload_id[:12]}… does not exist; upload the image again.",
        message_zh=f"上传的图片 {upload_id[:12]}… 不存在，请重新上传。",
        code="upload_not_found",
    )


def _name_taken(name: str) -> Conflict:
    return Conflict(
        f"You already have a reference set named {name!r}; choose another name.",
        message_zh=f"已有名为 {name!r} 的参考图组，请换一个名称。",
        code="reference_set_exists",
        details={"field": "name"},
    )


class ReferenceSetService:
    def __init__(self, db: Database, store: ImageStore, catalog: Catalog) -> None:
        self.db = db
        self.store = store
        self.catalog = catalog

    async def _own(self, session: AsyncSession, set_id: str, who: Principal) -> ReferenceSet:
        row = await session.get(ReferenceSet, set_id)
        if row is None or row.owner_id != who.user_id:
            raise set_not_found(set_id)
        return row

    async def _images(self, session: AsyncSession, set_ids: Sequence[str]) -> dict[str, list[Upload]]:
        stmt = (
            select(ReferenceSetImage.set_id, Upload)
            .join(Upload, Upload.id == ReferenceSetImage.upload_id)
            .where(ReferenceSetImage.set_id.in_(list(set_ids)))
            .order_by(ReferenceSetImage.set_id, ReferenceSetImage.position)
        )
        found: dict[str, list[Upload]] = {i: [] for i in set_ids}
        for set_id, upload in (await session.execute(stmt)).all():
            found[set_id].append(upload)
        return found

    async def owned(self, who: Principal) -> list[SetView]:
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(ReferenceSet).where(ReferenceSet.owner_id == who.user_id).order_by(ReferenceSet.name)
                )
            ).scalars().all()
            images = await self._images(session, [r.id for r in rows])
        return [SetView(r.id, r.name, images[r.id], r.created_at, r.updated_at) for r in rows]

    async def get(self, set_id: str, who: Principal) -> SetView:
        async with self.db.read() as session:
            row = await self._own(session, set_id, who)
            images = await self._images(session, [set_id])
        return SetView(row.id, row.name, images[set_id], row.created_at, row.updated_at)

    async def _check_uploads(self, session: AsyncSession, upload_ids: Sequence[str], who: Principal) -> list[str]:
        unique = list(dict.fromkeys(upload_ids))
        owned = set(
            (
                await session.execute(
                    select(UploadOwner.upload_id).where(
                        UploadOwner.user_id == who.user_id, UploadOwner.upload_id.in_(unique)
                    )
                )
            ).scalars().all()
        )
        for upload_id in unique:
            if upload_id not in owned:
                raise upload_not_found(upload_id)
        return unique

    def _fill(self, session: AsyncSession, set_id: str, upload_ids: Sequence[str]) -> None:
        session.add_all(
            ReferenceSetImage(set_id=set_id, position=i, upload_id=upload_id) for i, upload_id in enumerate(upload_ids)
        )

    async def create(self, name: str, upload_ids: Sequence[str], who: Principal) -> SetView:
        now = utcnow()
        set_id = uuid.uuid4().hex
        try:
            async with self.db.write() as session:
                owned = (
                    await session.execute(select(func.count()).where(ReferenceSet.owner_id == who.user_id))
                ).scalar_one()
                if owned >= MAX_SETS:
                    raise Conflict(
                        f"You have {MAX_SETS} reference sets, the most one member may have; delete one first.",
                        message_zh=f"您已有 {MAX_SETS} 个参考图组，已达上限；请先删除一个。",
                        code="too_many_reference_sets",
                    )
                ids = await self._check_uploads(session, upload_ids, who)
                session.add(ReferenceSet(id=set_id, owner_id=who.user_id, name=name, created_at=now, updated_at=now))
                await session.flush()
                self._fill(session, set_id, ids)
        except IntegrityError as exc:
            raise _name_taken(name) from exc
        return await self.get(set_id, who)

    async def update(
        self, set_id: str, who: Principal, *, name: str | None, upload_ids: Sequence[str] | None
    ) -> SetView:
        try:
            async with self.db.write() as session:
                row = await self._own(session, set_id, who)
                if name is not None:
                    row.name = name
                if upload_ids is not None:
                    ids = await self._check_uploads(session, upload_ids, who)
                    await session.execute(delete(ReferenceSetImage).where(ReferenceSetImage.set_id == set_id))
                    self._fill(session, set_id, ids)
                row.updated_at = utcnow()
        except IntegrityError as exc:
            raise _name_taken(name or "") from exc
        return await self.get(set_id, who)

    async def delete(self, set_id: str, who: Principal) -> None:
        """The set goes; its images stay stored (tasks and other sets may use them)."""
        async with self.db.write() as session:
            await self._own(session, set_id, who)
            await session.execute(delete(ReferenceSetImage).where(ReferenceSetImage.set_id == set_id))
            await session.execute(delete(ReferenceSet).where(ReferenceSet.id == set_id))

    async def for_model(self, set_id: str, model: str, already: int, who: Principal) -> SetView:
        """The set, when its images fit ``model``'s reference limit beside ``already`` others."""
        view = await self.get(set_id, who)
        spec = self.catalog.get(model)
        limit = spec.refs.max_count
        if limit == 0:
            raise InvalidRequest(
                f"{spec.id} does not take reference images; choose an image-to-image model.",
                message_zh=f"{spec.id} 不支持参考图，请选择支持图生图的模型。",
                code="references_not_supported",
                details={"field": "model", "limit": 0},
            )
        if already + len(view.images) > limit:
            room = max(limit - already, 0)
            raise InvalidRequest(
                f"{view.name!r} has {len(view.images)} images and {spec.id} takes at most {limit} references"
                + (f" ({already} already in the form, room for {room})" if already else "")
                + "; remove some or choose another model.",
                message_zh=f"“{view.name}”有 {len(view.images)} 张图，{spec.id} 最多接受 {limit} 张参考图"
                + (f"（表单中已有 {already} 张，还可添加 {room} 张）" if already else "")
                + "；请减少图片或换一个模型。",
                code="too_many_references",
                details={"limit": limit, "images": len(view.images), "already": already},
            )
        return view

    async def upload_file(self, upload_id: str, who: Principal) -> tuple[Path, str]:
        """The stored file of an upload ``who`` made (an admin: any), for showing it."""
        async with self.db.read() as session:
            row = await session.get(Upload, upload_id)
            if row is not None and who.scope is not None and await session.get(UploadOwner, (upload_id, who.scope)) is None:
                row = None
        path = self.store.uploads_dir / f"{upload_id}.{row.ext}" if row is not None else None
        if row is None or path is None or not path.is_file():
            raise upload_not_found(upload_id)
        return path, row.content_type
