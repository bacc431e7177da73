"""Prompt history and templates (issue 15, item 7): distinct prompts of one's own tasks, searched as
History searches, most recent or most used first; shipped templates and styles in both languages;
a member's own templates, created, edited and deleted, theirs alone."""

from __future__ import annotations

from typing import Any

from app.services.prompt_templates import placeholders, shipped
from tests.api.test_users import ZH, guarded, make_member, signed_in  # noqa: F401
from tests.chinese import assert_chinese
from tests.conftest import Studio

DEMO = {"model": "demo", "width": 256, "height": 256}


async def _prompts(studio: Studio, **params: Any) -> list[tuple[str, int]]:
    response = await studio.client.get("/api/v1/prompts/history", params=params)
    assert response.status_code == 200, response.text
    return [(item["prompt"], item["uses"]) for item in response.json()["items"]]


async def test_prompt_history_is_deduplicated_ordered_and_searchable(studio: Studio) -> None:
    for prompt in ["a red fox in snow", "水墨山水 with a boat", "a red fox in snow", "Lighthouse at dusk",
                   "a red fox in snow", "水墨山水 with a boat", "fox"]:
        await studio.submit({**DEMO, "prompt": prompt})
    # Not only completed ones: a prompt still queued counts too.
    assert await _prompts(studio) == [
        ("fox", 1), ("水墨山水 with a boat", 2), ("a red fox in snow", 3), ("Lighthouse at dusk", 1)
    ]
    assert await _prompts(studio, order="uses") == [
        ("a red fox in snow", 3), ("水墨山水 with a boat", 2), ("fox", 1), ("Lighthouse at dusk", 1)
    ]
    # History's search: case-insensitive substring, any script, short queries too.
    assert await _prompts(studio, q="RED FOX") == [("a red fox in snow", 3)]
    assert await _prompts(studio, q="山水") == [("水墨山水 with a boat", 2)]
    assert await _prompts(studio, q="fox", order="uses") == [("a red fox in snow", 3), ("fox", 1)]
    assert await _prompts(studio, q="100%") == []
    assert await _prompts(studio, limit=2) == [("fox", 1), ("水墨山水 with a boat", 2)]
    item = (await studio.client.get("/api/v1/prompts/history", params={"limit": 1})).json()["items"][0]
    assert item["last_used_at"].endswith("Z") or "+00:00" in item["last_used_at"]
    for params in ({"order": "best"}, {"limit": 0}, {"limit": 101}, {"q": "x" * 501}):
        bad = await studio.client.get("/api/v1/prompts/history", params=params, headers=ZH)
        assert bad.status_code == 422, params
        error = bad.json()["error"]
        assert_chinese(error["message"], verbatim=[error["details"]["field"], "recent", "uses"])


async def test_prompt_history_is_per_member(guarded: Studio) -> None:  # noqa: F811
    await make_member(guarded, "alice")
    await make_member(guarded, "bob")
    async with signed_in(guarded, "alice") as alice, signed_in(guarded, "bob") as bob:
        assert (await alice.post("/api/v1/generate/text2image", json={**DEMO, "prompt": "alice's secret"})).status_code == 202
        assert (await bob.post("/api/v1/generate/text2image", json={**DEMO, "prompt": "bob's idea"})).status_code == 202
        assert [i["prompt"] for i in (await bob.get("/api/v1/prompts/history")).json()["items"]] == ["bob's idea"]
        assert (await bob.get("/api/v1/prompts/history", params={"q": "secret"})).json()["items"] == []


def test_the_shipped_presets_are_a_dozen_and_bilingual() -> None:
    views = shipped()
    assert len(views) >= 12
    assert {v.kind for v in views} == {"template", "style"}
    assert len({v.id for v in views}) == len(views)
    for view in views:
        assert view.id.startswith("builtin:")
        assert_chinese(view.name_zh, view.name) if view.name_zh != view.name else None
        assert_chinese(view.text_zh, view.text, verbatim=[*placeholders(view.text_zh), "Cinema"])
        # Both languages ask for the same things.
        assert len(placeholders(view.text)) == len(placeholders(view.text_zh))
        assert (view.kind == "template") == bool(placeholders(view.text)), view.id


