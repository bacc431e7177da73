"""Optional access control (ADMIN_PASSWORD / APP_PASSWORD): who a request is, sessions, secrets and
one counter of wrong ones.

A secret reaches the studio four ways: a password in the login form (the admin's alone, or a
user name and its password), the admin's password in an ``Authorization: Bearer`` header, a
personal API token there (``vis_...``, app/services/tokens.py), and a session cookie. Each
resolves to a ``Principal`` (app/services/users.py); without an admin password every request is
the one local admin, or the owner of a valid API token it presents. Every wrong one counts against one limit
per client (``AUTH_FAILURES_PER_MINUTE``) and one for everybody together
(``AUTH_FAILURES_GLOBAL_PER_MINUTE``), so neither one address nor many can guess faster (and with
several replicas, not N times faster: on PostgreSQL they count in the database together):
- a client over its limit is answered 429 whatever it presents, the right password included;
- over the global limit no password is checked for anyone (429); sessions still are, since a
  session token cannot be guessed and those already signed in should not be locked out by an
  attacker;
- the same wrong secret presented again within the window counts once: a browser holding a cookie
  from before "sign out everywhere" sends it with every request of a page, and that is one stale
  secret, not a guesser (who needs a new value for every try).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pydantic import SecretStr

from app.core.errors import RateLimited, Unauthorized
from app.services.sessions import SESSION_SECONDS, SessionStore
from app.services.tokens import TokenService, is_token_shaped
from app.services.users import Principal, UserService

COOKIE_NAME = "studio_session"
__all__ = [
    "COOKIE_NAME",
    "SESSION_SECONDS",
    "AuthService",
    "FailureCounter",
    "FailureLedger",
    "SlidingWindow",
    "Verdict",
]

IMAGE_CACHE_PUBLIC = "public, max-age=31536000, immutable"
# Behind a password, stored images are the user's: kept by their browser, never by shared caches.
IMAGE_CACHE_PRIVATE = "private, max-age=31536000, immutable"


class SlidingWindow:
    """At most ``limit`` events per ``window`` seconds per key."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may act again (0 when it may now); does not record."""
        if self.limit <= 0:
            return 0.0
        now = self.clock()
        events = self._events.get(key)
        if events is None:
            return 0.0
        while events and events[0] <= now - self.window:
            events.popleft()
        if not events:
            del self._events[key]
            return 0.0
        if len(events) < self.limit:
            return 0.0
        return max(events[0] + self.window - now, 0.001)

    def hit(self, key: str) -> float:
        """Record one event; returns 0 when allowed, else seconds to wait (not recorded)."""
        wait = self.retry_after(key)
        if wait or self.limit <= 0:
            return wait
        self._events.setdefault(key, deque()).append(self.clock())
        if len(self._events) > 10_000:
            # Bound memory under a flood of distinct clients: forget the oldest.
            self._events.pop(next(iter(self._events)))
        return 0.0


class FailureLedger(Protocol):
    """Where wrong secrets are counted: in this process (``FailureCounter``), or in the database for
    every replica together (app/services/ratelimit.py)."""

    async def client_wait(self, client: str, *, fresh: bool = True) -> float:
        """Seconds ``client`` must wait before a secret of theirs is looked at (0: now).

        ``fresh=False`` may answer from a short-lived copy: for requests that verify nothing
        guessable (a session cookie is 256 random bits), where a second's delay costs nothing."""
        ...

    async def total_wait(self) -> float:
        """Seconds before any guessable secret is looked at again (the global limit)."""
        ...

    async def record(self, client: str, secret: str) -> None:
        """Count one wrong ``secret`` (the same one again within the window counts once)."""
        ...


