"""Reading the catalogue files: the shipped ``models.toml`` and the user's ``MODELS_FILE`` over it.

A user file has the shipped file's shape. A model whose id is already known overrides only the
fields it names (tables merge key by key, lists and values replace); a new id adds a model. The
merged result is checked as a whole, and an error names the file, the model and the field.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.providers.catalog.schema import CatalogFile, to_spec
from app.providers.catalog.specs import ModelSpec

BUILTIN_FILE = Path(__file__).with_name("models.toml")
_TOP_KEYS = {"preset_sets", "models"}


class CatalogFileError(ValueError):
    """A catalogue file cannot be used; the message names the file, model id and field."""


def load_specs(user_file: Path | None = None) -> tuple[ModelSpec, ...]:
    """The models of the shipped file, with ``user_file`` laid over it."""
    builtin = _read(BUILTIN_FILE)
    user = _read(user_file) if user_file is not None else {"models": []}
    user_ids = _ids(user, user_file or BUILTIN_FILE)
    _ids(builtin, BUILTIN_FILE)
    merged = _merge(builtin, user)
    try:
        checked = CatalogFile.model_validate(merged)
    except ValidationError as exc:
        raise CatalogFileError(_describe(exc, merged, user_ids, user_file)) from None
    for entry in checked.models:
        missing = [name for name in entry.sizes.preset_sets if name not in checked.preset_sets]
        if missing:
            where = user_file if entry.id in user_ids and user_file else BUILTIN_FILE
            raise CatalogFileError(
                f"{where}: model {entry.id!r}: field sizes.preset_sets: unknown preset set(s) {missing}; "
                f"known: {sorted(checked.preset_sets)}"
            )
    return tuple(to_spec(entry, checked.preset_sets, user_defined=entry.id in user_ids) for entry in checked.models)


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogFileError(f"{path}: cannot be read ({exc.strerror})") from None
    is_json = path.suffix.lower() == ".json"
    try:
        data = json.loads(raw) if is_json else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CatalogFileError(f"{path}: not valid {'JSON' if is_json else 'TOML'}: {exc}") from None
    if not isinstance(data, dict):
        raise CatalogFileError(f"{path}: the top level must be a table")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise CatalogFileError(f"{path}: unknown top-level key(s) {unknown}; use [preset_sets] and [[models]]")
    if not isinstance(data.get("models", []), list) or not isinstance(data.get("preset_sets", {}), dict):
        raise CatalogFileError(f"{path}: models must be an array of tables ([[models]]), preset_sets a table")
    return data


def _ids(data: Mapping[str, Any], path: Path) -> set[str]:
    seen: set[str] = set()
    for index, model in enumerate(data.get("models", [])):
        model_id = model.get("id") if isinstance(model, dict) else None
        if not isinstance(model_id, str) or not model_id:
            raise CatalogFileError(f"{path}: models[{index}]: field id: every model needs a string id")
        if model_id in seen:
            raise CatalogFileError(f"{path}: model {model_id!r}: listed twice")
        seen.add(model_id)
    return seen


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _merge(builtin: Mapping[str, Any], user: Mapping[str, Any]) -> dict[str, Any]:
    models: list[dict[str, Any]] = [dict(m) for m in builtin.get("models", [])]
    position = {m["id"]: i for i, m in enumerate(models)}
    for over in user.get("models", []):
        if over["id"] in position:
            index = position[over["id"]]
            models[index] = _deep_merge(models[index], over)
            continue
        # A new model goes after the last one of its provider, so lists stay grouped.
        same = [i for i, m in enumerate(models) if m.get("provider") == over.get("provider")]
        at = same[-1] + 1 if same else len(models)
        models.insert(at, dict(over))
        position = {m["id"]: i for i, m in enumerate(models)}
    return {
        "preset_sets": {**builtin.get("preset_sets", {}), **user.get("preset_sets", {})},
        "models": models,
    }


def _describe(exc: ValidationError, merged: Mapping[str, Any], user_ids: set[str], user_file: Path | None) -> str:
    lines: list[str] = []
    for error in exc.errors():
        loc = list(error["loc"])
        where: Path = BUILTIN_FILE
        subject = ""
        if len(loc) >= 2 and loc[0] == "models" and isinstance(loc[1], int):
            model_id = merged["models"][loc[1]].get("id", f"models[{loc[1]}]")
            if user_file is not None and model_id in user_ids:
                where = user_file
            subject = f"model {model_id!r}: "
            loc = loc[2:]
        elif loc and loc[0] == "preset_sets" and user_file is not None:
            where = user_file
        field = ".".join(str(part) for part in loc) or "(the model)"
        lines.append(f"{where}: {subject}field {field}: {error['msg']}")
    return "\n".join(lines)
