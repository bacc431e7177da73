"""Change notifications for tasks (feeds the SSE endpoints).

Only a hint: subscribers re-read tasks from the database, so a missed or merged notification costs
a little latency, never a wrong state. With a relay (PostgreSQL LISTEN/NOTIFY) notifications cross
processes and replicas, and the streams need no polling; without one (SQLite), a job run by another
process is still seen by a slow rescan.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

# How often a stream rescans when no relay carries other processes' changes.
FALLBACK_RESCAN_SECONDS = 1.0


class Relay(Protocol):
    """Carries task ids to the other processes sharing the database."""

    @property
    def connected(self) -> bool: ...

    def send(self, task_id: str) -> None: ...


class TaskEvents:
    def __init__(self) -> None:
        self._subscribers: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        # Followers of every task (the one live channel of a client).
        self._everything: set[asyncio.Event] = set()
        self._relay: Relay | None = None
        # Set when the process is stopping: streams end instead of waiting for more changes.
        self.closing = False

    def attach(self, relay: Relay) -> None:
        self._relay = relay

    @property
    def rescan_seconds(self) -> float | None:
        """How often a stream must look for changes nobody announced (None: never)."""
        if self._relay is not None and self._relay.connected:
            return None
        return FALLBACK_RESCAN_SECONDS

    def publish(self, task_id: str) -> None:
        """A task changed here: tell this process's streams now, and the other processes."""
        self.deliver(task_id)
        if self._relay is not None:
            self._relay.send(task_id)

    def deliver(self, task_id: str) -> None:
        """A task changed (here or elsewhere): wake the streams following it."""
        for event in self._subscribers.get(task_id, ()):
            event.set()
        for event in self._everything:
            event.set()

    def wake_all(self) -> None:
        """Notifications may have been lost (the relay reconnected): every stream rescans."""
        for subscribers in self._subscribers.values():
            for event in subscribers:
                event.set()
        for event in self._everything:
            event.set()

    def close(self) -> None:
        """The process is stopping: wake every stream so that it ends (``closing``)."""
        self.closing = True
        self.wake_all()

    @contextmanager
    def subscribe(self, task_id: str) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        self._subscribers[task_id].add(event)
        try:
            yield event
        finally:
            subscribers = self._subscribers.get(task_id)
            if subscribers is not None:
                subscribers.discard(event)
                if not subscribers:
                    del self._subscribers[task_id]

    @contextmanager
    def subscribe_all(self) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        self._everything.add(event)
        try:
            yield event
        finally:
            self._everything.discard(event)
