"""The configs of a native run, written into RUN_DIR.

The committed configs are the Docker images'. A native run uses the same ones with local paths,
ports and users: the nginx site comes from nginx/site.conf.template (template.py) with local
values; nginx/nginx-main.conf and supervisor/supervisord.conf are rewritten line by line, and every
rewrite names the exact line it replaces and fails if that line is missing, so an edit to a
committed file that would silently escape the rendering breaks the build instead.

RUN_DIR after `render`:
    nginx/nginx.conf            main config (pid, temp folders, include of the site below)
    nginx/conf.d/default.conf   the site
    nginx/hosts.conf            the host allow-list the site includes (hosts.py: ALLOWED_HOSTS)
    nginx/tmp/                  nginx's temp folders (and studio-auth/, its cache of session checks)
    supervisord.conf            supervisord as a daemon, logs in logs/, socket and pid in RUN_DIR
    logs/
"""

from __future__ import annotations

import configparser
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

from .template import REPO, SiteValues, render_site

NGINX_TEMP_DIRS = ("body", "proxy", "fastcgi", "uwsgi", "scgi")
PROGRAM_LOG_MAXBYTES = "20MB"


class RenderError(Exception):
    pass


@dataclass(frozen=True)
class RenderPlan:
    """Everything a native run's configs depend on."""

    run_dir: Path
    port: int
    bind: str  # '' = every address
    api_port: int
    data_dir: Path
    output_dir: Path
    html_dir: Path
    venv: Path  # not resolved: the venv's python is a symlink on purpose
    nginx_bin: str
    app_user: str | None = None  # uvicorn's user; None = whoever runs supervisord
    nginx_user: str | None = None  # nginx workers' user; None = nginx's own choice
    layout: str = "fullstack"  # "separated" only for the config checks
    foreground: bool = False
    host_map: str = ""  # nginx map of the allowed host names (hosts.resolve_hosts); required by render
    replicas: int = 1  # uvicorn processes, on api_port, api_port + 1, ...

    @property
    def api_ports(self) -> list[int]:
        return [self.api_port + i for i in range(self.replicas)]


def replica_program(index: int, replicas: int) -> str:
    """supervisord's name of uvicorn number `index` (today's single `uvicorn` when there is one)."""
    return "uvicorn" if replicas == 1 else f"uvicorn-{index}"


def replace_exact(text: str, old: str, new: str, *, count: int = 1, source: str) -> str:
    found = text.count(old)
    if found != count:
        raise RenderError(f"{source}: expected {count} occurrence(s) of {old!r}, found {found}")
    return text.replace(old, new)


def nginx_quote(path: Path | str) -> str:
    value = str(path)
    if any(c in value for c in " ;{}\"'#$\\"):
        if '"' in value or "\\" in value:
            raise RenderError(f"path not usable in an nginx config: {value!r}")
        return f'"{value}"'
    return value


def listen_address(bind: str, port: int) -> str:
    if not bind:
        return str(port)
    if ":" in bind and not bind.startswith("["):  # IPv6
        return f"[{bind}]:{port}"
    return f"{bind}:{port}"


def site_values(plan: RenderPlan) -> SiteValues:
    return SiteValues(
        listen=listen_address(plan.bind, plan.port),
        root=nginx_quote(plan.html_dir),
        images=nginx_quote(str(plan.output_dir).rstrip("/") + "/"),
        api=f"127.0.0.1:{plan.api_port}",
        hosts=nginx_quote(plan.run_dir / "nginx" / "hosts.conf"),
        auth_cache=nginx_quote(plan.run_dir / "nginx" / "tmp" / "studio-auth"),
        resolver=nginx_quote(plan.run_dir / "nginx" / "resolver.conf"),
    )


