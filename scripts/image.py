#!/usr/bin/env python3
"""Build the one image (volcengine-fullstack) with Docker, or with podman where no engine answers.

    python3 scripts/image.py build            # `make image`
    python3 scripts/image.py standins         # only create the podman stand-ins that are missing
    python3 scripts/image.py engine           # print the engine `build` would use
    python3 scripts/image.py separated        # the separated layout's images (docker-compose.yml):
                                              # volcengine-backend and volcengine-nginx, and with
                                              # podman the PostgreSQL stand-in

With Docker the real base images are pulled as usual. Without it (CI, machines with no registry),
podman builds from local stand-ins of the three base images, made once and reused after:
  studio-standin/debian:bookworm          debootstrap --variant=minbase, imported (about a minute)
  studio-standin/python:3.11-bookworm     + Debian's python3 (3.11), venv and pip; `python`, `pip`
  studio-standin/node:20-bookworm         + this machine's Node 20 and npm
  studio-standin/postgres:15-bookworm     + Debian's PostgreSQL 15, with the official postgres
                                          image's entrypoint contract (scripts/podman/); only
                                          for `separated`, where docker-compose.yml's
                                          POSTGRES_IMAGE names it
Both carry this machine's CA bundle (a TLS proxy may sit between us and the registries) and point
PIP_CERT / NODE_EXTRA_CA_CERTS at it. podman runs with the project's own containers.conf
(scripts/podman/containers.conf, through CONTAINERS_CONF) and builds `--format docker`: the OCI
format silently drops HEALTHCHECK. Standard library only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONTAINERS_CONF = REPO / "scripts" / "podman" / "containers.conf"
DEFAULT_TAG = "volcengine-fullstack:latest"
# docker-compose.yml's own images (their tags as the file names them), built by `separated`.
SEPARATED_IMAGES = {"volcengine-backend:latest": "backend/Dockerfile", "volcengine-nginx:latest": "nginx/Dockerfile"}
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEBIAN_MIRROR = "http://deb.debian.org/debian"

# The tags carry a revision: a change to how the stand-ins are made gives new ones on every machine.
BASE = "studio-standin/debian:bookworm-r2"
PYTHON = "studio-standin/python:3.11-bookworm-r2"
NODE = "studio-standin/node:20-bookworm-r2"
# The separated layout's database (docker-compose.yml, POSTGRES_IMAGE): Debian's PostgreSQL 15.
POSTGRES = "studio-standin/postgres:15-bookworm-r1"
# The stand-in each build argument of the Dockerfiles takes.
STANDIN_ARGS = {"PYTHON_IMAGE": PYTHON, "NODE_IMAGE": NODE, "DEBIAN_IMAGE": BASE}

# What Debian's official images carry, so that images built on the stand-ins are as lean as on the
# real bases: apt removes downloaded packages after installing, and dpkg leaves out docs and manuals.
APT_CLEAN = """\
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
"""
DPKG_EXCLUDES = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
"""

# Where the stand-ins keep the host's CA bundle (apart from Debian's own, which ca-certificates rewrites).
STANDIN_CA = "/usr/local/share/studio-host-ca.pem"

PYTHON_CONTAINERFILE = f"""\
FROM {BASE}
COPY host-ca.pem {STANDIN_CA}
ENV PIP_CERT={STANDIN_CA} NODE_EXTRA_CA_CERTS={STANDIN_CA} LANG=C.UTF-8
RUN apt-get update \\
 && apt-get install -y --no-install-recommends python3 python3-venv python3-pip ca-certificates \\
 && rm -rf /var/lib/apt/lists/* /usr/lib/python3.11/EXTERNALLY-MANAGED \\
 && ln -s /usr/bin/python3 /usr/local/bin/python \\
 && ln -s /usr/bin/pip3 /usr/local/bin/pip
CMD ["python3"]
"""

NODE_CONTAINERFILE = f"""\
FROM {BASE}
COPY host-ca.pem {STANDIN_CA}
ENV PIP_CERT={STANDIN_CA} NODE_EXTRA_CA_CERTS={STANDIN_CA} LANG=C.UTF-8
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node -v && npm -v
CMD ["node"]
"""


