"""The writes a person can make, each validated, written and audited in one place.

A page and the REST API both assign calls; if each wrote the rows itself, the two would drift in what
they check and what they leave in the audit log (Superset's command pattern). A command takes plain
values, raises callcare_web.errors (NotFound, Forbidden, Invalid) and knows nothing of HTTP: the page
turns the outcome into a flash or an abort, the API into a status code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from callcare_web import audit
from callcare_web.errors import Forbidden, Invalid, NotAssignable
from callcare_web.models import utcnow
from callcare_web.queries import Viewer, require_visible
from callcare_web.tables import assignments, overrides, users

MAX_USER_ID = 2**31  # ab_user.id is a 32-bit INTEGER on PostgreSQL


@dataclass(frozen=True)
class Assigned:
    call_id: str
    previous: int | None
    user_id: int | None

    @property
    def changed(self) -> bool:
        return self.previous != self.user_id


def _via(via: str | None) -> dict[str, Any]:
    return {"via": via} if via else {}


def _check_scope(conn: sa.Connection, viewer: Viewer, call_id: str, via: str | None) -> None:
    try:
        require_visible(conn, viewer, call_id)
    except Forbidden:
        audit.record("denied", call_id, **_via(via))
        raise


def assign(
    engine: sa.Engine, viewer: Viewer, call_id: str, user_id: object, *, via: str | None = None
) -> Assigned:
    """Give the call to an active user (`user_id`), or to nobody (None)."""
    with engine.connect() as conn:
        _check_scope(conn, viewer, call_id, via)
    if user_id is not None and (not isinstance(user_id, int) or isinstance(user_id, bool)):
        raise Invalid("user_id must be an integer or null")
    if user_id is not None and not 0 < user_id < MAX_USER_ID:
        raise NotAssignable("no such active user")  # (an id past any column's range overflowed the driver)
    with engine.begin() as conn:
        if (
            user_id is not None
            and not conn.execute(
                sa.select(users.c.id).where(users.c.id == user_id, users.c.active.is_(True))
            ).first()
        ):
            raise NotAssignable("no such active user")
        previous = conn.execute(
            sa.select(assignments.c.user_id).where(assignments.c.call_id == call_id)
        ).scalar()
        if previous != user_id:
            conn.execute(assignments.delete().where(assignments.c.call_id == call_id))
            if user_id is not None:
                conn.execute(
                    assignments.insert().values(
                        call_id=call_id, user_id=user_id, assigned_by_id=viewer.user_id, assigned_at=utcnow()
                    )
                )
    result = Assigned(call_id, previous, user_id)
    if result.changed:
        audit.record("assign", call_id, from_user_id=previous, to_user_id=user_id, **_via(via))
    return result


def swap_roles(engine: sa.Engine, viewer: Viewer, call_id: str, *, via: str | None = None) -> bool:
    """Swap the agent and customer labels of the call's transcript; returns whether they are now swapped."""
    with engine.connect() as conn:
        _check_scope(conn, viewer, call_id, via)
    with engine.begin() as conn:
        current = conn.execute(
            sa.select(overrides.c.roles_swapped).where(overrides.c.call_id == call_id)
        ).scalar()
        swapped = not current
        values = {"roles_swapped": swapped, "updated_by_id": viewer.user_id, "updated_at": utcnow()}
        if not conn.execute(
            overrides.update().where(overrides.c.call_id == call_id).values(**values)
        ).rowcount:
            conn.execute(overrides.insert().values(call_id=call_id, **values))
    audit.record("swap_roles", call_id, roles_swapped=swapped, **_via(via))
    return swapped
