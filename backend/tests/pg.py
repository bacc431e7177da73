"""A throw-away PostgreSQL cluster for the tests: initdb + pg_ctl under a temp dir, any free port.

`make test-pg` runs the whole backend suite against it (STUDIO_TEST_DB=postgresql): every test
that builds an app gets a fresh database copied from a migrated template, dropped afterwards.
The binaries come from Debian's `postgresql` package (scripts/install-system-deps.sh postgresql).
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import asyncpg

TEMPLATE = "studio_template"


def pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True):
        return Path(candidate).parent
    return None


def _as_postgres(args: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: the package's `postgres` user runs it.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


class ClusterUnavailable(RuntimeError):
    pass


class Cluster:
    def __init__(self) -> None:
        self.work: Path | None = None
        self.port = 0
        self.bindir: Path | None = None

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self.bindir = pg_bin()
        if self.bindir is None:
            raise ClusterUnavailable("no PostgreSQL binaries (pg_ctl/initdb): run scripts/install-system-deps.sh postgresql")
        if os.geteuid() == 0 and subprocess.run(["id", "-u", "postgres"], capture_output=True).returncode != 0:
            raise ClusterUnavailable("running as root and there is no 'postgres' user to run the server as")
        self.work = Path(tempfile.mkdtemp(prefix="studio-pg-"))
        self.work.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.work, "postgres", "postgres")
        data = self.work / "data"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        init = subprocess.run(
            _as_postgres([str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync",
                          "-E", "UTF8"]),
            capture_output=True, text=True,
        )
        if init.returncode != 0:
            self.stop()
            raise ClusterUnavailable(f"initdb failed: {init.stderr.strip()[:300]}")
        options = (f"-p {self.port} -k {self.work} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
        start = subprocess.run(
            _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(self.work / "log"),
                          "-w", "-t", "60", "start"]),
            capture_output=True, text=True,
        )
        if start.returncode != 0:
            self.stop()
            raise ClusterUnavailable(f"postgres did not start: {start.stderr.strip()[:300]}")

    def stop(self) -> None:
        if self.work is None:
            return
        if self.bindir is not None and (self.work / "data" / "postmaster.pid").exists():
            subprocess.run(_as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.work / "data"), "-m", "immediate",
                                         "stop"]), capture_output=True)
        shutil.rmtree(self.work, ignore_errors=True)
        self.work = None

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def make_template(self) -> None:
        """A database at the latest migration, copied for each test (faster than migrating each)."""
        from app.core.db import Database

        async def build() -> None:
            await self._admin(f"CREATE DATABASE {TEMPLATE}")
            db = Database(self.url(TEMPLATE))
            await db.migrate()
            await db.dispose()

        asyncio.run(build())

    async def create_database(self, template: str = TEMPLATE) -> str:
        """A fresh database: migrated (a copy of the template), or empty with template="template0"."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        await self._admin(f"CREATE DATABASE {name} TEMPLATE {template}")
        return name

    async def drop_database(self, name: str) -> None:
        await self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
