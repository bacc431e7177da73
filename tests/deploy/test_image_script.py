"""scripts/image.py (`make image`): engine choice, stand-in order, build command and arguments."""

from __future__ import annotations

from pathlib import Path

import image
import pytest

from .conftest import REPO


@pytest.mark.parametrize(
    ("docker", "podman", "engine"),
    [(True, True, "docker"), (True, False, "docker"), (False, True, "podman")],
)
def test_docker_when_it_answers_else_podman(docker: bool, podman: bool, engine: str) -> None:
    assert image.choose_engine(docker, podman) == engine


def test_neither_engine_says_how_to_get_podman() -> None:
    with pytest.raises(SystemExit, match="install-system-deps.sh podman"):
        image.choose_engine(False, False)


def test_missing_standins_base_first_and_present_ones_reused() -> None:
    assert [s.name for s in image.missing_standins(set())] == [image.BASE, image.PYTHON, image.NODE]
    # podman lists local images under localhost/.
    present = {f"localhost/{image.BASE}", image.NODE}
    assert [s.name for s in image.missing_standins(present)] == [image.PYTHON]
    assert image.missing_standins({image.BASE, image.PYTHON, f"localhost/{image.NODE}"}) == []


def test_podman_builds_docker_format_with_the_standins() -> None:
    cmd = image.build_command(
        "podman", "volcengine-fullstack:latest", "Dockerfile.fullstack", {"PYTHON_IMAGE": "p", "NODE_IMAGE": "n"}
    )
    assert cmd == [
        "podman", "build", "--format", "docker", "-f", "Dockerfile.fullstack", "-t", "volcengine-fullstack:latest",
        "--build-arg", "NODE_IMAGE=n", "--build-arg", "PYTHON_IMAGE=p", str(REPO),
    ]


def test_docker_builds_with_real_bases() -> None:
    assert image.build_args_for("docker", {"PYTHON_IMAGE", "NODE_IMAGE"}, None) == {}
    assert image.build_command("docker", "t", "f", {}) == ["docker", "build", "-f", "f", "-t", "t", str(REPO)]


def test_build_args_only_those_the_dockerfile_declares() -> None:
    fullstack = image.dockerfile_args(REPO / "Dockerfile.fullstack")
    assert {"PYTHON_IMAGE", "NODE_IMAGE", "EXTRA_CA_CERT", "APP_UID"} <= fullstack
    assert image.build_args_for("podman", fullstack, "PEM") == {
        "PYTHON_IMAGE": image.PYTHON, "NODE_IMAGE": image.NODE, "EXTRA_CA_CERT": "PEM",
    }
    nginx = image.dockerfile_args(REPO / "nginx/Dockerfile")
    assert image.build_args_for("podman", nginx, None) == {"NODE_IMAGE": image.NODE, "DEBIAN_IMAGE": image.BASE}


def test_podman_gets_the_project_config_only(tmp_path: Path) -> None:
    env = image.podman_env({"PATH": "/bin"})
    assert env == {"PATH": "/bin", "CONTAINERS_CONF": str(REPO / "scripts/podman/containers.conf")}
    text = Path(env["CONTAINERS_CONF"]).read_text()
    for line in ('runtime = "runc"', 'cgroup_manager = "cgroupfs"', 'events_logger = "file"', "nofile=20000:20000"):
        assert line in text
