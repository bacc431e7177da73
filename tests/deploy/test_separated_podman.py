"""The pieces that let the separated layout run under podman, checked without podman:
the nginx image's NGINX_RESOLVER, tests/image/compose.py's reading of docker-compose.yml, and
scripts/image.py's `separated` build (tests/image/test_separated_stack.py runs them for real)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import image
import pytest

from tests.image.compose import ComposeError, Service, containers_conf, interpolate, load, start_order

from .conftest import REPO

ENTRYPOINT = REPO / "scripts" / "nginx-entrypoint.sh"
PODMAN_RESOLV_CONF = "search dns.podman\nnameserver 10.89.0.1\nnameserver 10.255.255.53\noptions edns0\n"


def run_entrypoint(tmp_path: Path, resolver: str | None, resolv_conf: str = PODMAN_RESOLV_CONF) -> tuple[int, str, str]:
    (tmp_path / "resolv.conf").write_text(resolv_conf)
    out = tmp_path / "studio" / "resolver.conf"
    env = {
        "PATH": "/usr/bin:/bin",
        "STUDIO_HOSTS_FILE": str(tmp_path / "studio" / "hosts.conf"),
        "STUDIO_RESOLVER_FILE": str(out),
        "STUDIO_RESOLV_CONF": str(tmp_path / "resolv.conf"),
    }
    if resolver is not None:
        env["NGINX_RESOLVER"] = resolver
    done = subprocess.run(["sh", str(ENTRYPOINT), "true"], env=env, capture_output=True, text=True)
    return done.returncode, out.read_text() if out.exists() else "", done.stderr


# --- NGINX_RESOLVER --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, ""])
def test_without_nginx_resolver_the_images_docker_dns_stays(tmp_path: Path, value: str | None) -> None:
    rc, written, err = run_entrypoint(tmp_path, value)
    assert rc == 0, err
    assert written == ""  # nothing written: the image's nginx/resolver.default.conf (127.0.0.11) holds


def test_auto_takes_the_networks_own_dns_only(tmp_path: Path) -> None:
    # podman lists aardvark-dns first and the host's after; the host's know no service names.
    rc, written, err = run_entrypoint(tmp_path, "auto")
    assert rc == 0, err
    assert "resolver 10.89.0.1 valid=10s ipv6=off;\n" in written
    assert "10.255.255.53" not in written
    assert "resolver_timeout 5s;" in written


def test_auto_under_docker_is_its_embedded_dns(tmp_path: Path) -> None:
    rc, written, _ = run_entrypoint(tmp_path, "auto", "nameserver 127.0.0.11\noptions ndots:0\n")
    assert rc == 0 and "resolver 127.0.0.11 valid=10s ipv6=off;" in written


def test_auto_brackets_an_ipv6_nameserver_and_drops_its_zone(tmp_path: Path) -> None:
    rc, written, _ = run_entrypoint(tmp_path, "auto", "nameserver fe80::1%eth0\n")
    assert rc == 0 and "resolver [fe80::1] valid=10s" in written


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.0.0.2", "resolver 10.0.0.2 valid=10s"),
        (" 10.0.0.2 , 10.0.0.3:5353 ", "resolver 10.0.0.2 10.0.0.3:5353 valid=10s"),
        ("fd00::53", "resolver [fd00::53] valid=10s"),
        ("[fd00::53]:5353", "resolver [fd00::53]:5353 valid=10s"),
    ],
)
def test_explicit_addresses(tmp_path: Path, value: str, expected: str) -> None:
    rc, written, err = run_entrypoint(tmp_path, value)
    assert rc == 0, err
    assert expected in written


@pytest.mark.parametrize("value", ["dns.example", "10.0.0.2; evil", "http://10.0.0.2", ",", "10.0.0.2 10.0.0.3"])
def test_anything_else_stops_the_container_with_a_reason(tmp_path: Path, value: str) -> None:
    rc, written, err = run_entrypoint(tmp_path, value)
    assert rc == 1
    assert written == ""
    assert "NGINX_RESOLVER" in err


def test_auto_without_a_nameserver_is_refused(tmp_path: Path) -> None:
    rc, _, err = run_entrypoint(tmp_path, "auto", "search example\n")
    assert rc == 1 and "no nameserver" in err


def test_the_written_resolver_passes_nginx_t(tmp_path: Path, nginx_bin: str) -> None:
    rc, written, _ = run_entrypoint(tmp_path, "10.0.0.2:53,fd00::53")
    assert rc == 0
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\nhttp {{\n{written}}}\n")
    done = subprocess.run([nginx_bin, "-t", "-c", str(conf), "-e", "stderr"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# --- docker-compose.yml as tests/image/compose.py reads it -----------------------------------------


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${A:-d}", {}, "d"),
        ("${A:-d}", {"A": ""}, "d"),
        ("${A:-d}", {"A": "x"}, "x"),
        ("${A-d}", {"A": ""}, ""),
        ("${A-d}", {}, "d"),
        ("${A}", {}, ""),
        ("$${A}", {"A": "x"}, "${A}"),
        ("a=${A:-172.16.0.0/12,::1} b", {}, "a=172.16.0.0/12,::1 b"),
    ],
)
def test_interpolation_as_compose_does_it(text: str, env: dict[str, str], expected: str) -> None:
    assert interpolate(text, env) == expected


def test_podman_settings_add_netavark_to_the_projects_own(tmp_path: Path) -> None:
    base = REPO / "scripts" / "podman" / "containers.conf"
    text = containers_conf(base, tmp_path / "nets")
    assert text.startswith(base.read_text().rstrip("\n"))
    assert text.endswith(f'[network]\nnetwork_backend = "netavark"\nnetwork_config_dir = "{tmp_path / "nets"}"\n')
    clash = tmp_path / "clash.conf"
    clash.write_text('[network]\nnetwork_backend = "cni"\n')
    with pytest.raises(ComposeError, match="already"):
        containers_conf(clash, tmp_path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "docker-compose.yml").write_text((REPO / "docker-compose.yml").read_text())
    (tmp_path / ".env").write_text("# the user's settings\nPOSTGRES_PASSWORD=s3cret\nJOB_LEASE_SECONDS='6'\nDATA_DIR=/elsewhere\n")
    return tmp_path


def env_of(args: list[str]) -> dict[str, str]:
    pairs = [args[i + 1] for i, arg in enumerate(args) if arg == "-e"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_services_start_in_dependency_order(project: Path) -> None:
    _, services = load(project / "docker-compose.yml", {})
    order = start_order(services)
    assert order.index("postgres") < order.index("migrate") < order.index("backend") < order.index("nginx")
    cyclic = {
        "a": Service("a", {"image": "x", "depends_on": ["b"]}, project),
        "b": Service("b", {"image": "x", "depends_on": {"a": {"condition": "service_healthy"}}}, project),
    }
    with pytest.raises(ComposeError, match="cycle"):
        start_order(cyclic)


def test_the_backend_replica_as_compose_would_run_it(project: Path) -> None:
    settings = {"POSTGRES_PASSWORD": "s3cret", "BACKEND_REPLICAS": "3"}
    name, services = load(project / "docker-compose.yml", settings)
    assert name == "volcengine-studio-scaled"
    backend = services["backend"]
    assert backend.replicas == 3
    assert backend.depends_on() == {"postgres": "service_healthy", "migrate": "service_completed_successfully"}
    args = backend.run_args("proj", 2)
    assert args[:9] == ["run", "-d", "--name", "proj-backend-2", "--network", "proj_default", "--network-alias", "backend", "--label"]
    env = env_of(args)
    assert env["DATABASE_URL"] == "postgresql+asyncpg://studio:s3cret@postgres:5432/studio"
    assert env["JOB_LEASE_SECONDS"] == "6"  # from .env (env_file), quotes removed
    assert env["DATA_DIR"] == "/app/data"  # `environment` wins over env_file
    assert env["SERVE_IMAGES"] == "false"
    assert ["-v", "proj_studio-data:/app/data"] == args[args.index("-v"):args.index("-v") + 2]
    assert ["--restart", "unless-stopped"] == args[args.index("--restart"):args.index("--restart") + 2]
    assert ["--stop-timeout", "30"] == args[args.index("--stop-timeout"):args.index("--stop-timeout") + 2]
    assert "-p" not in args  # only nginx is published
    assert args[-1] == "volcengine-backend:latest"


def test_nginx_postgres_and_migrate_as_compose_would_run_them(project: Path) -> None:
    settings = {"POSTGRES_PASSWORD": "s3cret", "PORT": "38080", "NGINX_RESOLVER": "auto", "POSTGRES_IMAGE": image.POSTGRES}
    _, services = load(project / "docker-compose.yml", settings)
    nginx = services["nginx"].run_args("proj", 1)
    assert ["-p", "127.0.0.1:38080:80"] == nginx[nginx.index("-p"):nginx.index("-p") + 2]
    assert ["-v", "proj_studio-data:/app/data:ro"] == nginx[nginx.index("-v"):nginx.index("-v") + 2]
    assert env_of(nginx)["NGINX_RESOLVER"] == "auto"
    postgres = services["postgres"].run_args("proj", 1)
    assert postgres[-1] == image.POSTGRES
    assert ["--health-cmd", "pg_isready -U studio -d studio"] == postgres[postgres.index("--health-cmd"):postgres.index("--health-cmd") + 2]
    assert {"POSTGRES_USER": "studio", "POSTGRES_PASSWORD": "s3cret", "POSTGRES_DB": "studio"}.items() <= env_of(postgres).items()
    migrate = services["migrate"].run_args("proj", 1)
    assert migrate[-2:] == ["volcengine-backend:latest", "/app/scripts/prestart.sh"]
    assert ["--restart", "no"] == migrate[migrate.index("--restart"):migrate.index("--restart") + 2]


def test_a_missing_required_env_file_is_an_error(tmp_path: Path) -> None:
    service = Service("s", {"image": "x", "env_file": ["missing.env"]}, tmp_path)
    with pytest.raises(ComposeError, match="missing.env"):
        service.environment()
    assert Service("s", {"image": "x", "env_file": [{"path": ".env", "required": False}]}, tmp_path).environment() == {}


# --- scripts/image.py separated --------------------------------------------------------------------


def test_separated_builds_the_compose_files_images() -> None:
    doc_images = {"volcengine-backend:latest", "volcengine-nginx:latest"}
    assert set(image.SEPARATED_IMAGES) == doc_images
    _, services = load(REPO / "docker-compose.yml", {})
    for tag, dockerfile in image.SEPARATED_IMAGES.items():
        [service] = [s for s in services.values() if s.image == tag and "build" in s.spec and s.name != "migrate"]
        assert service.spec["build"]["dockerfile"] == dockerfile


def test_the_postgres_standin_comes_after_its_base_and_only_when_asked() -> None:
    everything = (*image.STANDINS, image.POSTGRES_STANDIN)
    assert [s.name for s in image.missing_standins(set(), everything)][-1] == image.POSTGRES
    assert image.POSTGRES not in [s.name for s in image.missing_standins(set())]
    present = {f"localhost/{s.name}" for s in image.STANDINS}
    assert [s.name for s in image.missing_standins(present, everything)] == [image.POSTGRES]
    assert f"FROM {image.BASE}" in image.POSTGRES_CONTAINERFILE
    assert 'ENTRYPOINT ["docker-entrypoint.sh"]' in image.POSTGRES_CONTAINERFILE
    assert image.POSTGRES_ENTRYPOINT.is_file()


def test_separated_builds_both_images_on_the_standins(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []
    ensured: list[tuple[str, ...]] = []
    monkeypatch.setattr(image, "run", lambda cmd, **_: ran.append(list(cmd)))
    monkeypatch.setattr(image, "ensure_standins", lambda env, wanted=image.STANDINS: ensured.append(tuple(s.name for s in wanted)))
    assert image.main(["separated", "--engine", "podman"]) == 0
    assert ensured == [(image.BASE, image.PYTHON, image.NODE, image.POSTGRES)]
    assert [(cmd[cmd.index("-t") + 1], cmd[cmd.index("-f") + 1]) for cmd in ran] == [
        ("volcengine-backend:latest", str(REPO / "backend/Dockerfile")),
        ("volcengine-nginx:latest", str(REPO / "nginx/Dockerfile")),
    ]
    assert f"PYTHON_IMAGE={image.PYTHON}" in ran[0] and f"NODE_IMAGE={image.NODE}" in ran[1]
