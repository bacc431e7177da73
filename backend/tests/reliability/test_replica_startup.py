"""Replicas that start together on one PostgreSQL database all come up (issue 13): each one makes
sure the first admin exists, and the ones that lose the race to create it take the winner's row
instead of failing their start-up on the unique user name (seen in CI: 1 of 3 replicas exited)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from app.core.db import Database
from app.models.user import User
from app.services.users import UserService


async def test_replicas_starting_together_agree_on_one_admin(shared_url: str) -> None:
    databases = [Database(shared_url) for _ in range(6)]
    try:
        await databases[0].migrate()
        for db in databases:  # connected before the race, so that they run it together
            async with db.write() as session:
                await session.execute(select(1))
        admins = await asyncio.gather(*(UserService(db).bootstrap("admin") for db in databases))
        assert len({admin.user_id for admin in admins}) == 1
        async with databases[0].read() as session:
            count = (await session.execute(select(func.count()).select_from(User))).scalar_one()
        assert count == 1
    finally:
        for db in databases:
            await db.dispose()
