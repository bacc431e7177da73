"""The host names a native stack answers to (ALLOWED_HOSTS), from the backend's own rules.

The list and its default (loopback and this machine's names) are the backend's
(backend/app/core/hosts.py); stackctl asks it through the venv's python, once per start, and gets
both the list (handed to uvicorn as ALLOWED_HOSTS, so the API and nginx agree exactly) and the
nginx ``map`` the site includes. The address nginx is bound to (BIND) is added when it is a
specific one: the stack is reached there, /health included, and an address typed into a browser
cannot be rebound.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .template import REPO

WILDCARD_BINDS = ("", "0.0.0.0", "::", "[::]")
LOOPBACK_BINDS = ("127.0.0.1", "::1", "[::1]", "localhost")


class HostsError(Exception):
    pass


@dataclass(frozen=True)
class HostList:
    hosts: tuple[str, ...]
    given: bool  # ALLOWED_HOSTS was set (else: the default list)
    nginx_map: str


def bind_address(bind: str) -> str | None:
    """The address to add to the list for BIND, if it names one."""
    if bind in WILDCARD_BINDS or bind in LOOPBACK_BINDS:
        return None
    return bind.strip("[]")


def resolve_hosts(python: Path, env: Mapping[str, str], *, bind: str = "127.0.0.1") -> HostList:
    """ALLOWED_HOSTS of `env` (or the default), plus BIND's address, with its nginx map."""
    argv = [str(python), "-m", "app.core.hosts", "json"]
    extra = bind_address(bind)
    if extra:
        argv += ["--also", extra]
    try:
        done = subprocess.run(argv, cwd=REPO / "backend", env=dict(env), capture_output=True, text=True, timeout=60)
    except OSError as exc:
        raise HostsError(f"cannot run {python}: {exc}") from None
    if done.returncode != 0:
        raise HostsError((done.stderr or done.stdout).strip() or f"{' '.join(argv)} failed ({done.returncode})")
    answer = json.loads(done.stdout)
    return HostList(hosts=tuple(answer["hosts"]), given=bool(answer["given"]), nginx_map=str(answer["nginx_map"]))


def open_bind_hint(bind: str, port: int, hosts: HostList) -> str | None:
    """What to say when nginx listens on every address but ALLOWED_HOSTS was not set."""
    if bind not in WILDCARD_BINDS or hosts.given:
        return None
    return (
        f"nginx listens on every address (BIND={bind or '*'}), but answers only to these host names: "
        f"{', '.join(hosts.hosts)}; any other name gets 421 (a defence against DNS rebinding).\n"
        "  To open the studio by another name or address, list them in ALLOWED_HOSTS, e.g.\n"
        f"    make run BIND={bind or '0.0.0.0'} PORT={port} ALLOWED_HOSTS=studio.lan,192.168.1.20\n"
        "  or put ALLOWED_HOSTS=... in .env (`*.example.com` for every name below example.com, `*` for any)."
    )
