"""A real uvicorn process stops promptly on SIGTERM while browsers hold live streams.

uvicorn's graceful shutdown waits for every open response to finish, and an event stream never
does: each stop or restart took the whole --timeout-graceful-shutdown (20 s under supervisor)
whenever a tab was open. The streams end at SIGTERM instead; browsers reconnect by themselves
(to another replica, or to this one once it is back) and resume from their Last-Event-ID.
"""

from __future__ import annotations

import http.client
import signal
import time
from pathlib import Path

import pytest

from tests.jobs.test_process_crash import _free_port, _start

GRACE = 20


def _open_stream(port: int, path: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=GRACE + 10)
    conn.request("GET", path, headers={"Accept": "text/event-stream"})
    response = conn.getresponse()
    assert response.status == 200
    assert response.readline().startswith(b"retry:")
    return response


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_stop_signal_ends_open_streams_and_the_process_exits_at_once(tmp_path: Path, sig: int) -> None:
    port = _free_port()
    proc = _start(port, tmp_path / "data", extra_args=["--timeout-graceful-shutdown", str(GRACE)])
    try:
        streams = [_open_stream(port, "/api/v1/events") for _ in range(3)]
        started = time.monotonic()
        proc.send_signal(sig)
        # Each stream is ended by the server (a clean end of the chunked body), not cut.
        for stream in streams:
            rest = stream.read()
            assert b"event: task" not in rest
        code = proc.wait(timeout=GRACE + 10)
        took = time.monotonic() - started
        # uvicorn re-raises the signal it caught once shutdown is done (so a parent sees how its
        # child ended): SIGTERM shows as -15; SIGINT's default handler exits with 0 here.
        assert code in (0, -sig), code
        assert took < 5, f"stopping took {took:.1f} s with streams open"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
