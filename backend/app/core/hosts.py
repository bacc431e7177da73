"""The host names this studio answers to (ALLOWED_HOSTS), against DNS rebinding.

A page on ``rebind.attacker.example`` whose name the attacker points at 127.0.0.1 is, to the
browser, same-origin with itself: it can send requests to the studio and read the answers, and its
Host and Origin agree. Only the Host tells such a request apart, so nginx and the API both answer
421 to a Host that is not on this list, before doing anything else.

Entries: a host name (``studio.example``), ``*.domain`` (every name below domain, not domain
itself, as nginx reads it), an IPv4 or IPv6 address, or ``*`` (any Host, explicitly). The loopback
names are always on the list (health checks use them; no page elsewhere can make a browser send
them). The default adds this machine's own names; it lives here only: the API reads it through
``Settings``, and the nginx configs get the same list from ``python -m app.core.hosts nginx-map``
(scripts/stackctl natively, scripts/docker-entrypoint.sh in the one image).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import socket
import sys
from collections.abc import Iterable, Sequence

ANY = "*"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
# Labels of a DNS name as browsers send them (lower case, punycode); `_` for Docker service names.
_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*")
# Where this machine's primary address is looked up: a UDP "connect" sends no packet.
_PROBE_ADDRESS = ("192.0.2.1", 9)  # TEST-NET-1, never routed anywhere real


def normalize_entry(value: str) -> str:
    """One ALLOWED_HOSTS entry in the form it is matched in; ValueError when it is not one."""
    entry = value.strip().lower()
    if entry == ANY:
        return ANY
    if entry.startswith("[") and entry.endswith("]"):
        entry = entry[1:-1]
    if ":" in entry:
        try:
            address = ipaddress.ip_address(entry)
        except ValueError:
            raise ValueError(f"{value!r} is not a host name or an address (no ports, no URLs)") from None
        return str(address)
    wildcard = entry.startswith("*.")
    name = entry[2:] if wildcard else entry
    name = name[:-1] if name.endswith(".") else name
    if not _NAME.fullmatch(name):
        raise ValueError(f"{value!r} is not a host name, `*.domain` or an address (no ports, no URLs)")
    return f"*.{name}" if wildcard else name


def host_of(header: str) -> str | None:
    """The host name of a Host header, read as nginx's ``$host`` is (lower case, no port, no
    trailing dot); None when the header holds no usable name."""
    value = header.strip().lower()
    if value.startswith("["):
        address, bracket, port = value[1:].partition("]")
        if not bracket or (port and not (port.startswith(":") and port[1:].isdigit())):
            return None
        try:
            return str(ipaddress.IPv6Address(address))
        except ValueError:
            return None
    name, colon, port = value.partition(":")
    if colon and not port.isdigit():
        return None
    name = name[:-1] if name.endswith(".") else name
    return name if _NAME.fullmatch(name) else None


class HostAllowList:
    """Matches host names (from ``host_of``) against normalized entries."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.entries = tuple(entries)
        self.any = ANY in self.entries
        self._exact = frozenset(e for e in self.entries if not e.startswith("*"))
        self._suffixes = tuple(e[1:] for e in self.entries if e.startswith("*."))

    def allows(self, host: str | None, *, any_host: bool = True) -> bool:
        """Whether ``host`` is on the list; ``any_host=False`` ignores a ``*`` entry."""
        if host is None:
            return False
        if any_host and self.any:
            return True
        return host in self._exact or (bool(self._suffixes) and host.endswith(self._suffixes))


def machine_names() -> list[str]:
    """This machine's host name, fully qualified name and primary address (what may be typed into
    a browser on the LAN without setting ALLOWED_HOSTS)."""
    names: list[str] = []
    with contextlib.suppress(OSError):
        names.append(socket.gethostname())
    with contextlib.suppress(OSError):
        names.append(socket.getfqdn())
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(_PROBE_ADDRESS)
        names.append(probe.getsockname()[0])
    found = []
    for name in names:
        with contextlib.suppress(ValueError):
            found.append(normalize_entry(name))
    return [name for name in found if name not in ("0.0.0.0", "localhost.localdomain")]


