"""The host allow-list of every layout comes from the backend's one list (backend/app/core/hosts.py):
natively through stackctl, in the one image through its entrypoint, and in the separated nginx
image (no Python) through a shell twin that must write the same file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from stackctl.hosts import HostList, HostsError, open_bind_hint, resolve_hosts
from stackctl.template import IMAGE_VALUES

from app.core.config import Settings
from app.core.hosts import LOOPBACK_HOSTS, default_allowed_hosts, nginx_map

from .conftest import REPO, VENV_PYTHON

ENTRYPOINT = REPO / "scripts" / "nginx-entrypoint.sh"


def env_with(**values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "ALLOWED_HOSTS"}
    env.update(values)
    return env


def test_native_list_is_the_backends() -> None:
    default = resolve_hosts(VENV_PYTHON, env_with())
    assert default.hosts == tuple(default_allowed_hosts()) and default.given is False
    assert default.nginx_map == nginx_map(default_allowed_hosts())
    given = resolve_hosts(VENV_PYTHON, env_with(ALLOWED_HOSTS="Studio.Example,*.lan.example"))
    names = [*LOOPBACK_HOSTS, "studio.example", "*.lan.example"]
    assert given == HostList(tuple(names), True, nginx_map(names))


@pytest.mark.parametrize(
    ("bind", "added"), [("192.0.2.44", "192.0.2.44"), ("[2001:db8::7]", "2001:db8::7"), ("0.0.0.0", None), ("", None),
                        ("127.0.0.1", None)],
)
def test_a_specific_bind_address_is_answered(bind: str, added: str | None) -> None:
    hosts = resolve_hosts(VENV_PYTHON, env_with(ALLOWED_HOSTS="studio.example"), bind=bind)
    assert hosts.hosts == (*LOOPBACK_HOSTS, "studio.example", *([added] if added else []))


def test_a_bad_list_stops_the_start_with_the_reason() -> None:
    with pytest.raises(HostsError, match="ALLOWED_HOSTS"):
        resolve_hosts(VENV_PYTHON, env_with(ALLOWED_HOSTS="studio.example;evil"))


def test_listening_everywhere_without_allowed_hosts_says_how_to_set_it() -> None:
    default = HostList(("localhost", "127.0.0.1", "::1", "box"), False, "")
    hint = open_bind_hint("0.0.0.0", 3000, default)
    assert hint is not None
    assert "localhost, 127.0.0.1, ::1, box" in hint
    assert "make run BIND=0.0.0.0 PORT=3000 ALLOWED_HOSTS=" in hint and ".env" in hint
    assert open_bind_hint("", 3000, default) is not None
    assert open_bind_hint("127.0.0.1", 3000, default) is None
    assert open_bind_hint("0.0.0.0", 3000, HostList(("studio.lan",), True, "")) is None


# --- the images ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["", "studio.example,*.lan.example,::1,192.168.1.20", "*", " Studio.Example. , [::1],studio.example", "*.a.b,x"],
)
def test_the_nginx_images_entrypoint_writes_what_the_backend_would(value: str, tmp_path: Path) -> None:
    out = tmp_path / "studio" / "hosts.conf"
    done = subprocess.run(
        ["sh", str(ENTRYPOINT), "true"],
        env={"PATH": "/usr/bin:/bin", "ALLOWED_HOSTS": value, "STUDIO_HOSTS_FILE": str(out)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    # Without ALLOWED_HOSTS this image answers loopback only: its own names mean nothing to a browser.
    expected = Settings(_env_file=None, ALLOWED_HOSTS=value or ",".join(LOOPBACK_HOSTS)).allowed_host_names
    assert expected[:3] == LOOPBACK_HOSTS or expected == ("*",)
    assert out.read_text() == nginx_map(expected)


@pytest.mark.parametrize(
    ("extra", "origin"),
    [
        ({}, ""),
        ({"STORAGE_BACKEND": "local", "S3_ENDPOINT": "http://127.0.0.1:9000", "S3_BUCKET": "studio"}, ""),
        ({"S3_ENDPOINT": "https://tos-s3-cn-beijing.volces.com", "S3_ADDRESSING_STYLE": "virtual"},
         "https://studio.tos-s3-cn-beijing.volces.com"),
        ({"S3_ENDPOINT": "http://127.0.0.1:9000/", "S3_ADDRESSING_STYLE": "path"}, "http://127.0.0.1:9000"),
    ],
)
def test_the_entrypoint_allows_the_bucket_in_the_csp_as_the_backend_would(
    extra: dict[str, str], origin: str, tmp_path: Path
) -> None:
    env = {"STORAGE_BACKEND": "s3", "S3_BUCKET": "studio", "S3_ACCESS_KEY_ID": "k", "S3_SECRET_ACCESS_KEY": "s",
           **extra} if extra.get("S3_ENDPOINT") else {}
    out = tmp_path / "hosts.conf"
    done = subprocess.run(
        ["sh", str(ENTRYPOINT), "true"],
        env={"PATH": "/usr/bin:/bin", "STUDIO_HOSTS_FILE": str(out), **env},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    settings = Settings(_env_file=None, ALLOWED_HOSTS=",".join(LOOPBACK_HOSTS), **env)  # type: ignore[arg-type]
    assert settings.image_origin == origin
    assert out.read_text() == nginx_map(settings.allowed_host_names, image_origin=settings.image_origin)


@pytest.mark.parametrize("fronts", ["", "172.31.240.10", "10.0.0.0/8, 172.31.240.10,fd00::/8", "[::1]"])
def test_the_entrypoint_writes_the_front_proxies_as_the_backend_would(fronts: str, tmp_path: Path) -> None:
    out = tmp_path / "hosts.conf"
    done = subprocess.run(
        ["sh", str(ENTRYPOINT), "true"],
        env={"PATH": "/usr/bin:/bin", "FRONT_PROXIES": fronts, "STUDIO_HOSTS_FILE": str(out)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    settings = Settings(_env_file=None, ALLOWED_HOSTS=",".join(LOOPBACK_HOSTS), FRONT_PROXIES=fronts)
    assert out.read_text() == nginx_map(settings.allowed_host_names, settings.front_proxies)
    if fronts:
        assert "real_ip_header X-Forwarded-For;" in out.read_text()


def test_front_proxies_must_be_exact_networks() -> None:
    with pytest.raises(ValueError, match="FRONT_PROXIES"):
        Settings(_env_file=None, FRONT_PROXIES="10.0.0.1/8")
    with pytest.raises(ValueError, match="FRONT_PROXIES"):
        Settings(_env_file=None, FRONT_PROXIES="caddy")
    assert Settings(_env_file=None, FRONT_PROXIES="172.31.240.10").front_proxies == ["172.31.240.10/32"]


@pytest.mark.parametrize("value", ["studio.example;", "studio.example:3000", "http://x", "a b", "*example", "x}"])
def test_the_nginx_images_entrypoint_refuses_what_is_not_a_name(value: str, tmp_path: Path) -> None:
    out = tmp_path / "hosts.conf"
    done = subprocess.run(
        ["sh", str(ENTRYPOINT), "echo", "started"],
        env={"PATH": "/usr/bin:/bin", "ALLOWED_HOSTS": value, "STUDIO_HOSTS_FILE": str(out)},
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "ALLOWED_HOSTS" in done.stderr and "started" not in done.stdout
    assert not out.exists()


def test_the_images_start_with_loopback_only_and_write_the_list_at_start() -> None:
    """The committed default lets `nginx -t` pass at build time; the entrypoints replace it."""
    assert (REPO / "nginx" / "hosts.default.conf").read_text() == nginx_map(list(LOOPBACK_HOSTS))
    target = IMAGE_VALUES["fullstack"].hosts
    assert IMAGE_VALUES["separated"].hosts == target
    for dockerfile in ("Dockerfile.fullstack", "nginx/Dockerfile"):
        assert f"COPY nginx/hosts.default.conf {target}\n" in (REPO / dockerfile).read_text(), dockerfile
    one_image = (REPO / "scripts" / "docker-entrypoint.sh").read_text()
    assert "python -m app.core.hosts nginx-map" in one_image and target in one_image
    nginx_image = (REPO / "nginx" / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["/usr/local/bin/nginx-entrypoint.sh"]' in nginx_image
    assert "COPY scripts/nginx-entrypoint.sh /usr/local/bin/nginx-entrypoint.sh" in nginx_image
