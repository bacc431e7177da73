"""stackctl.watch and stackctl.rpc: start-up failure is read from supervisord's state of its programs
(not from its log), and health needs our own processes listening on their own ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from stackctl.rpc import Supervisor
from stackctl.watch import StartFailed, StartupWatch, listens, wait_until_healthy, who_listens

from .conftest import free_port


def info(name: str, state: str, pid: int = 0, **extra: object) -> dict:
    return {"name": name, "statename": state, "pid": pid, "exitstatus": 0, "spawnerr": "", **extra}


@pytest.mark.parametrize(
    ("snapshots", "fails_at", "reason"),
    [
        # starting, then running: no failure
        (
            [
                [info("uvicorn", "STARTING", 10), info("nginx", "STARTING", 11)],
                [info("uvicorn", "RUNNING", 10), info("nginx", "RUNNING", 11)],
            ],
            None,
            None,
        ),
        # nginx could not bind its port: it exits, supervisord backs off
        (
            [[info("uvicorn", "STARTING", 10), info("nginx", "BACKOFF", 0, spawnerr="Exited too quickly")]],
            0,
            "nginx exited during start-up (BACKOFF: Exited too quickly)",
        ),
        # gone and started again between two looks: the pid changed
        (
            [
                [info("uvicorn", "RUNNING", 10), info("nginx", "RUNNING", 11)],
                [info("uvicorn", "STARTING", 12), info("nginx", "RUNNING", 11)],
            ],
            1,
            "uvicorn exited during start-up and was started again (pid 10, then 12)",
        ),
        # supervisord could not even start it
        (
            [
                [
                    info("uvicorn", "BACKOFF", 0, spawnerr="can't find command '/x/uvicorn'"),
                    info("nginx", "STARTING", 11),
                ]
            ],
            0,
            "uvicorn exited during start-up (BACKOFF: can't find command '/x/uvicorn')",
        ),
        (
            [[info("uvicorn", "EXITED", 0, exitstatus=3), info("nginx", "RUNNING", 11)]],
            0,
            "uvicorn exited during start-up (EXITED: exit status 3)",
        ),
        # a listener of supervisord's does not count; a missing program does
        (
            [[info("uvicorn", "RUNNING", 10), info("exit-on-fatal", "EXITED")]],
            0,
            "nginx is not a program of this supervisord",
        ),
    ],
)
def test_startup_watch(snapshots: list[list[dict]], fails_at: int | None, reason: str | None) -> None:
    watch = StartupWatch()
    verdicts = [watch.failure(snapshot) for snapshot in snapshots]
    first = next((i for i, verdict in enumerate(verdicts) if verdict), None)
    assert first == fails_at
    if reason:
        assert " ".join(verdicts[first]) == reason


class Scripted:
    """Plays supervisord: one getAllProcessInfo answer per call, the last one repeated."""

    def __init__(self, *answers: list[dict] | Exception) -> None:
        self.answers = list(answers)

    def processes(self) -> list[dict]:
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def wait(supervisor: Scripted, *, listening: set[tuple[int, int]], healthy_after: int = 0, alive: bool = True) -> Clock:
    clock = Clock()
    probes = []

    def probe(url: str) -> tuple[bool, str]:
        probes.append(url)
        return len(probes) > healthy_after, "HTTP 200 healthy" if len(probes) > healthy_after else "HTTP 502 None"

    wait_until_healthy(
        supervisor,
        ports={"uvicorn": 8300, "nginx": 3300},
        health_url="http://127.0.0.1:3300/health",
        timeout=10,
        supervisord_alive=lambda: alive,
        listens=lambda pid, port: (pid, port) in listening,
        probe=probe,
        clock=clock,
        sleep=clock.sleep,
    )
    return clock


RUNNING = [info("uvicorn", "RUNNING", 10), info("nginx", "RUNNING", 11)]


def test_healthy_once_both_listen_on_their_ports_and_health_says_so() -> None:
    clock = wait(Scripted(RUNNING), listening={(10, 8300), (11, 3300)}, healthy_after=2)
    assert clock.now == pytest.approx(0.4)


def test_someone_else_on_our_port_is_not_our_stack() -> None:
    # nginx (pid 11) does not hold port 3300: whatever answers there is not ours
    with pytest.raises(StartFailed, match=r"within 10 s \(not listening yet: nginx on 3300\)"):
        wait(Scripted(RUNNING), listening={(10, 8300), (99, 3300)})


def test_failure_is_reported_at_once() -> None:
    supervisor = Scripted(
        RUNNING, [info("uvicorn", "RUNNING", 10), info("nginx", "FATAL", spawnerr="Exited too quickly")]
    )
    with pytest.raises(StartFailed) as failed:
        wait(supervisor, listening=set())
    assert failed.value.program == "nginx"
    assert str(failed.value) == "nginx exited during start-up (FATAL: Exited too quickly)"


def test_supervisord_gone() -> None:
    with pytest.raises(StartFailed, match="supervisord is gone"):
        wait(Scripted(ConnectionRefusedError()), listening=set(), alive=False)


def test_listens_sees_only_the_owner_of_the_socket() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        assert not listens(os.getpid(), port)  # bound, not listening
        server.listen()
        assert listens(os.getpid(), port)
        assert not listens(os.getppid(), port)
        assert (who_listens(port) or "").startswith(f"pid {os.getpid()} (")
    assert not listens(os.getpid(), port) and who_listens(port) is None


# --- against a real supervisord --------------------------------------------------------------------

LISTEN = (
    "import socket, sys, time; s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); time.sleep(60)"
)


@pytest.fixture
def supervisord(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """Starts supervisord (daemon) with the [program:...] sections written to `programs`; yields (conf, sock)."""
    conf = tmp_path / "supervisord.conf"
    sock = tmp_path / "supervisord.sock"
    yield conf, sock
    pid = int((tmp_path / "supervisord.pid").read_text())
    Supervisor(sock, timeout=30).shutdown()
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def start_supervisord(conf: Path, sock: Path, programs: str) -> Supervisor:
    conf.write_text(
        f"""
