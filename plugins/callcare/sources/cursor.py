"""Where a polling source remembers how far it got (the Drive changes page token, files to retry).

The state lives in the registry's database, beside the calls it led to: a registry that is reset
also forgets the cursor, and the next poll lists the folder again instead of skipping recordings
that are no longer registered. The calls table, not the cursor, decides what is new, so replaying
a poll after a crash is harmless.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from callcare.core.registry_tables import source_cursors


class CursorStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_schema(self) -> None:
        """The cursor table is part of the registry's migrations: this upgrades the registry."""
        from callcare.core import schema

        schema.upgrade(self.engine)

    def load(self, source: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(source_cursors.c.state_json).where(source_cursors.c.source == source)
            ).first()
        return json.loads(row.state_json) if row else {}

    def save(self, source: str, state: dict[str, Any]) -> None:
        values = {"state_json": json.dumps(state, sort_keys=True), "updated_at": datetime.now(UTC)}
        with self.engine.begin() as conn:
            updated = conn.execute(
                source_cursors.update().where(source_cursors.c.source == source).values(**values)
            )
            if updated.rowcount == 0:
                conn.execute(source_cursors.insert().values(source=source, **values))

    def reset(self, source: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(source_cursors.delete().where(source_cursors.c.source == source))
