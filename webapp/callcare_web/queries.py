"""Reading calls for the pages and the API: scoping by user, filters, search, sorting, paging, history.

Reads only: every change goes through callcare_web.commands. The registry's `calls` table is the
source of every list. A caseworker sees only the calls assigned to them; a user with the
`can_list_all` permission on Calls (supervisors, admins) sees every call.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from callcare.core.registry import call_events, calls
from sqlalchemy.engine import Connection

from callcare_web.errors import Forbidden, NotFound
from callcare_web.filters import SORTS, Filters
from callcare_web.tables import assignee_user, assignments, audit, overrides, search_docs, users

MAX_TERMS = 8
SEARCH_COUNT_CAP = 1000
FACETS_TTL_S = 60.0

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
}
assert tuple(SORT_COLUMNS) == SORTS, "every sort the filters accept needs its column"
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

    total_is_lower_bound: bool = False  # a search counts up to SEARCH_COUNT_CAP matches

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _base(viewer: Viewer, *columns: Any) -> sa.Select:
    """The calls the viewer may see; with `columns`, only those (a count needs no user names)."""
    query = sa.select(*(columns or LIST_COLUMNS)).select_from(calls)
    query = query.outerjoin(assignments, assignments.c.call_id == calls.c.call_id)
    if not columns:
        query = query.outerjoin(assignee_user, assignee_user.c.id == assignments.c.user_id)
    if not viewer.can_all:
        query = query.where(assignments.c.user_id == viewer.user_id)
    return query


def _search_clause(q: str) -> Any:
    terms = [t.lower() for t in q.split()][:MAX_TERMS]
    clauses = []
    for term in terms:
        direct = [
            sa.func.lower(col).contains(term, autoescape=True)
            for col in (calls.c.call_id, calls.c.agent_id, calls.c.customer_id, calls.c.category)
        ]
        text = sa.exists().where(
            search_docs.c.call_id == calls.c.call_id,
            sa.or_(
                search_docs.c.summary_text.contains(term, autoescape=True),
                search_docs.c.transcript_text.contains(term, autoescape=True),
            ),
        )
        clauses.append(sa.or_(*direct, text))
    return sa.and_(*clauses)


def filtered(viewer: Viewer, f: Filters, *columns: Any) -> sa.Select:
    query = _base(viewer, *columns)
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
        query = query.where(assignments.c.user_id.is_(None))
    elif f.assignee:
        query = query.where(assignments.c.user_id == int(f.assignee))
    if f.q:
        query = query.where(_search_clause(f.q))
    return query


def list_calls(conn: Connection, viewer: Viewer, f: Filters) -> Page:
    counted = filtered(viewer, f, calls.c.call_id)
    if f.q:  # a text search scans every transcript to count: stop once the count is past the cap
        counted = counted.limit(SEARCH_COUNT_CAP + 1)
    total = conn.execute(sa.select(sa.func.count()).select_from(counted.subquery())).scalar_one()
    column = SORT_COLUMNS[f.sort]
    ascending = f.direction == "asc"
    tiebreak = calls.c.call_id.asc() if ascending else calls.c.call_id.desc()
    order = [column.asc() if ascending else column.desc(), tiebreak]
    if column.nullable:  # NULLs last whichever way (a NOT NULL column keeps its index usable)
        order.insert(0, column.is_(None))
    rows = conn.execute(
        filtered(viewer, f).order_by(*order).limit(f.page_size).offset((f.page - 1) * f.page_size)
    ).mappings()
    page = Page([dict(r) for r in rows], min(total, SEARCH_COUNT_CAP) if f.q else total, f.page, f.page_size)
    page.total_is_lower_bound = bool(f.q) and total > SEARCH_COUNT_CAP
    return page


def get_call(conn: Connection, viewer: Viewer, call_id: str) -> dict[str, Any]:
    """The call row (with assignee) or NotFound / Forbidden."""
    query = (
        sa.select(
            calls, assignments.c.user_id.label("assignee_id"), assignee_user.c.username.label("assignee")
        )
        .select_from(calls)
        .outerjoin(assignments, assignments.c.call_id == calls.c.call_id)
        .outerjoin(assignee_user, assignee_user.c.id == assignments.c.user_id)
        .where(calls.c.call_id == call_id)
    )
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFound(call_id)
    if not viewer.can_all and row["assignee_id"] != viewer.user_id:
        raise Forbidden(call_id)
    call = dict(row)
    call["metrics"] = json.loads(call["metrics_json"]) if call.get("metrics_json") else {}
    override = conn.execute(
        sa.select(overrides.c.roles_swapped).where(overrides.c.call_id == call_id)
    ).first()
    call["roles_swapped"] = bool(override and override.roles_swapped)
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
