"""Reading calls for the pages and the API: scoping by user, filters, search, sorting, paging, history.

Reads only: every change goes through callcare_web.commands. The registry's `calls` table is the
source of every list. A caseworker sees only the calls assigned to them; a user with the
`can_list_all` permission on Calls (supervisors, admins) sees every call.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from callcare.core.registry import call_events, calls
from markupsafe import Markup, escape
from sqlalchemy.engine import Connection

from callcare_web.errors import Forbidden, NotFound
from callcare_web.filters import RELEVANCE, SORTS, Cursor, Filters
from callcare_web.search_index import MARK_END, MARK_START
from callcare_web.tables import assignee_user, assignments, audit, overrides, search_docs, users

MAX_TERMS = 8
# a search counts the matches that pass the filters among this many index matches: exact when the
# index has no more, else scaled to the index's total and shown as an estimate
SEARCH_COUNT_SAMPLE = 2000
# a list counts its calls exactly up to this many; past it, a supervisor's count is an estimate from
# the LIST_COUNT_SAMPLE calls with the smallest ids (a call id is a hash: a uniform sample of them)
LIST_COUNT_EXACT = 2000
LIST_COUNT_SAMPLE = 5000
_CALL_ID = re.compile(r"^c-[0-9a-f]{20}$")
FACETS_TTL_S = 60.0
SNIPPET_WORDS = 16
# a term with none of these has no word for either index's tokenizer to find
_WORD = re.compile(r"[^\W_]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

SORT_COLUMNS: dict[str, Any] = {
    "created": calls.c.created_at,
    "updated": calls.c.updated_at,
    "date": calls.c.call_date,
    "status": calls.c.status,
    "sentiment": calls.c.sentiment,
    "category": calls.c.category,
    "agent": calls.c.agent_id,
    "duration": calls.c.duration_s,
    "assignee": assignee_user.c.username,
    RELEVANCE: None,  # the search's rank (Search.rank); without a search, "created"
}
assert tuple(SORT_COLUMNS) == SORTS, "every sort the filters accept needs its column"
# the row key that holds each sort's value (a keyset cursor is made of it and the call id)
SORT_KEYS = {
    "created": "created_at",
    "updated": "updated_at",
    "date": "call_date",
    "status": "status",
    "sentiment": "sentiment",
    "category": "category",
    "agent": "agent_id",
    "duration": "duration_s",
    "assignee": "assignee",
}
# an unassigned call has no assignee: the outer join makes the NOT NULL user name NULL
NULLABLE_SORTS = frozenset(name for name, col in SORT_COLUMNS.items() if col is not None and col.nullable) | {
    "assignee"
}
LIST_COLUMNS = (
    calls.c.call_id,
    calls.c.call_date,
    calls.c.status,
    calls.c.error_message,
    calls.c.created_at,
    calls.c.updated_at,
    calls.c.completed_at,
    calls.c.duration_s,
    calls.c.sentiment,
    calls.c.category,
    calls.c.agent_id,
    calls.c.customer_id,
    calls.c.resolved,
    calls.c.escalated,
    calls.c.audio_format,
    assignments.c.user_id.label("assignee_id"),
    assignee_user.c.username.label("assignee"),
    # the summary's issue sentence, from the search index's row (search_index writes it)
    search_docs.c.issue_text.label("issue_sentence"),
)


@dataclass(frozen=True)
class Viewer:
    user_id: int
    can_all: bool


@dataclass
class Page:
    rows: list[dict[str, Any]]
    total: int
    page: int
    page_size: int

    # scaled, not counted: a search past SEARCH_COUNT_SAMPLE index matches, a list past LIST_COUNT_EXACT calls
    total_is_estimate: bool = False
    # keyset links: the place of the page's last row (next page) and first row (previous page)
    next_cursor: Cursor | None = None
    prev_cursor: Cursor | None = None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _base(viewer: Viewer, *columns: Any, search: Search | None = None, source: Any = None) -> sa.Select:
    """The calls the viewer may see; with `columns`, only those (a count needs no user names).

    A search starts from the index's matches (the text index drives the plan: it is the selective
    part) and joins the calls they are; everything else is the same query as the list's.
    """
    if source is None:
        source = calls if search is None else search.joined()
    query = sa.select(*(columns or LIST_COLUMNS)).select_from(source)
    query = query.outerjoin(assignments, assignments.c.call_id == calls.c.call_id)
    if not columns:
        query = query.outerjoin(assignee_user, assignee_user.c.id == assignments.c.user_id)
        if search is None:  # a search's FROM has the call's index row already
            query = query.outerjoin(search_docs, search_docs.c.call_id == calls.c.call_id)
    if not viewer.can_all:
        query = query.where(assignments.c.user_id == viewer.user_id)
    if search is not None:
        query = query.where(search.matches())
    return query


def search_phrases(q: str) -> list[str]:
    """The user's terms as index phrases: each whitespace-separated term that holds a letter or digit.

    A term goes to the database as text for the index's own tokenizer, never as query syntax: inside
    a quoted FTS5 phrase (its quotes doubled) on SQLite, through phraseto_tsquery on PostgreSQL. So
    quotes, *, -, NEAR, OR, parentheses and backslashes are plain characters, and the term is split
    into words exactly as the documents were ("AGT-1037" is the phrase the index made of "AGT-1037").
    Control characters are dropped (PostgreSQL refuses NUL in text).
    """
    phrases = []
    for term in _CONTROL.sub(" ", q).split():
        if _WORD.search(term):
            phrases.append(term)
    return phrases[:MAX_TERMS]


class Search:
    """A full-text search in the database's own index (migration 0005 builds it per dialect)."""

    def __init__(self, phrases: list[str]) -> None:
        self.phrases = phrases

    @staticmethod
    def for_dialect(dialect: str, q: str) -> Search:
        phrases = search_phrases(q)
        if dialect == "sqlite":
            return SqliteSearch(phrases)
        if dialect == "postgresql":
            return PostgresSearch(phrases)
        raise NotImplementedError(f"full-text search on {dialect}")

    def joined(self) -> Any:
        """The index, its documents and their calls, for _base's FROM."""
        raise NotImplementedError

    def matches(self) -> Any:
        raise NotImplementedError

    def rank(self) -> Any:
        """An ORDER BY term: the best match first."""
        raise NotImplementedError

    def sample(self, conn: Connection, limit: int) -> list[int]:
        """Ids of the first `limit` documents the index matches, unfiltered (in the index's order)."""
        raise NotImplementedError

    def in_sample(self, sample: list[int], limit: int) -> Any:
        """What `search_docs.c.id.in_()` takes to keep the sample's documents: the ids themselves."""
        return sample

    def index_total(self, conn: Connection, sample: list[int]) -> int:
        """How many documents the index matches, when `sample` (a full one) did not hold them all."""
        raise NotImplementedError

    def snippets(self, conn: Connection, doc_ids: list[int]) -> dict[int, Markup]:
        raise NotImplementedError


