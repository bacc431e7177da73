"""Accounts: the first admin, members an admin creates, disables and resets, and who a request is.

The first admin is made at start-up (``bootstrap``) and has no stored hash: its password is
ADMIN_PASSWORD / APP_PASSWORD, checked by ``AuthService`` against the settings, so a
single-password install behaves as before. Without that password there is no sign-in at all and
every request is this admin (the loopback-only single user). Member passwords are argon2id hashes
(argon2-cffi's defaults, RFC 9106's second recommendation), verified off the event loop.

Who a user id is (role, disabled) is asked on every request, so answers are cached in this process
for ``cache_ttl`` seconds; a change made here clears the cache at once, another replica sees it
within those seconds.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from app.core.db import Database
from app.core.errors import Conflict, InvalidRequest, NotFound
from app.models.base import utcnow
from app.models.session import LoginSession
from app.models.task import Task, Upload
from app.models.user import Role, UploadOwner, User

CACHE_SECONDS = 5.0
USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 8


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as."""

    user_id: str
    username: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def scope(self) -> str | None:
        """The owner whose things this principal sees: None (everything) for an admin."""
        return None if self.is_admin else self.user_id


def _principal(user: User) -> Principal:
    return Principal(user_id=user.id, username=user.username, role=Role(user.role))


def normalize_username(value: str) -> str:
    name = value.strip().lower()
    if not USERNAME.fullmatch(name):
        raise InvalidRequest(
            "A user name is 1 to 64 letters, digits or . _ @ -, starting with a letter or digit.",
            message_zh="用户名为 1 到 64 个字母、数字或 . _ @ -，并以字母或数字开头。",
            details={"field": "username"},
        )
    return name


def check_password(value: str) -> None:
    if len(value) < MIN_PASSWORD:
        raise InvalidRequest(
            f"A password needs at least {MIN_PASSWORD} characters.",
            message_zh=f"密码至少需要 {MIN_PASSWORD} 个字符。",
            details={"field": "password"},
        )


def _user_not_found(user_id: str) -> NotFound:
    return NotFound(f"User {user_id!r} does not exist.", message_zh=f"用户 {user_id!r} 不存在。")


