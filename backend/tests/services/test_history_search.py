"""History at scale: prompt search through the trigram index (and LIKE below three characters),
keyset pages, the trigger-kept counts, the claim query's plan after ANALYZE, PRAGMA optimize."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, event, insert, text, update

from app.jobs.queue import JobQueue
from app.models.task import Task, TaskStatus
from tests.chinese import assert_chinese
from tests.conftest import Studio

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _row(
    prompt: str, *, n: int, status: str = "completed", negative: str | None = None, **extra: Any
) -> dict[str, Any]:
    created = extra.pop("created_at", T0 + timedelta(seconds=n))
    return {
        "id": extra.pop("id", uuid.uuid4().hex),
        "type": "text2image",
        "model": "demo",
        "provider": "demo",
        "status": status,
        "progress": 100,
        "prompt": prompt,
        "negative_prompt": negative,
        "parameters": {"width": 256, "height": 256},
        "expected_images": 1,
        "checkpoint": {},
        "failures": [],
        "favorite": False,
        "attempts": 1,
        "cancel_requested": False,
        "created_at": created,
        "updated_at": created,
        **extra,
    }


async def _insert(studio: Studio, rows: list[dict[str, Any]]) -> None:
    async with studio.services.db.write() as session:
        await session.execute(insert(Task), rows)


async def _search(studio: Studio, q: str, **params: Any) -> list[str]:
    r = await studio.client.get("/api/v1/history", params={"q": q, "page_size": 200, **params})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(body["items"])
    return sorted(item["prompt"] for item in body["items"])


PROMPTS = [
    "水墨山水画，远山如黛",
    "一只橘猫在窗台上",
    "Cyberpunk Lighthouse at dusk",
    "a red fox in the snow",
    'quote "inside" and 100% of_it',
    "NEAR AND OR NOT * ^ : operators",
]


async def test_search_finds_substrings_in_any_script_and_case(studio: Studio) -> None:
    await _insert(studio, [_row(p, n=i) for i, p in enumerate(PROMPTS)])
    await _insert(studio, [_row("hidden prompt", n=50, negative="blurry lighthouse, 模糊的山水")])
    await _insert(studio, [_row("a lighthouse still queued", n=60, status="pending", progress=0)])

    assert await _search(studio, "山水画") == ["水墨山水画，远山如黛"]
    assert await _search(studio, "lighthouse") == ["Cyberpunk Lighthouse at dusk", "hidden prompt"]
    assert await _search(studio, "LIGHTHOUSE AT") == ["Cyberpunk Lighthouse at dusk"]
    assert await _search(studio, "d fox in t") == ["a red fox in the snow"]
    assert await _search(studio, "模糊的") == ["hidden prompt"]  # the negative prompt counts
    # FTS5 query syntax is plain text in a search.
    assert await _search(studio, '"inside"') == ['quote "inside" and 100% of_it']
    assert await _search(studio, "100% of_") == ['quote "inside" and 100% of_it']
    assert await _search(studio, "AND OR NOT *") == ["NEAR AND OR NOT * ^ : operators"]
    assert await _search(studio, "of%it") == []
    assert await _search(studio, "snowman") == []
    # Shorter than a trigram: LIKE.
    assert await _search(studio, "猫") == ["一只橘猫在窗台上"]
    assert await _search(studio, "山水") == ["hidden prompt", "水墨山水画，远山如黛"]
    assert await _search(studio, "Fo") == ["a red fox in the snow"]
    assert await _search(studio, "%") == ['quote "inside" and 100% of_it']


@pytest.mark.sqlite_only  # the FTS5 index and its triggers
async def test_searches_of_three_characters_or_more_use_the_index_and_it_follows_every_write(
    studio: Studio,
) -> None:
    rows = [_row(p, n=i) for i, p in enumerate(PROMPTS)]
    await _insert(studio, rows)
    db = studio.services.db
    async with db.write() as session:
        await session.execute(update(Task).where(Task.id == rows[0]["id"]).values(prompt="泼墨山水，云雾缭绕"))
        await session.execute(delete(Task).where(Task.id == rows[2]["id"]))
        await session.execute(update(Task).where(Task.id == rows[3]["id"]).values(favorite=True))
    assert await _search(studio, "山水画") == []
    assert await _search(studio, "云雾缭") == ["泼墨山水，云雾缭绕"]
    assert await _search(studio, "lighthouse") == []
    assert await _search(studio, "red fox") == ["a red fox in the snow"]

    # Emptied behind the triggers' back, the index answers nothing: proof that searches of three
    # characters or more are answered by it, while shorter ones (LIKE) still find the rows.
    async with db.write() as session:
        await session.execute(text("INSERT INTO tasks_fts(tasks_fts) VALUES ('delete-all')"))
    assert await _search(studio, "red fox") == []
    assert await _search(studio, "橘猫") == ["一只橘猫在窗台上"]
    async with db.write() as session:
        await session.execute(text("INSERT INTO tasks_fts(tasks_fts) VALUES ('rebuild')"))
    assert await _search(studio, "red fox") == ["a red fox in the snow"]


async def _walk(studio: Studio, params: dict[str, Any]) -> tuple[list[str], list[int]]:
    ids: list[str] = []
    totals: list[int] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        body = (await studio.client.get("/api/v1/history", params=query)).json()
        ids += [item["task_id"] for item in body["items"]]
        totals.append(body["total"])
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, totals


async def test_cursor_pages_match_offset_pages_with_ties_and_filters(studio: Studio) -> None:
    same_moment = T0 + timedelta(hours=1)
    rows = [_row(f"prompt {i}", n=i) for i in range(23)]
    # Several tasks created in one instant: the id breaks the tie, none is skipped or repeated.
    rows += [_row(f"tied {i}", n=0, created_at=same_moment) for i in range(7)]
    rows += [_row("failed", n=99, status="failed")]
    await _insert(studio, rows)
    completed = sorted(
        (r for r in rows if r["status"] == "completed"), key=lambda r: (r["created_at"], r["id"]), reverse=True
    )

    ids, totals = await _walk(studio, {"page_size": 4})
    assert ids == [r["id"] for r in completed]
    assert set(totals) == {30} and len(totals) == 8

    offset_ids: list[str] = []
    for page in range(1, 9):
        body = (await studio.client.get("/api/v1/history", params={"page": page, "page_size": 4})).json()
        offset_ids += [item["task_id"] for item in body["items"]]
        assert (body["next_cursor"] is None) == (page == 8)
    assert offset_ids == ids

    tied, _ = await _walk(studio, {"page_size": 3, "q": "tied"})
    assert tied == [r["id"] for r in completed if r["prompt"].startswith("tied")]
    assert len(tied) == 7


@pytest.mark.parametrize("cursor", ["not-base64!", "bm90IGpzb24", "WyJ5ZXN0ZXJkYXkiLCAiYSJd", "WzEsMl0", "x" * 201])
async def test_a_bad_cursor_is_a_422_in_both_languages(studio: Studio, cursor: str) -> None:
    r = await studio.client.get("/api/v1/history", params={"cursor": cursor})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert "Traceback" not in r.text
    if len(cursor) > 200:
        return  # the schema's length limit answers first
    assert error["code"] == "invalid_cursor"
    zh = await studio.client.get("/api/v1/history", params={"cursor": cursor}, headers={"accept-language": "zh-CN"})
    assert zh.status_code == 422 and zh.json()["error"]["code"] == "invalid_cursor"
    assert_chinese(zh.json()["error"]["message"], error["message"])


@pytest.mark.sqlite_only  # PostgreSQL counts; SQLite keeps the counts in a table
async def test_status_counts_follow_inserts_status_changes_and_deletes(studio: Studio) -> None:
    rows = [_row(f"p{i}", n=i) for i in range(5)] + [_row("q", n=9, status="pending", progress=0)]
    await _insert(studio, rows)
    db = studio.services.db
    async with db.write() as session:
        await session.execute(update(Task).where(Task.id == rows[5]["id"]).values(status=TaskStatus.COMPLETED))
        await session.execute(update(Task).where(Task.id == rows[0]["id"]).values(favorite=True))
        await session.execute(delete(Task).where(Task.id.in_([rows[1]["id"], rows[2]["id"]])))
    async with db.read() as session:
        counts: dict[str, int] = dict((await session.execute(text("SELECT status, n FROM task_status_counts"))).all())
        actual: dict[str, int] = dict(
            (await session.execute(text("SELECT status, count(*) FROM tasks GROUP BY status"))).all()
        )
    assert counts.get("completed") == actual["completed"] == 4
    assert counts.get("pending", 0) == 0
    assert (await studio.client.get("/api/v1/history")).json()["total"] == 4


@pytest.mark.sqlite_only  # EXPLAIN QUERY PLAN and PRAGMA optimize are SQLite's
async def test_the_claim_keeps_its_index_after_analyze_and_optimize(studio: Studio) -> None:
    db = studio.services.db
    done = [_row(f"old {i}", n=i) for i in range(20_000)]
    for start in range(0, len(done), 5000):
        await _insert(studio, done[start : start + 5000])
    queue = JobQueue(db, lease_seconds=60)
    assert await queue.claim("w1", 4) == []  # the writer has now planned a claim on tasks
    # PRAGMA optimize on the writer, where the claims run (what housekeeping does each round):
    # statistics taken while the queue is empty, as they mostly will be.
    ran = await studio.services.housekeeping.refresh_statistics()
    assert any("tasks" in statement for statement in ran), ran
    async with db.write() as session:
        await session.execute(text("ANALYZE"))  # and full statistics, as bench/history.py takes
    queued = [_row(f"new {i}", n=30_000 + i, status="pending", progress=0) for i in range(8)]
    await _insert(studio, queued)

    captured: list[tuple[str, Any]] = []
    assert db._sync_write_engine is not None

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("UPDATE TASKS"):
            captured.append((statement, parameters))

    event.listen(db._sync_write_engine, "before_cursor_execute", capture)
    try:
        claimed = await queue.claim("w1", 4)
    finally:
        event.remove(db._sync_write_engine, "before_cursor_execute", capture)
    assert [c.task_id for c in claimed] == [r["id"] for r in queued[:4]]

    statement, parameters = captured[-1]
    path = db.url.split(":///", 1)[1]
    plans = []
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'tasks'").fetchone()[0] > 0
        plans.append([row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + statement, parameters)])
        conn.execute("ANALYZE")  # full statistics, now with a queue: the same answer
        plans.append([row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + statement, parameters)])
    for plan in plans:
        # The partial index of queued and running tasks, never a scan of the 20,000 completed.
        searches = [step for step in plan if step.startswith(("SEARCH tasks", "SCAN tasks"))]
        assert any("ix_tasks_claimable" in step for step in searches), plan
        assert all("INDEX" in step for step in searches), plan


async def test_a_search_total_counts_only_completed_matches_of_every_status_mix(studio: Studio) -> None:
    """Totals that subtract the unfinished matches from all of them (SQLite) must still be exact."""
    rows = [_row(f"harbour at dawn {i}", n=i) for i in range(7)]
    rows += [_row(f"a harbour, {status}", n=20 + i, status=status, progress=0)
             for i, status in enumerate(["pending", "processing", "failed", "cancelled", "failed"])]
    rows += [_row("nothing alike", n=40, status="failed"), _row("calm sea", n=41, negative="harbour lights")]
    await _insert(studio, rows)
    for q, total in (("harbour", 8), ("harbour at", 7), ("HARBOUR LIGHTS", 1), ("failed", 0), ("nothing", 0)):
        body = (await studio.client.get("/api/v1/history", params={"q": q, "page_size": 3})).json()
        assert body["total"] == total, (q, body["total"])
        assert len(body["items"]) == min(3, total)
    # with another filter the count goes through the table: the same answer
    body = (await studio.client.get("/api/v1/history", params={"q": "harbour", "model": "demo"})).json()
    assert body["total"] == 8


@pytest.mark.sqlite_only  # EXPLAIN QUERY PLAN, the FTS5 table
async def test_the_search_total_never_looks_matches_up_one_by_one(studio: Studio) -> None:
    from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

    from app.services.history_search import completed_matches

    await _insert(studio, [_row(f"lighthouse {i}", n=i) for i in range(50)])
    statement = completed_matches("lighthouse")
    assert statement is not None and completed_matches("lh") is None
    compiled = str(statement.compile(dialect=sqlite_dialect(), compile_kwargs={"literal_binds": True}))
    path = studio.services.db.url.split(":///", 1)[1]
    with sqlite3.connect(path) as conn:
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + compiled)]
        assert conn.execute(compiled).fetchone()[0] == 50
    assert any("ix_tasks_unfinished" in step for step in plan), plan
    assert not any("INTEGER PRIMARY KEY" in step for step in plan), plan