def _markup(text: str | None) -> Markup:
    """The snippet escaped, its markers turned into <mark> (the indexed text never holds them)."""
    escaped = str(escape(text or ""))
    return Markup(escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


_sqlite_fts = sa.table("web_search_fts", sa.column("rowid", sa.Integer))


class SqliteSearch(Search):
    """FTS5: each phrase quoted (its words in order), the phrases ANDed; bm25 weighs the columns
    ids 10, issue sentence 5, other summary fields 2, transcript 1."""

    WEIGHTS = "10.0, 5.0, 2.0, 1.0"

    def match_query(self) -> str:
        return " ".join('"' + phrase.replace('"', '""') + '"' for phrase in self.phrases)

    def _match(self) -> Any:
        return sa.text("web_search_fts MATCH :fts_query").bindparams(fts_query=self.match_query())

    def joined(self) -> Any:
        return _sqlite_fts.join(search_docs, search_docs.c.id == _sqlite_fts.c.rowid).join(
            calls, calls.c.call_id == search_docs.c.call_id
        )

    def matches(self) -> Any:
        return self._match()

    def rank(self) -> Any:
        return sa.literal_column(f"bm25(web_search_fts, {self.WEIGHTS})").asc()

    def sample(self, conn: Connection, limit: int) -> list[int]:
        query = sa.select(_sqlite_fts.c.rowid).where(self._match()).limit(limit)
        return [row[0] for row in conn.execute(query)]

    def in_sample(self, sample: list[int], limit: int) -> Any:
        """The sampling query again, not its 2,001 ids: with a list, SQLite started from a
        caseworker's assignments and probed the list for each (236 ms at 100k calls; this, 12 ms)."""
        return sa.select(_sqlite_fts.c.rowid).where(self._match()).limit(limit).scalar_subquery()

    def index_total(self, conn: Connection, sample: list[int]) -> int:
        """Counted: FTS5 walks its doclists without touching the rows (about a millisecond for 24,000
        matches of 100,000)."""
        query = sa.select(sa.func.count()).select_from(_sqlite_fts).where(self._match())
        return int(conn.execute(query).scalar_one())

    def snippets(self, conn: Connection, doc_ids: list[int]) -> dict[int, Markup]:
        if not doc_ids:
            return {}
        snippet = sa.literal_column(
            f"snippet(web_search_fts, -1, '{MARK_START}', '{MARK_END}', '…', {SNIPPET_WORDS})"
        )
        query = sa.select(_sqlite_fts.c.rowid, snippet).where(self._match(), _sqlite_fts.c.rowid.in_(doc_ids))
        return {row[0]: _markup(row[1]) for row in conn.execute(query)}


_pg_fts = sa.table("web_search_fts", sa.column("doc_id", sa.Integer), sa.column("document"))


class PostgresSearch(Search):
    """A tsvector per document, weighted A ids, B issue sentence, C summary, D transcript; each phrase
    through phraseto_tsquery (plain text, no syntax), the phrases ANDed; ts_rank, length-normalized."""

    CONFIG = "english"
    _last_block = 0  # the page of the sample's last row (sample, index_total)

    def tsquery(self) -> Any:
        parts = [sa.func.phraseto_tsquery(self.CONFIG, phrase) for phrase in self.phrases]
        query = parts[0]
        for part in parts[1:]:
            query = query.op("&&")(part)
        return query

    def _match(self) -> Any:
        return _pg_fts.c.document.op("@@")(self.tsquery())

    def joined(self) -> Any:
        return _pg_fts.join(search_docs, search_docs.c.id == _pg_fts.c.doc_id).join(
            calls, calls.c.call_id == search_docs.c.call_id
        )

    def matches(self) -> Any:
        return self._match()

    def rank(self) -> Any:
        return sa.func.ts_rank(_pg_fts.c.document, self.tsquery(), 1).desc()

    def sample(self, conn: Connection, limit: int) -> list[int]:
        # a GIN match is a bitmap heap scan, which reads the table's pages in order: the page of the
        # last row sampled says how much of the table the sample covered (index_total)
        block = sa.literal_column("(web_search_fts.ctid::text::point)[0]")
        rows = conn.execute(sa.select(_pg_fts.c.doc_id, block).where(self._match()).limit(limit)).all()
        self._last_block = max((int(r[1]) for r in rows), default=0)
        return [r[0] for r in rows]

    def index_total(self, conn: Connection, sample: list[int]) -> int:
        """Estimated: the sample's size scaled by the share of the table's pages it covered.

        Counting the matches reads every matching row's page (over 100 ms for 24,000 of 100,000), and
        the planner's estimate is no help: ANALYZE skips tsvectors wider than 1 kB, which is every
        document with a transcript, so it has no statistics on them (it guessed 480 for 23,883).
        """
        pages = conn.execute(
            sa.text("SELECT pg_relation_size('web_search_fts') / current_setting('block_size')::int")
        ).scalar_one()
        return round(len(sample) * max(int(pages), 1) / (self._last_block + 1))

    def snippets(self, conn: Connection, doc_ids: list[int]) -> dict[int, Markup]:
        if not doc_ids:
            return {}
        text = sa.func.concat_ws(
            " … ", search_docs.c.issue_text, search_docs.c.summary_text, search_docs.c.transcript_text
        )
        options = (
            f'StartSel="{MARK_START}", StopSel="{MARK_END}", MaxWords={SNIPPET_WORDS}, MinWords=6, '
            'MaxFragments=2, FragmentDelimiter=" … "'
        )
        headline = sa.func.ts_headline(self.CONFIG, text, self.tsquery(), options)
        query = sa.select(search_docs.c.id, headline).where(search_docs.c.id.in_(doc_ids))
        return {row[0]: _markup(row[1]) for row in conn.execute(query)}


def filtered(
    viewer: Viewer, f: Filters, *columns: Any, search: Search | None = None, source: Any = None
) -> sa.Select:
    query = _base(viewer, *columns, search=search, source=source)
    if f.status:
        query = query.where(calls.c.status == f.status)
    if f.date_from:
        query = query.where(calls.c.call_date >= f.date_from)
    if f.date_to:
        query = query.where(calls.c.call_date <= f.date_to)
    if f.sentiment:
        query = query.where(calls.c.sentiment == f.sentiment)
    if f.category:
        query = query.where(calls.c.category == f.category)
    if f.agent:
        query = query.where(calls.c.agent_id == f.agent)
    if f.assignee == "me":
        query = query.where(assignments.c.user_id == viewer.user_id)
    elif f.assignee == "none":
        # the join's own key: PostgreSQL plans that as an anti-join; on user_id it guessed one row
        # and sorted all 52,000 unassigned calls of 100,000 for each page (0.8 s)
        query = query.where(assignments.c.call_id.is_(None))
    elif f.assignee:
        query = query.where(assignments.c.user_id == int(f.assignee))
    return query


def _search_count(conn: Connection, viewer: Viewer, f: Filters, search: Search) -> tuple[int, bool]:
    """(count, is_estimate). The filters are checked on at most SEARCH_COUNT_SAMPLE + 1 index matches:
    when the index has no more, that count is exact; when it has, the share that passed is scaled to
    the index's total. Never a scan of every match per page."""
    # on PostgreSQL the ids are fetched first, not joined as a subquery: its planner ran the LIMITed
    # match again for each of a caseworker's calls (12 s at 100k calls); SQLite is the other way round
    if not viewer.can_all:
        # a caseworker's scope is their assigned calls (a few hundred at most): an exact count is
        # cheap, and an estimate from the whole index would tell them how often a term occurs in
        # calls they may not see
        exact = filtered(viewer, f, calls.c.call_id, search=search)
        return conn.execute(sa.select(sa.func.count()).select_from(exact.subquery())).scalar_one(), False
    limit = SEARCH_COUNT_SAMPLE + 1
    sample = search.sample(conn, limit)
    if not sample:
        return 0, False
    source = search_docs.join(calls, calls.c.call_id == search_docs.c.call_id)
    passed_query = filtered(viewer, f, calls.c.call_id, source=source).where(
        search_docs.c.id.in_(search.in_sample(sample, limit))
    )
    passed = conn.execute(sa.select(sa.func.count()).select_from(passed_query.subquery())).scalar_one()
    if len(sample) <= SEARCH_COUNT_SAMPLE:
        return passed, False
    total = max(search.index_total(conn, sample), len(sample))
    return max(passed, round(passed * total / len(sample))), True


def _id_share(call_id: str | None) -> float | None:
    """The share of the call-id space at or below `call_id` (ids are "c-" and 20 hex digits of a hash,
    so calls are spread evenly over it); None for an id of another shape."""
    if call_id is None or not _CALL_ID.match(call_id):
        return None
    return (int(call_id[2:], 16) + 1) / 16**20


def _count(conn: Connection, query: sa.Select) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one())


def _list_count(conn: Connection, viewer: Viewer, f: Filters) -> tuple[int, bool]:
    """(count, is_estimate) of a list without a search, never a walk over every visible call.

    Exact up to LIST_COUNT_EXACT calls (a count that stops there). Past it, a caseworker's count is
    exact (their scope is their assigned calls, and the assignments' user index finds them), and a
    supervisor's is estimated: the calls that pass the filters among the LIST_COUNT_SAMPLE smallest
    call ids, divided by the share of the id space those ids cover. Call ids are hashes, so that sample
    is uniform, whatever the filters (a date range too, which a newest-first sample would not be).
    """
    ids = filtered(viewer, f, calls.c.call_id)
    bounded = _count(conn, ids.limit(LIST_COUNT_EXACT + 1))
    if bounded <= LIST_COUNT_EXACT:
        return bounded, False
    if not viewer.can_all:
        return _count(conn, ids), False
    edge = conn.execute(
        sa.select(calls.c.call_id).order_by(calls.c.call_id).offset(LIST_COUNT_SAMPLE - 1).limit(1)
    ).scalar()
    share = _id_share(edge)
    if share is None:  # fewer calls than the sample, or ids of another shape: count them
        return _count(conn, ids), False
    passed = _count(conn, ids.where(calls.c.call_id <= edge))
    return max(bounded, round(passed / share)), True


class Keyset:
    """One order of the list as keyset pages: `(sort value, call_id)` in one direction, NULLs last.

    A nullable sort is two segments, the rows with a value (in the index on `(column, call_id)`)
    then the rows without (by call id); each is read with its own ORDER BY, which the index serves. One
    ORDER BY with `column IS NULL` first would sort every visible call for each page.
    """

    def __init__(self, sort: str, ascending: bool) -> None:
        self.sort = sort
        self.column = SORT_COLUMNS[sort]
        self.ascending = ascending
        self.direction = "asc" if ascending else "desc"
        self.segments = (0, 1) if sort in NULLABLE_SORTS else (0,)

    def _where(self, segment: int) -> Any:
        if len(self.segments) == 1:
            return None
        return self.column.is_not(None) if segment == 0 else self.column.is_(None)

    def _order(self, segment: int, forward: bool) -> list[Any]:
        up = self.ascending == forward
        by_id = calls.c.call_id.asc() if up else calls.c.call_id.desc()
        if segment == 1:
            return [by_id]
        return [self.column.asc() if up else self.column.desc(), by_id]

    def _past(self, segment: int, cursor: Cursor, forward: bool) -> Any:
        """The rows of `segment` beyond the cursor, in the direction read."""
        up = self.ascending == forward
        if segment == 1:
            return calls.c.call_id > cursor.call_id if up else calls.c.call_id < cursor.call_id
        value = _cursor_value(self.sort, cursor.value)
        left = sa.tuple_(self.column, calls.c.call_id)
        right = sa.tuple_(
            sa.literal(value, self.column.type), sa.literal(cursor.call_id, calls.c.call_id.type)
        )
        return left > right if up else left < right

    def _segment(self, query: sa.Select, segment: int, forward: bool) -> sa.Select:
        where = self._where(segment)
        query = query.where(where) if where is not None else query
        return query.order_by(*self._order(segment, forward))

    def page(
        self, conn: Connection, query: sa.Select, size: int, cursor: Cursor | None, forward: bool
    ) -> list:
        """The `size` rows after the cursor (forward) or before it, in the list's order."""
        first = 1 if cursor is not None and cursor.value is None and len(self.segments) == 2 else 0
        order = self.segments[first:] if forward else self.segments[first::-1]
        rows: list[Any] = []
        for segment in order:
            q = self._segment(query, segment, forward)
            if cursor is not None and segment == first:
                q = q.where(self._past(segment, cursor, forward))
            rows += conn.execute(q.limit(size - len(rows))).mappings().all()
            if len(rows) >= size:
                break
        return rows if forward else rows[::-1]

    def at_offset(
        self, conn: Connection, query: sa.Select, size: int, offset: int, ids: sa.Select | None = None
    ) -> list:
        """A page by number (a numbered link): OFFSET within each segment in turn.

        With `ids` (the same calls, only their ids: no user, index-row or search-document joins), the
        skipped rows are counted off on that, and only the page's rows are read whole: PostgreSQL
        joins every skipped row otherwise (page 400: 286 ms)."""
        rows: list[Any] = []
        for segment in self.segments:
            if ids is None:
                q = self._segment(query, segment, True)
                got = conn.execute(q.limit(size - len(rows)).offset(offset)).mappings().all()
            else:
                found = self._segment(ids, segment, True).limit(size - len(rows)).offset(offset)
                page_ids = [r[0] for r in conn.execute(found)]
                whole = {
                    r["call_id"]: r
                    for r in conn.execute(query.where(calls.c.call_id.in_(page_ids))).mappings()
                }
                got = [whole[i] for i in page_ids if i in whole]
            rows += got
            if len(rows) >= size:
                break
            # this segment ended inside the page, or before it: what is left of the offset
            counted = ids if ids is not None else query
            offset = 0 if got else max(0, offset - _count(conn, self._segment(counted, segment, True)))
        return rows

    def cursor(self, row: Any) -> Cursor:
        value = row[SORT_KEYS[self.sort]]
        if isinstance(value, dt.datetime):
            value = value.isoformat()
        return Cursor(self.sort, self.direction, value, row["call_id"])


def _cursor_value(sort: str, value: Any) -> Any:
    if sort in ("created", "updated"):
        try:
            return dt.datetime.fromisoformat(str(value))
        except ValueError:
            return dt.datetime.min
    if sort == "duration":
        return value if isinstance(value, int | float) else 0.0
    return str(value)


def list_calls(conn: Connection, viewer: Viewer, f: Filters) -> Page:
    search = Search.for_dialect(conn.dialect.name, f.q) if f.q else None
    if search is not None and not search.phrases:  # only punctuation: no word to look for
        return Page([], 0, f.page, f.page_size)
    if search is None:
        total, estimate = _list_count(conn, viewer, f)
    else:
        total, estimate = _search_count(conn, viewer, f, search)
    sort = f.sort if f.sort != RELEVANCE or search is not None else "created"
    query = filtered(viewer, f, search=search)
    if search is not None:
        query = query.add_columns(search_docs.c.id.label("doc_id"))
    next_cursor = prev_cursor = None
    if sort == RELEVANCE:  # the best match first whichever `dir` says; pages by number
        order = [search.rank(), calls.c.call_id.asc()]  # type: ignore[union-attr]
        found = conn.execute(
            query.order_by(*order).limit(f.page_size).offset((f.page - 1) * f.page_size)
        ).mappings()
        rows = [dict(r) for r in found]
    else:
        keyset = Keyset(sort, f.direction == "asc")
        if f.cursor_fits(sort):
            forward = f.after is not None
            found = keyset.page(conn, query, f.page_size, f.after or f.before, forward)
        else:
            # the assignee order is a column of the joined users: it pages on the whole query
            ids = None if sort == "assignee" else filtered(viewer, f, calls.c.call_id, search=search)
            found = keyset.at_offset(conn, query, f.page_size, (f.page - 1) * f.page_size, ids)
        rows = [dict(r) for r in found]
        if rows:
            next_cursor, prev_cursor = keyset.cursor(rows[-1]), keyset.cursor(rows[0])
    if estimate:
        # the sample is not this page: never claim fewer calls than are shown, and keep "next"
        # reachable after a full page (for a search, the sample is the index's first matches, not
        # a random draw, so a date range can pass none of it while later matches fill this page)
        shown = (f.page - 1) * f.page_size + len(rows)
        total = max(total, shown + (1 if len(rows) == f.page_size else 0))
    if search is not None:
        snippets = search.snippets(conn, [r["doc_id"] for r in rows])
        for r in rows:
            r["snippet"] = snippets.get(r.pop("doc_id"))
    return Page(
        rows,
        total,
        f.page,
        f.page_size,
        total_is_estimate=estimate,
        # a full page may have more after it; a page read backwards has at least the cursor's row
        next_cursor=next_cursor if len(rows) == f.page_size or f.before is not None else None,
        prev_cursor=prev_cursor if f.page > 1 else None,
    )


def get_call(conn: Connection, viewer: Viewer, call_id: str) -> dict[str, Any]:
    """The call row (with assignee and the roles override, in one query) or NotFound / Forbidden."""
    query = (
        sa.select(
            calls,
            assignments.c.user_id.label("assignee_id"),
            assignee_user.c.username.label("assignee"),
            overrides.c.roles_swapped,
        )
        .select_from(calls)
        .outerjoin(assignments, assignments.c.call_id == calls.c.call_id)
        .outerjoin(assignee_user, assignee_user.c.id == assignments.c.user_id)
        .outerjoin(overrides, overrides.c.call_id == calls.c.call_id)
        .where(calls.c.call_id == call_id)
    )
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFound(call_id)
    if not viewer.can_all and row["assignee_id"] != viewer.user_id:
        raise Forbidden(call_id)
    call = dict(row)
    call["metrics"] = json.loads(call["metrics_json"]) if call.get("metrics_json") else {}
    call["roles_swapped"] = bool(call["roles_swapped"])
    return call


def require_visible(conn: Connection, viewer: Viewer, call_id: str) -> None:
    """NotFound when there is no such call, Forbidden when it is outside the viewer's scope."""
    row = conn.execute(
        sa.select(calls.c.call_id, assignments.c.user_id)
        .select_from(calls)
        .outerjoin(assignments, assignments.c.call_id == calls.c.call_id)
        .where(calls.c.call_id == call_id)
    ).first()
    if row is None:
        raise NotFound(call_id)
    if not viewer.can_all and row.user_id != viewer.user_id:
        raise Forbidden(call_id)