class UserService:
    def __init__(
        self,
        db: Database,
        *,
        hasher: PasswordHasher | None = None,
        cache_ttl: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.hasher = hasher or PasswordHasher()
        self.cache_ttl = cache_ttl
        self.monotonic = monotonic
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        # A hash to verify against when the user name is unknown: the answer then takes as long as
        # for a known one, so timing does not tell which names exist. Made on first need.
        self._decoy: str | None = None
        self._admin: Principal | None = None
        # Callbacks run when a user's sign-ins must end (a reset or a disable): the session store's.
        self.on_sign_out: list[Callable[[str], None]] = []

    @property
    def admin(self) -> Principal:
        """The first admin (the install's single user when there are no others)."""
        if self._admin is None:
            raise RuntimeError("UserService.bootstrap() has not run")
        return self._admin

    async def bootstrap(self, admin_username: str) -> Principal:
        """Make sure the first admin exists, and give it whatever predates accounts."""
        for _ in range(2):
            try:
                return await self._bootstrap(admin_username)
            except IntegrityError:
                # Replicas starting together on one PostgreSQL: another one created the admin (or
                # gave an upload its owner) between our read and our insert. Its rows are there now.
                continue
        return await self._bootstrap(admin_username)

    async def _bootstrap(self, admin_username: str) -> Principal:
        async with self.db.write() as session:
            row = (
                await session.execute(
                    select(User)
                    .where(User.role == Role.ADMIN, User.password_hash.is_(None))
                    .order_by(User.created_at)
                    .limit(1)
                )
            ).scalar_one_or_none()
            if row is None:
                wanted = normalize_username(admin_username)
                taken = (await session.execute(select(User.id).where(User.username == wanted))).first()
                row = User(
                    id=uuid.uuid4().hex,
                    # A member already holds that name: the admin gets a name no member may take.
                    username=wanted if taken is None else f"{wanted}-admin-{uuid.uuid4().hex[:6]}",
                    role=Role.ADMIN,
                    password_hash=None,
                    disabled=False,
                    created_at=utcnow(),
                )
                session.add(row)
                await session.flush()
            elif row.disabled:
                # The environment's admin cannot be locked out from the database.
                row.disabled = False
            admin_id = row.id
            await session.execute(update(Task).where(Task.owner_id.is_(None)).values(owner_id=admin_id))
            await session.execute(
                update(LoginSession).where(LoginSession.user_id.is_(None)).values(user_id=admin_id)
            )
            unowned = (
                await session.execute(select(Upload.id).where(Upload.id.not_in(select(UploadOwner.upload_id))))
            ).scalars()
            now = utcnow()
            session.add_all(UploadOwner(upload_id=upload_id, user_id=admin_id, created_at=now) for upload_id in unowned)
            self._admin = _principal(row)
        return self._admin

    # --- who is this -------------------------------------------------------------------------------
    async def principal(self, user_id: str) -> Principal | None:
        """The enabled user ``user_id``, or None (unknown or disabled)."""
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > self.monotonic():
            return cached[1]
        async with self.db.read() as session:
            row = await session.get(User, user_id)
        found = None if row is None or row.disabled else _principal(row)
        if len(self._cache) >= 10_000:
            self._cache.clear()
        self._cache[user_id] = (self.monotonic() + self.cache_ttl, found)
        return found

    async def verify(self, username: str, password: str) -> Principal | None:
        """The member (or extra admin) signing in with this name and password, or None."""
        name = username.strip().lower()
        row = None
        if USERNAME.fullmatch(name):
            async with self.db.read() as session:
                row = (await session.execute(select(User).where(User.username == name))).scalar_one_or_none()
        if row is not None and row.password_hash:
            stored = row.password_hash
        else:
            if self._decoy is None:
                self._decoy = await asyncio.to_thread(self.hasher.hash, uuid.uuid4().hex)
            stored = self._decoy
        try:
            await asyncio.to_thread(self.hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or not row.password_hash or row.disabled:
            return None
        return _principal(row)

    # --- administration -----------------------------------------------------------------------------
    async def list(self) -> list[User]:
        async with self.db.read() as session:
            return list((await session.execute(select(User).order_by(User.created_at, User.username))).scalars())

    async def get(self, user_id: str) -> User:
        async with self.db.read() as session:
            row = await session.get(User, user_id)
        if row is None:
            raise _user_not_found(user_id)
        return row

    async def create(self, username: str, password: str, role: Role = Role.MEMBER) -> User:
        name = normalize_username(username)
        check_password(password)
        hashed = await asyncio.to_thread(self.hasher.hash, password)
        row = User(
            id=uuid.uuid4().hex, username=name, role=role, password_hash=hashed, disabled=False, created_at=utcnow()
        )
        try:
            async with self.db.write() as session:
                session.add(row)
        except IntegrityError:
            raise Conflict(
                f"The user name {name!r} is taken.", message_zh=f"用户名 {name!r} 已被使用。", details={"field": "username"}
            ) from None
        return row

    async def update(
        self, user_id: str, *, disabled: bool | None = None, password: str | None = None, role: Role | None = None
    ) -> User:
        """Disable / enable, reset the password, change the role. A reset or a disable ends the
        user's sessions; the environment's admin can be changed only through the environment."""
        row = await self.get(user_id)
        if row.id == self.admin.user_id and (disabled or role == Role.MEMBER or password is not None):
            raise Conflict(
                "The first admin is configured by ADMIN_PASSWORD / APP_PASSWORD and cannot be disabled, "
                "demoted or reset here.",
                message_zh="首个管理员由 ADMIN_PASSWORD / APP_PASSWORD 配置，不能在此停用、降级或重置密码。",
            )
        values: dict[str, object] = {}
        if password is not None:
            check_password(password)
            values["password_hash"] = await asyncio.to_thread(self.hasher.hash, password)
        if disabled is not None:
            values["disabled"] = disabled
        if role is not None:
            values["role"] = role
        if values:
            async with self.db.write() as session:
                await session.execute(update(User).where(User.id == user_id).values(**values))
                if password is not None or disabled:
                    await session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
            self._cache.pop(user_id, None)
            if password is not None or disabled:
                for callback in self.on_sign_out:
                    callback(user_id)
        return await self.get(user_id)
