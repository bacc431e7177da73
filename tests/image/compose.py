"""docker-compose.yml run with plain podman commands, as `docker compose` would run it.

podman-compose (PyPI) was tried first: with Debian's podman 4.3 it ignores every `service_healthy`
condition (it needs podman 4.6 for `podman wait --condition=healthy`) and its `--requires` links
fail once the one-off `migrate` container has exited. So the image test reads the committed
compose file itself and does what compose does, for the parts the file uses: `${VAR:-default}`
from the project's .env, `env_file`, `environment`, named volumes (`:ro`), published ports (kept on
127.0.0.1), `command`, `healthcheck`, `restart`, `stop_grace_period`, `deploy.replicas` and
`depends_on` with its conditions (waited for by running each container's own healthcheck command:
without systemd podman runs no healthcheck timers). Each service's containers join one network
under the service's name as a DNS alias, which is what the nginx site asks for.

Names follow compose: containers `<project>-<service>-<n>`, network `<project>_default`, volumes
`<project>_<volume>`.

DNS on a podman network needs netavark and aardvark-dns; Debian's podman 4.3 defaults to CNI,
which has none. `containers_conf` writes the project's podman settings plus `network_backend =
"netavark"`, with the network definitions in a folder of the test's own, so nothing system-wide
changes and the other tests' CNI containers are left alone.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}")


class ComposeError(Exception):
    pass


def containers_conf(base: Path, network_dir: Path) -> str:
    """The project's podman settings (scripts/podman/containers.conf) with netavark networking."""
    text = base.read_text()
    if re.search(r"^\[network\]", text, re.MULTILINE):
        raise ComposeError(f"{base} has a [network] table already; merge the netavark settings into it")
    return text.rstrip("\n") + (
        "\n\n# Added by tests/image/compose.py: DNS between containers (aardvark-dns).\n"
        f'[network]\nnetwork_backend = "netavark"\nnetwork_config_dir = "{network_dir}"\n'
    )


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` (unset or empty) and `${VAR-default}` (unset)."""

    def value(match: re.Match[str]) -> str:
        name, op, default = match.group("name"), match.group("op"), match.group("default") or ""
        current = env.get(name)
        if op == ":-":
            return current if current else default
        if op == "-":
            return default if current is None else current
        return current or ""

    return _VARIABLE.sub(value, text.replace("$$", "\0")).replace("\0", "$")


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _seconds(value: str | int | float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", value.strip())
    if not match:
        raise ComposeError(f"not a duration: {value!r}")
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"ms": 0.001, "s": 1.0, "m": 60.0}[unit]


@dataclass
class Service:
    name: str
    spec: dict[str, Any]
    project_dir: Path

    @property
    def image(self) -> str:
        return str(self.spec["image"])

    @property
    def replicas(self) -> int:
        return int((self.spec.get("deploy") or {}).get("replicas", 1))

    def depends_on(self) -> dict[str, str]:
        deps = self.spec.get("depends_on") or {}
        if isinstance(deps, list):
            return {name: "service_started" for name in deps}
        return {name: (cond or {}).get("condition", "service_started") for name, cond in deps.items()}

    def environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        files = self.spec.get("env_file") or []
        for entry in [files] if isinstance(files, str | dict) else files:
            path, required = (entry, True) if isinstance(entry, str) else (entry["path"], entry.get("required", True))
            full = self.project_dir / path
            if full.is_file():
                env.update(read_env_file(full))
            elif required:
                raise ComposeError(f"{self.name}: env_file {full} is missing")
        declared = self.spec.get("environment") or {}
        if isinstance(declared, list):
            declared = dict(item.split("=", 1) for item in declared)
        env.update({key: "" if value is None else str(value) for key, value in declared.items()})
        return env

    def run_args(self, project: str, index: int) -> list[str]:
        """`podman run` for replica `index` (1-based) of this service."""
        args = [
            "run", "-d", "--name", f"{project}-{self.name}-{index}",
            "--network", f"{project}_default", "--network-alias", self.name,
            "--label", f"com.docker.compose.project={project}", "--label", f"com.docker.compose.service={self.name}",
        ]
        for key, value in sorted(self.environment().items()):
            args += ["-e", f"{key}={value}"]
        for volume in self.spec.get("volumes") or []:
            source, target, *mode = volume.split(":")
            if "/" not in source:  # a named volume of this project
                source = f"{project}_{source}"
            args += ["-v", ":".join([source, target, *mode])]
        for port in self.spec.get("ports") or []:
            parts = str(port).split(":")
            # The host side of the test stays on loopback (compose would publish on every address).
            args += ["-p", ":".join(["127.0.0.1", *parts[-2:]])]
        restart = self.spec.get("restart")
        if restart:
            args += ["--restart", restart]
        grace = _seconds(self.spec.get("stop_grace_period"))
        if grace is not None:
            args += ["--stop-timeout", str(int(grace))]
        check = self.spec.get("healthcheck")
        if check:
            test = check["test"]
            if test[0] == "CMD-SHELL":
                args += ["--health-cmd", test[1]]
            elif test[0] == "CMD":
                args += ["--health-cmd", json.dumps(test[1:])]
            else:
                raise ComposeError(f"{self.name}: healthcheck test {test[0]!r} is not supported")
            for option, flag in (("interval", "--health-interval"), ("timeout", "--health-timeout")):
                if option in check:
                    args += [flag, f"{_seconds(check[option]):g}s"]
            if "retries" in check:
                args += ["--health-retries", str(check["retries"])]
        args.append(self.image)
        command = self.spec.get("command")
        if command:
            args += command if isinstance(command, list) else ["sh", "-c", command]
        return args


def load(compose_file: Path, env: Mapping[str, str]) -> tuple[str, dict[str, Service]]:
    """The project name and the services of `compose_file`, interpolated with `env`."""
    data = yaml.safe_load(interpolate(compose_file.read_text(), env))
    services = {
        name: Service(name, spec, compose_file.parent)
        for name, spec in data["services"].items()
        if not spec.get("profiles")
    }
    return str(data.get("name") or compose_file.parent.name), services


def start_order(services: Mapping[str, Service]) -> list[str]:
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ComposeError(f"depends_on cycle through {name}")
        visiting.add(name)
        for dep in services[name].depends_on():
            visit(dep)
        visiting.discard(name)
        order.append(name)

    for name in services:
        visit(name)
    return order


def wait_until(what: str, predicate: Callable[[], bool], timeout: float, interval: float = 0.25) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout:g} s")


@dataclass
class Stack:
    """One compose project, run with podman."""

    compose_file: Path
    env: dict[str, str]
    podman_env: dict[str, str]
    project: str = ""
    services: dict[str, Service] = field(default_factory=dict)
    containers: dict[str, list[str]] = field(default_factory=dict)
    # Seconds from `up` until each service met what its dependants wait for.
    ready_after: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        name, self.services = load(self.compose_file, self.env)
        self.project = self.project or name

    def podman(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["podman", *args], env=self.podman_env, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise ComposeError(f"podman {' '.join(args[:6])} ... -> {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    # --- state -----------------------------------------------------------------------------------
    def state(self, container: str) -> str:
        return self.podman("inspect", "--format", "{{.State.Status}}", container, check=False).stdout.strip()

    def exit_code(self, container: str) -> int:
        return int(self.podman("inspect", "--format", "{{.State.ExitCode}}", container).stdout.strip())

    def healthy(self, container: str) -> bool:
        """The container's own healthcheck command, run now (no timers here: no systemd)."""
        if self.state(container) not in ("running", "created", "initialized", ""):
            raise ComposeError(f"{container} is {self.state(container)}:\n{self.logs(container)}")
        return self.podman("healthcheck", "run", container, check=False, timeout=30).returncode == 0

    def logs(self, container: str) -> str:
        done = self.podman("logs", container, check=False)
        return done.stdout + done.stderr

    def hostname(self, container: str) -> str:
        return self.podman("inspect", "--format", "{{.Config.Hostname}}", container).stdout.strip()

    # --- life ------------------------------------------------------------------------------------
    def run_replica(self, service: str, index: int) -> str:
        args = self.services[service].run_args(self.project, index)
        self.podman(*args)
        name = args[args.index("--name") + 1]
        self.containers.setdefault(service, []).append(name)
        return name

    def wait_ready(self, service: str, condition: str, timeout: float) -> None:
        for container in self.containers[service]:
            if condition == "service_healthy":
                try:
                    wait_until(f"{container} healthy", lambda c=container: self.healthy(c), timeout)  # type: ignore[misc]
                except TimeoutError:
                    raise ComposeError(f"{container} not healthy within {timeout:g} s:\n{self.logs(container)}") from None
            elif condition == "service_completed_successfully":
                wait_until(f"{container} to finish", lambda c=container: self.state(c) == "exited", timeout)  # type: ignore[misc]
                if self.exit_code(container) != 0:
                    raise ComposeError(f"{container} exited {self.exit_code(container)}:\n{self.logs(container)}")

    def up(self, timeout: float = 90.0) -> None:
        """Network, volumes, then every service in dependency order, each waited for as its
        dependants ask; the last ones (nothing depends on them) until healthy."""
        started = time.monotonic()
        self.podman("network", "create", f"{self.project}_default")
        order = start_order(self.services)
        needed = {dep for name in order for dep in self.services[name].depends_on()}
        for name in order:
            for dep, condition in self.services[name].depends_on().items():
                self.wait_ready(dep, condition, timeout)
                self.ready_after.setdefault(dep, time.monotonic() - started)
            for index in range(1, self.services[name].replicas + 1):
                self.run_replica(name, index)
        for name in order:
            if name not in needed:
                self.wait_ready(name, "service_healthy", timeout)
                self.ready_after[name] = time.monotonic() - started

    def scale(self, service: str, replicas: int, timeout: float = 60.0) -> list[str]:
        """Add replicas up to `replicas` (as `up --scale`), healthy before returning; the new names."""
        have = self.containers.get(service, [])
        numbers = [int(name.rsplit("-", 1)[1]) for name in have]
        added = []
        for index in range(max(numbers, default=0) + 1, max(numbers, default=0) + 1 + replicas - len(have)):
            added.append(self.run_replica(service, index))
        self.wait_ready_some(added, timeout)
        return added

    def wait_ready_some(self, containers: list[str], timeout: float) -> None:
        for container in containers:
            try:
                wait_until(f"{container} healthy", lambda c=container: self.healthy(c), timeout)  # type: ignore[misc]
            except TimeoutError:
                raise ComposeError(f"{container} not healthy within {timeout:g} s:\n{self.logs(container)}") from None

    def down(self) -> None:
        """Every container, the network and the volumes (`down -v`)."""
        # One command: podman stops them side by side (nginx's and the backends' grace periods
        # would otherwise add up).
        every = [name for names in self.containers.values() for name in names]
        if every:
            self.podman("rm", "-f", "-t", "5", *every, check=False)
        self.podman("network", "rm", "-f", f"{self.project}_default", check=False)
        volumes = self.podman("volume", "ls", "--format", "{{.Name}}", check=False).stdout.split()
        for volume in volumes:
            if volume.startswith(f"{self.project}_"):
                self.podman("volume", "rm", "-f", volume, check=False)


def podman_environment(conf: Path) -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(conf)}
