"""The call registry and its event outbox (SQLite locally, PostgreSQL in production).

Every status change updates the call row and appends an outbox event in the same transaction, so
the web app's live feed and the SNS publisher never miss or invent a change.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from callcare.core.database import make_engine
from callcare.core.registry_tables import call_events, calls, metadata
from callcare.status import CallStatus, check_transition

__all__ = ["CallNotFound", "NewCall", "Registry", "call_events", "calls", "make_engine", "metadata"]

# Columns a pipeline step may set beside the status.
UPDATABLE = frozenset(
    c.name
    for c in calls.columns
    if c.name not in {"call_id", "source", "source_ref", "content_sha256", "created_at", "status"}
)


class CallNotFound(KeyError):
    pass


@dataclass(frozen=True)
class NewCall:
    call_id: str
    source: str
    source_ref: str
    content_sha256: str
    call_date: str
    audio_uri: str
    audio_format: str
    size_bytes: int


def _now() -> datetime:
    return datetime.now(UTC)


class Registry:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)

    def create_schema(self) -> None:
        """Migrate the database to the head of the registry's history (callcare.core.schema).

        Safe when many processes call it at once and cheap when the database is already there; the
        tables above are what the migrations must produce, never what shapes a database.
        """
        from callcare.core import schema

        schema.upgrade(self.engine)

    # -- writes ------------------------------------------------------------------------------
    def register(self, new: NewCall) -> bool:
        """Insert the call as UPLOADED; False when it is already known (re-delivery is a no-op)."""
        now = _now()
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(calls.c.call_id).where(calls.c.call_id == new.call_id)).first()
            if exists:
                return False
            conn.execute(
                calls.insert().values(
                    **new.__dict__,
                    status=CallStatus.UPLOADED.value,
                    created_at=now,
                    updated_at=now,
                    attempt=1,
                )
            )
            self._add_event(conn, new.call_id, CallStatus.UPLOADED, None, None, {"source": new.source}, now)
        return True

    def transition(
        self,
        call_id: str,
        target: CallStatus,
        error_message: str | None = None,
        **fields: Any,
    ) -> bool:
        """Move a call to `target` and record the event; False when it was already there."""
        unknown = set(fields) - UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        now = _now()
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(calls.c.status, calls.c.attempt).where(calls.c.call_id == call_id)
            ).first()
            if row is None:
                raise CallNotFound(call_id)
            current = CallStatus(row.status)
            changed = check_transition(current, target)
            values: dict[str, Any] = {"updated_at": now, **fields}
            if changed:
                values["status"] = target.value
                values["error_message"] = error_message
                if target == CallStatus.UPLOADED:
                    values["attempt"] = row.attempt + 1
                    values["dispatched_at"] = None
                if target == CallStatus.COMPLETED:
                    values["completed_at"] = now
            # the WHERE on the old status makes a concurrent change lose instead of overwrite
            result = conn.execute(
                calls.update()
                .where(calls.c.call_id == call_id, calls.c.status == current.value)
                .values(**values)
            )
            if result.rowcount != 1:
                raise RuntimeError(f"call {call_id} changed status concurrently")
            if changed:
                payload = {k: v for k, v in fields.items() if k in EVENT_FIELDS}
                self._add_event(conn, call_id, target, current, error_message, payload, now)
        return changed

    def update_fields(self, call_id: str, **fields: Any) -> None:
        unknown = set(fields) - UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        with self.engine.begin() as conn:
            result = conn.execute(
                calls.update().where(calls.c.call_id == call_id).values(updated_at=_now(), **fields)
            )
            if result.rowcount != 1:
                raise CallNotFound(call_id)

    def record_event(
        self, call_id: str, kind: str, payload: dict[str, Any] | None = None, **fields: Any
    ) -> str:
        """Outbox event for something that happened to a call without changing its status.

        Re-summarizing is the case in point: the app's live feed and the SNS publisher must hear of
        it, yet the call stays where it is. The event carries the current status as both `status`
        and `previous_status`, so a consumer that renders "from → to" shows no change, and
        `payload["event"]` names what happened. `fields` update the call row in the same transaction
        as the event (DESIGN.md: a change and its event are never apart). Returns the status.
        """
        unknown = set(fields) - UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        now = _now()
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(calls.c.status).where(calls.c.call_id == call_id)).first()
            if row is None:
                raise CallNotFound(call_id)
            status = CallStatus(row.status)
            if fields:
                # the WHERE on the status read above makes a concurrent status change win over us
                result = conn.execute(
                    calls.update()
                    .where(calls.c.call_id == call_id, calls.c.status == status.value)
                    .values(updated_at=now, **fields)
                )
                if result.rowcount != 1:
                    raise RuntimeError(f"call {call_id} changed status concurrently")
            self._add_event(conn, call_id, status, status, None, {**(payload or {}), "event": kind}, now)
        return status.value

    def mark_dispatched(self, call_ids: Sequence[str]) -> None:
        if not call_ids:
            return
        with self.engine.begin() as conn:
            conn.execute(
                calls.update()
                .where(calls.c.call_id.in_(list(call_ids)), calls.c.dispatched_at.is_(None))
                .values(dispatched_at=_now())
            )

    def mark_published(self, event_ids: Sequence[int]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                call_events.update()
                .where(call_events.c.event_id.in_(list(event_ids)))
                .values(published_at=_now())
            )

    @staticmethod
    def _add_event(
        conn: Connection,
        call_id: str,
        status: CallStatus,
        previous: CallStatus | None,
        error_message: str | None,
        payload: dict[str, Any],
        now: datetime,
    ) -> None:
        conn.execute(
            call_events.insert().values(
                call_id=call_id,
                status=status.value,
                previous_status=previous.value if previous else None,
                error_message=error_message,
                payload_json=json.dumps(payload, sort_keys=True, default=str),
                created_at=now,
            )
        )

    # -- reads -------------------------------------------------------------------------------
    def get(self, call_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(calls).where(calls.c.call_id == call_id)).mappings().first()
        if row is None:
            raise CallNotFound(call_id)
        return dict(row)

    def find(self, call_id_prefix: str) -> dict[str, Any]:
        """A call by its id or an unambiguous prefix of it, as people type ids."""
        with self.engine.connect() as conn:
            rows = (
                conn.execute(sa.select(calls).where(calls.c.call_id.startswith(call_id_prefix)).limit(2))
                .mappings()
                .all()
            )
        if len(rows) != 1:
            raise CallNotFound(call_id_prefix if not rows else f"{call_id_prefix} is ambiguous")
        return dict(rows[0])

    def list_calls(self, status: CallStatus | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        query = sa.select(calls).order_by(calls.c.created_at.desc()).limit(limit)
        if status is not None:
            query = query.where(calls.c.status == status.value)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def undispatched(self) -> list[str]:
        query = (
            sa.select(calls.c.call_id)
            .where(calls.c.status == CallStatus.UPLOADED.value, calls.c.dispatched_at.is_(None))
            .order_by(calls.c.created_at)
        )
        with self.engine.connect() as conn:
            return [r.call_id for r in conn.execute(query)]

    def events(self, call_id: str | None = None, after_id: int = 0) -> Iterator[dict[str, Any]]:
        query = (
            sa.select(call_events).where(call_events.c.event_id > after_id).order_by(call_events.c.event_id)
        )
        if call_id is not None:
            query = query.where(call_events.c.call_id == call_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        for row in rows:
            yield dict(row)


EVENT_FIELDS = frozenset({"sentiment", "category", "escalated", "resolved", "agent_id", "duration_s"})
