"""In-process change notifications for tasks (feeds the SSE endpoints).

Only a hint: subscribers re-read tasks from the database, so a missed or merged notification
costs nothing, and the streams also poll for workers running in other processes.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager


class TaskEvents:
    def __init__(self) -> None:
        self._subscribers: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        # Followers of every task (the one live channel of a client).
        self._everything: set[asyncio.Event] = set()

    def publish(self, task_id: str) -> None:
        for event in self._subscribers.get(task_id, ()):
            event.set()
        for event in self._everything:
            event.set()

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
