"""In-process change notifications for tasks (feeds the SSE endpoint).

Only a hint: subscribers re-read the task from the database, so a missed or merged
notification costs nothing, and SSE also polls for workers running in other processes.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager


class TaskEvents:
    def __init__(self) -> None:
        self._subscribers: defaultdict[str, set[asyncio.Event]] = defaultdict(set)

    def publish(self, task_id: str) -> None:
        for event in self._subscribers.get(task_id, ()):
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
