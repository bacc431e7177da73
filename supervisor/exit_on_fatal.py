#!/usr/bin/env python3
"""supervisord event listener: take supervisord down when a program keeps failing.

autorestart restarts a program that crashes after it has started, forever; one that cannot start
ends FATAL and stays dead while supervisord (and so the container) looks alive. Either way the
service is down without anyone being told. This listener stops supervisord instead, so the
container exits and Docker's restart policy, health status and logs show the failure; natively,
`make run` sees the stack gone and prints the logs.

It stops supervisord when a program enters FATAL, or when one exits unexpectedly more than
--max-exits times within --window seconds. Standard library only: it runs with any Python.
Protocol: http://supervisord.org/events.html (stdout is the channel to supervisord; we log to stderr).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable


def parse_tokens(line: str) -> dict[str, str]:
    """`a:1 b:2` -> {"a": "1", "b": "2"} (the format of event headers and payload headers)."""
    return dict(token.split(":", 1) for token in line.split() if ":" in token)


class ExitWatch:
    """Decides, event by event, whether supervisord should be stopped. Pure: time is passed in."""

    def __init__(self, max_exits: int, window: float) -> None:
        self.max_exits = max_exits
        self.window = window
        self._exits: dict[str, deque[float]] = {}

    def verdict(self, event: str, payload: dict[str, str], now: float) -> str | None:
        name = payload.get("processname", "?")
        if event == "PROCESS_STATE_FATAL":
            return f"{name} entered FATAL: it could not stay up for its startsecs"
        if event == "PROCESS_STATE_EXITED" and payload.get("expected") == "0":
            exits = self._exits.setdefault(name, deque())
            exits.append(now)
            while exits and now - exits[0] > self.window:
                exits.popleft()
            if len(exits) > self.max_exits:
                return f"{name} exited unexpectedly {len(exits)} times within {self.window:g} s"
        return None


def serve(
    stdin, stdout, watch: ExitWatch, stop: Callable[[str], None], clock: Callable[[], float] = time.monotonic
) -> None:
    while True:
        stdout.write("READY\n")
        stdout.flush()
        line = stdin.readline()
        if not line:  # supervisord went away
            return
        headers = parse_tokens(line)
        payload = stdin.read(int(headers.get("len", "0")))
        first_line = payload.split("\n", 1)[0]
        reason = watch.verdict(headers.get("eventname", ""), parse_tokens(first_line), clock())
        stdout.write("RESULT 2\nOK")
        stdout.flush()
        if reason:
            stop(reason)


def stop_supervisord(reason: str) -> None:
    print(f"exit-on-fatal: {reason}; stopping supervisord (pid {os.getppid()})", file=sys.stderr, flush=True)
    # Our parent is supervisord; SIGTERM makes it stop every program gracefully and exit.
    os.kill(os.getppid(), signal.SIGTERM)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-exits", type=int, default=5, help="unexpected exits tolerated per window")
    parser.add_argument("--window", type=float, default=120.0, help="seconds")
    args = parser.parse_args(argv)
    serve(sys.stdin, sys.stdout, ExitWatch(args.max_exits, args.window), stop_supervisord)


if __name__ == "__main__":
    main()
