"""Revocable sessions (security review L2): one generation number per user, in the database.

Flask's session is a signed cookie and the API's tokens are signed JWTs: nothing the server holds
could end one before it expired, so a cookie copied before logout still worked for 8 hours. Each
cookie and each token now carries the generation its user had when it was issued, and is honoured
only while the user's generation is still that number. Logging out, being deactivated, a change of
roles and a change of password each add one, which ends every cookie, access token, refresh token and
open live socket of that user at once, on every task of the service (the number is in the database,
not in a process).
"""

from __future__ import annotations

import sqlalchemy as sa

from callcare_web.models import utcnow
from callcare_web.tables import user_sessions, users

# the key of the generation in Flask's session cookie, and the claim in the API's tokens
SESSION_KEY = "_callcare_generation"
CLAIM = "gen"


def generation(conn: sa.Connection | sa.orm.Session, user_id: int) -> int:
    """The user's current generation (0 until the first revocation)."""
    value = conn.execute(
        sa.select(user_sessions.c.generation).where(user_sessions.c.user_id == user_id)
    ).scalar()
    return int(value or 0)


def revoke(conn: sa.Connection | sa.orm.Session, user_id: int, reason: str) -> None:
    """End every session and token the user holds; written in the caller's transaction."""
    values = {"changed_at": utcnow(), "reason": reason[:32]}
    updated = conn.execute(
        user_sessions.update()
        .where(user_sessions.c.user_id == user_id)
        .values(generation=user_sessions.c.generation + 1, **values)
    ).rowcount
    if not updated:
        conn.execute(user_sessions.insert().values(user_id=user_id, generation=1, **values))


def current(engine: sa.Engine, user_id: int) -> int:
    with engine.connect() as conn:
        return generation(conn, user_id)


def still_valid(engine: sa.Engine, user_id: int, issued: int | None) -> bool:
    """Whether a session issued at generation `issued` still stands: the user is active and nothing
    has raised their generation since (an open live socket asks this every few seconds)."""
    with engine.connect() as conn:
        active = conn.execute(sa.select(users.c.active).where(users.c.id == user_id)).scalar()
        return bool(active) and issued == generation(conn, user_id)
