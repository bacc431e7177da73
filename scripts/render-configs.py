#!/usr/bin/env python3
"""Render the image's nginx and supervisord configs for a native run.

The committed files (nginx/, supervisor/) are the Docker image's, with the image's paths. A native
run (`make run`, the e2e tests, tests/deploy) uses the same files with local paths, ports and users
put in by this script, so there is one configuration, not two that drift apart. Every rewrite names
the exact line it replaces and fails if that line is missing, so an edit to a committed file that
would silently escape the rendering breaks the build instead.

    render-configs.py --run-dir run --port 3000 --data-dir data --html-dir frontend/dist ...

writes into --run-dir:
    nginx/nginx.conf            main config (pid, temp folders, include of the site below)
    nginx/conf.d/default.conf   the site (listen address, SPA root, image folder, API address)
    nginx/tmp/                  nginx's temp folders
    supervisord.conf            supervisord as a daemon, logs in logs/, socket and pid in run-dir
    logs/
Standard library only.
"""

from __future__ import annotations

import argparse
import configparser
import io
import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NGINX_TEMP_DIRS = ("body", "proxy", "fastcgi", "uwsgi", "scgi")
PROGRAM_LOG_MAXBYTES = "20MB"


class RenderError(Exception):
    pass


def replace_exact(text: str, old: str, new: str, *, count: int = 1, source: str) -> str:
    found = text.count(old)
    if found != count:
        raise RenderError(f"{source}: expected {count} occurrence(s) of {old!r}, found {found}")
    return text.replace(old, new)


def nginx_quote(path: Path | str) -> str:
    value = str(path)
    if any(c in value for c in ' ;{}"\'#$\\'):
        if '"' in value or "\\" in value:
            raise RenderError(f"path not usable in an nginx config: {value!r}")
        return f'"{value}"'
    return value


def render_nginx_main(text: str, *, run_dir: Path, nginx_user: str | None, mime_types: Path) -> str:
    src = "nginx/nginx-main.conf"
    user_line = f"user {nginx_user};" if nginx_user else "# user: workers run as the user who starts nginx"
    text = replace_exact(text, "user www-data;", user_line, source=src)
    text = replace_exact(text, "pid /run/nginx.pid;", f"pid {nginx_quote(run_dir / 'nginx' / 'nginx.pid')};", source=src)
    for name in NGINX_TEMP_DIRS:
        text = replace_exact(
            text, f" /var/lib/nginx/{name};", f" {nginx_quote(run_dir / 'nginx' / 'tmp' / name)};", source=src
        )
    text = replace_exact(
        text, "include /etc/nginx/mime.types;", f"include {nginx_quote(mime_types)};", source=src
    )
    text = replace_exact(
        text,
        "include /etc/nginx/conf.d/*.conf;",
        f"include {nginx_quote(run_dir / 'nginx' / 'conf.d')}/*.conf;",
        source=src,
    )
    return text


def render_nginx_site(
    text: str, *, source: str, bind: str, port: int, html_dir: Path, output_dir: Path, api_port: int
) -> str:
    listen = f"{bind}:{port}" if bind else str(port)
    text = replace_exact(text, "listen 80 default_server;", f"listen {listen} default_server;", source=source)
    text = replace_exact(text, "root /usr/share/nginx/html;", f"root {nginx_quote(html_dir)};", source=source)
    text = replace_exact(
        text, "alias /app/data/output/;", f"alias {nginx_quote(str(output_dir).rstrip('/') + '/')};", source=source
    )
    api = f"127.0.0.1:{api_port}"
    if "upstream studio_api" in text:  # one-image layout
        text = replace_exact(text, "server 127.0.0.1:8000;", f"server {api};", source=source)
    else:  # separated layout: the `backend` service becomes the local API
        text = replace_exact(
            text, "set $studio_backend http://backend:8000;", f"set $studio_backend http://{api};", source=source
        )
    return text