# The official image's layout: binaries on PATH, PGDATA on a volume, initialised by the entrypoint on
# first start. Debian's package would make a cluster of its own at install time; the official
# Debian-based image turns that off the same way.
POSTGRES_CONTAINERFILE = f"""\
FROM {BASE}
RUN apt-get update \\
 && apt-get install -y --no-install-recommends postgresql-common \\
 && sed -ri 's/#(create_main_cluster) .*$/\\1 = false/' /etc/postgresql-common/createcluster.conf \\
 && apt-get install -y --no-install-recommends postgresql-15 \\
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data LANG=C.UTF-8
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
"""
POSTGRES_ENTRYPOINT = REPO / "scripts" / "podman" / "postgres-entrypoint.sh"


@dataclass(frozen=True)
class StandIn:
    name: str
    containerfile: str  # "" for the base, which debootstrap makes


STANDINS = (StandIn(BASE, ""), StandIn(PYTHON, PYTHON_CONTAINERFILE), StandIn(NODE, NODE_CONTAINERFILE))
# Made only for the separated layout (`python3 scripts/image.py separated`).
POSTGRES_STANDIN = StandIn(POSTGRES, POSTGRES_CONTAINERFILE)


def choose_engine(docker_answers: bool, have_podman: bool) -> str:
    """Docker when an engine answers (its real base images), else podman with the stand-ins."""
    if docker_answers:
        return "docker"
    if have_podman:
        return "podman"
    raise SystemExit(
        "image: no Docker engine answers and podman is missing; run scripts/install-system-deps.sh podman"
    )


def missing_standins(existing: set[str], wanted: Sequence[StandIn] = STANDINS) -> list[StandIn]:
    """The stand-ins still to make, in dependency order (the base first)."""
    return [s for s in wanted if not ({s.name, f"localhost/{s.name}"} & existing)]


def build_command(engine: str, tag: str, dockerfile: str, build_args: Mapping[str, str]) -> list[str]:
    cmd = [engine, "build", "-f", dockerfile, "-t", tag]
    if engine == "podman":
        cmd[2:2] = ["--format", "docker"]  # OCI would drop HEALTHCHECK
    for key, value in sorted(build_args.items()):
        cmd += ["--build-arg", f"{key}={value}"]
    cmd.append(str(REPO))
    return cmd


def build_args_for(engine: str, declared: set[str], extra_ca_pem: str | None) -> dict[str, str]:
    """The stand-ins (podman only) and EXTRA_CA_CERT, each only where the Dockerfile declares it."""
    wanted = dict(STANDIN_ARGS) if engine == "podman" else {}
    if extra_ca_pem:
        wanted["EXTRA_CA_CERT"] = extra_ca_pem
    return {key: value for key, value in wanted.items() if key in declared}


def dockerfile_args(dockerfile: Path) -> set[str]:
    """The ARG names a Dockerfile declares (only those are passed, so no "unused arg" warning)."""
    names = set()
    for line in dockerfile.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].upper() == "ARG":
            names.add(parts[1].split("=", 1)[0])
    return names


def podman_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if environ is None else environ)
    env["CONTAINERS_CONF"] = str(CONTAINERS_CONF)
    return env


