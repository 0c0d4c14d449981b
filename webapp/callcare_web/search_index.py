"""Who writes the full-text search index, and when.

The index is the database's own (FTS5 on SQLite, a GIN-indexed tsvector on PostgreSQL: migration
0005), built by triggers over `web_search_doc`, one row per completed call with its text by field.
Only this module writes those rows, inside the web app, because the text is in the lake documents
and the pipeline's layers may not import the web app's tables. It writes them at three moments:

1. **Before every search and list** (`catch_up`, called by the list page and the API): the registry's outbox
   already holds an event for every change that matters, written in the same transaction as the
   change (COMPLETED, and `resummarized`, which carries the call's status, COMPLETED). `catch_up`
   reads the events after this process's cursor (a primary-key range, a few rows) and re-indexes
   those calls before the search runs. So a call is searchable by the first search after its
   COMPLETED event, with no wait: the cost is two small queries per search and the lake reads of
   the calls that just completed. A list shows each call's issue sentence from these rows, so it
   catches up too, but without waiting (`wait_s=0`): when another request holds the lock, the list
   goes on with what is indexed.
2. **As events arrive**, while a page is open (the live feed's poller, which runs once a socket has
   connected, calls `catch_up` when it sees a COMPLETED event,
   every `CALLCARE_WEB_POLL_INTERVAL_S`, 1 s by default), so a search seldom has anything to do.
3. **A reconcile pass** (`reconcile`) in a background thread at a process's first catch-up and then
   every `RECONCILE_S`: every completed call without a row, or whose row was built from other
   document URIs, is indexed. It covers what the cursor cannot see: rows dropped by a migration,
   events older than the cursor when a process starts, a lake read that failed (its row is marked
   stale and retried here). That query compares every completed call with its row, so it runs
   rarely and never on a request's thread.

A re-summarize with the same prompt version rewrites the same summary file, so the URIs do not
change: the event, not the URIs, is what says the text changed, and the row is rewritten with the
new text (the triggers replace the old index entries). Re-indexing is idempotent: a row records the
event it is as of, and an event older than its row is skipped.

Nothing here logs document text: failures are logged with the call id and the exception's type
only (a database error's message would carry the statement's parameters, the transcript included).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from callcare.config import Settings
from callcare.core.registry import call_events, calls
from callcare.status import CallStatus
from sqlalchemy.engine import Engine

from callcare_web.documents import read_document
from callcare_web.errors import NotInLake
from callcare_web.models import utcnow
from callcare_web.tables import search_docs

log = logging.getLogger(__name__)

SUMMARY_LIST_FIELDS = ("key_details", "action_items", "next_steps")
SUMMARY_TEXT_FIELDS = ("category", "sentiment")
# snippet markers (private-use characters): the queries escape the snippet, then turn these into <mark>
MARK_START, MARK_END = "\ue000", "\ue001"
_MARKS = str.maketrans({MARK_START: " ", MARK_END: " "})

# events re-read behind the cursor: an event id taken by a transaction that commits after a later one
LOOKBACK_EVENTS = 200
BATCH = 200
RECONCILE_S = 300.0
CATCH_UP_WAIT_S = 2.0


def _clean(text: str) -> str:
    return text.translate(_MARKS)


def document_fields(
    call_id: str,
    agent_id: str | None,
    customer_id: str | None,
    summary: dict[str, Any] | None,
    transcript: dict[str, Any] | None,
) -> dict[str, str]:
    """The four indexed fields of a call, as the ranking weighs them (ids, issue, summary, transcript)."""
    body = (summary or {}).get("summary") or {}
    ids = [call_id, agent_id or body.get("agent_id"), customer_id or body.get("customer_id")]
    parts = [str(body.get(k) or "") for k in SUMMARY_TEXT_FIELDS]
    for key in SUMMARY_LIST_FIELDS:
        parts.extend(str(item) for item in body.get(key) or [])
    turns = ((transcript or {}).get("transcript") or {}).get("turns") or []
    return {
        "ids_text": _clean(" ".join(str(i) for i in ids if i)),
        "issue_text": _clean(str(body.get("issue_sentence") or "")),
        "summary_text": _clean(" ".join(p for p in parts if p)),
        "transcript_text": _clean(" ".join(str(t.get("text") or "") for t in turns)),
    }


def _source(row: Any) -> str:
    return f"{row.summary_uri or ''}|{row.transcript_uri or ''}"


def index_call(engine: Engine, settings: Settings, call_id: str, event_id: int | None = None) -> bool:
    """(Re)write one call's row from its lake documents; False (row marked stale) when they are unreadable."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(
                calls.c.call_id,
                calls.c.agent_id,
                calls.c.customer_id,
                calls.c.summary_uri,
                calls.c.transcript_uri,
            ).where(calls.c.call_id == call_id)
        ).first()
    if row is None:
        return False
    try:
        summary = read_document(settings, row.summary_uri)
        transcript = read_document(settings, row.transcript_uri)
    except (NotInLake, OSError, ValueError) as exc:
        log.warning("search index: call %s: documents unreadable (%s)", call_id, type(exc).__name__)
        _mark_stale(engine, call_id)
        return False
    values = {
        "source": _source(row),
        "event_id": event_id,
        "indexed_at": utcnow(),
        **document_fields(row.call_id, row.agent_id, row.customer_id, summary, transcript),
    }
    try:
        with engine.begin() as conn:
            updated = conn.execute(
                search_docs.update().where(search_docs.c.call_id == call_id).values(**values)
            ).rowcount
            if not updated:
                conn.execute(search_docs.insert().values(call_id=call_id, **values))
    except sa.exc.IntegrityError:
        return True  # another thread or process inserted it at the same moment, from the same event
    except sa.exc.SQLAlchemyError as exc:  # its message holds the parameters: the text, never logged
        log.warning("search index: call %s: not written (%s)", call_id, type(exc).__name__)
        return False
    return True