def render_nginx_main(text: str, *, run_dir: Path, nginx_user: str | None, mime_types: Path) -> str:
    src = "nginx/nginx-main.conf"
    user_line = f"user {nginx_user};" if nginx_user else "# user: workers run as the user who starts nginx"
    text = replace_exact(text, "user www-data;", user_line, source=src)
    text = replace_exact(
        text, "pid /run/nginx.pid;", f"pid {nginx_quote(run_dir / 'nginx' / 'nginx.pid')};", source=src
    )
    for name in NGINX_TEMP_DIRS:
        text = replace_exact(
            text, f" /var/lib/nginx/{name};", f" {nginx_quote(run_dir / 'nginx' / 'tmp' / name)};", source=src
        )
    text = replace_exact(text, "include /etc/nginx/mime.types;", f"include {nginx_quote(mime_types)};", source=src)
    return replace_exact(
        text,
        "include /etc/nginx/conf.d/*.conf;",
        f"include {nginx_quote(run_dir / 'nginx' / 'conf.d')}/*.conf;",
        source=src,
    )


def supervisor_value(value: str) -> str:
    # supervisord expands %(name)s in values; a literal % must be doubled.
    return value.replace("%", "%%")


def render_supervisord(text: str, plan: RenderPlan) -> str:
    src = "supervisor/supervisord.conf"
    cfg = configparser.RawConfigParser(interpolation=None, strict=True, comment_prefixes=(";", "#"))
    cfg.optionxform = str  # type: ignore[assignment,method-assign]  # keep key case
    cfg.read_string(text, source=src)

    def need(section: str, key: str) -> str:
        if not cfg.has_option(section, key):
            raise RenderError(f"{src}: [{section}] has no {key}")
        return cfg.get(section, key)

    run_dir = plan.run_dir
    logs = run_dir / "logs"
    sock = run_dir / "supervisord.sock"
    need("unix_http_server", "file")
    cfg.set("unix_http_server", "file", supervisor_value(str(sock)))
    need("supervisorctl", "serverurl")
    cfg.set("supervisorctl", "serverurl", supervisor_value(f"unix://{sock}"))

    main = "supervisord"
    need(main, "nodaemon")
    cfg.set(main, "nodaemon", "true" if plan.foreground else "false")
    cfg.remove_option(main, "user")  # natively supervisord runs as whoever starts it
    cfg.set(main, "logfile", supervisor_value(str(logs / "supervisord.log")))
    cfg.set(main, "logfile_maxbytes", PROGRAM_LOG_MAXBYTES)
    cfg.set(main, "logfile_backups", "2")
    cfg.set(main, "pidfile", supervisor_value(str(run_dir / "supervisord.pid")))
    cfg.set(main, "childlogdir", supervisor_value(str(logs)))
    cfg.set(main, "directory", supervisor_value(str(REPO)))

    uvicorn = "program:uvicorn"
    command = need(uvicorn, "command")
    command = replace_exact(command, "/opt/venv/bin/uvicorn ", f"{plan.venv / 'bin' / 'uvicorn'} ", source=src)
    command = replace_exact(command, "--port 8000 ", f"--port {plan.api_port} ", source=src)
    cfg.set(uvicorn, "command", supervisor_value(command))
    need(uvicorn, "directory")
    cfg.set(uvicorn, "directory", supervisor_value(str(REPO / "backend")))
    need(uvicorn, "user")
    environment = need(uvicorn, "environment")
    environment = replace_exact(environment, 'DATA_DIR="/app/data"', f'DATA_DIR="{plan.data_dir}"', source=src)
    if plan.app_user:
        cfg.set(uvicorn, "user", plan.app_user)
        environment = replace_exact(environment, 'HOME="/home/app"', f'HOME="{plan.data_dir}"', source=src)
    else:
        cfg.remove_option(uvicorn, "user")
        environment = replace_exact(environment, 'HOME="/home/app",', "", source=src)
    cfg.set(uvicorn, "environment", supervisor_value(environment))
    if plan.replicas > 1:
        # One program per replica (each on its own port, restarted on its own), same options.
        options = dict(cfg.items(uvicorn))
        cfg.remove_section(uvicorn)
        for index, port in enumerate(plan.api_ports):
            section = f"program:{replica_program(index, plan.replicas)}"
            cfg.add_section(section)
            for key, value in options.items():
                cfg.set(section, key, value)
            cfg.set(section, "command", replace_exact(options["command"], f"--port {plan.api_port} ", f"--port {port} ", source=src))
            replica_env = f'{options["environment"]},STUDIO_REPLICA="{index}"'
            cfg.set(section, "environment", replica_env)

    nginx = "program:nginx"
    command = need(nginx, "command")
    command = replace_exact(command, "/usr/sbin/nginx ", f"{plan.nginx_bin} ", source=src)
    command = replace_exact(command, "-c /etc/nginx/nginx.conf ", f"-c {run_dir / 'nginx' / 'nginx.conf'} ", source=src)
    cfg.set(nginx, "command", supervisor_value(command))

    listener = "eventlistener:exit-on-fatal"
    command = need(listener, "command")
    command = replace_exact(command, "/opt/venv/bin/python ", f"{plan.venv / 'bin' / 'python'} ", source=src)
    command = replace_exact(
        command, "/etc/supervisor/exit_on_fatal.py ", f"{REPO / 'supervisor' / 'exit_on_fatal.py'} ", source=src
    )
    cfg.set(listener, "command", supervisor_value(command))

    # Log files instead of the container's stdout, so supervisord can run in the background.
    for section in cfg.sections():
        if not section.startswith(("program:", "eventlistener:")):
            continue
        name = section.split(":", 1)[1]
        for stream in ("stdout", "stderr"):
            key = f"{stream}_logfile"
            if not cfg.has_option(section, key) or cfg.get(section, key) == "/dev/null":
                continue
            cfg.set(section, key, supervisor_value(str(logs / f"{name}.log")))
            cfg.set(section, f"{stream}_logfile_maxbytes", PROGRAM_LOG_MAXBYTES)
            cfg.set(section, f"{stream}_logfile_backups", "2")

    out = io.StringIO()
    out.write("; Rendered by scripts/stackctl from supervisor/supervisord.conf; do not edit.\n")
    cfg.write(out)
    return out.getvalue()


