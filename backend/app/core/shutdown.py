"""The stop signal, seen by the app too (not only by uvicorn).

uvicorn's graceful shutdown waits for every open response to end before it runs the app's
shutdown, and an event stream never ends on its own: with a tab open, each stop or restart took
the whole --timeout-graceful-shutdown. Told of the signal, the streams end at once instead (the
browser reconnects by itself and resumes from its Last-Event-ID).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def on_stop_signal(callback: Callable[[], None]) -> Callable[[], None]:
    """Schedule ``callback`` in the running loop when SIGINT or SIGTERM arrives, then run the
    handler that was there before (uvicorn's, which starts its shutdown). Returns what puts the
    previous handlers back. Only Python-level handlers are chained: where a signal has none (the
    app under a test client), it is left alone."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signal handlers can only be set from the main thread
    loop = asyncio.get_running_loop()
    previous: dict[int, Callable[[int, FrameType | None], Any]] = {}

    def handle(sig: int, frame: FrameType | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing left to end
            loop.call_soon_threadsafe(callback)
        previous[sig](sig, frame)

    for sig in STOP_SIGNALS:
        current = signal.getsignal(sig)
        if callable(current):
            previous[sig] = current
            signal.signal(sig, handle)

    def restore() -> None:
        for sig, handler in previous.items():
            if signal.getsignal(sig) is handle:
                signal.signal(sig, handler)

    return restore