def _mark_stale(engine: Engine, call_id: str) -> None:
    """The row keeps its text (still searchable), with a source no call has: reconcile retries it."""
    try:
        with engine.begin() as conn:
            conn.execute(search_docs.update().where(search_docs.c.call_id == call_id).values(source=""))
    except sa.exc.SQLAlchemyError as exc:
        log.warning("search index: call %s: not marked stale (%s)", call_id, type(exc).__name__)


@dataclass
class _State:
    """One process's position in the outbox, per database."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    cursor: int | None = None
    last_reconcile: float = float("-inf")
    reconciling: threading.Thread | None = None


_states: dict[str, _State] = {}
_states_lock = threading.Lock()


def _state(engine: Engine) -> _State:
    key = engine.url.render_as_string(hide_password=False)
    with _states_lock:
        return _states.setdefault(key, _State())


def forget(engine: Engine) -> None:
    """Drop this process's cursor for the database (tests that rebuild a database under one URL)."""
    with _states_lock:
        _states.pop(engine.url.render_as_string(hide_password=False), None)


def _start_cursor(conn: sa.Connection) -> int:
    """Where a process starts reading: the newest event any row is as of; with no such row (a fresh
    index, or rows from reconcile only), the outbox's end, and reconcile covers what came before."""
    indexed = conn.execute(sa.select(sa.func.max(search_docs.c.event_id))).scalar()
    if indexed is not None:
        return int(indexed)
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(call_events.c.event_id), 0))).scalar_one())


def start(engine: Engine) -> None:
    """Set this process's cursor now (the app factory calls it): the events from here on are the
    catch-up's; what completed before is the index's already, or reconcile's."""
    state = _state(engine)
    with state.lock, engine.connect() as conn:
        if state.cursor is None:
            state.cursor = _start_cursor(conn)


def changed_since(conn: sa.Connection, after: int, limit: int = BATCH) -> list[tuple[str, int]]:
    """(call_id, event_id) of the COMPLETED events after `after` whose call's row is older, oldest first.

    Grouped by `call_id || ''`, not the column: SQLite grouped by walking the whole call_id index (every
    event, 60 ms at 400,000) instead of the few events past the cursor; the list runs this per request.
    """
    call_id = (call_events.c.call_id + "").label("call_id")
    query = (
        sa.select(call_id, sa.func.max(call_events.c.event_id).label("event_id"))
        .select_from(call_events.outerjoin(search_docs, search_docs.c.call_id == call_events.c.call_id))
        .where(
            call_events.c.event_id > after,
            call_events.c.status == CallStatus.COMPLETED.value,
            sa.or_(search_docs.c.event_id.is_(None), search_docs.c.event_id < call_events.c.event_id),
        )
        .group_by(call_id)
        .order_by(sa.func.max(call_events.c.event_id))
        .limit(limit)
    )
    return [(r.call_id, int(r.event_id)) for r in conn.execute(query)]


def catch_up(engine: Engine, settings: Settings, wait_s: float = CATCH_UP_WAIT_S) -> int:
    """Index the calls the outbox says changed since this process last looked; what a search runs first.

    One thread at a time; the others wait for it (at most `wait_s`, then search what is indexed), so a
    search that starts after a COMPLETED event finds that call. Returns how many calls it indexed.
    """
    state = _state(engine)
    _maybe_reconcile(engine, settings, state)
    if not state.lock.acquire(timeout=wait_s):
        return 0
    try:
        with engine.connect() as conn:
            if state.cursor is None:
                state.cursor = _start_cursor(conn)
            end = int(
                conn.execute(sa.select(sa.func.coalesce(sa.func.max(call_events.c.event_id), 0))).scalar_one()
            )
            changed = changed_since(conn, max(0, state.cursor - LOOKBACK_EVENTS))
        done = 0
        for call_id, event_id in changed:
            done += index_call(engine, settings, call_id, event_id)
        # a full batch may have left events behind: go on from the last one next time
        state.cursor = changed[-1][1] if len(changed) >= BATCH else max(state.cursor, end)
        return done
    finally:
        state.lock.release()


def pending(engine: Engine, limit: int = BATCH) -> list[Any]:
    """Completed calls with no row, or a row built from other documents (or marked stale)."""
    source = sa.func.coalesce(calls.c.summary_uri, "") + "|" + sa.func.coalesce(calls.c.transcript_uri, "")
    query = (
        sa.select(calls.c.call_id)
        .select_from(calls.outerjoin(search_docs, search_docs.c.call_id == calls.c.call_id))
        .where(
            calls.c.status == CallStatus.COMPLETED.value,
            sa.or_(search_docs.c.call_id.is_(None), search_docs.c.source != source),
        )
        .limit(limit)
    )
    with engine.connect() as conn:
        return list(conn.execute(query))


def reconcile(engine: Engine, settings: Settings, max_s: float = 600.0) -> int:
    """Index every pending call (in batches), until none is left, a batch fails entirely, or `max_s`."""
    started, done = time.monotonic(), 0
    while time.monotonic() - started < max_s:
        batch = pending(engine)
        if not batch:
            break
        indexed = sum(index_call(engine, settings, row.call_id) for row in batch)
        done += indexed
        if not indexed:
            break  # the lake is unreadable for all of them: the next pass retries
    return done


def _maybe_reconcile(engine: Engine, settings: Settings, state: _State) -> None:
    with _states_lock:
        now = time.monotonic()
        running = state.reconciling is not None and state.reconciling.is_alive()
        if running or now - state.last_reconcile < RECONCILE_S:
            return
        state.last_reconcile = now

        def run() -> None:
            try:
                indexed = reconcile(engine, settings)
                if indexed:
                    log.info("search index: reconcile indexed %d calls", indexed)
            except Exception as exc:  # a database hiccup: the next pass retries (no text in the log)
                log.warning("search index: reconcile failed (%s)", type(exc).__name__)

        state.reconciling = threading.Thread(target=run, name="callcare-search-reconcile", daemon=True)
        state.reconciling.start()