def run(cmd: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(list(cmd), check=True, text=True, **kwargs)  # type: ignore[call-overload]


def docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def podman_images(env: Mapping[str, str]) -> set[str]:
    out = subprocess.run(
        ["podman", "images", "--format", "{{.Repository}}:{{.Tag}}"],
        env=dict(env), capture_output=True, text=True, check=True,
    ).stdout
    return {line.strip() for line in out.splitlines() if line.strip()}


def make_standin(standin: StandIn, env: Mapping[str, str]) -> None:
    with tempfile.TemporaryDirectory(prefix="studio-standin-", dir=os.environ.get("STANDIN_TMP")) as tmp:
        work = Path(tmp)
        if not standin.containerfile:
            root = work / "rootfs"
            run(["debootstrap", "--variant=minbase", "bookworm", str(root), DEBIAN_MIRROR], stdout=subprocess.DEVNULL)
            slim_rootfs(root)
            tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
            run(["podman", "import", "-", standin.name], stdin=tar.stdout, env=dict(env), stdout=subprocess.DEVNULL)
            if tar.wait() != 0:
                raise SystemExit("image: tar of the debootstrap tree failed")
            return
        shutil.copyfile(HOST_CA_BUNDLE, work / "host-ca.pem")
        if standin.name == NODE:
            node = shutil.which("node")
            npm_dir = Path("/usr/lib/node_modules/npm")
            if not node or not npm_dir.is_dir():
                raise SystemExit("image: the node stand-in needs this machine's node and npm (/usr/lib/node_modules/npm)")
            shutil.copy2(node, work / "node")
            shutil.copytree(npm_dir, work / "npm", symlinks=True)
        if standin.name == POSTGRES:
            shutil.copy2(POSTGRES_ENTRYPOINT, work / "postgres-entrypoint.sh")
        (work / "Containerfile").write_text(standin.containerfile)
        run(["podman", "build", "--format", "docker", "-t", standin.name, str(work)], env=dict(env))


def slim_rootfs(root: Path) -> None:
    """A debootstrapped tree as lean as Debian's official slim images: no package lists, caches,
    docs or manuals, and apt and dpkg told to keep it so."""
    (root / "etc/apt/apt.conf.d/docker-clean").write_text(APT_CLEAN)
    (root / "etc/dpkg/dpkg.cfg.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/dpkg/dpkg.cfg.d/docker").write_text(DPKG_EXCLUDES)
    for gone in ("var/lib/apt/lists", "var/cache/apt", "usr/share/man", "usr/share/info", "usr/share/locale"):
        shutil.rmtree(root / gone, ignore_errors=True)
    (root / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
    doc = root / "usr/share/doc"
    for path in doc.glob("*/*") if doc.is_dir() else []:
        if path.name != "copyright":
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


def ensure_standins(env: Mapping[str, str], wanted: Sequence[StandIn] = STANDINS) -> None:
    todo = missing_standins(podman_images(env), wanted)
    if not todo:
        print("image: stand-ins present (" + ", ".join(s.name for s in wanted) + ")", file=sys.stderr)
    for standin in todo:
        print(f"image: making the stand-in {standin.name}", file=sys.stderr, flush=True)
        make_standin(standin, env)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("action", choices=["build", "standins", "engine", "separated"])
    parser.add_argument("--engine", choices=["auto", "docker", "podman"], default=os.environ.get("ENGINE", "auto"))
    parser.add_argument("--tag", default=DEFAULT_TAG)
    parser.add_argument("--file", default="Dockerfile.fullstack", help="relative to the repository")
    parser.add_argument(
        "--extra-ca",
        default=os.environ.get("EXTRA_CA_FILE") or None,
        help="a PEM file of a CA npm and pip must trust (a TLS proxy's); passed as the EXTRA_CA_CERT build arg",
    )
    args = parser.parse_args(argv)

    engine = args.engine
    if engine == "auto":
        engine = choose_engine(docker_answers(), shutil.which("podman") is not None)
    if args.action == "engine":
        print(engine)
        return 0
    env = podman_env() if engine == "podman" else dict(os.environ)
    if engine == "podman":
        ensure_standins(env, (*STANDINS, POSTGRES_STANDIN) if args.action == "separated" else STANDINS)
    if args.action == "standins":
        return 0
    extra_ca_pem = Path(args.extra_ca).read_text() if args.extra_ca else None
    targets = SEPARATED_IMAGES if args.action == "separated" else {args.tag: args.file}
    for tag, file in targets.items():
        dockerfile = REPO / file
        build_args = build_args_for(engine, dockerfile_args(dockerfile), extra_ca_pem)
        run(build_command(engine, tag, str(dockerfile), build_args), env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
