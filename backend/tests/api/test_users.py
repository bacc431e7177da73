"""Accounts (issue 14, items 1-4): the first admin from the password, members an admin creates,
disables and resets, isolation of everything a member owns (404 for another's), the
single-password and password-less installs as before, and personal API tokens."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from app.models.task import Task
from app.models.user import ApiToken, User
from tests.api.test_live_channel import read_events, serving
from tests.chinese import assert_chinese
from tests.conftest import Studio, StudioFactory
from tests.fakes.ark import FakeArkServer

PASSWORD = "open-sesame-4b1e"
DEMO = {"model": "demo", "prompt": "a quiet harbour", "width": 256, "height": 256}
ADMIN = {"Authorization": f"Bearer {PASSWORD}"}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
ARK_KEY = "ark-test-key-members-5e2"
SEEDREAM_40 = "doubao-seedream-4-0-250828"


@pytest.fixture
async def guarded(studio_factory: StudioFactory) -> Studio:
    studio: Studio = await studio_factory(app_password=PASSWORD)
    return studio


def client_of(studio: Studio) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=studio.app), base_url="http://testserver")


async def make_member(studio: Studio, name: str, password: str = "member-pass-1") -> dict[str, Any]:
    response = await studio.client.post("/api/v1/users", json={"username": name, "password": password}, headers=ADMIN)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@asynccontextmanager
async def signed_in(studio: Studio, name: str, password: str = "member-pass-1") -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(studio) as client:
        response = await client.post("/api/v1/auth/login", json={"username": name, "password": password})
        assert response.status_code == 204, response.text
        assert client.cookies.get("studio_session")
        yield client


async def generate(studio: Studio, client: httpx.AsyncClient, prompt: str) -> dict[str, Any]:
    response = await client.post("/api/v1/generate/text2image", json={**DEMO, "prompt": prompt})
    assert response.status_code == 202, response.text
    await studio.run_jobs()
    task = await client.get(f"/api/v1/tasks/{response.json()['task_id']}")
    assert task.status_code == 200
    body: dict[str, Any] = task.json()
    assert body["status"] == "completed"
    return body


# --- 1. accounts -----------------------------------------------------------------------------------


async def test_the_password_alone_still_signs_in_as_the_admin(guarded: Studio) -> None:
    client = client_of(guarded)
    async with client:
        assert (await client.post("/api/v1/auth/login", json={"password": PASSWORD})).status_code == 204
        status = (await client.get("/api/v1/auth/status")).json()
        assert status["authenticated"] is True
        assert status["user"]["username"] == "admin" and status["user"]["role"] == "admin"
        # And with the admin's user name.
        client.cookies.clear()
        response = await client.post("/api/v1/auth/login", json={"username": "Admin", "password": PASSWORD})
        assert response.status_code == 204
        assert (await client.get("/api/v1/users/me")).json()["role"] == "admin"


async def test_an_admin_creates_members_who_sign_in_with_their_name(guarded: Studio) -> None:
    alice = await make_member(guarded, "Alice")
    assert alice["username"] == "alice" and alice["role"] == "member" and alice["configured"] is False
    async with signed_in(guarded, "alice") as client:
        assert (await client.get("/api/v1/users/me")).json() == {"id": alice["id"], "username": "alice", "role": "member"}
        # A member is no admin: 403 with a code and both languages.
        refused = await client.get("/api/v1/users", headers=ZH)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
        assert_chinese(refused.json()["error"]["message"])
        assert (await client.put("/api/v1/usage/budgets", json={"daily_cny": 1})).status_code == 403
    # Stored as argon2id, never as the password.
    async with guarded.services.db.read() as session:
        row = (await session.execute(select(User).where(User.username == "alice"))).scalar_one()
    assert row.password_hash is not None and row.password_hash.startswith("$argon2id$")
    listed = (await guarded.client.get("/api/v1/users", headers=ADMIN)).json()["items"]
    assert [u["username"] for u in listed] == ["admin", "alice"]
    assert listed[0]["configured"] is True


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"username": "bob", "password": "short"}, 422, "invalid_request"),
        ({"username": "no spaces", "password": "long-enough-1"}, 422, "invalid_request"),
        ({"username": "admin", "password": "long-enough-1"}, 409, "conflict"),
        ({"username": "bob", "password": "long-enough-1", "role": "owner"}, 422, "invalid_request"),
    ],
)
async def test_bad_accounts_are_refused_with_a_code(guarded: Studio, body: dict[str, Any], status: int, code: str) -> None:
    response = await guarded.client.post("/api/v1/users", json=body, headers={**ADMIN, **ZH})
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


async def test_wrong_passwords_are_refused_and_counted(guarded: Studio) -> None:
    await make_member(guarded, "carol")
    async with client_of(guarded) as client:
        wrong = await client.post("/api/v1/auth/login", json={"username": "carol", "password": "nope-nope-1"}, headers=ZH)
        assert wrong.status_code == 401
        assert_chinese(wrong.json()["error"]["message"])
        # An unknown name is told exactly what a wrong password is (no list of names to probe).
        unknown = await client.post("/api/v1/auth/login", json={"username": "nobody", "password": "nope-nope-2"}, headers=ZH)
        assert unknown.status_code == 401 and unknown.json() == wrong.json()
        for attempt in range(5):
            await client.post("/api/v1/auth/login", json={"username": "carol", "password": f"guess-{attempt}-x"})
        locked = await client.post("/api/v1/auth/login", json={"username": "carol", "password": "member-pass-1"})
        assert locked.status_code == 429


async def test_disabling_or_resetting_a_member_ends_their_sessions(guarded: Studio) -> None:
    dave = await make_member(guarded, "dave")
    async with signed_in(guarded, "dave") as client:
        assert (await client.get("/api/v1/tasks")).status_code == 200
        reset = await guarded.client.patch(f"/api/v1/users/{dave['id']}", json={"password": "new-pass-22"}, headers=ADMIN)
        assert reset.status_code == 200
        assert (await client.get("/api/v1/tasks")).status_code == 401
    async with signed_in(guarded, "dave", "new-pass-22") as client:
        disabled = await guarded.client.patch(f"/api/v1/users/{dave['id']}", json={"disabled": True}, headers=ADMIN)
        assert disabled.json()["disabled"] is True
        assert (await client.get("/api/v1/tasks")).status_code == 401
        again = await client.post("/api/v1/auth/login", json={"username": "dave", "password": "new-pass-22"})
        assert again.status_code == 401
    # The environment's admin cannot be disabled from the database.
    admin_id = guarded.services.users.admin.user_id
    refused = await guarded.client.patch(f"/api/v1/users/{admin_id}", json={"disabled": True}, headers={**ADMIN, **ZH})
    assert refused.status_code == 409
    assert_chinese(refused.json()["error"]["message"])


async def test_without_a_password_everyone_is_the_local_admin(studio: Studio) -> None:
    status = (await studio.client.get("/api/v1/auth/status")).json()
    assert status == {
        "auth_required": False,
        "authenticated": True,
        "user": {"id": studio.services.users.admin.user_id, "username": "admin", "role": "admin"},
    }
    task_id = await studio.submit(DEMO)
    async with studio.services.db.read() as session:
        owner = (await session.execute(select(Task.owner_id).where(Task.id == task_id))).scalar_one()
    assert owner == studio.services.users.admin.user_id
    # Accounts would protect nothing without sign-in: refused, in both languages.
    refused = await studio.client.post("/api/v1/users", json={"username": "eve", "password": "long-enough-1"}, headers=ZH)
    assert refused.status_code == 409
    assert_chinese(refused.json()["error"]["message"])


async def test_rows_from_before_accounts_belong_to_the_first_admin(studio_factory: StudioFactory, tmp_path: Any) -> None:
    first: Studio = await studio_factory(data_dir=tmp_path / "d")
    task_id = await first.submit(DEMO)
    # As the migration leaves them: no owner.
    await first.services.db.run_write(
        lambda s: s.execute(Task.__table__.update().values(owner_id=None))  # type: ignore[attr-defined]
    )
    await first.services.users.bootstrap("admin")
    async with first.services.db.read() as session:
        owner = (await session.execute(select(Task.owner_id).where(Task.id == task_id))).scalar_one()
    assert owner == first.services.users.admin.user_id


# --- 2. isolation ----------------------------------------------------------------------------------


async def test_two_members_cannot_see_each_others_things(guarded: Studio) -> None:
    await make_member(guarded, "alice")
    await make_member(guarded, "bob")
    async with signed_in(guarded, "alice") as alice, signed_in(guarded, "bob") as bob:
        mine = await generate(guarded, alice, "alice's lighthouse")
        theirs = await generate(guarded, bob, "bob's windmill")
        task_id, image_url = mine["task_id"], mine["outputs"][0]["url"]

        # Another member's task id is "not found", never "forbidden", on every route.
        for method, path, body in [
            ("GET", f"/api/v1/tasks/{task_id}", None),
            ("GET", f"/api/v1/tasks/{task_id}/events", None),
            ("POST", f"/api/v1/tasks/{task_id}/cancel", None),
            ("POST", f"/api/v1/tasks/{task_id}/retry", None),
            ("PATCH", f"/api/v1/history/{task_id}", {"favorite": True}),
            ("DELETE", f"/api/v1/history/{task_id}", None),
            ("POST", "/api/v1/history/download", {"ids": [task_id]}),
        ]:
            response = await bob.request(method, path, json=body)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["error"]["code"] == "not_found"

        # Lists, search and usage hold only one's own.
        bob_history = (await bob.get("/api/v1/history", params={"q": "lighthouse"})).json()
        assert bob_history["total"] == 0
        assert [t["task_id"] for t in (await bob.get("/api/v1/history")).json()["items"]] == [theirs["task_id"]]
        assert [t["task_id"] for t in (await bob.get("/api/v1/tasks")).json()["items"]] == [theirs["task_id"]]
        # Zips of one's own work.
        own_zip = await alice.post("/api/v1/history/download", json={"ids": [task_id]})
        assert own_zip.status_code == 200
        assert any(n.endswith(".png") for n in zipfile.ZipFile(io.BytesIO(own_zip.content)).namelist())

        # Images: the owner sees theirs; another member gets "no such image".
        assert (await alice.get(image_url)).status_code == 200
        assert (await bob.get(image_url)).status_code == 404
        assert (await bob.get(mine["outputs"][0]["thumbnail_url"])).status_code == 404
        # nginx's question names the URI: the same answers (403 becomes nginx's 404).
        check = "/api/v1/auth/check"
        assert (await alice.get(check, headers={"X-Original-URI": image_url})).status_code == 204
        assert (await bob.get(check, headers={"X-Original-URI": image_url})).status_code == 403
        async with client_of(guarded) as nobody:
            assert (await nobody.get(check, headers={"X-Original-URI": image_url})).status_code == 401
        # Without the URI only an admin is told yes.
        assert (await bob.get(check)).status_code == 403
        assert (await guarded.client.get(check, headers=ADMIN)).status_code == 204

        # Uploads: another member's upload id is as unknown as one never made.
        png = io.BytesIO()
        Image.new("RGB", (300, 300), "teal").save(png, format="PNG")
        upload = await alice.post("/api/v1/uploads", files={"file": ("a.png", png.getvalue(), "image/png")})
        assert upload.status_code == 200
        ref = {"model": "demo", "prompt": "edit", "images": [upload.json()["id"]]}
        assert (await bob.post("/api/v1/generate/image2image", json=ref)).status_code == 422
        assert (await alice.post("/api/v1/generate/image2image", json=ref)).status_code == 202
        await guarded.run_jobs()

        # Usage figures are one's own.
        alice_usage = (await alice.get("/api/v1/usage", params={"group_by": "model"})).json()
        admin_usage = (await guarded.client.get("/api/v1/usage", params={"group_by": "model"}, headers=ADMIN)).json()
        assert alice_usage["images"] == 2 and admin_usage["images"] == 3

    # The admin sees everyone's.
    everything = (await guarded.client.get("/api/v1/history", headers=ADMIN)).json()
    assert {t["task_id"] for t in everything["items"]} >= {task_id, theirs["task_id"]}
    assert (await guarded.client.get(image_url, headers=ADMIN)).status_code == 200


async def test_the_live_channel_carries_only_ones_own_tasks(guarded: Studio) -> None:
    await make_member(guarded, "alice")
    await make_member(guarded, "bob")
    async with signed_in(guarded, "alice") as alice, signed_in(guarded, "bob") as bob:
        mine = (await alice.post("/api/v1/generate/text2image", json={**DEMO, "prompt": "alice's"})).json()["task_id"]
        theirs = (await bob.post("/api/v1/generate/text2image", json={**DEMO, "prompt": "bob's"})).json()["task_id"]
        token = (await bob.post("/api/v1/tokens", json={"name": "sse"})).json()["token"]
    async with serving(guarded) as base, aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{base}/api/v1/events", headers=headers) as response:
            assert response.status == 200
            seen: list[str] = []
            worker = asyncio.create_task(guarded.run_jobs())
            async for _id, _name, task in read_events(response):
                seen.append(task["task_id"])
                if task["task_id"] == theirs and task["status"] == "completed":
                    break
            await worker
    # Bob's stream saw his task start and finish, and never Alice's.
    assert theirs in seen and mine not in seen
    # The worker ran Alice's task as well: it was withheld from Bob's stream, not missing.
    async with guarded.services.db.read() as session:
        status = (await session.execute(select(Task.status).where(Task.id == mine))).scalar_one()
    assert status == "completed"


async def test_idempotency_keys_are_per_user(guarded: Studio) -> None:
    await make_member(guarded, "alice")
    await make_member(guarded, "bob")
    key = {"Idempotency-Key": "same-key-1"}
    async with signed_in(guarded, "alice") as alice, signed_in(guarded, "bob") as bob:
        first = await alice.post("/api/v1/generate/text2image", json=DEMO, headers=key)
        second = await bob.post("/api/v1/generate/text2image", json=DEMO, headers=key)
        again = await alice.post("/api/v1/generate/text2image", json=DEMO, headers=key)
    assert first.json()["task_id"] != second.json()["task_id"]
    assert again.json()["task_id"] == first.json()["task_id"]


# --- 4. tokens -------------------------------------------------------------------------------------


async def test_tokens_are_shown_once_listed_with_last_use_and_revocable(guarded: Studio) -> None:
    await make_member(guarded, "alice")
    async with signed_in(guarded, "alice") as alice:
        created = await alice.post("/api/v1/tokens", json={"name": "laptop script"})
        assert created.status_code == 201
        body = created.json()
        assert set(body) >= {"id", "name", "token"} and body["name"] == "laptop script"
        token = body["token"]
        assert token.startswith("vis_") and len(token) == 47 and body["prefix"] == token[:12]
        listed = (await alice.get("/api/v1/tokens")).json()["items"]
        assert [t["id"] for t in listed] == [body["id"]]
        assert listed[0]["last_used_at"] is None and "token" not in listed[0]

        # Stored hashed: the table alone opens nothing.
        async with guarded.services.db.read() as session:
            row = (await session.execute(select(ApiToken))).scalar_one()
        assert token not in (row.token_hash, row.prefix) and len(row.token_hash) == 64

        # A CLI uses it on /api/v1/* as the token's user.
        async with client_of(guarded) as cli:
            bearer = {"Authorization": f"Bearer {token}"}
            me = await cli.get("/api/v1/users/me", headers=bearer)
            assert me.json()["username"] == "alice"
            assert (await cli.post("/api/v1/generate/text2image", json=DEMO, headers=bearer)).status_code == 202
            used = (await alice.get("/api/v1/tokens")).json()["items"][0]
            assert used["last_used_at"] is not None

            # Nobody else revokes it (404), its owner does, and it stops at once.
            await make_member(guarded, "bob")
            async with signed_in(guarded, "bob") as bob:
                assert (await bob.delete(f"/api/v1/tokens/{body['id']}")).status_code == 404
                assert (await bob.get("/api/v1/tokens", params={"all": "true"})).status_code == 403
            assert (await alice.delete(f"/api/v1/tokens/{body['id']}")).status_code == 204
            refused = await cli.get("/api/v1/users/me", headers=bearer)
            assert refused.status_code == 401
            listed = (await alice.get("/api/v1/tokens")).json()["items"]
            assert listed[0]["revoked_at"] is not None
    everyone = (await guarded.client.get("/api/v1/tokens", params={"all": "true"}, headers=ADMIN)).json()["items"]
    assert len(everyone) == 1


async def test_a_disabled_users_tokens_stop_working(guarded: Studio) -> None:
    alice = await make_member(guarded, "alice")
    async with signed_in(guarded, "alice") as client:
        token = (await client.post("/api/v1/tokens", json={"name": "t"})).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    async with client_of(guarded) as cli:
        assert (await cli.get("/api/v1/users/me", headers=bearer)).status_code == 200
        await guarded.client.patch(f"/api/v1/users/{alice['id']}", json={"disabled": True}, headers=ADMIN)
        assert (await cli.get("/api/v1/users/me", headers=bearer)).status_code == 401


async def test_tokens_work_without_a_password_too(studio: Studio) -> None:
    token = (await studio.client.post("/api/v1/tokens", json={"name": "cli"})).json()["token"]
    ok = await studio.client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert ok.json()["role"] == "admin"
    wrong = await studio.client.get("/api/v1/users/me", headers={"Authorization": "Bearer vis_" + "x" * 43})
    assert wrong.status_code == 401
    bad_name = await studio.client.post("/api/v1/tokens", json={"name": "   "}, headers=ZH)
    assert bad_name.status_code == 422
    assert_chinese(bad_name.json()["error"]["message"])


async def test_a_member_budget_caps_that_member_only(studio_factory: StudioFactory) -> None:
    async with FakeArkServer(api_key=ARK_KEY) as fake:
        studio: Studio = await studio_factory(
            app_password=PASSWORD, ark_api_key=ARK_KEY, ark_base_url=fake.base_url, result_url_hosts=["127.0.0.1"]
        )
        alice = await make_member(studio, "alice")
        await make_member(studio, "bob")
        budgets = f"/api/v1/users/{alice['id']}/budgets"
        assert (await studio.client.get(budgets, headers=ADMIN)).json() == {"daily_cny": None, "monthly_cny": None}
        put = await studio.client.put(budgets, json={"daily_cny": 0.0001, "monthly_cny": None}, headers=ADMIN)
        assert put.json() == {"daily_cny": 0.0001, "monthly_cny": None}
        ark = {"model": SEEDREAM_40, "prompt": "a priced lighthouse", "size": "2K"}
        async with signed_in(studio, "alice") as client:
            assert (await client.get(budgets)).status_code == 403  # set by admins only
            refused = await client.post("/api/v1/generate/text2image", json=ark, headers=ZH)
            assert refused.status_code == 402, refused.text
            error = refused.json()["error"]
            assert error["code"] == "budget_exceeded"
            assert error["details"]["scope"] == "member" and error["details"]["budget"] == "daily"
            assert "您的成员每日预算" in error["message"]
            assert_chinese(error["message"], verbatim=["CNY"])
            # The free demo model is never refused.
            assert (await client.post("/api/v1/generate/text2image", json=DEMO)).status_code == 202
        async with signed_in(studio, "bob") as client:
            assert (await client.post("/api/v1/generate/text2image", json=ark)).status_code == 202
        # Unknown users: 404.
        assert (await studio.client.get("/api/v1/users/nobody/budgets", headers=ADMIN)).status_code == 404
