"""Dockerfiles, compose files and .dockerignore agree with the repository: every file they copy
exists and is in the build context, every file they name exists, and they parse."""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
import subprocess
import sys
import tomllib

import pytest
import yaml

from tests.image.compose import interpolate

from .conftest import REPO

DOCKERFILES = ["Dockerfile.fullstack", "backend/Dockerfile", "nginx/Dockerfile"]
COMPOSE_FILES = ["docker-compose.fullstack.yml", "docker-compose.yml"]


def instructions(dockerfile: str) -> list[tuple[str, list[str]]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    text = (REPO / dockerfile).read_text()
    logical, current = [], ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") and not current:
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if current.strip():
            logical.append(current.strip())
        current = ""
    result = []
    for line in logical:
        name, _, rest = line.partition(" ")
        result.append((name.upper(), rest))
    return result


def copies(dockerfile: str) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY/ADD from the build context (not --from= a stage)."""
    found = []
    for name, rest in instructions(dockerfile):
        if name not in ("COPY", "ADD"):
            continue
        args = shlex.split(rest)
        flags = [a for a in args if a.startswith("--")]
        paths = [a for a in args if not a.startswith("--")]
        if any(flag.startswith("--from=") for flag in flags):
            continue
        found.append((paths[:-1], paths[-1]))
    return found


def dockerignore_patterns() -> list[tuple[bool, str]]:
    patterns = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        patterns.append((negated, line.lstrip("!").rstrip("/")))
    return patterns


def segments_match(pattern: list[str], parts: list[str]) -> bool:
    """Match path segments against pattern segments; `**` stands for any number of segments."""
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(segments_match(pattern[1:], parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and segments_match(pattern[1:], parts[1:])


def ignored(path: str) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern also covers everything below it."""
    verdict = False
    parts = path.split("/")
    for negated, pattern in dockerignore_patterns():
        pattern_parts = pattern.split("/")
        if any(segments_match(pattern_parts, parts[: i + 1]) for i in range(len(parts))):
            verdict = not negated
    return verdict


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_every_copied_path_exists_and_is_in_the_context(dockerfile: str) -> None:
    pairs = copies(dockerfile)
    assert pairs, "no COPY found: the parser is broken"
    for sources, _ in pairs:
        for source in sources:
            matches = list(REPO.glob(source.rstrip("/"))) if any(c in source for c in "*?[") else [REPO / source]
            assert matches and all(m.exists() for m in matches), f"{dockerfile}: COPY {source}: not in the repository"
            assert not ignored(source.rstrip("/")), f"{dockerfile}: COPY {source}: excluded by .dockerignore"


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_stages_and_base_images(dockerfile: str) -> None:
    steps = instructions(dockerfile)
    froms = [rest for name, rest in steps if name == "FROM"]
    stages = {f.split(" AS ")[-1].strip() for f in froms if " AS " in f}
    for _name, rest in steps:
        for ref in re.findall(r"--from=([\w.-]+)", rest):
            assert ref in stages, f"{dockerfile}: --from={ref} names no stage"
    final_user = [rest for name, rest in steps if name == "USER"]
    text = (REPO / dockerfile).read_text()
    assert "apt-get install" not in text or "--no-install-recommends" in text
    assert "rm -rf /var/lib/apt/lists/*" in text or "apt-get" not in text
    if dockerfile == "backend/Dockerfile":
        assert final_user == ["app"]  # the API never runs as root


def test_fullstack_image_layout() -> None:
    steps = instructions("Dockerfile.fullstack")
    froms = [rest for name, rest in steps if name == "FROM"]
    assert froms[0].startswith("${NODE_IMAGE}") and "ARG NODE_IMAGE=node:20-slim" in (REPO / "Dockerfile.fullstack").read_text()
    destinations = {dest for _, dest in copies("Dockerfile.fullstack")}
    for path in ("/etc/nginx/nginx.conf", "/etc/nginx/conf.d/default.conf", "/etc/supervisor/conf.d/supervisord.conf"):
        assert path in destinations
    text = (REPO / "Dockerfile.fullstack").read_text()
    assert "COPY --from=frontend /src/frontend/dist/ /usr/share/nginx/html/" in text
    assert "VOLUME /app/data" in text and "EXPOSE 80" in text
    assert "HEALTHCHECK" in text and "http://127.0.0.1/health" in text
    assert 'CMD ["supervisord", "-c", "/etc/supervisor/conf.d/supervisord.conf"]' in text
    assert "gcc" not in text and "build-essential" not in text
    # `docker exec ... supervisorctl status` without -c: supervisor looks in /etc/supervisor/supervisord.conf
    assert "ln -s /etc/supervisor/conf.d/supervisord.conf /etc/supervisor/supervisord.conf" in text


def test_paths_in_supervisord_conf_are_put_there_by_the_image() -> None:
    """Files the image's supervisord.conf runs must be copied to exactly those paths."""
    destinations = {dest for _, dest in copies("Dockerfile.fullstack")}
    conf = (REPO / "supervisor" / "supervisord.conf").read_text()
    for path in re.findall(r"(/etc/\S+\.py)", conf):
        assert path in destinations, path


def compose(name: str) -> dict:
    return yaml.safe_load((REPO / name).read_text())


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_files_parse_and_name_existing_files(name: str) -> None:
    doc = compose(name)
    assert doc["services"]
    for service_name, service in doc["services"].items():
        build = service.get("build")
        if build:
            context = REPO / build.get("context", ".")
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), service_name
        for env_file in service.get("env_file", []):
            entry = env_file if isinstance(env_file, dict) else {"path": env_file}
            if entry.get("required", True):
                assert (REPO / entry["path"]).is_file(), f"{service_name}: env_file {entry['path']}"
            else:
                assert entry["path"] == ".env"


