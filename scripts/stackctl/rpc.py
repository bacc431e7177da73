"""supervisord's XML-RPC interface over its unix socket (what supervisorctl speaks), with timeouts.

http://supervisord.org/api.html. Standard library only: supervisor's own transport has no timeout,
and a supervisord that hangs must not hang `make run` or `make stop` with it.
"""

from __future__ import annotations

import http.client
import socket
import xmlrpc.client
from pathlib import Path
from typing import Any, cast

# Process states (supervisor.states.ProcessStates) by name, as getProcessInfo reports them, in which a
# program is not running and will not be by itself without a restart.
DOWN_STATES = frozenset({"BACKOFF", "EXITED", "FATAL", "STOPPED", "STOPPING", "UNKNOWN"})


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.path))
        except OSError:
            sock.close()
            raise
        self.sock = sock


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__()
        self.path = path
        self.timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        return _UnixConnection(self.path, self.timeout)


class Supervisor:
    """The few calls we need. Errors are OSError (no socket, refused, timeout) or xmlrpc.client.Fault."""

    def __init__(self, socket_path: Path, timeout: float = 10.0) -> None:
        self._proxy = xmlrpc.client.ServerProxy("http://localhost", transport=_UnixTransport(socket_path, timeout))

    def processes(self) -> list[dict[str, Any]]:
        """getAllProcessInfo: name, statename, pid, exitstatus, spawnerr, ... per program and listener."""
        return cast(list[dict[str, Any]], self._proxy.supervisor.getAllProcessInfo())

    def shutdown(self) -> None:
        self._proxy.supervisor.shutdown()
