"""Start-up: is the stack healthy yet, or has it already failed?

Failure is read from supervisord's own account of its programs (XML-RPC), not from its log: a
program that is down (BACKOFF, EXITED, FATAL, ...) or that was restarted (its pid changed) before
the stack became healthy has failed, and waiting will not mend it. A port that is taken shows up
this way too: nginx or uvicorn binds the port it was given, fails, and exits.

Healthy means: uvicorn and nginx each hold a listening socket on their own port (seen in /proc,
so another server on the same port is never mistaken for ours), and /health through nginx says
healthy.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .instance import cmdline
from .rpc import DOWN_STATES

PROGRAMS = ("uvicorn", "nginx")
TCP_LISTEN = "0A"


class ProcessSource(Protocol):
    def processes(self) -> list[dict[str, Any]]: ...


def describe_exit(info: Mapping[str, Any]) -> str:
    """'exited during start-up (BACKOFF: Exited too quickly ...)' and the like, from getProcessInfo."""
    state = info.get("statename", "?")
    # supervisord keeps no exit status for a program that exits before its startsecs, only spawnerr
    # ("Exited too quickly", or why it could not be started at all: "can't find command ...").
    why = info.get("spawnerr") or (f"exit status {info.get('exitstatus')}" if state == "EXITED" else "")
    if state in ("BACKOFF", "EXITED", "FATAL"):
        return f"exited during start-up ({state}{': ' + why if why else ''})"
    return f"is {state} during start-up{' (' + why + ')' if why else ''}"


@dataclass
class StartupWatch:
    """Decides from successive getAllProcessInfo answers whether start-up has failed. Pure."""

    programs: tuple[str, ...] = PROGRAMS
    first_pids: dict[str, int] = field(default_factory=dict)

    def failure(self, infos: Iterable[Mapping[str, Any]]) -> tuple[str, str] | None:
        """(program, reason) of the first program that failed, or None."""
        by_name = {info.get("name"): info for info in infos}
        for name in self.programs:
            info = by_name.get(name)
            if info is None:
                return name, "is not a program of this supervisord"
            if info.get("statename") in DOWN_STATES:
                return name, describe_exit(info)
            pid = int(info.get("pid") or 0)
            if pid:
                first = self.first_pids.setdefault(name, pid)
                if pid != first:
                    return name, f"exited during start-up and was started again (pid {first}, then {pid})"
        return None


# --- who listens where (Linux /proc) -------------------------------------------------------------


def listening_inodes(port: int, proc: Path = Path("/proc")) -> set[int]:
    """Inodes of the TCP sockets listening on `port` (IPv4 and IPv6) in this network namespace."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != TCP_LISTEN:
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(int(fields[9]))
    return inodes


def socket_inodes(pid: int, proc: Path = Path("/proc")) -> set[int]:
    inodes: set[int] = set()
    try:
        fds = os.listdir(proc / str(pid) / "fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(proc / str(pid) / "fd" / fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def listens(pid: int, port: int) -> bool:
    """Does process `pid` hold a socket listening on `port`?"""
    return bool(listening_inodes(port) & socket_inodes(pid))


def who_listens(port: int) -> str | None:
    """'pid 123 (nginx: master process ...)' of a process listening on `port` (and how many more), if any."""
    inodes = listening_inodes(port)
    if not inodes:
        return None
    found = sorted(
        int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit() and socket_inodes(int(e.name)) & inodes
    )
    if not found:
        return "a process we may not look at"
    first = f"pid {found[0]} ({' '.join(cmdline(found[0])).strip()[:80]})"
    return first + (f" and {len(found) - 1} more" if len(found) > 1 else "")


def probe_health(url: str, timeout: float = 5.0) -> tuple[bool, str]:
    """(healthy, what was seen) for GET url."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = json.loads(resp.read() or b"{}")
            status = body.get("status") if isinstance(body, dict) else None
            return resp.status == 200 and status == "healthy", f"HTTP {resp.status} {status}"
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return False, str(exc)


class StartFailed(Exception):
    def __init__(self, reason: str, program: str | None = None) -> None:
        super().__init__(reason)
        self.program = program


def wait_until_healthy(
    supervisor: ProcessSource,
    *,
    ports: Mapping[str, int],
    health_url: str,
    timeout: float,
    supervisord_alive: Callable[[], bool],
    listens: Callable[[int, int], bool] = listens,
    probe: Callable[[str], tuple[bool, str]] = probe_health,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    interval: float = 0.2,
) -> None:
    """Return once healthy; raise StartFailed as soon as a program has failed, or at the deadline."""
    watch = StartupWatch(programs=tuple(ports))
    deadline = clock() + timeout
    last = "no answer yet"
    while clock() < deadline:
        try:
            infos = supervisor.processes()
        except OSError as exc:
            if not supervisord_alive():
                raise StartFailed(f"supervisord is gone ({last})") from None
            last = f"supervisord does not answer yet ({exc})"
        else:
            failed = watch.failure(infos)
            if failed:
                raise StartFailed(f"{failed[0]} {failed[1]}", program=failed[0])
            pids = {info["name"]: int(info.get("pid") or 0) for info in infos}
            waiting = [name for name, port in ports.items() if not (pids.get(name) and listens(pids[name], port))]
            if waiting:
                last = "not listening yet: " + ", ".join(f"{name} on {ports[name]}" for name in waiting)
            else:
                healthy, last = probe(health_url)
                if healthy:
                    return
        sleep(interval)
    raise StartFailed(f"no healthy answer from {health_url} within {timeout:g} s ({last})")
