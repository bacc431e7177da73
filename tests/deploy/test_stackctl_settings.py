"""stackctl.settings: where each setting of a stack comes from, and in which order they win."""

from __future__ import annotations

from pathlib import Path

import pytest
from stackctl.settings import SettingsError, merged_environment, needs_postgres, resolve

ROOT = Path("/srv/studio")


def test_defaults() -> None:
    s = resolve({}, root=ROOT)
    assert (s.port, s.bind, s.api_port) == (3000, "127.0.0.1", 8000)
    assert s.data_dir == ROOT / "data" and s.output_dir == ROOT / "data" / "output"
    assert s.given == {}
    assert s.url == "http://127.0.0.1:3000" and s.shown_url == "http://localhost:3000"


@pytest.mark.parametrize(
    ("environ", "recorded", "dotenv", "expected_port", "expected_data", "expected_given"),
    [
        # the environment (make's command line) wins over everything
        ({"PORT": "3100"}, {"PORT": "3300"}, {"PORT": "3500"}, 3100, "/srv/studio/data", {"PORT": "3100"}),
        # restart: what the stack was given wins over .env and the defaults
        (
            {},
            {"PORT": "3300", "DATA_DIR": "/tmp/x"},
            {"PORT": "3500"},
            3300,
            "/tmp/x",
            {"PORT": "3300", "DATA_DIR": "/tmp/x"},
        ),
        # .env is read again, and is not recorded as given
        ({}, {}, {"PORT": "3500", "DATA_DIR": "d2"}, 3500, "/srv/studio/d2", {}),
        # empty counts as unset, at every level
        ({"PORT": ""}, {"PORT": ""}, {"PORT": ""}, 3000, "/srv/studio/data", {}),
        # one setting given now, the other kept
        (
            {"DATA_DIR": "/tmp/y"},
            {"PORT": "3300", "DATA_DIR": "/tmp/x"},
            {},
            3300,
            "/tmp/y",
            {"PORT": "3300", "DATA_DIR": "/tmp/y"},
        ),
    ],
)
def test_precedence(environ, recorded, dotenv, expected_port, expected_data, expected_given) -> None:
    s = resolve(environ, dotenv, recorded, root=ROOT)
    assert s.port == expected_port
    assert s.data_dir == Path(expected_data)
    assert s.given == expected_given


def test_api_port_follows_port_unless_given() -> None:
    assert resolve({"PORT": "3300"}, root=ROOT).api_port == 8300
    assert resolve({"PORT": "3300", "API_PORT": "9000"}, root=ROOT).api_port == 9000
    # a restart re-derives it from the kept PORT, or keeps the API_PORT that was given
    assert resolve({}, recorded={"PORT": "3300"}, root=ROOT).api_port == 8300
    assert resolve({}, recorded={"PORT": "3300", "API_PORT": "9100"}, root=ROOT).api_port == 9100


def test_output_dir_follows_data_dir_unless_given() -> None:
    # OUTPUT_DIR was not given: a new DATA_DIR takes its images with it
    s = resolve({"DATA_DIR": "/tmp/new"}, recorded={"DATA_DIR": "/tmp/old"}, root=ROOT)
    assert s.output_dir == Path("/tmp/new/output")
    s = resolve({}, recorded={"DATA_DIR": "/tmp/old", "OUTPUT_DIR": "/mnt/images"}, root=ROOT)
    assert s.output_dir == Path("/mnt/images")


@pytest.mark.parametrize(
    ("environ", "error"),
    [
        ({"PORT": "web"}, "PORT='web' is not a port number"),
        ({"PORT": "70000"}, "not a port number"),
        ({"PORT": "61000"}, "set API_PORT"),
        ({"PORT": "8000", "API_PORT": "8000"}, "both 8000"),
    ],
)
def test_bad_settings_are_refused(environ: dict[str, str], error: str) -> None:
    with pytest.raises(SettingsError, match=error):
        resolve(environ, root=ROOT)


@pytest.mark.parametrize(
    ("bind", "url"),
    [("0.0.0.0", "http://127.0.0.1:3000"), ("::", "http://[::1]:3000"), ("192.168.1.5", "http://192.168.1.5:3000")],
)
def test_url_for_each_bind(bind: str, url: str) -> None:
    assert resolve({"BIND": bind}, root=ROOT).url == url


def test_dotenv_fills_only_what_the_environment_lacks() -> None:
    env = merged_environment(
        {"ARK_API_KEY": "from-env", "LOG_LEVEL": ""},
        {"ARK_API_KEY": "x", "LOG_LEVEL": "DEBUG", "NEW": "1", "NONE": None},
    )
    assert env == {"ARK_API_KEY": "from-env", "LOG_LEVEL": "DEBUG", "NEW": "1"}


def test_replicas_default_to_one_and_take_consecutive_api_ports() -> None:
    assert resolve({}, root=ROOT).replicas == 1
    s = resolve({"PORT": "3300", "REPLICAS": "3"}, root=ROOT)
    assert s.api_ports == [8300, 8301, 8302]
    assert s.resolved()["REPLICAS"] == "3"
    assert "REPLICAS=3" in s.describe()
    # Kept on restart like the other settings that say where the stack is.
    assert resolve({}, recorded={"REPLICAS": "2"}, root=ROOT).replicas == 2


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REPLICAS": "0"}, "choose 1 to 16"),
        ({"REPLICAS": "17"}, "choose 1 to 16"),
        ({"REPLICAS": "three"}, "not a number"),
        ({"PORT": "8001", "API_PORT": "8000", "REPLICAS": "3"}, "one of the API ports"),
        ({"API_PORT": "65535", "REPLICAS": "2"}, "beyond port 65535"),
    ],
)
def test_bad_replicas_are_refused_with_the_reason(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        resolve(env, root=ROOT)


def test_several_replicas_need_postgres() -> None:
    assert needs_postgres(1, None) is None
    assert needs_postgres(3, "postgresql+asyncpg://u@h/db") is None
    refused = needs_postgres(3, None)
    assert refused is not None and "needs PostgreSQL" in refused and "DATABASE_URL" in refused
    assert needs_postgres(2, "sqlite+aiosqlite:///x.db") is not None
