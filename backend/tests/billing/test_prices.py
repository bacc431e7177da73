"""The price table as data: shipped values, overrides by file, refusals with the entry named."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.billing.budget import CapState, day_bounds, local_day, periods
from app.billing.prices import PriceTable, PriceTableError, cny_float, to_micro
from app.providers.catalog.builtin import BUILTIN_MODELS

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_every_builtin_model_has_a_price_and_the_demo_is_free() -> None:
    table = PriceTable.load()
    assert {spec.id for spec in BUILTIN_MODELS} <= set(table.models)
    assert table.price("demo").micro == 0
    assert table.price("doubao-seedream-4-0-250828").cny == Decimal("0.2000")
    assert table.price("doubao-seedream-4-5-251128").cny == Decimal("0.2500")
    assert table.price("doubao-seededit-3-0-i2i-250628").cny == Decimal("0.3000")
    assert table.price("jimeng_t2i_v40").cny == Decimal("0.2200")
    assert table.checked == "2026-11-30"
    # An endpoint nobody priced is counted, not free.
    assert table.price("ep-unknown").micro > 0 and not table.listed("ep-unknown")


def test_a_toml_file_overrides_entries_and_keeps_the_rest(tmp_path: Path) -> None:
    override = tmp_path / "prices.toml"
    override.write_text('checked = "2027-01-01"\n[models."doubao-seedream-4-0-250828"]\nunit = "image"\ncny = 0.18\n'
                        '[models."ep-mine"]\nunit = "call"\ncny = "1.5"\n')
    table = PriceTable.load(override)
    assert table.checked == "2027-01-01"
    assert table.price("doubao-seedream-4-0-250828").micro == 180_000
    assert table.price("doubao-seedream-4-5-251128").micro == 250_000
    assert table.price("ep-mine").unit == "call"
    assert table.cost("ep-mine", 1_500_000, billed_images=4, calls=1) == 1_500_000
    assert table.cost("doubao-seedream-4-0-250828", 180_000, billed_images=4, calls=1) == 720_000


def test_a_json_file_works_too(tmp_path: Path) -> None:
    override = tmp_path / "prices.json"
    override.write_text(json.dumps({"default": {"unit": "image", "cny": 0.5}}))
    assert PriceTable.load(override).price("anything").micro == 500_000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[models.x]\nunit = "frame"\ncny = 1\n', "models.x.unit"),
        ('[models.x]\nunit = "image"\ncny = "cheap"\n', "models.x.cny"),
        ('[models.x]\nunit = "image"\ncny = -1\n', "models.x.cny"),
        ("[models\n", "not valid TOML"),
    ],
)
def test_bad_files_are_refused_naming_the_entry(tmp_path: Path, text: str, message: str) -> None:
    override = tmp_path / "p.toml"
    override.write_text(text)
    with pytest.raises(PriceTableError, match=message):
        PriceTable.load(override)


def test_money_is_exact() -> None:
    assert to_micro("0.259") == 259_000
    assert sum(to_micro("0.1") for _ in range(10)) == to_micro("1.0")
    assert cny_float(5 * to_micro("0.2")) == 1.0


def test_billing_days_follow_the_zone() -> None:
    start, end = day_bounds(date(2026, 11, 30), SHANGHAI)
    assert start == datetime(2026, 11, 29, 16, 0, tzinfo=UTC) and end == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    # 23:30 UTC is already the next day in Beijing.
    assert local_day(datetime(2026, 11, 30, 23, 30, tzinfo=UTC), SHANGHAI) == date(2026, 12, 1)
    today, month = periods(datetime(2026, 11, 30, 23, 30, tzinfo=UTC), SHANGHAI)
    assert today.start == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert month.start == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 1 December, Beijing
    assert month.end == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


def test_a_day_with_a_clock_change_is_not_24_hours() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start, end = day_bounds(date(2026, 10, 25), berlin)
    assert (end - start).total_seconds() == 25 * 3600


def test_cap_states() -> None:
    state = CapState("daily", cap=1_000_000, spent=600_000, reserved=200_000)
    assert state.fits(200_000) and not state.fits(200_001)
    assert state.left == 200_000 and state.warning
    assert CapState("daily", cap=None, spent=10**9, reserved=0).fits(10**9)
    assert not CapState("daily", cap=1_000_000, spent=700_000, reserved=0).warning