def default_allowed_hosts() -> list[str]:
    return unique([*LOOPBACK_HOSTS, *machine_names()])


def unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def nginx_map(entries: Sequence[str], front_proxies: Sequence[str] = (), image_origin: str = "") -> str:
    """What nginx's site includes: ``$studio_host_allowed`` is 1 for a Host on the list,
    ``$studio_front_proxy`` is 1 for a peer on FRONT_PROXIES (whose forwarded headers nginx believes),
    and ``$studio_image_origin`` the bucket's origin that presigned image URLs point at
    (STORAGE_BACKEND=s3; the CSP's img-src must allow it), empty for images on disk.

    ``entries`` are normalized (``normalize_entry``) and ``front_proxies`` validated networks
    (Settings), so nothing in them can end a line.
    """
    lines = [
        "# Host names nginx answers (ALLOWED_HOSTS), written when the studio starts; others get 421.",
        "map $host $studio_host_allowed {",
        "    hostnames;",
        f"    default {1 if ANY in entries else 0};",
    ]
    for entry in entries:
        if entry != ANY:
            lines.append(f"    {'[' + entry + ']' if ':' in entry else entry} 1;")
    lines += [
        "}",
        "# TLS proxies in front of nginx (FRONT_PROXIES): only their X-Forwarded-For/-Proto are believed.",
        "geo $realip_remote_addr $studio_front_proxy {",
        "    default 0;",
        *(f"    {network} 1;" for network in front_proxies),
        "}",
    ]
    if front_proxies:
        lines += [f"set_real_ip_from {network};" for network in front_proxies]
        lines += ["real_ip_header X-Forwarded-For;", "real_ip_recursive on;"]
    if image_origin:
        # Validated by Settings (scheme://host[:port], no quotes, no spaces).
        lines += [
            "# The bucket presigned image URLs point at (STORAGE_BACKEND=s3): allowed by the CSP's img-src.",
            "map $uri $studio_image_origin {",
            f'    default " {image_origin}";',
            "}",
        ]
    else:
        lines += ["map $uri $studio_image_origin {", '    default "";', "}"]
    return "\n".join([*lines, ""])


USAGE = """usage: python -m app.core.hosts nginx-map | list | json [--also HOST]...

  nginx-map   the map nginx's site includes (ALLOWED_HOSTS, or the default list)
  list        the allowed host names, one per line
  json        {"hosts": [...], "given": bool, "nginx_map": "..."} (scripts/stackctl)
  --also      add an address to the list (the one nginx is bound to)
"""


def main(argv: Sequence[str]) -> int:
    from pydantic import ValidationError

    from app.core.config import Settings

    command, also = (argv[0] if argv else ""), list(argv[1:])
    extra: list[str] = []
    while also[:1] == ["--also"] and len(also) >= 2:
        extra.append(also[1])
        also = also[2:]
    if command not in ("nginx-map", "list", "json") or also:
        print(USAGE, file=sys.stderr, end="")
        return 2
    try:
        settings = Settings()
    except ValidationError as exc:
        print("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()), file=sys.stderr)
        return 1
    names = list(settings.allowed_host_names)
    try:
        if ANY not in names:
            names = unique([*names, *(normalize_entry(name) for name in extra)])
    except ValueError as exc:
        print(f"--also: {exc}", file=sys.stderr)
        return 1
    if command == "nginx-map":
        print(nginx_map(names, settings.front_proxies, settings.image_origin), end="")
    elif command == "list":
        print("\n".join(names))
    else:
        print(json.dumps({"hosts": names, "given": settings.allowed_hosts_given, "nginx_map": nginx_map(names, settings.front_proxies, settings.image_origin)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
