"""The layering rules, checked on the source (so a new import cannot quietly break them)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"

# Lower layers never reach up: they are used by services and routes, never the other way round.
FORBIDDEN = {
    "providers": ("app.schemas", "app.api", "app.services", "app.jobs", "app.main"),
    "storage": ("app.schemas", "app.api", "app.services", "app.jobs", "app.providers", "app.main"),
    "core": ("app.schemas", "app.api", "app.services", "app.jobs", "app.providers", "app.storage", "app.main"),
    "models": ("app.schemas", "app.api", "app.services", "app.jobs", "app.main"),
    "jobs": ("app.api", "app.services", "app.main"),
    "billing": ("app.schemas", "app.api", "app.services", "app.jobs", "app.providers", "app.storage", "app.main"),
    "services": ("app.api", "app.main"),
    # The command line is a client of the HTTP API only: it works against any studio, local or not.
    "cli": (
        "app.api", "app.main", "app.services", "app.jobs", "app.providers", "app.storage", "app.models",
        "app.core", "app.schemas", "app.billing",
    ),
}


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_never_imports_upward(layer: str) -> None:
    bad = [
        f"{path.relative_to(APP)} imports {name}"
        for path in sorted((APP / layer).rglob("*.py"))
        for name in _imports(path)
        if name.startswith(FORBIDDEN[layer])
    ]
    assert bad == []


def test_route_modules_do_not_import_each_other() -> None:
    bad = [
        f"{path.name} imports {name}"
        for path in sorted((APP / "api" / "routes").glob("*.py"))
        for name in _imports(path)
        if name.startswith("app.api.routes")
    ]
    assert bad == []


def test_wiring_imports_without_building_an_app() -> None:
    code = (
        "import sys, app.services.container, app.worker; "
        "assert 'app.main' not in sys.modules, 'importing the wiring built the FastAPI app'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=APP.parent, timeout=60)


def test_nothing_imports_private_names_from_main() -> None:
    bad = []
    for path in sorted(APP.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "app.main":
                bad += [f"{path.relative_to(APP)}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert bad == []
