"""What a native stack is started with, and where each setting comes from.

The settings that say where a stack is (recorded in RUN_DIR so `make restart` can bring it back in
the same place):
    PORT=3000            nginx's port
    BIND=127.0.0.1       nginx's address (0.0.0.0 lets other machines in: set APP_PASSWORD then, and
                         ALLOWED_HOSTS for the names they use; hosts.py)
    DATA_DIR=./data      database, images and uploads
    OUTPUT_DIR           images (default DATA_DIR/output)
    API_PORT             uvicorn's port on 127.0.0.1 (default PORT + 5000: 8000 for 3000)
    REPLICAS=1           uvicorn processes (API + worker each) behind nginx, on API_PORT,
                         API_PORT + 1, ...; more than one needs PostgreSQL (DATABASE_URL)

First found wins: the environment (`make run PORT=3300` puts it there), then, for `restart` only,
what the stack being restarted was given that way, then .env, then the defaults. Only settings that
were given are recorded as given, so a restart re-reads .env and the defaults for the rest and an
edit of .env takes effect. An empty value counts as unset.

API_PORT follows PORT rather than being searched for: a free port found by binding and releasing
it can be taken by someone else before uvicorn binds it, while a fixed port either binds or fails
at start-up, which `run` sees from uvicorn's state (watch.py) and reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .template import REPO

RECORDED = ("PORT", "BIND", "DATA_DIR", "OUTPUT_DIR", "API_PORT", "REPLICAS")
DEFAULT_PORT = 3000
DEFAULT_BIND = "127.0.0.1"
API_PORT_OFFSET = 5000  # 3000 -> 8000, the API port of the images
# Two cores serve a few replicas well; beyond this it is a typo, not a plan.
MAX_REPLICAS = 16


class SettingsError(Exception):
    pass


@dataclass(frozen=True)
class StackSettings:
    port: int
    bind: str
    data_dir: Path
    output_dir: Path
    api_port: int
    # The recorded settings as they were given (environment, or a restarted stack's), as strings.
    given: Mapping[str, str]
    replicas: int = 1

    @property
    def api_ports(self) -> list[int]:
        """uvicorn's port of each replica."""
        return [self.api_port + i for i in range(self.replicas)]

    @property
    def host(self) -> str:
        """Where this machine reaches nginx."""
        if self.bind in ("", "0.0.0.0"):
            return "127.0.0.1"
        if self.bind in ("::", "[::]"):
            return "[::1]"
        return f"[{self.bind}]" if ":" in self.bind and not self.bind.startswith("[") else self.bind

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def shown_url(self) -> str:
        host = "localhost" if self.host in ("127.0.0.1", "[::1]") else self.host
        return f"http://{host}:{self.port}"

    def describe(self) -> str:
        """One line naming where the stack is, for messages."""
        listen = f"{self.bind or '*'}:{self.port}"
        replicas = f", REPLICAS={self.replicas}" if self.replicas > 1 else ""
        return f"PORT={self.port} (nginx on {listen}, API_PORT={self.api_port}{replicas}), DATA_DIR={self.data_dir}"

    def resolved(self) -> dict[str, str]:
        return {
            "PORT": str(self.port),
            "BIND": self.bind,
            "DATA_DIR": str(self.data_dir),
            "OUTPUT_DIR": str(self.output_dir),
            "API_PORT": str(self.api_port),
            "REPLICAS": str(self.replicas),
        }


def _port(name: str, value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise SettingsError(f"{name}={value!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise SettingsError(f"{name}={port} is not a port number (1-65535)")
    return port


def _replicas(value: str) -> int:
    try:
        replicas = int(value)
    except ValueError:
        raise SettingsError(f"REPLICAS={value!r} is not a number") from None
    if not 1 <= replicas <= MAX_REPLICAS:
        raise SettingsError(f"REPLICAS={replicas}: choose 1 to {MAX_REPLICAS}")
    return replicas


def needs_postgres(replicas: int, database_url: str | None) -> str | None:
    """Why this many replicas cannot run on the configured database (None: they can)."""
    if replicas == 1 or (database_url or "").startswith(("postgresql", "postgres:")):
        return None
    return (
        f"REPLICAS={replicas} needs PostgreSQL: SQLite is one process's database (each replica would "
        "take the others' running jobs for abandoned ones). Set DATABASE_URL=postgresql+asyncpg://"
        "user:password@host:5432/studio, or run REPLICAS=1"
    )


def _path(value: str, root: Path) -> Path:
    path = Path(value).expanduser()
    return (path if path.is_absolute() else root / path).resolve()


def resolve(
    environ: Mapping[str, str],
    dotenv: Mapping[str, str | None] | None = None,
    recorded: Mapping[str, str] | None = None,
    *,
    root: Path = REPO,
) -> StackSettings:
    """The stack's settings: environment > recorded (restart) > .env > defaults; relative paths from `root`."""
    dotenv = dotenv or {}
    recorded = recorded or {}
    given: dict[str, str] = {}
    chosen: dict[str, str] = {}
    for name in RECORDED:
        if environ.get(name):
            given[name] = chosen[name] = environ[name]
        elif recorded.get(name):
            given[name] = chosen[name] = recorded[name]
        elif dotenv.get(name):
            chosen[name] = dotenv[name] or ""

    port = _port("PORT", chosen.get("PORT", str(DEFAULT_PORT)))
    if "API_PORT" in chosen:
        api_port = _port("API_PORT", chosen["API_PORT"])
    elif port + API_PORT_OFFSET <= 65535:
        api_port = port + API_PORT_OFFSET
    else:
        raise SettingsError(f"PORT={port}: API_PORT defaults to PORT + {API_PORT_OFFSET}, beyond 65535; set API_PORT")
    replicas = _replicas(chosen.get("REPLICAS", "1"))
    if api_port + replicas - 1 > 65535:
        raise SettingsError(f"API_PORT={api_port} with REPLICAS={replicas} goes beyond port 65535")
    if api_port <= port < api_port + replicas:
        raise SettingsError(
            f"PORT={port} is one of the API ports ({api_port}-{api_port + replicas - 1}); choose another PORT or API_PORT"
            if replicas > 1
            else f"PORT and API_PORT are both {port}"
        )
    data_dir = _path(chosen.get("DATA_DIR", "data"), root)
    output_dir = _path(chosen["OUTPUT_DIR"], root) if "OUTPUT_DIR" in chosen else data_dir / "output"
    return StackSettings(
        port=port,
        bind=chosen.get("BIND", DEFAULT_BIND),
        data_dir=data_dir,
        output_dir=output_dir,
        api_port=api_port,
        given=given,
        replicas=replicas,
    )


def read_dotenv(path: Path) -> dict[str, str | None]:
    """A .env file's values (python-dotenv: the backend's own reading of it)."""
    from dotenv import dotenv_values

    return {key: value for key, value in dotenv_values(path).items() if key.isidentifier()}


def merged_environment(environ: Mapping[str, str], dotenv: Mapping[str, str | None]) -> dict[str, str]:
    """The environment with what .env adds (names unset or empty in the environment)."""
    env = dict(environ)
    for key, value in dotenv.items():
        if value is not None and not env.get(key):
            env[key] = value
    return env
