"""Spend through the API with the fake Ark: estimates, actual cost, usage figures, budgets that hold."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import Studio, StudioFactory
from tests.fakes.ark import FakeArkServer

ARK_KEY = "ark-usage-key"
SEEDREAM_40 = "doubao-seedream-4-0-250828"
GEN = "images.generations"


@pytest.fixture
async def fake_ark() -> AsyncIterator[FakeArkServer]:
    async with FakeArkServer(api_key=ARK_KEY) as fake:
        yield fake


async def ark_studio(factory: StudioFactory, fake: FakeArkServer, **settings: object) -> Studio:
    studio: Studio = await factory(
        ark_api_key=ARK_KEY, ark_base_url=fake.base_url, result_url_hosts=["127.0.0.1"], **settings
    )
    return studio


async def test_five_jobs_fill_a_one_yuan_day_and_the_sixth_is_refused_before_any_call(
    studio_factory: StudioFactory, fake_ark: FakeArkServer
) -> None:
    studio = await ark_studio(studio_factory, fake_ark, budget_daily_cny=1.0)
    for i in range(5):
        task_id = await studio.submit({"model": SEEDREAM_40, "prompt": f"job {i}", "size": "2K"})
        await studio.run_jobs()
        task = await studio.task(task_id)
        assert task["status"] == "completed"
        assert (task["billed_images"], task["cost_cny"], task["unit_price_cny"]) == (1, 0.2, 0.2)

    usage = (await studio.client.get("/api/v1/usage", params={"group_by": "day"})).json()
    today = usage["rows"][-1]
    assert (today["images"], today["cost_cny"]) == (5, 1.0)
    assert (usage["images"], usage["cost_cny"]) == (5, 1.0)

    refused = await studio.client.post(
        "/api/v1/generate/text2image",
        json={"model": SEEDREAM_40, "prompt": "one too many"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "budget_exceeded"
    assert "每日预算 1 元" in error["message"] and "剩 0 元" in error["message"]
    assert error["details"]["left_cny"] == 0 and error["details"]["cost_max_cny"] == 0.2
    await studio.run_jobs()
    assert fake_ark.stats.actions[GEN] == 5

    summary = (await studio.client.get("/api/v1/usage/summary")).json()
    daily = summary["budgets"][0]
    assert summary["today_cny"] == 1.0 and daily["spent_cny"] == 1.0 and daily["warning"] is True
    assert daily["reserved_cny"] == 0 and daily["left_cny"] == 0


async def test_a_group_reserves_its_maximum_and_settles_at_what_was_produced(
    studio_factory: StudioFactory, fake_ark: FakeArkServer
) -> None:
    studio = await ark_studio(studio_factory, fake_ark, budget_daily_cny=10.0)
    task_id = await studio.submit(
        {"model": SEEDREAM_40, "prompt": "four, one refused [fault:partial:2]", "group": {"max_images": 4}}
    )
    pending = await studio.task(task_id)
    assert pending["cost_max_cny"] == 0.8 and pending["cost_cny"] is None
    summary = (await studio.client.get("/api/v1/usage/summary")).json()
    assert summary["budgets"][0]["reserved_cny"] == 0.8

    await studio.run_jobs()
    task = await studio.task(task_id)
    assert len(task["outputs"]) == 3
    # The stream's usage says 3 images were generated (and billed).
    assert (task["billed_images"], task["cost_cny"]) == (3, 0.6)
    summary = (await studio.client.get("/api/v1/usage/summary")).json()
    assert summary["budgets"][0]["reserved_cny"] == 0 and summary["budgets"][0]["spent_cny"] == 0.6


async def test_fifty_parallel_submits_against_ten_images_admit_exactly_ten(
    studio_factory: StudioFactory, fake_ark: FakeArkServer
) -> None:
    studio = await ark_studio(studio_factory, fake_ark, budget_daily_cny=2.0)  # 10 x 0.20

    async def submit(i: int) -> int:
        r = await studio.client.post("/api/v1/generate/text2image", json={"model": SEEDREAM_40, "prompt": f"p{i}"})
        return r.status_code

    statuses = Counter(await asyncio.gather(*(submit(i) for i in range(50))))
    assert statuses == {202: 10, 402: 40}
    await studio.run_jobs()
    assert fake_ark.stats.actions[GEN] == 10
    summary = (await studio.client.get("/api/v1/usage/summary")).json()
    assert summary["budgets"][0]["spent_cny"] == 2.0 and summary["budgets"][0]["reserved_cny"] == 0


async def test_a_job_that_fails_before_any_image_costs_nothing_and_frees_its_reservation(
    studio_factory: StudioFactory, fake_ark: FakeArkServer
) -> None:
    studio = await ark_studio(studio_factory, fake_ark, budget_daily_cny=0.2)
    task_id = await studio.submit({"model": SEEDREAM_40, "prompt": "refused [fault:moderation-input]"})
    await studio.run_jobs()
    task = await studio.task(task_id)
    assert task["status"] == "failed" and (task["billed_images"], task["cost_cny"]) == (0, 0)
    # The whole budget is there again.
    await studio.submit({"model": SEEDREAM_40, "prompt": "now it fits"})


async def test_budgets_saved_in_settings_win_over_the_environment(
    studio_factory: StudioFactory, fake_ark: FakeArkServer
) -> None:
    studio = await ark_studio(studio_factory, fake_ark, budget_daily_cny=0.1)
    assert (await studio.client.get("/api/v1/usage/budgets")).json() == {"daily_cny": 0.1, "monthly_cny": None}
    assert (await studio.client.post("/api/v1/generate/text2image", json={"model": SEEDREAM_40, "prompt": "x"})).status_code == 402
    saved = await studio.client.put("/api/v1/usage/budgets", json={"daily_cny": None, "monthly_cny": 0.5})
    assert saved.json() == {"daily_cny": None, "monthly_cny": 0.5}
    assert (await studio.client.post("/api/v1/generate/text2image", json={"model": SEEDREAM_40, "prompt": "y"})).status_code == 202
    bad = await studio.client.put("/api/v1/usage/budgets", json={"daily_cny": -1})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"


async def test_estimate_prices_and_csv(studio_factory: StudioFactory, fake_ark: FakeArkServer, tmp_path: Path) -> None:
    override = tmp_path / "prices.toml"
    override.write_text('[models."doubao-seedream-4-0-250828"]\nunit = "image"\ncny = "0.3"\n')
    studio = await ark_studio(studio_factory, fake_ark, prices_file=override)
    estimate = await studio.client.post(
        "/api/v1/usage/estimate", json={"model": SEEDREAM_40, "prompt": "p", "group": {"max_images": 6}}
    )
    assert estimate.json() | {} == {
        "model": SEEDREAM_40, "images_max": 6, "unit": "image", "unit_price_cny": 0.3, "cost_max_cny": 1.8,
        "confirmed": True,
    }
    assert (await studio.client.post("/api/v1/usage/estimate", json={"model": "demo", "prompt": "p", "num_images": 4})).json()["cost_max_cny"] == 0
    unknown = await studio.client.post("/api/v1/usage/estimate", json={"model": "nope", "prompt": "p"})
    assert unknown.status_code == 422
    prices = (await studio.client.get("/api/v1/usage/prices")).json()
    assert prices["models"][SEEDREAM_40]["cny"] == 0.3 and prices["models"]["demo"]["cny"] == 0

    await studio.submit({"model": SEEDREAM_40, "prompt": "one"})
    await studio.submit({"model": "demo", "prompt": "free", "num_images": 2})
    await studio.run_jobs()
    by_model = (await studio.client.get("/api/v1/usage", params={"group_by": "model"})).json()["rows"]
    assert by_model == [
        {"key": SEEDREAM_40, "images": 1, "cost_cny": 0.3},
        {"key": "demo", "images": 2, "cost_cny": 0},
    ]
    csv = await studio.client.get("/api/v1/usage", params={"group_by": "model", "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines() == ["model,images,cost_cny", f"{SEEDREAM_40},1,0.3000", "demo,2,0.0000"]
    days = (await studio.client.get("/api/v1/usage", params={"from": "2026-11-01", "to": "2026-11-03"})).json()
    assert [r["key"] for r in days["rows"]] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    backwards = await studio.client.get("/api/v1/usage", params={"from": "2026-11-03", "to": "2026-11-01"})
    assert backwards.status_code == 422