[unix_http_server]
file={sock}
[supervisord]
logfile={conf.parent}/supervisord.log
pidfile={conf.parent}/supervisord.pid
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
{programs}
"""
    )
    subprocess.run([str(Path(sys.executable).parent / "supervisord"), "-c", str(conf)], check=True)
    return Supervisor(sock)


def test_a_port_taken_by_someone_else_fails_the_start_at_once(supervisord: tuple[Path, Path]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        free = free_port()
        supervisor = start_supervisord(
            *supervisord,
            f"""
[program:uvicorn]
command={sys.executable} -c "{LISTEN}" {free}
startsecs=5
[program:nginx]
command={sys.executable} -c "{LISTEN}" {port}
startsecs=2
""",
        )
        started = time.monotonic()
        with pytest.raises(StartFailed) as failed:
            wait_until_healthy(
                supervisor,
                ports={"uvicorn": free, "nginx": port},
                health_url="http://127.0.0.1:1/health",
                timeout=30,
                supervisord_alive=lambda: True,
            )
        assert failed.value.program == "nginx" and "BACKOFF" in str(failed.value)
        assert time.monotonic() - started < 5  # not a health timeout


def test_our_programs_listening_make_a_healthy_start(supervisord: tuple[Path, Path]) -> None:
    web, api = free_port(), free_port()
    supervisor = start_supervisord(
        *supervisord,
        f"""
[program:uvicorn]
command={sys.executable} -c "{LISTEN}" {api}
[program:nginx]
command={sys.executable} -c "{LISTEN}" {web}
""",
    )
    wait_until_healthy(
        supervisor,
        ports={"uvicorn": api, "nginx": web},
        health_url=f"http://127.0.0.1:{web}/health",
        timeout=30,
        supervisord_alive=lambda: True,
        probe=lambda url: (url == f"http://127.0.0.1:{web}/health", "stand-in"),
    )
    assert {p["name"]: p["statename"] for p in supervisor.processes()}.keys() == {"uvicorn", "nginx"}
