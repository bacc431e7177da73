"""Collections (albums): a member's named sets of history items.

A collection is its owner's alone, an admin's included: another member's collection id is "not
found" (its existence does not show). An item is a task, as on a history card; one task may be in
any number of collections, and leaves them all when it is deleted (a foreign-key cascade).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database, rowcount
from app.core.errors import Conflict, NotFound
from app.models.base import utcnow
from app.models.library import Collection, CollectionItem
from app.models.task import Image, Task
from app.services.users import Principal
from app.storage.files import ImageStore

# More is a sign of a script gone wrong, and every history card lists its collections.
MAX_COLLECTIONS = 500


@dataclass(frozen=True, slots=True)
class CollectionView:
    collection: Collection
    count: int
    cover_url: str | None


def collection_not_found(collection_id: str) -> NotFound:
    return NotFound(
        f"Collection {collection_id!r} does not exist.",
        message_zh=f"收藏夹 {collection_id!r} 不存在。",
        code="collection_not_found",
    )


def _name_taken(name: str) -> Conflict:
    return Conflict(
        f"You already have a collection named {name!r}; choose another name.",
        message_zh=f"已有名为 {name!r} 的收藏夹，请换一个名称。",
        code="collection_exists",
        details={"field": "name"},
    )


class CollectionService:
    def __init__(self, db: Database, store: ImageStore) -> None:
        self.db = db
        self.store = store

    async def _own(self, session: AsyncSession, collection_id: str, who: Principal) -> Collection:
        row = await session.get(Collection, collection_id)
        if row is None or row.owner_id != who.user_id:
            raise collection_not_found(collection_id)
        return row

    async def get(self, collection_id: str, who: Principal) -> Collection:
        async with self.db.read() as session:
            return await self._own(session, collection_id, who)

    async def view(self, collection_id: str, who: Principal) -> CollectionView:
        views = await self._views(who, only=collection_id)
        if not views:
            raise collection_not_found(collection_id)
        return views[0]

    async def owned(self, who: Principal) -> list[CollectionView]:
        return await self._views(who)

    async def _views(self, who: Principal, only: str | None = None) -> list[CollectionView]:
        counts = (
            select(CollectionItem.collection_id, func.count().label("n"), func.max(CollectionItem.added_at).label("last"))
            .group_by(CollectionItem.collection_id)
            .subquery()
        )
        stmt = (
            select(Collection, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.collection_id == Collection.id)
            .where(Collection.owner_id == who.user_id)
            .order_by(Collection.name)
        )
        if only is not None:
            stmt = stmt.where(Collection.id == only)
        async with self.db.read() as session:
            rows = (await session.execute(stmt)).all()
            covers: dict[str, str] = {}
            for collection, count in rows:
                if count:
                    cover = await self._cover(session, collection.id)
                    if cover:
                        covers[collection.id] = cover
        return [CollectionView(c, int(n), covers.get(c.id)) for c, n in rows]

    async def _cover(self, session: AsyncSession, collection_id: str) -> str | None:
        stmt = (
            select(Image.thumb_rel_path, Image.rel_path)
            .join(CollectionItem, CollectionItem.task_id == Image.task_id)
            .where(CollectionItem.collection_id == collection_id)
            .order_by(CollectionItem.added_at.desc(), Image.index)
            .limit(1)
        )
        row = (await session.execute(stmt)).first()
        if row is None:
            return None
        return self.store.url_for(row[0] or row[1])

    async def create(self, name: str, who: Principal) -> CollectionView:
        now = utcnow()
        row = Collection(id=uuid.uuid4().hex, owner_id=who.user_id, name=name, created_at=now, updated_at=now)
        try:
            async with self.db.write() as session:
                owned = (
                    await session.execute(select(func.count()).where(Collection.owner_id == who.user_id))
                ).scalar_one()
                if owned >= MAX_COLLECTIONS:
                    raise Conflict(
                        f"You have {MAX_COLLECTIONS} collections, the most one member may have; delete one first.",
                        message_zh=f"您已有 {MAX_COLLECTIONS} 个收藏夹，已达上限；请先删除一个。",
                        code="too_many_collections",
                    )
                session.add(row)
        except IntegrityError as exc:
            raise _name_taken(name) from exc
        return CollectionView(row, 0, None)

    async def rename(self, collection_id: str, name: str, who: Principal) -> CollectionView:
        try:
            async with self.db.write() as session:
                row = await self._own(session, collection_id, who)
                row.name = name
                row.updated_at = utcnow()
        except IntegrityError as exc:
            raise _name_taken(name) from exc
        return await self.view(collection_id, who)

    async def delete(self, collection_id: str, who: Principal) -> None:
        """The collection goes; its items stay in the history."""
        async with self.db.write() as session:
            await self._own(session, collection_id, who)
            await session.execute(delete(CollectionItem).where(CollectionItem.collection_id == collection_id))
            await session.execute(delete(Collection).where(Collection.id == collection_id))

    async def add(self, collection_id: str, task_ids: Sequence[str], who: Principal) -> tuple[CollectionView, int]:
        unique = list(dict.fromkeys(task_ids))
        async with self.db.write() as session:
            await self._own(session, collection_id, who)
            visible = select(Task.id).where(Task.id.in_(unique))
            if who.scope is not None:
                visible = visible.where(Task.owner_id == who.scope)
            found = set((await session.execute(visible)).scalars().all())
            missing = [i for i in unique if i not in found]
            if missing:
                raise NotFound(
                    f"{len(missing)} of the items no longer exist: {', '.join(m[:12] for m in missing[:5])}",
                    message_zh=f"其中 {len(missing)} 项已不存在：{', '.join(m[:12] for m in missing[:5])}",
                    details={"missing": missing},
                )
            present = set(
                (
                    await session.execute(
                        select(CollectionItem.task_id).where(
                            CollectionItem.collection_id == collection_id, CollectionItem.task_id.in_(unique)
                        )
                    )
                ).scalars().all()
            )
            now = utcnow()
            new = [i for i in unique if i not in present]
            session.add_all(CollectionItem(collection_id=collection_id, task_id=i, added_at=now) for i in new)
            await session.execute(update(Collection).where(Collection.id == collection_id).values(updated_at=now))
        return await self.view(collection_id, who), len(new)

    async def remove(self, collection_id: str, task_ids: Sequence[str], who: Principal) -> tuple[CollectionView, int]:
        async with self.db.write() as session:
            await self._own(session, collection_id, who)
            result = await session.execute(
                delete(CollectionItem).where(
                    CollectionItem.collection_id == collection_id, CollectionItem.task_id.in_(list(set(task_ids)))
                )
            )
            await session.execute(update(Collection).where(Collection.id == collection_id).values(updated_at=utcnow()))
        return await self.view(collection_id, who), rowcount(result)

    async def task_ids(self, collection_id: str, who: Principal) -> list[str]:
        """The collection's items, newest first (as History shows them)."""
        async with self.db.read() as session:
            await self._own(session, collection_id, who)
            stmt = (
                select(CollectionItem.task_id)
                .join(Task, Task.id == CollectionItem.task_id)
                .where(CollectionItem.collection_id == collection_id)
                .order_by(Task.created_at.desc(), Task.id.desc())
            )
            return list((await session.execute(stmt)).scalars().all())

    async def memberships(self, task_ids: Sequence[str], who: Principal) -> dict[str, list[Collection]]:
        """Which of ``who``'s collections hold each task (by name)."""
        if not task_ids:
            return {}
        stmt = (
            select(CollectionItem.task_id, Collection)
            .join(Collection, Collection.id == CollectionItem.collection_id)
            .where(Collection.owner_id == who.user_id, CollectionItem.task_id.in_(list(set(task_ids))))
            .order_by(Collection.name)
        )
        found: dict[str, list[Collection]] = defaultdict(list)
        async with self.db.read() as session:
            for task_id, collection in (await session.execute(stmt)).all():
                found[task_id].append(collection)
        return found