def supervisor_value(value: str) -> str:
    # supervisord expands %(name)s in values; a literal % must be doubled.
    return value.replace("%", "%%")


def render_supervisord(
    text: str,
    *,
    run_dir: Path,
    venv: Path,
    backend_dir: Path,
    data_dir: Path,
    api_port: int,
    app_user: str | None,
    nginx_bin: str,
    nginx_conf: Path,
    foreground: bool,
) -> str:
    src = "supervisor/supervisord.conf"
    cfg = configparser.RawConfigParser(interpolation=None, strict=True, comment_prefixes=(";", "#"))
    cfg.optionxform = str  # keep key case
    cfg.read_string(text, source=src)

    def need(section: str, key: str) -> str:
        if not cfg.has_option(section, key):
            raise RenderError(f"{src}: [{section}] has no {key}")
        return cfg.get(section, key)

    logs = run_dir / "logs"
    sock = run_dir / "supervisord.sock"
    need("unix_http_server", "file")
    cfg.set("unix_http_server", "file", supervisor_value(str(sock)))
    need("supervisorctl", "serverurl")
    cfg.set("supervisorctl", "serverurl", supervisor_value(f"unix://{sock}"))

    main = "supervisord"
    need(main, "nodaemon")
    cfg.set(main, "nodaemon", "true" if foreground else "false")
    cfg.remove_option(main, "user")  # natively supervisord runs as whoever starts it
    cfg.set(main, "logfile", supervisor_value(str(logs / "supervisord.log")))
    cfg.set(main, "logfile_maxbytes", PROGRAM_LOG_MAXBYTES)
    cfg.set(main, "logfile_backups", "2")
    cfg.set(main, "pidfile", supervisor_value(str(run_dir / "supervisord.pid")))
    cfg.set(main, "childlogdir", supervisor_value(str(logs)))
    cfg.set(main, "directory", supervisor_value(str(REPO)))

    uvicorn = "program:uvicorn"
    command = need(uvicorn, "command")
    command = replace_exact(command, "/opt/venv/bin/uvicorn ", f"{venv / 'bin' / 'uvicorn'} ", source=src)
    command = replace_exact(command, "--port 8000 ", f"--port {api_port} ", source=src)
    cfg.set(uvicorn, "command", supervisor_value(command))
    need(uvicorn, "directory")
    cfg.set(uvicorn, "directory", supervisor_value(str(backend_dir)))
    need(uvicorn, "user")
    environment = need(uvicorn, "environment")
    environment = replace_exact(environment, 'DATA_DIR="/app/data"', f'DATA_DIR="{data_dir}"', source=src)
    if app_user:
        cfg.set(uvicorn, "user", app_user)
        environment = replace_exact(environment, 'HOME="/home/app"', f'HOME="{data_dir}"', source=src)
    else:
        cfg.remove_option(uvicorn, "user")
        environment = replace_exact(environment, 'HOME="/home/app",', "", source=src)
    cfg.set(uvicorn, "environment", supervisor_value(environment))

    nginx = "program:nginx"
    command = need(nginx, "command")
    command = replace_exact(command, "/usr/sbin/nginx ", f"{nginx_bin} ", source=src)
    command = replace_exact(command, "-c /etc/nginx/nginx.conf ", f"-c {nginx_conf} ", source=src)
    cfg.set(nginx, "command", supervisor_value(command))

    listener = "eventlistener:exit-on-fatal"
    command = need(listener, "command")
    command = replace_exact(command, "/opt/venv/bin/python ", f"{venv / 'bin' / 'python'} ", source=src)
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
            if not cfg.has_option(section, key):
                continue
            if cfg.get(section, key) == "/dev/null":
                continue
            cfg.set(section, key, supervisor_value(str(logs / f"{name}.log")))
            cfg.set(section, f"{stream}_logfile_maxbytes", PROGRAM_LOG_MAXBYTES)
            cfg.set(section, f"{stream}_logfile_backups", "2")

    out = io.StringIO()
    out.write("; Rendered by scripts/render-configs.py from supervisor/supervisord.conf; do not edit.\n")
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Render nginx and supervisord configs for a native run.")
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--port", type=int, default=3000, help="the port nginx listens on")
    p.add_argument("--bind", default="127.0.0.1", help="the address nginx listens on ('' for all)")
    p.add_argument("--api-port", type=int, default=8000, help="uvicorn's port on 127.0.0.1")
    p.add_argument("--data-dir", type=Path, default=REPO / "data")
    p.add_argument("--output-dir", type=Path, help="where images are stored (default DATA_DIR/output)")
    p.add_argument("--html-dir", type=Path, default=REPO / "frontend" / "dist")
    p.add_argument("--venv", type=Path, default=REPO / ".venv")
    p.add_argument("--backend-dir", type=Path, default=REPO / "backend")
    p.add_argument("--app-user", default="", help="user for uvicorn ('' = the user running supervisord)")
    p.add_argument("--nginx-user", default="", help="user for nginx workers ('' = nginx's own user)")
    p.add_argument("--nginx-bin", default=shutil.which("nginx") or "/usr/sbin/nginx")
    p.add_argument(
        "--site",
        type=Path,
        default=REPO / "nginx" / "nginx.conf.fullstack",
        help="site file to render (nginx/nginx.conf for the separated layout's checks)",
    )
    p.add_argument("--foreground", action="store_true", help="keep supervisord in the foreground")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_dir = args.run_dir.resolve()
    data_dir = args.data_dir.resolve()
    output_dir = (args.output_dir or data_dir / "output").resolve()
    try:
        mime_types = find_mime_types(args.nginx_bin)
        main_conf = render_nginx_main(
            (REPO / "nginx" / "nginx-main.conf").read_text(),
            run_dir=run_dir,
            nginx_user=args.nginx_user or None,
            mime_types=mime_types,
        )
        site_conf = render_nginx_site(
            args.site.read_text(),
            source=str(args.site),
            bind=args.bind,
            port=args.port,
            html_dir=args.html_dir.resolve(),
            output_dir=output_dir,
            api_port=args.api_port,
        )
        supervisord_conf = render_supervisord(
            (REPO / "supervisor" / "supervisord.conf").read_text(),
            run_dir=run_dir,
            venv=args.venv.absolute(),  # not resolved: the venv's python is a symlink on purpose
            backend_dir=args.backend_dir.resolve(),
            data_dir=data_dir,
            api_port=args.api_port,
            app_user=args.app_user or None,
            nginx_bin=args.nginx_bin,
            nginx_conf=run_dir / "nginx" / "nginx.conf",
            foreground=args.foreground,
        )
    except (RenderError, OSError) as exc:
        print(f"render-configs: {exc}", file=sys.stderr)
        return 1

    for sub in ("nginx/conf.d", "logs", *(f"nginx/tmp/{name}" for name in NGINX_TEMP_DIRS)):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    (data_dir / "output").mkdir(parents=True, exist_ok=True)
    output_dir.mkdir(parents=True, exist_ok=True)
    header = "# Rendered by scripts/render-configs.py from {}; do not edit.\n"
    (run_dir / "nginx" / "nginx.conf").write_text(header.format("nginx/nginx-main.conf") + main_conf)
    (run_dir / "nginx" / "conf.d" / "default.conf").write_text(
        header.format(os.path.relpath(args.site, REPO)) + site_conf
    )
    target = run_dir / "supervisord.conf"
    target.write_text(supervisord_conf)
    target.chmod(0o600)
    print(f"rendered {run_dir}/nginx/nginx.conf, nginx/conf.d/default.conf, supervisord.conf")
    return 0


if __name__ == "__main__":
    sys.exit(main())