def test_fullstack_compose() -> None:
    app = compose("docker-compose.fullstack.yml")["services"]["app"]
    assert app["image"] == "volcengine-fullstack:latest"
    assert app["build"]["dockerfile"] == "Dockerfile.fullstack"
    assert app["ports"] == ["${PORT:-3000}:80"]
    assert app["restart"] == "unless-stopped"
    assert any(volume.endswith(":/app/data") for volume in app["volumes"])
    assert app["env_file"] == [{"path": ".env", "required": False}]


def test_separated_compose() -> None:
    doc = compose("docker-compose.yml")
    services = doc["services"]
    assert set(services) >= {"nginx", "backend", "postgres"}
    backend = services["backend"]
    assert backend["build"]["dockerfile"] == "backend/Dockerfile"
    assert "replicas" in backend["deploy"]
    assert backend["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "studio-data:/app/data" in backend["volumes"]
    assert "ports" not in backend  # only nginx is published
    nginx = services["nginx"]
    assert "studio-data:/app/data:ro" in nginx["volumes"]
    assert nginx["depends_on"]["backend"]["condition"] == "service_healthy"
    # The official image unless POSTGRES_IMAGE names a stand-in (the podman image test's).
    assert services["postgres"]["image"] == "${POSTGRES_IMAGE:-postgres:16-alpine}"
    assert interpolate(services["postgres"]["image"], {}) == "postgres:16-alpine"
    # Docker's DNS by default (the image's resolver.conf); `auto` where another DNS names the backends.
    assert nginx["environment"]["NGINX_RESOLVER"] == "${NGINX_RESOLVER:-}"
    assert "healthcheck" in services["postgres"]
    assert set(doc["volumes"]) >= {"studio-data", "postgres-data"}
    # nginx's site talks to the service by this name, through the resolver the image's entrypoint writes
    site = (REPO / "nginx" / "nginx.conf").read_text()
    assert "http://backend:8000" in site
    assert "include /etc/nginx/studio/resolver.conf;" in site
    assert "resolver 127.0.0.11 valid=10s ipv6=off;" in (REPO / "nginx" / "resolver.default.conf").read_text()
    assert "COPY nginx/resolver.default.conf /etc/nginx/studio/resolver.conf" in (REPO / "nginx" / "Dockerfile").read_text()


# --- one pin per package ---------------------------------------------------------------------------

PIN_FILES = ("*.toml", "*.txt", "*.cfg", "*.in", "Dockerfile*", "*.sh", "*.yml", "*.yaml", "Makefile")
SKIP_DIRS = {".git", ".venv", "node_modules", "dist", "run", "data", "__pycache__"}


def pinned_files(pattern: str) -> list[str]:
    found = []
    for path in REPO.rglob("*"):
        if not path.is_file() or SKIP_DIRS & set(path.relative_to(REPO).parts) or ".egg-info" in str(path):
            continue
        if not any(fnmatch.fnmatch(path.name, glob) for glob in PIN_FILES):
            continue
        if re.search(pattern, path.read_text(errors="replace")):
            found.append(str(path.relative_to(REPO)))
    return found


def test_supervisor_is_pinned_in_one_place() -> None:
    assert pinned_files(r"supervisor\s*[=<>~!]=") == ["backend/pyproject.toml"]


def test_fullstack_image_installs_the_pinned_supervisor(tmp_path) -> None:
    """Run the Dockerfile's own requirement-list command against the real pyproject.toml."""
    run = next(rest for name, rest in instructions("Dockerfile.fullstack") if name == "RUN" and "tomllib" in rest)
    command = re.search(r'python -c "(.+?)" > requirements\.txt', run).group(1)
    (tmp_path / "backend").mkdir()
    shutil.copy(REPO / "backend" / "pyproject.toml", tmp_path / "backend" / "pyproject.toml")
    listed = subprocess.run([sys.executable, "-c", command], cwd=tmp_path, capture_output=True,
                            text=True, check=True).stdout.split()
    project = tomllib.loads((REPO / "backend" / "pyproject.toml").read_text())["project"]
    assert listed == project["dependencies"] + ["supervisor==4.3.0"]
    assert "volcengine-image-studio[stack]" in project["optional-dependencies"]["dev"]  # `make venv` gets it too
