"""The scripts behind the images' start-up, and the renderer behind `make run`.
(`make run` / `stop` / `restart` themselves: test_stack.py; stackctl's parts: test_stackctl_*.py.)"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from stackctl import render
from stackctl.template import IMAGE_VALUES, render_site

from .conftest import REPO


def test_render_refuses_a_config_whose_anchor_lines_moved() -> None:
    text = (REPO / "nginx" / "nginx-main.conf").read_text().replace("pid /run/nginx.pid;", "pid /var/run/nginx.pid;")
    with pytest.raises(render.RenderError, match="pid /run/nginx.pid"):
        render.render_nginx_main(text, run_dir=Path("/tmp/x"), nginx_user=None, mime_types=Path("/m"))


def test_render_quotes_paths_with_spaces(tmp_path: Path) -> None:
    plan = render.RenderPlan(
        run_dir=tmp_path,
        port=3100,
        bind="127.0.0.1",
        api_port=8100,
        data_dir=Path("/srv/my studio/data"),
        output_dir=Path("/srv/my studio/data/output"),
        html_dir=Path("/srv/my studio/dist"),
        venv=REPO / ".venv",
        nginx_bin="/usr/sbin/nginx",
    )
    site = render_site("fullstack", render.site_values(plan))
    assert 'root "/srv/my studio/dist";' in site
    assert 'alias "/srv/my studio/data/output/";' in site
    assert "listen 127.0.0.1:3100 default_server;" in site
    assert "server 127.0.0.1:8100;" in site


@pytest.mark.parametrize(
    ("bind", "listen"),
    [("127.0.0.1", "127.0.0.1:3000"), ("", "3000"), ("0.0.0.0", "0.0.0.0:3000"), ("::1", "[::1]:3000")],
)
def test_render_listen_address(bind: str, listen: str) -> None:
    assert render.listen_address(bind, 3000) == listen


def test_native_site_differs_from_the_image_only_in_its_values() -> None:
    image = render_site("fullstack", IMAGE_VALUES["fullstack"])
    native = render_site(
        "fullstack",
        render.SiteValues(
            listen="127.0.0.1:3100", root="/r", images="/i/", api="127.0.0.1:8100", hosts="/h.conf", auth_cache="/c",
            resolver="/dns.conf",
        ),
    )
    changed = [(a, b) for a, b in zip(image.splitlines(), native.splitlines(), strict=True) if a != b]
    assert [b.strip() for _, b in changed] == [
        "#   /api/ /v1/ /health /docs /redoc /openapi.json /metrics  -> uvicorn on 127.0.0.1:8100 (/v1/: the",
        "# Only host names on ALLOWED_HOSTS are answered (421 otherwise): /h.conf holds them, written at",
        "server 127.0.0.1:8100;",
        "include /h.conf;",
        "proxy_cache_path /c levels=1 keys_zone=studio_auth:1m max_size=16m inactive=1m use_temp_path=off;",
        "listen 127.0.0.1:3100 default_server;",
        "root /r;",
        "alias /i/;",
    ]


def test_prestart_migrates_a_fresh_database(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OUTPUT_DIR")},
        "DATA_DIR": str(tmp_path),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    subprocess.run([str(REPO / "scripts" / "prestart.sh")], env=env, check=True, capture_output=True, timeout=120)
    assert (tmp_path / "output").is_dir() and (tmp_path / "uploads").is_dir()
    with sqlite3.connect(tmp_path / "app.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone()


def test_stop_when_nothing_runs_is_quiet_success(tmp_path: Path) -> None:
    (tmp_path / "supervisord.pid").write_text("999999999\n")  # stale
    result = subprocess.run(
        [str(REPO / "scripts" / "stop-local.sh")], env={**os.environ, "RUN_DIR": str(tmp_path)}, capture_output=True, text=True
    )
    assert result.returncode == 0 and "not running" in result.stdout
    assert not (tmp_path / "supervisord.pid").exists()


def test_install_system_deps_does_nothing_when_all_is_there() -> None:
    if not Path("/usr/sbin/nginx").exists():
        pytest.skip("nginx absent: the script would install it")
    result = subprocess.run([str(REPO / "scripts" / "install-system-deps.sh"), "nginx"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == ""
