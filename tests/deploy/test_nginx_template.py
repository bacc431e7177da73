"""Every nginx site comes from nginx/site.conf.template: the committed ones are up to date with it,
and the layouts differ only where the API lives."""

from __future__ import annotations

import subprocess
import sys

import pytest
from stackctl import template
from stackctl.template import IMAGE_VALUES, SiteValues, TemplateError, render_site, select_lines

from .conftest import REPO

REGENERATE = ".venv/bin/python scripts/stackctl generate"


@pytest.mark.parametrize("layout", template.LAYOUTS)
def test_committed_site_is_generated_from_the_template(layout: str) -> None:
    path = template.COMMITTED[layout]
    assert path.read_text() == template.committed_text(layout), (
        f"{path.relative_to(REPO)} is not what nginx/site.conf.template makes: edit the template, then run {REGENERATE}"
    )


def test_dockerfiles_copy_the_generated_sites() -> None:
    assert (
        "COPY nginx/nginx.conf.fullstack /etc/nginx/conf.d/default.conf" in (REPO / "Dockerfile.fullstack").read_text()
    )
    assert "COPY nginx/nginx.conf /etc/nginx/conf.d/default.conf" in (REPO / "nginx" / "Dockerfile").read_text()


def test_generate_check_reports_a_stale_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "nginx.conf"
    stale.write_text("# edited by hand\n")
    monkeypatch.setitem(template.COMMITTED, "separated", stale)
    assert template.generate() == [stale]
    assert stale.read_text() == template.committed_text("separated")
    assert template.generate() == []


def test_generate_check_command_passes_on_the_repository() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "stackctl"), "generate", "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def rules(text: str) -> list[str]:
    """Directive lines, without comments and blank lines."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_layouts_differ_only_in_where_the_api_lives() -> None:
    fullstack = rules(render_site("fullstack", IMAGE_VALUES["fullstack"]))
    separated = rules(render_site("separated", IMAGE_VALUES["separated"]))
    only_fullstack = [line for line in fullstack if line not in separated]
    only_separated = [line for line in separated if line not in fullstack]
    assert only_fullstack == [
        "upstream studio_api {",
        "least_conn;",
        "server 127.0.0.1:8000;",
        "keepalive 16;",
        "set $studio_backend http://studio_api;",
        'proxy_set_header Connection "";',
        'proxy_set_header Connection "";',  # the session check's, too
    ]
    assert only_separated == [
        "include /etc/nginx/studio/resolver.conf;",
        "set $studio_backend http://backend:8000;",
    ]
    # /api/, its events and image2image locations, /v1/, the health / docs paths, and missing
    # thumbnails (@thumbnail).
    assert fullstack.count("proxy_pass $studio_backend;") == separated.count("proxy_pass $studio_backend;") == 6
    check = "proxy_pass $studio_backend/api/v1/auth/check;"
    assert fullstack.count(check) == separated.count(check) == 1


TEMPLATE_NOTE = "# note\n\n"


@pytest.mark.parametrize(
    ("body", "fullstack", "separated"),
    [
        ("a\n", "a\n", "a\n"),
        ("a\n#@ if fullstack\nb\n#@ endif\nc\n", "a\nb\nc\n", "a\nc\n"),
        ("#@ if separated\nb\n#@ else\nd\n#@ endif\n", "d\n", "b\n"),
        ("listen {{listen}};\n", "listen 80;\n", "listen 80;\n"),
    ],
)
def test_template_syntax(body: str, fullstack: str, separated: str) -> None:
    values = SiteValues(listen="80", root="/r", images="/i/", api="x:1", hosts="/h", auth_cache="/c", resolver="/d")
    assert render_site("fullstack", values, text=TEMPLATE_NOTE + body) == fullstack
    assert render_site("separated", values, text=TEMPLATE_NOTE + body) == separated


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("#@ if fullstack\na\n", "never closed"),
        ("#@ endif\n", "without `#@ if`"),
        ("#@ if fullstack\n#@ if separated\n#@ endif\n#@ endif\n", "inside"),
        ("#@ if docker\n#@ endif\n", "unknown layout 'docker'"),
        ("#@ fi\n", "not a directive"),
        ("root {{nowhere}};\n", "unknown value {{nowhere}}"),
    ],
)
def test_template_mistakes_are_refused(body: str, error: str) -> None:
    with pytest.raises(TemplateError, match=error.replace("{", r"\{").replace("(", r"\(")):
        render_site("fullstack", SiteValues(listen="80", root="/r", images="/i/", api="x:1", hosts="/h", auth_cache="/c", resolver="/d"), text=TEMPLATE_NOTE + body)


def test_template_note_is_not_copied() -> None:
    lines = select_lines(template.TEMPLATE.read_text(), "fullstack")
    assert not any("Template syntax" in line for line in lines)
    assert lines[0].startswith("# Volcengine Image Studio")
