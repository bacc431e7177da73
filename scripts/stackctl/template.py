"""nginx/site.conf.template -> the nginx site of one layout.

One template holds every rule of the site; the layouts differ only in where the API lives (an
upstream on 127.0.0.1 in the one image and natively, Docker's DNS name `backend` in the separated
layout) and in the paths and address nginx listens on. The committed files the Dockerfiles copy are
generated from it (`generate`) and tests/deploy checks they are up to date; `make run` renders it
with local values (render.py).

Syntax: `{{name}}` is a value; `#@ if <layout>` / `#@ else` / `#@ endif` lines select lines for one
layout (no nesting); the first paragraph of the template is its own note and is not copied.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "nginx" / "site.conf.template"
LAYOUTS = ("fullstack", "separated")
# The committed sites, one per layout, as the Dockerfiles copy them.
COMMITTED = {"fullstack": REPO / "nginx" / "nginx.conf.fullstack", "separated": REPO / "nginx" / "nginx.conf"}
GENERATED_NOTE = (
    "# Generated from nginx/site.conf.template (layout {layout}) by `scripts/stackctl generate`;\n"
    "# edit the template, not this file.\n"
)

_DIRECTIVE = re.compile(r"^#@ (if (\w+)|else|endif)\s*$")
_VALUE = re.compile(r"\{\{(\w+)\}\}")


class TemplateError(Exception):
    pass


@dataclass(frozen=True)
class SiteValues:
    """What differs between the image and a native run. Paths as nginx wants them (quoted if need be)."""

    listen: str
    root: str
    images: str  # the folder /images/ maps to, with its trailing slash
    api: str  # host:port of uvicorn
    hosts: str  # the file with the host allow-list's map, written at start-up (ALLOWED_HOSTS)
    auth_cache: str  # the folder of nginx's cache of session checks
    # The file with the separated layout's `resolver` (the DNS that names the backend replicas),
    # written at start-up (NGINX_RESOLVER); unused by the other layout.
    resolver: str


# The images' paths (Dockerfile.fullstack, nginx/Dockerfile, docker-compose*.yml). Their entrypoints
# write the hosts file at start (scripts/docker-entrypoint.sh, scripts/nginx-entrypoint.sh).
_IMAGE_PATHS = {
    "listen": "80",
    "root": "/usr/share/nginx/html",
    "images": "/app/data/output/",
    "hosts": "/etc/nginx/studio/hosts.conf",
    "auth_cache": "/var/lib/nginx/studio-auth",
    "resolver": "/etc/nginx/studio/resolver.conf",
}
IMAGE_VALUES = {
    "fullstack": SiteValues(api="127.0.0.1:8000", **_IMAGE_PATHS),
    "separated": SiteValues(api="backend:8000", **_IMAGE_PATHS),
}


def select_lines(text: str, layout: str, *, source: str = "template") -> list[str]:
    """The template's lines for one layout, without its note and its `#@` lines."""
    if layout not in LAYOUTS:
        raise TemplateError(f"unknown layout {layout!r} (one of {', '.join(LAYOUTS)})")
    _note, blank, body = text.partition("\n\n")
    if not blank:
        raise TemplateError(f"{source}: no blank line after the template's note")
    lines: list[str] = []
    branch: str | None = None  # layout of the open `#@ if`
    keep = True
    first = _note.count("\n") + 3  # the body's first line number
    for number, line in enumerate(body.splitlines(keepends=True), start=first):
        match = _DIRECTIVE.match(line.rstrip("\n"))
        if match is None:
            if line.startswith("#@"):
                raise TemplateError(f"{source}:{number}: not a directive: {line.strip()!r}")
            if keep:
                lines.append(line)
            continue
        word, named = match.group(1).split()[0], match.group(2)
        if word == "if":
            if branch is not None:
                raise TemplateError(f"{source}:{number}: `#@ if` inside `#@ if {branch}`")
            if named not in LAYOUTS:
                raise TemplateError(f"{source}:{number}: unknown layout {named!r}")
            branch, keep = named, named == layout
        elif branch is None:
            raise TemplateError(f"{source}:{number}: `#@ {word}` without `#@ if`")
        elif word == "else":
            keep = branch != layout
        else:
            branch, keep = None, True
    if branch is not None:
        raise TemplateError(f"{source}: `#@ if {branch}` is never closed")
    return lines


def render_site(layout: str, values: SiteValues, *, text: str | None = None) -> str:
    """The site of `layout` with `values` filled in."""
    source = str(TEMPLATE.relative_to(REPO)) if text is None else "template"
    body = "".join(select_lines(TEMPLATE.read_text() if text is None else text, layout, source=source))
    known = asdict(values)

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in known:
            raise TemplateError(f"{source}: unknown value {{{{{name}}}}} (known: {', '.join(known)})")
        return str(known[name])

    return _VALUE.sub(fill, body)


def committed_text(layout: str) -> str:
    """What the committed file of `layout` must contain."""
    return GENERATED_NOTE.format(layout=layout) + render_site(layout, IMAGE_VALUES[layout])


def generate() -> list[Path]:
    """Write the committed sites; returns the ones that changed."""
    changed = []
    for layout, path in COMMITTED.items():
        text = committed_text(layout)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed
