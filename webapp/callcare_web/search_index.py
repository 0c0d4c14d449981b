"""Full-text search support: the summary and transcript text of completed calls, copied from the lake.

A call is (re)indexed when its summary or transcript URI differs from what its row was built from, so
a re-summarized call is searched by its new summary. The live feed's poller keeps the index current;
a search first catches up on what is pending (at most every few seconds per process, see catch_up),
so results lag the list by seconds at most.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import sqlalchemy as sa
from callcare.config import Settings
from callcare.core.registry import calls
from callcare.status import CallStatus
from sqlalchemy.engine import Engine

from callcare_web.documents import read_document
from callcare_web.models import utcnow
from callcare_web.tables import search_docs

log = logging.getLogger(__name__)

SUMMARY_TEXT_FIELDS = ("issue_sentence", "category", "sentiment", "agent_id", "customer_id")
SUMMARY_LIST_FIELDS = ("key_details", "action_items", "next_steps")


def _source(row: Any) -> str:
    return f"{row.summary_uri or ''}|{row.transcript_uri or ''}"


def summary_text(doc: dict[str, Any] | None) -> str:
    if not doc:
        return ""
    summary = doc.get("summary", {})
    parts = [str(summary.get(k) or "") for k in SUMMARY_TEXT_FIELDS]
    for key in SUMMARY_LIST_FIELDS:
        parts.extend(str(item) for item in summary.get(key) or [])
    return " ".join(p for p in parts if p).lower()


def transcript_text(doc: dict[str, Any] | None) -> str:
    if not doc:
        return ""
    return " ".join(t.get("text") or "" for t in doc.get("transcript", {}).get("turns", [])).lower()


def pending(engine: Engine, limit: int = 200) -> list[Any]:
    source = sa.func.coalesce(calls.c.summary_uri, "") + "|" + sa.func.coalesce(calls.c.transcript_uri, "")
    query = (
        sa.select(calls.c.call_id, calls.c.summary_uri, calls.c.transcript_uri)
        .select_from(calls.outerjoin(search_docs, search_docs.c.call_id == calls.c.call_id))
        .where(
            calls.c.status == CallStatus.COMPLETED.value,
            sa.or_(search_docs.c.call_id.is_(None), search_docs.c.source != source),
        )
        .limit(limit)
    )
    with engine.connect() as conn:
        return list(conn.execute(query))


_catch_up_lock = threading.Lock()
_last_catch_up: dict[str, float] = {}
CATCH_UP_INTERVAL_S = 5.0


def catch_up(engine: Engine, settings: Settings) -> int:
    """What a search runs first: index what is pending, at most every few seconds per process.

    Finding pending calls compares every completed call with its index row; run on every search by
    every client at once, that scan cost more than the search. One thread does it while the others
    search what is indexed (the live feed's poller indexes new calls as they complete anyway).
    """
    key = str(engine.url)
    if not _catch_up_lock.acquire(blocking=False):
        return 0
    try:
        if time.monotonic() - _last_catch_up.get(key, float("-inf")) < CATCH_UP_INTERVAL_S:
            return 0
        done = index_pending(engine, settings)
        _last_catch_up[key] = time.monotonic()
        return done
    finally:
        _catch_up_lock.release()


def index_pending(engine: Engine, settings: Settings, limit: int = 200) -> int:
    done = 0
    for row in pending(engine, limit):
        try:
            summary = read_document(settings, row.summary_uri)
            transcript = read_document(settings, row.transcript_uri)
        except (OSError, ValueError) as exc:
            log.warning("search index: call %s: documents unreadable (%s)", row.call_id, type(exc).__name__)
            summary = transcript = None
        values = {
            "source": _source(row),
            "summary_text": summary_text(summary),
            "transcript_text": transcript_text(transcript),
            "indexed_at": utcnow(),
        }
        try:
            with engine.begin() as conn:
                updated = conn.execute(
                    search_docs.update().where(search_docs.c.call_id == row.call_id).values(**values)
                ).rowcount
                if not updated:
                    conn.execute(search_docs.insert().values(call_id=row.call_id, **values))
        except sa.exc.IntegrityError:
            continue  # another thread indexed it at the same moment
        done += 1
    return done
