"""The command line of stackctl. RUN_DIR (./run) and VENV (./.venv) come from the environment."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from . import commands, template
from .hosts import HostsError, resolve_hosts
from .render import RenderError, RenderPlan, render
from .template import REPO, TemplateError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="stackctl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the stack of RUN_DIR; refuse while it runs")
    sub.add_parser("restart", help="stop and start again, with the PORT, BIND and DATA_DIR it was given")
    stop = sub.add_parser("stop", help="stop the stack of RUN_DIR")
    stop.add_argument("--quiet", action="store_true", help="say nothing when it is not running")
    sub.add_parser("status", help="its programs and /health")
    sub.add_parser("check", help="fail, saying why, when `run` would refuse")

    gen = sub.add_parser("generate", help="write nginx/nginx.conf(.fullstack) from nginx/site.conf.template")
    gen.add_argument("--check", action="store_true", help="only report whether they are up to date")

    rend = sub.add_parser("render", help="render a native run's configs into --run-dir (for inspection)")
    rend.add_argument("--run-dir", type=Path, required=True)
    rend.add_argument("--port", type=int, default=3000)
    rend.add_argument("--bind", default="127.0.0.1", help="'' for every address")
    rend.add_argument("--api-port", type=int, default=8000)
    rend.add_argument("--data-dir", type=Path, default=REPO / "data")
    rend.add_argument("--output-dir", type=Path, help="default DATA_DIR/output")
    rend.add_argument("--html-dir", type=Path, default=REPO / "frontend" / "dist")
    rend.add_argument("--venv", type=Path, default=REPO / ".venv")
    rend.add_argument("--app-user", default="", help="user for uvicorn ('' = whoever runs supervisord)")
    rend.add_argument("--nginx-user", default="", help="user for nginx workers ('' = nginx's own)")
    rend.add_argument("--nginx-bin", default=shutil.which("nginx") or "/usr/sbin/nginx")
    rend.add_argument("--layout", choices=template.LAYOUTS, default="fullstack")
    rend.add_argument("--foreground", action="store_true", help="supervisord in the foreground")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_dir = Path(os.environ.get("RUN_DIR") or REPO / "run")
    ctx = commands.Context(
        run_dir=(run_dir if run_dir.is_absolute() else REPO / run_dir).resolve(),
        venv=Path(os.environ.get("VENV") or REPO / ".venv").absolute(),  # not resolved: its python is a symlink
        environ=os.environ,
    )
    try:
        if args.command == "run":
            commands.run(ctx)
        elif args.command == "restart":
            commands.run(ctx, restart=True)
        elif args.command == "stop":
            commands.stop(ctx, quiet=args.quiet)
        elif args.command == "status":
            commands.status(ctx)
        elif args.command == "check":
            commands.check(ctx)
        elif args.command == "generate":
            return generate(check_only=args.check)
        elif args.command == "render":
            return render_only(args)
    except commands.Refused as exc:
        # `check` speaks for the `run` it is asked before.
        print(f"stackctl {'run' if args.command == 'check' else args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def generate(*, check_only: bool) -> int:
    try:
        if check_only:
            stale = [
                path
                for layout, path in template.COMMITTED.items()
                if not path.exists() or path.read_text() != template.committed_text(layout)
            ]
            for path in stale:
                print(f"{path.relative_to(REPO)} differs from nginx/site.conf.template", file=sys.stderr)
            return 1 if stale else 0
        for path in template.generate():
            print(f"wrote {path.relative_to(REPO)}")
    except TemplateError as exc:
        print(f"stackctl: {exc}", file=sys.stderr)
        return 1
    return 0


def render_only(args: argparse.Namespace) -> int:
    data_dir = args.data_dir.resolve()
    try:
        hosts = resolve_hosts(args.venv.absolute() / "bin" / "python", os.environ, bind=args.bind)
    except HostsError as exc:
        print(f"stackctl: {exc}", file=sys.stderr)
        return 1
    plan = RenderPlan(
        run_dir=args.run_dir.resolve(),
        port=args.port,
        bind=args.bind,
        api_port=args.api_port,
        data_dir=data_dir,
        output_dir=(args.output_dir or data_dir / "output").resolve(),
        html_dir=args.html_dir.resolve(),
        venv=args.venv.absolute(),
        nginx_bin=args.nginx_bin,
        app_user=args.app_user or None,
        nginx_user=args.nginx_user or None,
        layout=args.layout,
        foreground=args.foreground,
        host_map=hosts.nginx_map,
    )
    try:
        render(plan)
    except (RenderError, TemplateError, OSError) as exc:
        print(f"stackctl: {exc}", file=sys.stderr)
        return 1
    print(f"rendered {plan.run_dir}/nginx/nginx.conf, nginx/conf.d/default.conf, nginx/hosts.conf, supervisord.conf")
    return 0