class FailureCounter:
    """Wrong secrets per client and in total, each distinct secret counted once per window, in
    this process (one process: SQLite)."""

    ALL = "*"

    def __init__(
        self, per_client: int, in_total: int, *, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window = window
        self.clock = clock
        self._client = SlidingWindow(per_client, window, clock)
        self._total = SlidingWindow(in_total, window, clock)
        self._seen: dict[tuple[str, bytes], float] = {}
        self._key = secrets.token_bytes(16)  # the secrets themselves are never kept

    async def client_wait(self, client: str, *, fresh: bool = True) -> float:
        return self._client.retry_after(client)

    async def total_wait(self) -> float:
        return self._total.retry_after(self.ALL)

    async def record(self, client: str, secret: str) -> None:
        now = self.clock()
        mark = (client, secret_mark(self._key, secret))
        if self._seen.get(mark, 0.0) > now:
            return
        if len(self._seen) >= 10_000:
            self._seen = {k: until for k, until in self._seen.items() if until > now}
        self._seen[mark] = now + self.window
        self._client.hit(client)
        self._total.hit(self.ALL)


def secret_mark(key: bytes, secret: str) -> bytes:
    """What tells one wrong secret from another without keeping it (keyed: not reversible by a
    dictionary of likely passwords)."""
    return hmac.new(key, secret.encode(), hashlib.sha256).digest()[:16]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the secrets of one request are worth."""

    ok: bool
    retry_after: float = 0.0  # > 0: refused without looking (429)
    bad_cookie: bool = False  # a session cookie was sent and is not valid (clear it)
    principal: Principal | None = None  # who, when ok


def bearer_secret(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


class AuthService:
    def __init__(
        self,
        password: SecretStr | None,
        sessions: SessionStore,
        failures: FailureLedger,
        users: UserService,
        tokens: TokenService,
    ) -> None:
        self._digest = hashlib.sha256(password.get_secret_value().encode()).digest() if password else None
        self.sessions = sessions
        self.failures = failures
        self.users = users
        self.tokens = tokens

    @property
    def required(self) -> bool:
        return self._digest is not None

    @property
    def image_cache_control(self) -> str:
        return IMAGE_CACHE_PRIVATE if self.required else IMAGE_CACHE_PUBLIC

    def _password_matches(self, candidate: str) -> bool:
        assert self._digest is not None
        # Digests of equal length: the comparison's time says nothing about the password's length.
        return hmac.compare_digest(hashlib.sha256(candidate.encode()).digest(), self._digest)

    async def _user(self, user_id: str) -> Principal | None:
        # "": a session from before accounts (the start-up gives those to the admin).
        return self.users.admin if not user_id else await self.users.principal(user_id)

    async def authenticate(self, client: str, cookie: str | None, authorization: str | None) -> Verdict:
        """Who a request's session cookie or Bearer secret says it is."""
        bearer = bearer_secret(authorization)
        if self._digest is None:
            # No sign-in: the local admin, or the owner of a token it names (a CLI or an OpenAI
            # client keeps working when a password is set later). A wrong token is still wrong.
            if bearer is not None and is_token_shaped(bearer):
                wait = await self.failures.client_wait(client)
                if wait:
                    return Verdict(ok=False, retry_after=wait)
                principal = await self._token_principal(bearer)
                if principal is None:
                    await self.failures.record(client, bearer)
                    return Verdict(ok=False)
                return Verdict(ok=True, principal=principal)
            return Verdict(ok=True, principal=self.users.admin)
        wait = await self.failures.client_wait(client, fresh=False)
        if wait:
            return Verdict(ok=False, retry_after=wait)
        if cookie:
            user_id = await self.sessions.user_of(cookie)
            if user_id is not None:
                principal = await self._user(user_id)
                if principal is not None:
                    return Verdict(ok=True, principal=principal)
        if bearer is not None:
            # Up to date before a guessable secret is verified (other replicas count too).
            wait = await self.failures.client_wait(client) or await self.failures.total_wait()
            if wait:
                return Verdict(ok=False, retry_after=wait, bad_cookie=bool(cookie))
            if is_token_shaped(bearer):
                principal = await self._token_principal(bearer)
                if principal is not None:
                    return Verdict(ok=True, principal=principal)
            elif self._password_matches(bearer):
                return Verdict(ok=True, principal=self.users.admin)
            await self.failures.record(client, bearer)
        if cookie:
            await self.failures.record(client, cookie)
        return Verdict(ok=False, bad_cookie=bool(cookie))

    async def _token_principal(self, token: str) -> Principal | None:
        user_id = await self.tokens.resolve(token)
        return None if user_id is None else await self.users.principal(user_id)

    async def login(self, client: str, username: str | None, password: str, user_agent: str | None) -> str | None:
        """A new session's token (None when no password is set); raises RateLimited / Unauthorized.

        Without a user name, or with the first admin's, the password is the admin's (the
        single-password install signs in as before); any other name is a member's account.
        """
        if self._digest is None:
            return None
        wait = await self.failures.client_wait(client) or await self.failures.total_wait()
        if wait:
            raise locked_out(wait)
        admin = self.users.admin
        name = (username or "").strip().lower()
        principal: Principal | None = None
        if not name or name == admin.username:
            if self._password_matches(password):
                principal = admin
        else:
            principal = await self.users.verify(name, password)
        if principal is None:
            await self.failures.record(client, password)
            if name:
                raise Unauthorized("Wrong user name or password.", message_zh="用户名或密码错误。")
            raise Unauthorized("Wrong password.", message_zh="密码错误。")
        return await self.sessions.create(user_agent, principal.user_id)


def locked_out(wait: float) -> RateLimited:
    return RateLimited(
        f"Too many wrong passwords; try again in {int(wait) + 1} s.",
        message_zh=f"密码错误次数过多，请在 {int(wait) + 1} 秒后再试。",
        details={"retry_after": wait},
    )