def status_history(conn: Connection, call_id: str) -> list[dict[str, Any]]:
    query = (
        sa.select(
            call_events.c.event_id,
            call_events.c.status,
            call_events.c.previous_status,
            call_events.c.error_message,
            call_events.c.payload_json,
            call_events.c.created_at,
        )
        .where(call_events.c.call_id == call_id)
        .order_by(call_events.c.event_id)
    )
    history = []
    for row in conn.execute(query).mappings():
        item = dict(row)
        payload = json.loads(item.pop("payload_json") or "{}")
        item["event"] = payload.get("event")
        history.append(item)
    return history


_facets_cache: dict[tuple[str, Viewer], tuple[float, dict[str, list[str]]]] = {}
_facets_lock = threading.Lock()


def facets(conn: Connection, viewer: Viewer) -> dict[str, list[str]]:
    """Values for the filter drop-downs, from the calls the viewer may see.

    Two DISTINCT scans over every visible call cost more than the page itself at 100k calls, and a
    new category or agent can wait a minute to appear in a drop-down: kept per viewer for a minute.
    """
    now, key = time.monotonic(), (str(conn.engine.url), viewer)
    with _facets_lock:
        cached = _facets_cache.get(key)
    if cached and now - cached[0] < FACETS_TTL_S:
        return cached[1]
    values = _facets(conn, viewer)
    with _facets_lock:
        _facets_cache[key] = (now, values)
    return values


def _facets(conn: Connection, viewer: Viewer) -> dict[str, list[str]]:
    base = _base(viewer, calls.c.category, calls.c.agent_id).subquery()
    out: dict[str, list[str]] = {}
    for name in ("category", "agent_id"):
        col = base.c[name]
        out[name] = [
            r[0]
            for r in conn.execute(sa.select(col).where(col.is_not(None)).distinct().order_by(col).limit(200))
        ]
    return out


def caseworkers(conn: Connection) -> list[dict[str, Any]]:
    """Active users, for the assignee drop-downs (everyone with a role may be assigned)."""
    query = sa.select(users.c.id, users.c.username, users.c.first_name, users.c.last_name).where(
        users.c.active.is_(True)
    )
    return [dict(r._mapping) for r in conn.execute(query.order_by(users.c.username))]


def latest_cursor(conn: Connection) -> dict[str, int]:
    """Where the live feed stands now: a page rendered now asks for what comes after."""
    return {
        "event": conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(call_events.c.event_id), 0))
        ).scalar_one(),
        "audit": conn.execute(sa.select(sa.func.coalesce(sa.func.max(audit.c.id), 0))).scalar_one(),
    }
