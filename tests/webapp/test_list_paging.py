"""The call list's keyset pages, its counts and its issue sentence, on SQLite and PostgreSQL (issue 16, part 3).

A small registry with NULLs in every nullable sort column and ties in every sort: following `next`
from page 1 to the end, and `prev` back, must give exactly the order a full sort gives, the same rows
as the numbered (offset) pages, for every order the list offers, for a supervisor and a caseworker.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from callcare.core import schema as registry_schema
from callcare.core.registry import calls
from callcare_web import queries
from callcare_web import schema as web_schema
from callcare_web.filters import SORTS, Cursor, Filters
from callcare_web.tables import assignments, search_docs, users

CALLS = 57
SENTIMENTS = ("Positive", "Neutral", "Negative", None)
CATEGORIES = ("billing", "outage", None)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    return request.getfixturevalue("pg_url")


def call_id(i: int) -> str:
    return "c-" + hashlib.sha256(f"paging:{i}".encode()).hexdigest()[:20]


@pytest.fixture
def db(url: str) -> Any:
    """(engine, supervisor viewer, caseworker viewer, the calls as dicts with their assignee)."""
    registry_schema.upgrade(url)
    web_schema.upgrade(url)
    engine = sa.create_engine(url)
    base = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    rows, people = [], {}
    with engine.begin() as conn:
        for name in ("sup", "ann", "bob"):
            people[name] = conn.execute(
                users.insert()
                .values(
                    first_name=name, last_name="T", username=name, email=f"{name}@example.com", active=True
                )
                .returning(users.c.id)
            ).scalar_one()
        for i in range(CALLS):
            created = base + dt.timedelta(minutes=i // 3)  # ties: three calls a minute
            row = {
                "call_id": call_id(i),
                "source": "inbox",
                "source_ref": f"{i}.wav",
                "content_sha256": "ab" * 32,
                "call_date": f"2026-11-{1 + i % 5:02d}",
                "audio_uri": f"file:///lake/{i}.wav",
                "audio_format": "wav",
                "size_bytes": 10,
                "status": ("COMPLETED", "FAILED", "COMPLETED")[i % 3],
                "created_at": created,
                "updated_at": created + dt.timedelta(seconds=i % 7),
                "attempt": 1,
                "sentiment": SENTIMENTS[i % 4],
                "category": CATEGORIES[i % 3],
                "agent_id": None if i % 5 == 0 else f"AGT-{i % 4}",
                "duration_s": None if i % 6 == 0 else float(i % 9),
            }
            conn.execute(calls.insert().values(**row))
            assignee = ("ann", "bob", None)[i % 3]
            if assignee:
                conn.execute(assignments.insert().values(call_id=row["call_id"], user_id=people[assignee]))
            conn.execute(
                search_docs.insert().values(
                    call_id=row["call_id"],
                    source="",
                    ids_text=row["call_id"],
                    issue_text=f"Issue of call {i}",
                    summary_text="",
                    transcript_text="",
                    indexed_at=created,
                )
            )
            rows.append({**row, "assignee": assignee})
    yield (
        engine,
        queries.Viewer(people["sup"], can_all=True),
        queries.Viewer(people["ann"], can_all=False),
        rows,
    )
    engine.dispose()


def expected(rows: list[dict[str, Any]], sort: str, direction: str) -> list[str]:
    """The list's order in Python: the sort value (NULLs last either way), ties by call id, one direction."""
    key = queries.SORT_KEYS[sort]
    present = sorted((r for r in rows if r[key] is not None), key=lambda r: (r[key], r["call_id"]))
    absent = sorted((r for r in rows if r[key] is None), key=lambda r: r["call_id"])
    if direction == "desc":
        present.reverse()
        absent.reverse()
    return [r["call_id"] for r in present + absent]


