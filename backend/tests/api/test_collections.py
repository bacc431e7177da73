"""Ratings and collections (issue 15, item 11): rate and collect history items, filter History by
both (cursor pages kept), zip a collection with each image's rating and collections, and keep
every member's collections their own."""

from __future__ import annotations

import io
import zipfile
from typing import Any
from urllib.parse import unquote

import orjson

from tests.api.test_users import ADMIN, ZH, generate, guarded, make_member, signed_in  # noqa: F401
from tests.chinese import assert_chinese
from tests.conftest import Studio

DEMO = {"model": "demo", "width": 256, "height": 256}


async def _done(studio: Studio, prompt: str) -> str:
    task_id = await studio.submit({**DEMO, "prompt": prompt})
    return task_id


async def _history(studio: Studio, **params: Any) -> dict[str, Any]:
    response = await studio.client.get("/api/v1/history", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_rating_is_set_cleared_and_filtered(studio: Studio) -> None:
    ids = [await _done(studio, f"rated {i}") for i in range(4)]
    await studio.run_jobs()
    for task_id, stars in zip(ids, (5, 3, 4), strict=False):
        response = await studio.client.patch(f"/api/v1/history/{task_id}", json={"rating": stars})
        assert response.status_code == 200
        assert response.json()["rating"] == stars
        assert response.json()["favorite"] is False  # left as it was
    assert (await studio.task(ids[3]))["rating"] is None

    at_least_4 = await _history(studio, min_rating=4)
    assert [t["task_id"] for t in at_least_4["items"]] == [ids[2], ids[0]] and at_least_4["total"] == 2
    # Favourite and rating together, then the rating cleared with null.
    both = await studio.client.patch(f"/api/v1/history/{ids[1]}", json={"favorite": True, "rating": 2})
    assert both.json()["favorite"] is True and both.json()["rating"] == 2
    cleared = await studio.client.patch(f"/api/v1/history/{ids[1]}", json={"rating": None})
    assert cleared.json()["rating"] is None and cleared.json()["favorite"] is True
    assert (await _history(studio, min_rating=1))["total"] == 2


async def test_bad_ratings_are_422_in_both_languages(studio: Studio) -> None:
    task_id = await _done(studio, "bad rating")
    await studio.run_jobs()
    for body in ({"rating": 0}, {"rating": 6}, {"rating": "five"}, {}, {"favorite": None}, {"stars": 3}):
        response = await studio.client.patch(f"/api/v1/history/{task_id}", json=body, headers=ZH)
        assert response.status_code == 422, (body, response.text)
        error = response.json()["error"]
        assert_chinese(error["message"], verbatim=[error["details"]["field"], "true", "false"])
    assert (await studio.client.get("/api/v1/history", params={"min_rating": 9})).status_code == 422


async def test_collections_crud_membership_and_history_filter(studio: Studio) -> None:
    ids = [await _done(studio, f"album item {i}") for i in range(5)]
    await studio.run_jobs()
    made = await studio.client.post("/api/v1/collections", json={"name": "  Lighthouses  "})
    assert made.status_code == 201, made.text
    lighthouses = made.json()
    assert lighthouses["name"] == "Lighthouses" and lighthouses["count"] == 0 and lighthouses["cover_url"] is None
    other = (await studio.client.post("/api/v1/collections", json={"name": "海边"})).json()

    added = await studio.client.post(f"/api/v1/collections/{lighthouses['id']}/items", json={"task_ids": ids[:4]})
    assert added.status_code == 200
    assert added.json()["changed"] == 4 and added.json()["collection"]["count"] == 4
    assert added.json()["collection"]["cover_url"].startswith("/images/")
    again = await studio.client.post(f"/api/v1/collections/{lighthouses['id']}/items", json={"task_ids": ids[:2]})
    assert again.json()["changed"] == 0 and again.json()["collection"]["count"] == 4
    # One image in several collections.
    await studio.client.post(f"/api/v1/collections/{other['id']}/items", json={"task_ids": [ids[1]]})
    task = await studio.task(ids[1])
    assert sorted(task["collection_ids"]) == sorted([lighthouses["id"], other["id"]])

    # History by collection: newest first, cursor pages kept.
    page1 = await _history(studio, collection=lighthouses["id"], page_size=3)
    assert page1["total"] == 4 and [t["task_id"] for t in page1["items"]] == [ids[3], ids[2], ids[1]]
    assert page1["items"][2]["collection_ids"] is not None
    page2 = await _history(studio, collection=lighthouses["id"], page_size=3, cursor=page1["next_cursor"])
    assert [t["task_id"] for t in page2["items"]] == [ids[0]] and page2["next_cursor"] is None
    # Combined with a rating filter and a search.
    await studio.client.patch(f"/api/v1/history/{ids[2]}", json={"rating": 5})
    both = await _history(studio, collection=lighthouses["id"], min_rating=4, q="album")
    assert [t["task_id"] for t in both["items"]] == [ids[2]]

    removed = await studio.client.post(
        f"/api/v1/collections/{lighthouses['id']}/items/remove", json={"task_ids": [ids[0], ids[4]]}
    )
    assert removed.json()["changed"] == 1 and removed.json()["collection"]["count"] == 3

    renamed = await studio.client.patch(f"/api/v1/collections/{lighthouses['id']}", json={"name": "灯塔"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "灯塔" and renamed.json()["count"] == 3
    listed = (await studio.client.get("/api/v1/collections")).json()["items"]
    assert [(c["name"], c["count"]) for c in listed] == [("海边", 1), ("灯塔", 3)]

    # Deleting a history item takes it out of its collections; deleting a collection keeps the items.
    assert (await studio.client.delete(f"/api/v1/history/{ids[1]}")).status_code == 204
    listed = (await studio.client.get("/api/v1/collections")).json()["items"]
    assert [(c["name"], c["count"]) for c in listed] == [("海边", 0), ("灯塔", 2)]
    assert (await studio.client.delete(f"/api/v1/collections/{lighthouses['id']}")).status_code == 204
    assert (await _history(studio))["total"] == 4
    gone = await studio.client.get("/api/v1/history", params={"collection": lighthouses["id"]}, headers=ZH)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "collection_not_found"
    assert_chinese(gone.json()["error"]["message"], verbatim=[lighthouses["id"]])


async def test_collection_names_are_validated_and_unique(studio: Studio) -> None:
    assert (await studio.client.post("/api/v1/collections", json={"name": "Cats"})).status_code == 201
    dup = await studio.client.post("/api/v1/collections", json={"name": "Cats"}, headers=ZH)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "collection_exists"
    assert_chinese(dup.json()["error"]["message"], verbatim=["Cats"])
    dogs = (await studio.client.post("/api/v1/collections", json={"name": "Dogs"})).json()
    clash = await studio.client.patch(f"/api/v1/collections/{dogs['id']}", json={"name": "Cats"})
    assert clash.status_code == 409
    for body in ({"name": ""}, {"name": "   "}, {"name": "x" * 101}, {"name": "a\nb"}, {}, {"name": "ok", "x": 1}):
        response = await studio.client.post("/api/v1/collections", json=body, headers=ZH)
        assert response.status_code == 422, (body, response.text)
        error = response.json()["error"]
        assert_chinese(error["message"], verbatim=[error["details"]["field"], "true", "false"])
    unknown = await studio.client.post(f"/api/v1/collections/{dogs['id']}/items", json={"task_ids": ["nope"]})
    assert unknown.status_code == 404 and unknown.json()["error"]["details"]["missing"] == ["nope"]
    empty = await studio.client.get(f"/api/v1/collections/{dogs['id']}/download", headers=ZH)
    assert empty.status_code == 409 and empty.json()["error"]["code"] == "collection_empty"
    assert_chinese(empty.json()["error"]["message"])


def _zip(content: bytes) -> tuple[zipfile.ZipFile, list[dict[str, Any]]]:
    archive = zipfile.ZipFile(io.BytesIO(content))
    return archive, orjson.loads(archive.read("metadata.json"))


async def test_zips_carry_ratings_and_collections(studio: Studio) -> None:
    ids = [await _done(studio, f"zip me {i}") for i in range(3)]
    await studio.run_jobs()
    birds = (await studio.client.post("/api/v1/collections", json={"name": "Birds"})).json()
    sea = (await studio.client.post("/api/v1/collections", json={"name": "海鸟"})).json()
    await studio.client.post(f"/api/v1/collections/{birds['id']}/items", json={"task_ids": ids[:2]})
    await studio.client.post(f"/api/v1/collections/{sea['id']}/items", json={"task_ids": [ids[1]]})
    await studio.client.patch(f"/api/v1/history/{ids[1]}", json={"rating": 4})

    response = await studio.client.get(f"/api/v1/collections/{birds['id']}/download")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="') and disposition.endswith("_birds.zip")
    archive, manifest = _zip(response.content)
    assert [m["task_id"] for m in manifest] == [ids[1], ids[0]]  # newest first, the whole collection
    assert [(m["rating"], m["collections"]) for m in manifest] == [(4, ["Birds", "海鸟"]), (None, ["Birds"])]
    images = [info for info in archive.infolist() if info.filename != "metadata.json"]
    assert [info.filename for info in images] == [m["file"] for m in manifest]
    assert [info.comment.decode("utf-8") for info in images] == [
        "rating 4/5; collections: Birds, 海鸟", "not rated; collections: Birds"
    ]
    assert archive.testzip() is None

    # A Chinese name: RFC 6266's filename* carries it, the plain one stays ASCII.
    chinese = await studio.client.get(f"/api/v1/collections/{sea['id']}/download")
    assert unquote(chinese.headers["content-disposition"].split("filename*=UTF-8''")[1]).endswith("_海鸟.zip")
    assert chinese.headers["content-disposition"].isascii()

    # The History selection zip too.
    picked = await studio.client.post("/api/v1/history/download", json={"ids": [ids[2], ids[1]]})
    _, manifest = _zip(picked.content)
    assert [(m["task_id"], m["rating"], m["collections"]) for m in manifest] == [
        (ids[2], None, []), (ids[1], 4, ["Birds", "海鸟"])
    ]


async def test_members_collections_and_ratings_are_their_own(guarded: Studio) -> None:  # noqa: F811
    await make_member(guarded, "alice")
    await make_member(guarded, "bob")
    async with signed_in(guarded, "alice") as alice, signed_in(guarded, "bob") as bob:
        mine = (await generate(guarded, alice, "alice's heron"))["task_id"]
        theirs = (await generate(guarded, bob, "bob's gull"))["task_id"]
        album = (await alice.post("/api/v1/collections", json={"name": "Herons"})).json()
        await alice.post(f"/api/v1/collections/{album['id']}/items", json={"task_ids": [mine]})
        # Bob may use the same name; his list holds only his.
        assert (await bob.post("/api/v1/collections", json={"name": "Herons"})).status_code == 201
        assert [c["name"] for c in (await bob.get("/api/v1/collections")).json()["items"]] == ["Herons"]
        assert (await bob.get("/api/v1/collections")).json()["items"][0]["id"] != album["id"]

        cid = album["id"]
        for method, path, body in [
            ("PATCH", f"/api/v1/collections/{cid}", {"name": "mine now"}),
            ("DELETE", f"/api/v1/collections/{cid}", None),
            ("POST", f"/api/v1/collections/{cid}/items", {"task_ids": [theirs]}),
            ("POST", f"/api/v1/collections/{cid}/items/remove", {"task_ids": [mine]}),
            ("GET", f"/api/v1/collections/{cid}/download", None),
            ("GET", f"/api/v1/history?collection={cid}", None),
            ("PATCH", f"/api/v1/history/{mine}", {"rating": 1}),
        ]:
            response = await bob.request(method, path, json=body)
            assert response.status_code == 404, (method, path, response.text)
        # Nor can Bob put Alice's task into his own collection.
        his = (await bob.get("/api/v1/collections")).json()["items"][0]["id"]
        refused = await bob.post(f"/api/v1/collections/{his}/items", json={"task_ids": [mine]})
        assert refused.status_code == 404
        # Alice's collection is untouched, and her task shows only her collection ids.
        assert (await alice.get(f"/api/v1/tasks/{mine}")).json()["collection_ids"] == [cid]
        assert (await alice.get("/api/v1/collections")).json()["items"][0]["count"] == 1
        # The admin sees every task but has collections of their own (none).
        admin_view = await guarded.client.get(f"/api/v1/tasks/{mine}", headers=ADMIN)
        assert admin_view.json()["collection_ids"] == []
        assert (await guarded.client.get(f"/api/v1/collections/{cid}/download", headers=ADMIN)).status_code == 404
