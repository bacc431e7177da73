"""The host allow-list: its default, how a Host header is read and matched, the validation that
keeps a setting from reaching into nginx's config, and the nginx map made from it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.core import hosts
from app.core.config import Settings
from app.core.hosts import HostAllowList

BACKEND = Path(__file__).resolve().parents[2]


def test_default_is_loopback_and_this_machine() -> None:
    default = hosts.default_allowed_hosts()
    assert default[:3] == ["localhost", "127.0.0.1", "::1"]
    assert socket.gethostname().lower() in default
    assert len(default) == len(set(default))
    assert all(HostAllowList(default).allows(name) for name in default)


def test_settings_resolve_the_default_only_when_unset() -> None:
    assert Settings(_env_file=None).allowed_host_names == tuple(hosts.default_allowed_hosts())
    assert Settings(_env_file=None, ALLOWED_HOSTS="").allowed_host_names == tuple(hosts.default_allowed_hosts())
    given = Settings(_env_file=None, ALLOWED_HOSTS="Studio.Example., *.LAN.example, [::1], 192.168.1.20")
    # Loopback always: health checks ask there, and no other page can make a browser send it.
    assert given.allowed_host_names == ("localhost", "127.0.0.1", "::1", "studio.example", "*.lan.example", "192.168.1.20")
    assert Settings(_env_file=None, ALLOWED_HOSTS="*").allowed_host_names == ("*",)
    assert Settings(_env_file=None, ALLOWED_HOSTS="studio.example,*").allowed_host_names == ("*",)


@pytest.mark.parametrize(
    "value",
    ["studio.example;", "a b", "studio.example/x", "*example.com", "a.*.example", "**", "exa$mple", "x{}", "'x'",
     "studio.example:3000", "http://studio.example", "[::1", "*.", "."],
)
def test_entries_that_are_not_host_names_are_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="ALLOWED_HOSTS"):
        Settings(_env_file=None, ALLOWED_HOSTS=value)


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("localhost", "localhost"),
        ("LocalHost:3000", "localhost"),
        ("studio.example.", "studio.example"),
        ("studio.example.:8080", "studio.example"),
        ("[::1]:3000", "::1"),
        ("[0:0::1]", "::1"),
        ("127.0.0.1:80", "127.0.0.1"),
        ("", None),
        ("a b", None),
        ("[::1", None),
        ("host:port", None),
        ("x/y", None),
    ],
)
def test_host_header_is_read_like_nginx_reads_it(header: str, host: str | None) -> None:
    assert hosts.host_of(header) == host


@pytest.mark.parametrize(
    ("entries", "allowed", "refused"),
    [
        (["localhost", "127.0.0.1", "::1"], ["localhost", "127.0.0.1", "::1"], ["localhost.attacker.example", "127.0.0.2", None]),
        (["*.example.com"], ["a.example.com", "a.b.example.com"], ["example.com", "aexample.com", "a.example.com.evil"]),
        (["*"], ["anything.example", "10.0.0.1"], [None]),
    ],
)
def test_matching(entries: list[str], allowed: list[str], refused: list[str | None]) -> None:
    allow_list = HostAllowList(entries)
    assert all(allow_list.allows(host) for host in allowed)
    assert not any(allow_list.allows(host) for host in refused)


def test_nginx_map() -> None:
    assert hosts.nginx_map(["localhost", "::1", "*.lan.example"]) == (
        "# Host names nginx answers (ALLOWED_HOSTS), written when the studio starts; others get 421.\n"
        "map $host $studio_host_allowed {\n"
        "    hostnames;\n"
        "    default 0;\n"
        "    localhost 1;\n"
        "    [::1] 1;\n"
        "    *.lan.example 1;\n"
        "}\n"
        "# TLS proxies in front of nginx (FRONT_PROXIES): only their X-Forwarded-For/-Proto are believed.\n"
        "geo $realip_remote_addr $studio_front_proxy {\n"
        "    default 0;\n"
        "}\n"
        "map $uri $studio_image_origin {\n"
        '    default "";\n'
        "}\n"
    )
    with_front = hosts.nginx_map(["localhost"], ["172.31.240.10/32"])
    assert "    172.31.240.10/32 1;\n}\nset_real_ip_from 172.31.240.10/32;\nreal_ip_header X-Forwarded-For;\n" in with_front
    assert "default 1;" in hosts.nginx_map(["*"]) and "*" not in hosts.nginx_map(["*"]).split("default 1;")[1]


def test_command_line_prints_the_map_and_the_list(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "ALLOWED_HOSTS": "studio.example,localhost"}
    run = [sys.executable, "-m", "app.core.hosts"]
    printed = subprocess.run([*run, "nginx-map"], cwd=BACKEND, env=env, capture_output=True, text=True, check=True)
    assert printed.stdout == hosts.nginx_map(["localhost", "127.0.0.1", "::1", "studio.example"])
    listed = subprocess.run([*run, "list"], cwd=BACKEND, env=env, capture_output=True, text=True, check=True)
    assert listed.stdout == "localhost\n127.0.0.1\n::1\nstudio.example\n"
    bad = subprocess.run([*run, "nginx-map"], cwd=BACKEND, env={**env, "ALLOWED_HOSTS": "x;y"}, capture_output=True, text=True)
    assert bad.returncode != 0 and "ALLOWED_HOSTS" in bad.stderr and "Traceback" not in bad.stderr


def test_nginx_map_names_the_bucket_presigned_images_come_from() -> None:
    # The leading space: the CSP reads "img-src 'self' data: blob:$studio_image_origin;".
    with_bucket = hosts.nginx_map(["localhost"], image_origin="https://studio.tos-s3-cn-beijing.volces.com")
    assert with_bucket.endswith(
        "map $uri $studio_image_origin {\n"
        '    default " https://studio.tos-s3-cn-beijing.volces.com";\n'
        "}\n"
    )
