"""run, restart, stop, status and check of one native stack (one RUN_DIR).

run      refuses at once while this RUN_DIR's stack runs or another run/restart/stop of it is under
         way (naming the PORT and DATA_DIR it has); otherwise renders the configs, starts
         supervisord (nginx + uvicorn) and returns once /health through nginx is healthy.
restart  the same under one hold of the lock: stops the running stack and starts it again with the
         settings it was given (settings.py), unless others are given now.
stop     supervisorctl shutdown (nginx QUIT, uvicorn TERM), then waits for supervisord to go.
check    what `run` would refuse, without starting anything (`make run` asks before installing).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from . import users as users_module
from .hosts import HostsError, open_bind_hint, resolve_hosts
from .instance import Instance, children, process_alive
from .render import RenderError, RenderPlan, render, replica_program
from .rpc import Supervisor
from .settings import SettingsError, StackSettings, merged_environment, needs_postgres, read_dotenv, resolve
from .template import REPO
from .watch import StartFailed, probe_health, wait_until_healthy, who_listens

STOP_TIMEOUT = 60.0
# Seconds a pid file may take to appear after `supervisord` has returned (it forks first).
PIDFILE_GRACE = 5.0
LOG_LINES = 40


class Refused(Exception):
    """The command cannot go on; the message says why and what to do."""


@dataclass
class Context:
    run_dir: Path
    venv: Path
    environ: Mapping[str, str]
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)

    def say(self, message: str) -> None:
        print(f"==> {message}", file=self.out, flush=True)

    def warn(self, message: str) -> None:
        print(f"WARNING: {message}", file=self.err, flush=True)

    @property
    def instance(self) -> Instance:
        return Instance(self.run_dir)


# --- messages --------------------------------------------------------------------------------------


def busy_message(instance: Instance) -> str:
    pid, _, purpose = instance.lock_holder().partition(" ")
    return (
        f"another {purpose or 'run, restart or stop'} of {instance.run_dir} is under way (pid {pid or '?'}); "
        f"the stack it is about: {instance.describe_recorded()}. Wait for it, or run `make stop`."
    )


def running_message(instance: Instance, pid: int) -> str:
    return (
        f"a stack is already running from {instance.run_dir} (supervisord pid {pid}): "
        f"{instance.describe_recorded()}.\n"
        "  make stop       stops it\n"
        "  make restart    restarts it with the same PORT, BIND and DATA_DIR (unless given again)\n"
        "  make run RUN_DIR=<another folder> PORT=<another port>   starts a second one beside it"
    )


# --- check / run / restart -------------------------------------------------------------------------


def check(ctx: Context) -> None:
    """Raise Refused when `run` would refuse (without waiting for anything)."""
    instance = ctx.instance
    lock = instance.lock(purpose="check")
    if lock is None:
        raise Refused(busy_message(instance))
    with lock:
        pid = instance.supervisord_pid()
        if pid is not None:
            raise Refused(running_message(instance, pid))


def run(ctx: Context, *, restart: bool = False) -> None:
    instance = ctx.instance
    lock = instance.lock(purpose="restart" if restart else "run")
    if lock is None:
        raise Refused(busy_message(instance))
    with lock:
        pid = instance.supervisord_pid()
        if pid is not None and not restart:
            raise Refused(running_message(instance, pid))
        dotenv = load_dotenv(ctx)
        recorded = instance.recorded_given() if restart else None
        try:
            settings = resolve(ctx.environ, dotenv, recorded)
        except SettingsError as exc:
            raise Refused(str(exc)) from None
        if restart:
            kept = {k: v for k, v in (recorded or {}).items() if not ctx.environ.get(k)}
            origin = (
                f"kept from the last start: {' '.join(f'{k}={v}' for k, v in kept.items())}" if kept else "nothing kept"
            )
            ctx.say(f"restarting with {settings.describe()} ({origin})")
        if pid is not None:
            stop_supervisord(ctx, instance, pid)
        # Before anything slow, so that a run refused meanwhile names these settings.
        instance.write_state(settings)
        start(ctx, instance, settings, merged_environment(ctx.environ, dotenv))


def load_dotenv(ctx: Context) -> dict[str, str | None]:
    setting = ctx.environ.get("STUDIO_ENV_FILE")
    path = REPO / ".env" if setting is None else Path(setting) if setting else None
    if path is None or not path.is_file():
        return {}
    try:
        values = read_dotenv(path)
    except (OSError, ValueError) as exc:
        raise Refused(f"cannot read {path}: {exc}") from None
    ctx.say(f"settings from {path} (the environment wins over it)")
    return values


def start(ctx: Context, instance: Instance, settings: StackSettings, env: Mapping[str, str]) -> None:
    python = ctx.venv / "bin" / "python"
    supervisord = ctx.venv / "bin" / "supervisord"
    if not os.access(python, os.X_OK):
        raise Refused(f"no virtual environment at {ctx.venv} (run: make venv)")
    if not os.access(supervisord, os.X_OK):
        raise Refused(f"supervisord is missing from {ctx.venv} (run: make venv)")
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(nginx_bin, os.X_OK):
        raise Refused("nginx is not installed (run: make run, or scripts/install-system-deps.sh nginx)")
    refused = needs_postgres(settings.replicas, env.get("DATABASE_URL"))
    if refused:
        raise Refused(refused)
    html_dir = REPO / "frontend" / "dist"
    if not (html_dir / "index.html").is_file():
        ctx.warn(f"no frontend build at {html_dir} (run: make frontend-build); only the API will work")

    for path in (settings.data_dir, settings.output_dir, instance.run_dir):
        path.mkdir(parents=True, exist_ok=True)
    chosen = users_module.choose(
        studio_user=env.get("STUDIO_USER", "studio"),
        python=python,
        data_dir=settings.data_dir,
        output_dir=settings.output_dir,
        html_dir=html_dir,
    )
    for warning in chosen.warnings:
        ctx.warn(warning)
    try:
        hosts = resolve_hosts(python, env, bind=settings.bind)
    except HostsError as exc:
        raise Refused(str(exc)) from None
    plan = RenderPlan(
        run_dir=instance.run_dir,
        port=settings.port,
        bind=settings.bind,
        api_port=settings.api_port,
        data_dir=settings.data_dir,
        output_dir=settings.output_dir,
        html_dir=html_dir,
        venv=ctx.venv,
        nginx_bin=nginx_bin,
        app_user=chosen.app_user,
        nginx_user=chosen.nginx_user,
        host_map=hosts.nginx_map,
        replicas=settings.replicas,
    )
    try:
        render(plan)
    except (RenderError, OSError) as exc:
        raise Refused(f"cannot render the configs: {exc}") from None
    tested = subprocess.run(
        [nginx_bin, "-t", "-q", "-c", str(instance.nginx_conf), "-e", "stderr"], capture_output=True, text=True
    )
    if tested.returncode != 0:
        raise Refused(f"nginx rejects the rendered config ({instance.run_dir / 'nginx'}):\n{tested.stderr.strip()}")

    who = chosen.app_user or _current_user()
    where = (
        f"uvicorn on 127.0.0.1:{settings.api_port}"
        if settings.replicas == 1
        else f"{settings.replicas} uvicorn replicas on 127.0.0.1:{settings.api_port}-{settings.api_ports[-1]}"
    )
    ctx.say(
        f"starting supervisord (nginx on {settings.bind or '*'}:{settings.port},"
        f" {where} as {who}, data in {settings.data_dir})"
    )
    for log in instance.logs.glob("*.log"):
        log.unlink()
    # The API gets the very list nginx was given (BIND's address included).
    child_env = {
        **env,
        "DATA_DIR": str(settings.data_dir),
        "OUTPUT_DIR": str(settings.output_dir),
        "ALLOWED_HOSTS": ",".join(hosts.hosts),
    }
    started = subprocess.run(
        [str(supervisord), "-c", str(instance.supervisord_conf)], env=child_env, capture_output=True, text=True
    )
    if started.returncode != 0:
        raise Refused(f"supervisord did not start: {(started.stderr or started.stdout).strip()}")

    begun = time.monotonic()

    def supervisord_alive() -> bool:
        if instance.supervisord_pid() is not None:
            return True
        return not instance.pidfile.exists() and time.monotonic() < begun + PIDFILE_GRACE

    try:
        wait_until_healthy(
            Supervisor(instance.socket),
            ports={
                **{replica_program(i, settings.replicas): port for i, port in enumerate(settings.api_ports)},
                "nginx": settings.port,
            },
            health_url=settings.url + "/health",
            timeout=float(env.get("HEALTH_TIMEOUT") or 120),
            supervisord_alive=supervisord_alive,
        )
    except StartFailed as exc:
        show_logs(ctx, instance)
        hint = port_hint(exc.program, settings)
        stop_quietly(ctx, instance)
        raise Refused(f"{exc}{hint}\nthe stack did not become healthy; stopped it again") from None
    except KeyboardInterrupt:
        ctx.warn("interrupted: stopping what was started")
        stop_quietly(ctx, instance)
        raise

    ctx.say(f"healthy: {settings.shown_url}  (logs: {instance.logs}, status: make status, stop: make stop)")
    open_hint = open_bind_hint(settings.bind, settings.port, hosts)
    if open_hint:
        ctx.warn(open_hint)
    if not env.get("ARK_API_KEY") and not (env.get("VOLCENGINE_ACCESS_KEY") or env.get("VOLC_ACCESSKEY")):
        ctx.say("no Volcengine credentials configured: the offline demo model is the default (see .env.example)")
    elif not env.get("APP_PASSWORD") and settings.host not in ("127.0.0.1", "[::1]"):
        ctx.warn(
            f"credentials are configured, no APP_PASSWORD is set and nginx listens on {settings.bind or '*'}: "
            f"anyone who can reach port {settings.port} can spend the account's credit"
        )


def _current_user() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def port_hint(program: str | None, settings: StackSettings) -> str:
    """Why nginx or uvicorn may have failed: someone else listening on its port (ours is down by now)."""
    if program == "nginx" and (taken := who_listens(settings.port)):
        return f"\nPORT {settings.port} is in use by {taken}; choose another: make run PORT=<port>"
    if program is None or not program.startswith("uvicorn"):
        return ""
    index = 0 if program == "uvicorn" else int(program.rsplit("-", 1)[1])
    port = settings.api_ports[index]
    taken = who_listens(port)
    if not taken:
        return ""
    if "API_PORT" in settings.given:
        choose = "choose another: make run API_PORT=<port>"
    else:
        choose = "choose another PORT (API_PORT follows it: PORT + 5000) or set API_PORT=<port>"
    name = "API_PORT" if index == 0 else f"API_PORT + {index} (replica {index})"
    return f"\n{name} {port} is in use by {taken}; {choose}"


def show_logs(ctx: Context, instance: Instance) -> None:
    print(f"---- last lines of the logs in {instance.logs} ----", file=ctx.err)
    for log in sorted(instance.logs.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        if lines:
            print(f"---- {log}", file=ctx.err)
            print("\n".join(lines[-LOG_LINES:]), file=ctx.err)
    ctx.err.flush()


# --- stop ------------------------------------------------------------------------------------------


def stop(ctx: Context, *, quiet: bool = False, wait: float = 300.0) -> None:
    instance = ctx.instance
    lock = instance.lock(purpose="stop")
    if lock is None:
        holder, _, purpose = instance.lock_holder().partition(" ")
        ctx.say(f"waiting for the {purpose or 'other command'} of {instance.run_dir} to finish (pid {holder or '?'})")
        lock = instance.lock(wait=wait, purpose="stop")
        if lock is None:
            raise Refused(busy_message(instance))
    with lock:
        pid = instance.supervisord_pid()
        if pid is None:
            if not quiet:
                ctx.say(f"not running (no supervisord for {instance.run_dir})")
            instance.forget_supervisord()
            return
        stop_supervisord(ctx, instance, pid)


def stop_quietly(ctx: Context, instance: Instance) -> None:
    """Stop what `start` began (under the lock start holds)."""
    pid = instance.supervisord_pid()
    if pid is not None:
        stop_supervisord(ctx, instance, pid)
    instance.forget_supervisord()


def stop_supervisord(ctx: Context, instance: Instance, pid: int) -> None:
    # Its programs, so that none can outlive it even if it has to be killed.
    programs = children(pid)
    ctx.say(f"stopping supervisord (pid {pid})")
    try:
        Supervisor(instance.socket, timeout=STOP_TIMEOUT).shutdown()
    except (OSError, xmlrpc.client.Error):
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if process_alive(pid):
        ctx.warn(f"supervisord did not stop within {STOP_TIMEOUT:g} s; killing it and its programs")
        _signal(pid, signal.SIGKILL)
    for child in programs:
        if process_alive(child):
            try:
                os.killpg(child, signal.SIGTERM)
            except OSError:
                _signal(child, signal.SIGTERM)
    instance.forget_supervisord()
    ctx.say("stopped")


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(OSError):  # gone already
        os.kill(pid, sig)


# --- status ----------------------------------------------------------------------------------------


def status(ctx: Context) -> None:
    instance = ctx.instance
    pid = instance.supervisord_pid()
    if pid is None:
        print(f"not running (no supervisord for {instance.run_dir})", file=ctx.out)
        if instance.read_state():
            print(f"last started: {instance.describe_recorded()}", file=ctx.out)
        return
    print(f"supervisord pid {pid}: {instance.describe_recorded()}", file=ctx.out)
    try:
        for info in Supervisor(instance.socket).processes():
            print(f"{info['name']:<16} {info['statename']:<9} {info.get('description', '')}", file=ctx.out)
    except (OSError, xmlrpc.client.Error) as exc:
        print(f"supervisord does not answer: {exc}", file=ctx.out)
    state = instance.read_state() or {}
    url = state.get("url")
    if isinstance(url, str):
        print(f"GET {url}/health", file=ctx.out)
        healthy, seen = probe_health(url + "/health")
        print(f"{'healthy' if healthy else 'not healthy'}: {seen}", file=ctx.out)
    # Each replica asked directly (nginx answers from any one of them).
    resolved = state.get("resolved")
    if isinstance(resolved, dict):
        try:
            api_port, replicas = int(resolved.get("API_PORT", "")), int(resolved.get("REPLICAS") or 1)
        except ValueError:
            return
        for index in range(replicas):
            port = api_port + index
            healthy, seen = probe_health(f"http://127.0.0.1:{port}/health")
            name = replica_program(index, replicas)
            print(f"{name:<16} 127.0.0.1:{port}/health {'healthy' if healthy else 'not healthy'}: {seen}", file=ctx.out)
