"""Optional access control (APP_PASSWORD) and per-client rate limiting.

Sessions are stateless signed cookies: ``<expiry>.<nonce>.<hmac>``, keyed by a hash of the
password, so changing the password logs everyone out and a restart does not.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable

from pydantic import SecretStr

COOKIE_NAME = "studio_session"
SESSION_SECONDS = 30 * 24 * 3600


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


class AuthService:
    def __init__(self, password: SecretStr | None, *, clock: Callable[[], float] = time.time) -> None:
        self._password = password.get_secret_value().encode() if password else None
        self._key = hashlib.sha256(b"studio-session\0" + self._password).digest() if self._password else b""
        self.clock = clock
        self.login_failures = SlidingWindow(limit=5, window=60.0)

    @property
    def required(self) -> bool:
        return self._password is not None

    def check_password(self, candidate: str) -> bool:
        if self._password is None:
            return True
        return hmac.compare_digest(candidate.encode(), self._password)

    def issue(self) -> str:
        expiry = int(self.clock()) + SESSION_SECONDS
        payload = f"{expiry}.{secrets.token_urlsafe(16)}"
        return f"{payload}.{self._sign(payload)}"

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()

    def verify_cookie(self, value: str | None) -> bool:
        if self._password is None:
            return True
        if not value or value.count(".") != 2:
            return False
        payload, _, signature = value.rpartition(".")
        if not hmac.compare_digest(self._sign(payload), signature):
            return False
        try:
            return int(payload.split(".", 1)[0]) > self.clock()
        except ValueError:
            return False

    def verify_bearer(self, header: str | None) -> bool:
        if self._password is None:
            return True
        if not header or not header.lower().startswith("bearer "):
            return False
        return self.check_password(header[7:].strip())
