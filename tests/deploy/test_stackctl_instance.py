"""stackctl.instance: one RUN_DIR's lock, recorded settings and supervisord."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from stackctl.instance import Instance, children, process_alive
from stackctl.settings import resolve

HOLD_LOCK = """
import fcntl, sys, time
fd = open(sys.argv[1], "a")
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(30)
"""


def test_lock_is_exclusive_until_released(tmp_path: Path) -> None:
    first = Instance(tmp_path).lock(purpose="run")
    assert first is not None
    assert Instance(tmp_path).lock(purpose="run") is None
    assert Instance(tmp_path).lock_holder() == f"{os.getpid()} run"
    first.release()
    with Instance(tmp_path).lock() as again:
        assert again is not None


def test_lock_held_by_another_process(tmp_path: Path) -> None:
    instance = Instance(tmp_path)
    tmp_path.mkdir(exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(instance.lock_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        started = time.monotonic()
        assert instance.lock(wait=0.3) is None
        assert 0.3 <= time.monotonic() - started < 2
    finally:
        holder.kill()
        holder.wait()
    # the lock dies with its process: nothing to clean up after a crash
    assert instance.lock() is not None


def test_recorded_settings_round_trip(tmp_path: Path) -> None:
    instance = Instance(tmp_path)
    assert instance.read_state() is None and instance.recorded_given() == {}
    assert "unknown" in instance.describe_recorded()
    settings = resolve({"PORT": "3300", "DATA_DIR": "/tmp/x"}, {"BIND": "0.0.0.0"})
    instance.run_dir.mkdir(exist_ok=True)
    instance.write_state(settings)
    assert instance.recorded_given() == {"PORT": "3300", "DATA_DIR": "/tmp/x"}  # .env's BIND is not "given"
    described = instance.describe_recorded()
    assert "PORT=3300" in described and "DATA_DIR=/tmp/x" in described and "BIND=0.0.0.0" in described
    instance.state_path.write_text("{not json")
    assert instance.recorded_given() == {}


def test_supervisord_pid_is_only_a_live_supervisord_of_this_run_dir(tmp_path: Path) -> None:
    instance = Instance(tmp_path)
    assert instance.supervisord_pid() is None  # no pid file
    instance.pidfile.write_text("999999999\n")
    assert instance.supervisord_pid() is None  # stale
    instance.pidfile.write_text(f"{os.getpid()}\n")
    assert instance.supervisord_pid() is None  # a recycled pid: not a supervisord
    fake = subprocess.Popen(["bash", "-c", f'exec -a "supervisord -c {instance.supervisord_conf}" sleep 30'])
    other = subprocess.Popen(["bash", "-c", 'exec -a "supervisord -c /elsewhere/supervisord.conf" sleep 30'])
    try:
        deadline = time.monotonic() + 5
        while (
            "sleep" in Path(f"/proc/{fake.pid}/cmdline").read_text()
            or "sleep" in Path(f"/proc/{other.pid}/cmdline").read_text()
        ):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        instance.pidfile.write_text(f"{fake.pid}\n")
        assert instance.supervisord_pid() == fake.pid
        instance.pidfile.write_text(f"{other.pid}\n")
        assert instance.supervisord_pid() is None  # another RUN_DIR's
    finally:
        for proc in (fake, other):
            proc.kill()
            proc.wait()


def test_a_zombie_is_not_alive() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert proc.pid in children(os.getpid())
    assert not process_alive(proc.pid)
    proc.wait()
    assert not process_alive(proc.pid)
    assert process_alive(os.getpid())
