"""The audit log: every view of a call's content and every change, with who, when and from where.

The only writer of audit rows: pages, API, commands and the security manager all call `record`, so
every entry has the same shape and lands in its own transaction.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import current_app, g, has_request_context, request

from callcare_web.models import utcnow
from callcare_web.tables import audit

log = logging.getLogger(__name__)


def record(action: str, call_id: str | None = None, user: Any = None, **detail: Any) -> None:
    """Append an entry in its own transaction (a failed page still leaves its trace)."""
    user = user if user is not None else getattr(g, "user", None)
    user_id = getattr(user, "id", None)
    username = getattr(user, "username", None)
    remote = request.remote_addr if has_request_context() else None
    engine = current_app.extensions["sqlalchemy"].engine
    with engine.begin() as conn:
        conn.execute(
            audit.insert().values(
                at=utcnow(),
                user_id=user_id,
                username=username,
                action=action,
                call_id=call_id,
                detail=json.dumps(detail, sort_keys=True, default=str) if detail else None,
                remote_addr=remote,
            )
        )
