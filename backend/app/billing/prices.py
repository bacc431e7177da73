"""The price table: what one unit of each model costs, as data (prices.toml, PRICES_FILE).

Money is counted in integer micro-yuan (1 CNY = 1,000,000) everywhere it is stored or summed, so
sums never drift; Decimal only at the edges (reading the table, showing a figure).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

MICRO = 1_000_000
BUILTIN_PRICES = Path(__file__).with_name("prices.toml")

Unit = Literal["image", "call"]


class PriceTableError(ValueError):
    """The price file cannot be used (named in the message, with the entry at fault)."""


@dataclass(frozen=True, slots=True)
class Price:
    unit: Unit
    micro: int  # CNY per unit, in micro-yuan
    confirmed: bool
    source: str

    @property
    def cny(self) -> Decimal:
        return to_cny(self.micro)


@dataclass(frozen=True, slots=True)
class PriceTable:
    checked: str
    currency: str
    default: Price
    models: dict[str, Price]

    @classmethod
    def load(cls, override: Path | None = None) -> PriceTable:
        """The shipped table, with ``override`` (TOML or JSON, same shape) laid over it."""
        data = _read(BUILTIN_PRICES)
        if override is not None:
            extra = _read(override)
            data = {
                **data,
                **{k: v for k, v in extra.items() if k not in ("models", "default")},
                "default": {**data.get("default", {}), **extra.get("default", {})},
                "models": {**data.get("models", {}), **extra.get("models", {})},
            }
        source = str(override or BUILTIN_PRICES)
        models = data.get("models", {})
        if not isinstance(models, dict):
            raise PriceTableError(f"{source}: [models] must be a table of model id -> price")
        return cls(
            checked=str(data.get("checked", "")),
            currency=str(data.get("currency", "CNY")),
            default=_price(data.get("default"), "default", source),
            models={model: _price(entry, f"models.{model}", source) for model, entry in models.items()},
        )

    def price(self, model: str) -> Price:
        return self.models.get(model, self.default)

    def listed(self, model: str) -> bool:
        return model in self.models

    def gaps(self, units: dict[str, str]) -> tuple[list[str], list[str]]:
        """For the catalogue's ``{model id: price unit}``: the models this table has no entry for
        (counted at the default, shown unconfirmed) and those whose entry bills another unit."""
        missing = [model for model in units if model not in self.models]
        mismatched = [model for model, unit in units.items() if model in self.models and self.models[model].unit != unit]
        return missing, mismatched

    def cost(self, model: str, unit_price: int, *, billed_images: int, calls: int) -> int:
        """What a finished job cost, at the unit price accepted when it was submitted."""
        return (calls if self.price(model).unit == "call" else billed_images) * unit_price


def to_micro(value: Decimal | str | float) -> int:
    return int((Decimal(str(value)) * MICRO).to_integral_value())


def to_cny(micro: int) -> Decimal:
    return (Decimal(micro) / MICRO).quantize(Decimal("0.0001"))


def cny_float(micro: int) -> float:
    """For JSON: yuan with at most 4 decimals (prices go to 0.1 fen)."""
    return float(to_cny(micro))


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PriceTableError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        data = json.loads(raw) if path.suffix.lower() == ".json" else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise PriceTableError(f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'TOML'}: {exc}") from None
    if not isinstance(data, dict):
        raise PriceTableError(f"{path}: the top level must be a table")
    return data


def _price(entry: Any, where: str, source: str) -> Price:
    if not isinstance(entry, dict):
        raise PriceTableError(f"{source}: {where} must be a table with unit and cny")
    unit = entry.get("unit", "image")
    if unit not in ("image", "call"):
        raise PriceTableError(f"{source}: {where}.unit must be \"image\" or \"call\", not {unit!r}")
    try:
        amount = Decimal(str(entry.get("cny")))
    except InvalidOperation:
        raise PriceTableError(f"{source}: {where}.cny must be a number of yuan, not {entry.get('cny')!r}") from None
    if not amount.is_finite() or amount < 0 or amount > 10_000:
        raise PriceTableError(f"{source}: {where}.cny must be between 0 and 10000 yuan")
    return Price(
        unit=unit,
        micro=to_micro(amount),
        confirmed=bool(entry.get("confirmed", True)),
        source=str(entry.get("source", "")),
    )
