"""The audit log: every view of a call's content and every change, with who, when and from where.

The only writer of audit rows: pages, API, commands and the security manager all call `record`, so
every entry has the same shape and lands in its own transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request

from callcare_web.models import utcnow
from callcare_web.tables import audit

log = logging.getLogger(__name__)

LISTEN_WINDOW_S = 600


def record(action: str, call_id: str | None = None, user: Any = None, **detail: Any) -> None:
    """Append an entry in its own transaction (a failed page still leaves its trace)."""
    _record(action, call_id, user, None, detail)


def record_unless_recent(action: str, call_id: str, within_s: float, user: Any = None, **detail: Any) -> bool:
    """Append an entry unless this user already has one of this action on this call in the last
    `within_s` seconds (a listen is every request for the audio, not every seek). Returns whether it
    wrote. Two requests at the same instant may both write: one row too many, never one too few."""
    return _record(action, call_id, user, within_s, detail)


def _record(
    action: str, call_id: str | None, user: Any, within_s: float | None, detail: dict[str, Any]
) -> bool:
    user = user if user is not None else getattr(g, "user", None)
    user_id = getattr(user, "id", None)
    username = getattr(user, "username", None)
    remote = request.remote_addr if has_request_context() else None
    engine = current_app.extensions["sqlalchemy"].engine
    now = utcnow()
    with engine.begin() as conn:
        if within_s is not None and user_id is not None:
            recent = conn.execute(
                sa.select(audit.c.id)
                .where(
                    audit.c.user_id == user_id,
                    audit.c.action == action,
                    audit.c.call_id == call_id,
                    audit.c.at >= now - dt.timedelta(seconds=within_s),
                )
                .limit(1)
            ).first()
            if recent is not None:
                return False
        conn.execute(
            audit.insert().values(
                at=now,
                user_id=user_id,
                username=username,
                action=action,
                call_id=call_id,
                detail=json.dumps(detail, sort_keys=True, default=str) if detail else None,
                remote_addr=remote,
            )
        )
    return True