def find_mime_types(nginx_bin: str) -> Path:
    candidates = [Path("/etc/nginx/mime.types")]
    resolved = shutil.which(nginx_bin)
    if resolved:
        candidates.append(Path(resolved).resolve().parent.parent / "conf" / "mime.types")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise RenderError("nginx's mime.types not found (looked in " + ", ".join(map(str, candidates)) + ")")


def render(plan: RenderPlan) -> None:
    """Write the configs of `plan` into its RUN_DIR (and create the folders they name)."""
    run_dir = plan.run_dir
    if "$studio_host_allowed" not in plan.host_map:
        raise RenderError("no host allow-list to render (RenderPlan.host_map, from hosts.resolve_hosts)")
    main_conf = render_nginx_main(
        (REPO / "nginx" / "nginx-main.conf").read_text(),
        run_dir=run_dir,
        nginx_user=plan.nginx_user,
        mime_types=find_mime_types(plan.nginx_bin),
    )
    site_conf = render_site(plan.layout, site_values(plan))
    if plan.replicas > 1:
        servers = "".join(f"    server 127.0.0.1:{port};\n" for port in plan.api_ports)
        site_conf = replace_exact(
            site_conf, f"    server 127.0.0.1:{plan.api_port};\n", servers, source="nginx/site.conf.template"
        )
    supervisord_conf = render_supervisord((REPO / "supervisor" / "supervisord.conf").read_text(), plan)

    for sub in ("nginx/conf.d", "logs", *(f"nginx/tmp/{name}" for name in NGINX_TEMP_DIRS)):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    (plan.data_dir / "output").mkdir(parents=True, exist_ok=True)
    plan.output_dir.mkdir(parents=True, exist_ok=True)
    header = "# Rendered by scripts/stackctl from {}; do not edit.\n"
    (run_dir / "nginx" / "nginx.conf").write_text(header.format("nginx/nginx-main.conf") + main_conf)
    (run_dir / "nginx" / "conf.d" / "default.conf").write_text(
        header.format(f"nginx/site.conf.template (layout {plan.layout})") + site_conf
    )
    (run_dir / "nginx" / "hosts.conf").write_text(plan.host_map)
    # Only the separated site includes it (config checks); the image's entrypoint writes its own.
    (run_dir / "nginx" / "resolver.conf").write_text((REPO / "nginx" / "resolver.default.conf").read_text())
    target = run_dir / "supervisord.conf"
    target.write_text(supervisord_conf)
    target.chmod(0o600)
