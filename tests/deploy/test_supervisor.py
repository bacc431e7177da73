"""supervisord: the image's config and its native rendering load in supervisor itself, and the
exit-on-fatal listener takes supervisord down when a program keeps failing."""

from __future__ import annotations

import configparser
import importlib.util
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from supervisor.options import ServerOptions

from .conftest import REPO, free_port, render

CONF = REPO / "supervisor" / "supervisord.conf"

spec = importlib.util.spec_from_file_location("exit_on_fatal", REPO / "supervisor" / "exit_on_fatal.py")
exit_on_fatal = importlib.util.module_from_spec(spec)
spec.loader.exec_module(exit_on_fatal)


def load(path: Path) -> ServerOptions:
    """Parse a config the way supervisord does (sections, programs, listeners), without starting it."""
    options = ServerOptions()
    options.configfile = str(path)
    options.process_config(do_usage=False)
    return options


def raw(path: Path) -> configparser.RawConfigParser:
    cfg = configparser.RawConfigParser(interpolation=None)
    cfg.read(path)
    return cfg


def test_image_config_loads_in_supervisor(monkeypatch: pytest.MonkeyPatch) -> None:
    # The image's `app` user (uid 1000, Dockerfile.fullstack) need not exist on this machine.
    import supervisor.options

    real = supervisor.options.name_to_uid
    monkeypatch.setattr(supervisor.options, "name_to_uid", lambda name: 1000 if name == "app" else real(name))
    options = load(CONF)
    assert options.nodaemon is True
    groups = {group.name: group for group in options.process_group_configs}
    assert set(groups) == {"uvicorn", "nginx", "exit-on-fatal"}
    uvicorn = groups["uvicorn"].process_configs[0]
    assert uvicorn.command.startswith("/opt/venv/bin/uvicorn app.main:app --host 127.0.0.1 --port 8000 --no-proxy-headers")
    assert uvicorn.directory == "/app"
    assert uvicorn.uid == 1000  # not root
    assert uvicorn.autorestart is not False
    nginx = groups["nginx"].process_configs[0]
    assert "daemon off;" in nginx.command
    assert nginx.stopsignal == 3  # QUIT: graceful
    assert nginx.priority > uvicorn.priority


def test_image_config_logs_to_stdout() -> None:
    cfg = raw(CONF)
    assert cfg.get("supervisord", "logfile") == "/dev/null"
    for program in ("program:uvicorn", "program:nginx"):
        assert cfg.get(program, "stdout_logfile") == "/dev/stdout"
        assert cfg.get(program, "stdout_logfile_maxbytes") == "0"
        assert cfg.get(program, "redirect_stderr") == "true"
    assert cfg.get("eventlistener:exit-on-fatal", "events") == "PROCESS_STATE_FATAL,PROCESS_STATE_EXITED"
    assert cfg.get("supervisorctl", "serverurl") == "unix://" + cfg.get("unix_http_server", "file")


def test_rendered_config_loads_and_points_at_the_checkout(tmp_path: Path, nginx_bin: str) -> None:
    api_port = free_port()
    render(tmp_path, nginx_bin=nginx_bin, api_port=api_port)
    conf = tmp_path / "supervisord.conf"
    options = load(conf)
    assert options.nodaemon is False  # `make run` returns; supervisord runs on in the background
    assert options.logfile == str(tmp_path / "logs" / "supervisord.log")
    groups = {group.name: group.process_configs[0] for group in options.process_group_configs}
    assert f"--port {api_port} " in groups["uvicorn"].command
    assert groups["uvicorn"].directory == str(REPO / "backend")
    assert groups["uvicorn"].uid is None
    assert groups["uvicorn"].stdout_logfile == str(tmp_path / "logs" / "uvicorn.log")
    assert f"-c {tmp_path}/nginx/nginx.conf " in groups["nginx"].command
    assert str(REPO / "supervisor" / "exit_on_fatal.py") in groups["exit-on-fatal"].command
    assert f'DATA_DIR="{tmp_path / "data"}"' in raw(conf).get("program:uvicorn", "environment")
    assert oct(conf.stat().st_mode & 0o777) == "0o600"


