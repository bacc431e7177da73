"""Started as root: uvicorn runs as an unprivileged user, nginx's workers as www-data, when they can.

Either may be impossible on a given machine (a checkout under /root, pyenv's Python under
/root/.pyenv, data in a private folder); then that process runs as root and we say why.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .template import REPO

NGINX_WORKERS = "www-data"


@dataclass
class Users:
    app_user: str | None = None  # None = whoever runs supervisord
    nginx_user: str | None = None  # None = nginx's own choice
    warnings: list[str] = field(default_factory=list)


def user_exists(name: str) -> bool:
    return subprocess.run(["id", "-u", name], capture_output=True).returncode == 0


def as_user(user: str, *command: str, cwd: Path | None = None) -> bool:
    return subprocess.run(["runuser", "-u", user, "--", *command], cwd=cwd, capture_output=True).returncode == 0


def choose(*, studio_user: str, python: Path, data_dir: Path, output_dir: Path, html_dir: Path) -> Users:
    if os.geteuid() != 0:
        return Users()
    users = Users(nginx_user=NGINX_WORKERS)
    if not user_exists(NGINX_WORKERS):
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--home-dir",
                "/var/www",
                "--shell",
                "/usr/sbin/nologin",
                NGINX_WORKERS,
            ],
            check=True,
        )

    if studio_user:
        if not user_exists(studio_user):
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--home-dir",
                    "/nonexistent",
                    "--shell",
                    "/usr/sbin/nologin",
                    studio_user,
                ],
                check=True,
            )
        # Can that user run our Python and read the code? Not when either lives in a folder private
        # to root (a checkout under /root, or pyenv's interpreter under /root/.pyenv).
        if as_user(studio_user, str(python), "-c", "import uvicorn, app", cwd=REPO / "backend"):
            # The data belongs to the user who writes it; only what is not already theirs is changed.
            subprocess.run(
                [
                    "find",
                    str(data_dir),
                    str(output_dir),
                    "!",
                    "-user",
                    studio_user,
                    "-exec",
                    "chown",
                    f"{studio_user}:{studio_user}",
                    "{}",
                    "+",
                ],
                capture_output=True,
            )
            if as_user(studio_user, "test", "-w", str(data_dir), "-a", "-w", str(output_dir)):
                users.app_user = studio_user
            else:
                users.warnings.append(
                    f"uvicorn runs as root: user '{studio_user}' cannot write {data_dir}"
                    " (a folder on the way is private)"
                )
        else:
            users.warnings += [
                f"uvicorn runs as root: user '{studio_user}' cannot run {python} -> {python.resolve()}"
                f" or read {REPO / 'backend'}",
                "  (a folder on the way is private to root). To run it unprivileged, keep the checkout and",
                "  the Python it was made with where other users can read them (e.g. /srv, /opt, /usr/bin/python3).",
            ]

    # nginx workers read the SPA and the images themselves.
    for path in (html_dir, output_dir):
        if path.is_dir() and not as_user(NGINX_WORKERS, "test", "-r", str(path), "-a", "-x", str(path)):
            users.warnings.append(
                f"nginx workers run as root: {NGINX_WORKERS} cannot read {path} (a folder on the way is private)"
            )
            users.nginx_user = "root"
    return users