def test_placeholders_are_found_once_in_order() -> None:
    assert placeholders("{product} on {surface}, by {product}") == ["product", "surface"]
    assert placeholders("{{literal}} and {主体}") == ["主体"]
    assert placeholders("no { placeholders } here {}") == []


async def test_templates_crud(studio: Studio) -> None:
    listed = (await studio.client.get("/api/v1/prompts/templates")).json()["items"]
    builtin = [t for t in listed if t["builtin"]]
    assert len(builtin) == len(listed) == len(shipped())
    product = next(t for t in builtin if t["id"] == "builtin:product-shot")
    assert product["placeholders"] == ["product", "surface"] and product["name_zh"] == "电商产品图"

    made = await studio.client.post(
        "/api/v1/prompts/templates", json={"kind": "template", "name": " My cat ", "text": "{cat} asleep on {place}"}
    )
    assert made.status_code == 201, made.text
    mine = made.json()
    assert (mine["name"], mine["builtin"], mine["placeholders"]) == ("My cat", False, ["cat", "place"])
    style = (await studio.client.post(
        "/api/v1/prompts/templates", json={"kind": "style", "name": "Moody", "text": "moody blue light"}
    )).json()
    edited = await studio.client.put(
        f"/api/v1/prompts/templates/{mine['id']}", json={"kind": "template", "name": "Cat", "text": "{cat} awake"}
    )
    assert edited.status_code == 200 and edited.json()["placeholders"] == ["cat"] and edited.json()["name"] == "Cat"
    listed = (await studio.client.get("/api/v1/prompts/templates")).json()["items"]
    assert [t["name"] for t in listed if not t["builtin"]] == ["Moody", "Cat"]  # styles, then templates, by name
    assert (await studio.client.delete(f"/api/v1/prompts/templates/{style['id']}")).status_code == 204
    gone = await studio.client.delete(f"/api/v1/prompts/templates/{style['id']}", headers=ZH)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "template_not_found"
    assert_chinese(gone.json()["error"]["message"], verbatim=[style["id"]])
    shipped_one = await studio.client.put(
        "/api/v1/prompts/templates/builtin:watercolor", json={"kind": "style", "name": "x", "text": "y"}, headers=ZH
    )
    assert shipped_one.status_code == 409 and shipped_one.json()["error"]["code"] == "template_builtin"
    assert_chinese(shipped_one.json()["error"]["message"])
    for body in (
        {"kind": "preset", "name": "a", "text": "b"}, {"kind": "style", "name": "", "text": "b"},
        {"kind": "style", "name": "a", "text": ""}, {"kind": "style", "name": "a", "text": "x" * 4001},
        {"kind": "style", "name": "a"}, {"kind": "style", "name": "a", "text": "b", "owner_id": "x"},
    ):
        bad = await studio.client.post("/api/v1/prompts/templates", json=body, headers=ZH)
        assert bad.status_code == 422, body
        assert_chinese(bad.json()["error"]["message"], verbatim=[bad.json()["error"]["details"]["field"], "template",
                                                                  "style"])


async def test_templates_are_per_member(guarded: Studio) -> None:  # noqa: F811
    await make_member(guarded, "alice")
    await make_member(guarded, "bob")
    async with signed_in(guarded, "alice") as alice, signed_in(guarded, "bob") as bob:
        body = {"kind": "style", "name": "Alice's look", "text": "pastel"}
        mine = (await alice.post("/api/v1/prompts/templates", json=body)).json()
        assert all(t["builtin"] for t in (await bob.get("/api/v1/prompts/templates")).json()["items"])
        assert (await bob.put(f"/api/v1/prompts/templates/{mine['id']}", json=body)).status_code == 404
        assert (await bob.delete(f"/api/v1/prompts/templates/{mine['id']}")).status_code == 404
        assert any(t["id"] == mine["id"] for t in (await alice.get("/api/v1/prompts/templates")).json()["items"])