def page(engine: sa.Engine, viewer: queries.Viewer, **args: Any) -> tuple[queries.Page, Filters]:
    f = Filters.parse({k: str(v) for k, v in args.items()}, page_size=int(args.get("page_size", 25)))
    with engine.connect() as conn:
        return queries.list_calls(conn, viewer, f), f


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_keyset_pages_follow_the_full_order_both_ways(db: Any, direction: str) -> None:
    engine, sup, ann, rows = db
    for viewer, visible in ((sup, rows), (ann, [r for r in rows if r["assignee"] == "ann"])):
        for sort in (s for s in SORTS if s != "relevance"):
            want = expected(visible, sort, direction)
            size = 8
            first, _ = page(engine, viewer, sort=sort, dir=direction, page_size=size)
            pages, current, n = [first], first, 1
            while current.next_cursor is not None:
                n += 1
                current, f = page(
                    engine,
                    viewer,
                    sort=sort,
                    dir=direction,
                    page_size=size,
                    page=n,
                    after=current.next_cursor.encode(),
                )
                assert not f.errors and not f.notices
                pages.append(current)
            walked = [r["call_id"] for p in pages for r in p.rows]
            assert walked == want, f"{sort} {direction}: next"
            for k, p in enumerate(pages, start=1):  # a numbered page is the same rows
                by_number, _ = page(engine, viewer, sort=sort, dir=direction, page_size=size, page=k)
                assert [r["call_id"] for r in by_number.rows] == [r["call_id"] for r in p.rows], (sort, k)
            back = pages[-1]
            for k in range(len(pages) - 1, 0, -1):  # and prev walks back through the same pages
                back, _ = page(
                    engine,
                    viewer,
                    sort=sort,
                    dir=direction,
                    page_size=size,
                    page=k,
                    before=back.prev_cursor.encode(),
                )
                assert [r["call_id"] for r in back.rows] == [r["call_id"] for r in pages[k - 1].rows], (
                    sort,
                    k,
                )
            assert back.prev_cursor is None if len(pages) > 1 else True


def test_keyset_pages_keep_the_filters_and_scope(db: Any) -> None:
    engine, _sup, ann, rows = db
    mine = [r for r in rows if r["assignee"] == "ann" and r["status"] == "COMPLETED"]
    first, _ = page(engine, ann, status="COMPLETED", page_size=4)
    second, _ = page(engine, ann, status="COMPLETED", page_size=4, page=2, after=first.next_cursor.encode())
    got = [r["call_id"] for r in first.rows + second.rows]
    assert got == expected(mine, "created", "desc")[:8]
    assert first.total == len(mine) and not first.total_is_estimate


def test_a_cursor_from_another_order_or_not_a_cursor_is_a_notice_not_an_error(db: Any) -> None:
    engine, sup, _ann, rows = db
    first, _ = page(engine, sup, sort="agent", page_size=5)
    other, f = page(engine, sup, sort="date", page=2, page_size=5, after=first.next_cursor.encode())
    assert not f.errors and f.notices
    assert [r["call_id"] for r in other.rows] == expected(rows, "date", "desc")[5:10]
    junk, f = page(engine, sup, page=2, page_size=5, after="bm90LWEtY3Vyc29y")
    assert not f.errors and f.notices and len(junk.rows) == 5
    assert Cursor.decode("not a cursor!") is None and Cursor.decode("W10") is None


def test_issue_sentence_is_in_each_row(db: Any) -> None:
    engine, sup, _ann, _rows = db
    listed, _ = page(engine, sup, page_size=5)
    assert all(r["issue_sentence"].startswith("Issue of call ") for r in listed.rows)


def test_counts_are_exact_up_to_the_cap_then_estimated_from_the_id_sample(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, sup, ann, rows = db
    listed, _ = page(engine, sup)
    assert (listed.total, listed.total_is_estimate) == (CALLS, False)
    monkeypatch.setattr(queries, "LIST_COUNT_EXACT", 10)
    monkeypatch.setattr(queries, "LIST_COUNT_SAMPLE", 30)
    listed, _ = page(engine, sup, page_size=5)
    assert listed.total_is_estimate and CALLS / 3 < listed.total < CALLS * 3
    failed, _ = page(engine, sup, status="FAILED", page_size=5)
    assert failed.total_is_estimate and 19 / 4 < failed.total < 19 * 4
    # a caseworker's count stays exact: their scope is their own calls
    mine, _ = page(engine, ann)
    assert (mine.total, mine.total_is_estimate) == (sum(r["assignee"] == "ann" for r in rows), False)
    # fewer calls than the sample: counted
    monkeypatch.setattr(queries, "LIST_COUNT_SAMPLE", CALLS + 1)
    listed, _ = page(engine, sup)
    assert (listed.total, listed.total_is_estimate) == (CALLS, False)
