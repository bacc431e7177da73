"""The scripts behind `make run` / `make stop` and the images' start-up."""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, RENDER

spec = importlib.util.spec_from_file_location("render_configs", RENDER)
render_configs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(render_configs)


def test_render_refuses_a_config_whose_anchor_lines_moved() -> None:
    text = (REPO / "nginx" / "nginx-main.conf").read_text().replace("pid /run/nginx.pid;", "pid /var/run/nginx.pid;")
    with pytest.raises(render_configs.RenderError, match="pid /run/nginx.pid"):
        render_configs.render_nginx_main(text, run_dir=Path("/tmp/x"), nginx_user=None, mime_types=Path("/m"))


def test_render_quotes_paths_with_spaces(tmp_path: Path) -> None:
    site = render_configs.render_nginx_site(
        (REPO / "nginx" / "nginx.conf.fullstack").read_text(),
        source="site",
        bind="127.0.0.1",
        port=3100,
        html_dir=Path("/srv/my studio/dist"),
        output_dir=Path("/srv/my studio/data/output"),
        api_port=8100,
    )
    assert 'root "/srv/my studio/dist";' in site
    assert 'alias "/srv/my studio/data/output/";' in site
    assert "listen 127.0.0.1:3100 default_server;" in site
    assert "server 127.0.0.1:8100;" in site


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
