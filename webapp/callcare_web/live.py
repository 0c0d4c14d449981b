"""Live updates over a WebSocket, fed from the registry's event outbox.

One poller thread per process reads `call_events` (by event_id) and the audit log's assignment
entries (by id) and fans them out to the open sockets. Each socket belongs to a user: it receives an
event only when that user may see the call at that moment (a caseworker: calls assigned to them).
A client reconnecting passes the last ids it saw and gets what it missed, from the database.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import sqlalchemy as sa
from callcare.core.registry import call_events, calls
from flask import Flask, current_app, g, request, session
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from callcare_web import sessions
from callcare_web.queries import latest_cursor
from callcare_web.search_index import catch_up
from callcare_web.security import CALLS
from callcare_web.tables import assignments, audit

log = logging.getLogger(__name__)

ASSIGNMENT_ACTIONS = ("assign",)
BACKLOG_LIMIT = 500
PING_S = 20.0
# how often an open socket checks that its session still stands (logout, deactivation, role change)
CHECK_S = 5.0
QUEUE_LIMIT = 1000
# how long a refused socket waits for the client to answer its Close frame before the connection drops
CLOSE_GRACE_S = 2.0
POLICY_VIOLATION = 1008


@dataclass(eq=False)
class Subscriber:
    user_id: int
    can_all: bool
    queue: queue.Queue = field(default_factory=lambda: queue.Queue(QUEUE_LIMIT))


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _call_fields(conn: sa.Connection, call_ids: set[str]) -> dict[str, dict[str, Any]]:
    if not call_ids:
        return {}
    query = (
        sa.select(
            calls.c.call_id,
            calls.c.status,
            calls.c.call_date,
            calls.c.sentiment,
            calls.c.category,
            calls.c.agent_id,
            calls.c.escalated,
            calls.c.resolved,
            assignments.c.user_id.label("assignee_id"),
        )
        .select_from(calls)
        .outerjoin(assignments, assignments.c.call_id == calls.c.call_id)
        .where(calls.c.call_id.in_(sorted(call_ids)))
    )
    return {r.call_id: dict(r._mapping) for r in conn.execute(query)}


def read_messages(
    engine: sa.Engine, after_event: int, after_audit: int, limit: int = BACKLOG_LIMIT
) -> list[dict]:
    """Messages after the given ids: call events, then assignment changes, each in id order."""
    with engine.connect() as conn:
        events = (
            conn.execute(
                sa.select(call_events)
                .where(call_events.c.event_id > after_event)
                .order_by(call_events.c.event_id)
                .limit(limit)
            )
            .mappings()
            .all()
        )
        assigns = (
            conn.execute(
                sa.select(audit.c.id, audit.c.call_id, audit.c.detail, audit.c.at)
                .where(audit.c.id > after_audit, audit.c.action.in_(ASSIGNMENT_ACTIONS))
                .order_by(audit.c.id)
                .limit(limit)
            )
            .mappings()
            .all()
        )
        fields = _call_fields(conn, {e["call_id"] for e in events} | {a["call_id"] for a in assigns})
    messages = []
    for e in events:
        payload = json.loads(e["payload_json"] or "{}")
        call = fields.get(e["call_id"], {})
        messages.append(
            {
                "type": "call",
                "event_id": e["event_id"],
                "call_id": e["call_id"],
                "status": e["status"],
                "previous_status": e["previous_status"],
                "event": payload.get("event") or "status",
                "error_message": e["error_message"],
                "at": _iso(e["created_at"]),
                "call_date": call.get("call_date"),
                "sentiment": call.get("sentiment"),
                "category": call.get("category"),
                "agent_id": call.get("agent_id"),
                "escalated": call.get("escalated"),
                "resolved": call.get("resolved"),
                "current_status": call.get("status"),
                "_assignee": call.get("assignee_id"),
            }
        )
    for a in assigns:
        detail = json.loads(a["detail"] or "{}")
        call = fields.get(a["call_id"], {})
        messages.append(
            {
                "type": "assignment",
                "audit_id": a["id"],
                "call_id": a["call_id"],
                "to_user_id": detail.get("to_user_id"),
                "from_user_id": detail.get("from_user_id"),
                "at": _iso(a["at"]),
                "current_status": call.get("status"),
                "_assignee": call.get("assignee_id"),
                "_involved": [detail.get("to_user_id"), detail.get("from_user_id")],
            }
        )
    return messages


def visible(message: dict[str, Any], user_id: int, can_all: bool) -> bool:
    if can_all:
        return True
    if message["type"] == "assignment":
        return user_id in message["_involved"]
    return message.get("_assignee") == user_id


def for_client(message: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in message.items() if not k.startswith("_")}
    if out["type"] == "call":
        out["alert"] = bool(
            out["status"] == "COMPLETED" and (out.get("sentiment") == "Negative" or out.get("escalated"))
        )
    return out


class LiveHub:
    """The per-process poller and its subscribers."""

    def __init__(self, app: Flask, interval_s: float) -> None:
        self.app = app
        self.interval_s = interval_s
        self.subscribers: set[Subscriber] = set()
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.cursor: dict[str, int] | None = None

    def _engine(self) -> sa.Engine:
        return self.app.extensions["sqlalchemy"].engine

    def start(self) -> None:
        with self.lock:
            if self.thread is not None and self.thread.is_alive():
                return
            with self.app.app_context(), self._engine().connect() as conn:
                self.cursor = latest_cursor(conn)
            self.thread = threading.Thread(target=self._run, name="callcare-live", daemon=True)
            self.thread.start()

    def subscribe(self, user_id: int, can_all: bool) -> Subscriber:
        self.start()
        sub = Subscriber(user_id, can_all)
        with self.lock:
            self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self.lock:
            self.subscribers.discard(sub)

    def poke(self) -> None:
        """Poll now (an SNS notification said something happened)."""
        self.wake.set()

    def _run(self) -> None:
        while True:
            self.wake.wait(self.interval_s)
            self.wake.clear()
            try:
                with self.app.app_context():
                    self.poll_once()
            except Exception:  # the poller must outlive a database hiccup
                log.exception("live feed: poll failed")

    def poll_once(self) -> int:
        assert self.cursor is not None
        engine = self._engine()
        messages = read_messages(engine, self.cursor["event"], self.cursor["audit"])
        if not messages:
            return 0
        for m in messages:
            if m["type"] == "call":
                self.cursor["event"] = max(self.cursor["event"], m["event_id"])
            else:
                self.cursor["audit"] = max(self.cursor["audit"], m["audit_id"])
        if any(m["type"] == "call" and m["status"] == "COMPLETED" for m in messages):
            # a completed or re-summarized call: searchable before anyone searches (search_index)
            catch_up(engine, self.app.config["CALLCARE_WEB"].core)
        with self.lock:
            subscribers = list(self.subscribers)
        for sub in subscribers:
            for m in messages:
                if visible(m, sub.user_id, sub.can_all):
                    with contextlib.suppress(queue.Full):
                        sub.queue.put_nowait(m)
        return len(messages)


def _int_arg(name: str) -> int | None:
    try:
        return int(request.args[name])
    except (KeyError, ValueError):
        return None


def refuse(ws: Any, message: str) -> None:
    """Close with 1008 (the page stops reconnecting on it) and wait for the closing handshake.

    Returning at once lets the server tear the TCP connection down right behind the Close frame: a
    client that read the frame together with the handshake's 101 then meets the end of the stream
    before it has looked at the frame, and reports 1005 (no status) instead. Waiting until the client
    answers the Close, or drops the connection, or the grace runs out, is the closing handshake RFC 6455
    asks for: the connection goes down only after the client has had the frame.
    """
    ws.close(reason=POLICY_VIOLATION, message=message)
    reader = getattr(ws, "thread", None)  # simple_websocket's reader: it ends on the client's answer
    if reader is not None:
        reader.join(CLOSE_GRACE_S)


def register(app: Flask) -> LiveHub:
    sock = Sock(app)
    hub = LiveHub(app, app.config["CALLCARE_WEB"].poll_interval_s)
    app.extensions["callcare_live"] = hub

    @sock.route("/live", bp=None)
    def live(ws: Any) -> None:
        sm = current_app.appbuilder.sm
        user = getattr(g, "user", None)
        origin = request.headers.get("Origin")
        if origin and urlparse(origin).netloc != request.host:
            refuse(ws, "cross-origin")  # another site's page riding on the session
            return
        if not getattr(user, "is_authenticated", False) or not sm.has_access("can_live", CALLS):
            refuse(ws, "login required")
            return
        can_all = sm.has_access("can_list_all", CALLS)
        generation = session.get(sessions.SESSION_KEY)
        sub = hub.subscribe(user.id, can_all)
        try:
            after_event, after_audit = _int_arg("after_event"), _int_arg("after_audit")
            sent_event = after_event or 0
            sent_audit = after_audit or 0
            if after_event is not None and after_audit is not None:
                # what the client missed while away (or between page render and connect)
                for m in read_messages(hub._engine(), after_event, after_audit):
                    if visible(m, user.id, can_all):
                        ws.send(json.dumps(for_client(m)))
                    if m["type"] == "call":
                        sent_event = max(sent_event, m["event_id"])
                    else:
                        sent_audit = max(sent_audit, m["audit_id"])
            ws.send(
                json.dumps({"type": "hello", "user_id": user.id, "scope": "all" if can_all else "assigned"})
            )
            checked = pinged = time.monotonic()
            while True:
                try:
                    m = sub.queue.get(timeout=CHECK_S)
                except queue.Empty:
                    m = None
                now = time.monotonic()
                if now - checked >= CHECK_S:
                    # the scope this socket was opened with holds only while its session does: a
                    # logout, deactivation or role change ends it (review L2)
                    if not sessions.still_valid(hub._engine(), user.id, generation):
                        refuse(ws, "session ended")
                        return
                    checked = now
                if m is None:
                    if now - pinged >= PING_S:
                        ws.send(json.dumps({"type": "ping"}))
                        pinged = now
                    continue
                # skip what the backlog already delivered
                if m["type"] == "call" and m["event_id"] <= sent_event:
                    continue
                if m["type"] == "assignment" and m["audit_id"] <= sent_audit:
                    continue
                ws.send(json.dumps(for_client(m)))
        except ConnectionClosed:
            pass
        finally:
            hub.unsubscribe(sub)

    return hub