def test_replicas_render_one_program_and_one_upstream_server_each(tmp_path: Path, nginx_bin: str) -> None:
    api_port = free_port()
    render(tmp_path, nginx_bin=nginx_bin, api_port=api_port, replicas=3)
    options = load(tmp_path / "supervisord.conf")
    groups = {group.name: group.process_configs[0] for group in options.process_group_configs}
    assert "uvicorn" not in groups
    for index in range(3):
        program = groups[f"uvicorn-{index}"]
        assert f"--port {api_port + index} " in program.command
        assert program.stdout_logfile == str(tmp_path / "logs" / f"uvicorn-{index}.log")
        assert program.autorestart is not False
        assert f'STUDIO_REPLICA="{index}"' in raw(tmp_path / "supervisord.conf").get(f"program:uvicorn-{index}", "environment")
    site = (tmp_path / "nginx" / "conf.d" / "default.conf").read_text()
    upstream = site.split("upstream studio_api {", 1)[1].split("}", 1)[0]
    assert "least_conn;" in upstream
    assert [line.strip() for line in upstream.splitlines() if line.strip().startswith("server ")] == [
        f"server 127.0.0.1:{api_port + index};" for index in range(3)
    ]
    tested = subprocess.run([nginx_bin, "-t", "-q", "-c", str(tmp_path / "nginx" / "nginx.conf")], capture_output=True)
    assert tested.returncode == 0, tested.stderr


# --- the listener ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "stops_at"),
    [
        # FATAL stops at once
        ([("PROCESS_STATE_FATAL", "uvicorn", "0", 0)], 0),
        # expected exits never count
        ([("PROCESS_STATE_EXITED", "uvicorn", "1", t) for t in range(10)], None),
        # the 4th unexpected exit within the window (max 3) stops
        ([("PROCESS_STATE_EXITED", "nginx", "0", t) for t in range(5)], 3),
        # spread wider than the window: never more than 3 at once
        ([("PROCESS_STATE_EXITED", "nginx", "0", t * 50) for t in range(10)], None),
        # counted per program
        ([("PROCESS_STATE_EXITED", name, "0", 1) for name in ("a", "b", "a", "b", "a", "b")], None),
    ],
)
def test_exit_watch_verdicts(events: list[tuple[str, str, str, float]], stops_at: int | None) -> None:
    watch = exit_on_fatal.ExitWatch(max_exits=3, window=100)
    verdicts = [
        watch.verdict(event, {"processname": name, "expected": expected}, now) for event, name, expected, now in events
    ]
    first = next((i for i, verdict in enumerate(verdicts) if verdict), None)
    assert first == stops_at


def test_listener_speaks_the_protocol() -> None:
    payload = "processname:uvicorn groupname:uvicorn from_state:STARTING expected:0 pid:12"
    stdin = io.StringIO(f"ver:3.0 server:supervisor serial:1 pool:x poolserial:1 eventname:PROCESS_STATE_FATAL len:{len(payload)}\n{payload}")
    stdout = io.StringIO()
    reasons: list[str] = []
    exit_on_fatal.serve(stdin, stdout, exit_on_fatal.ExitWatch(5, 60), reasons.append, clock=lambda: 0.0)
    assert stdout.getvalue() == "READY\nRESULT 2\nOKREADY\n"
    assert reasons == ["uvicorn entered FATAL: it could not stay up for its startsecs"]


def test_supervisord_exits_when_a_program_cannot_start(tmp_path: Path) -> None:
    """The real thing: a program that dies at once goes FATAL, and supervisord stops."""
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        f"""
[supervisord]
nodaemon=true
logfile={tmp_path}/supervisord.log
pidfile={tmp_path}/supervisord.pid
[program:broken]
command={sys.executable} -c "raise SystemExit(3)"
startsecs=1
startretries=1
autorestart=true
[program:fine]
command={sys.executable} -c "import time; time.sleep(60)"
[eventlistener:exit-on-fatal]
command={sys.executable} {REPO / "supervisor" / "exit_on_fatal.py"} --max-exits 5 --window 120
events=PROCESS_STATE_FATAL,PROCESS_STATE_EXITED
stderr_logfile={tmp_path}/listener.log
"""
    )
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "supervisord"), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert time.monotonic() - started < 30
    assert "broken entered FATAL" in (tmp_path / "listener.log").read_text()
    log = (tmp_path / "supervisord.log").read_text()
    assert "stopped: fine" in log  # the healthy program was stopped, not left behind
