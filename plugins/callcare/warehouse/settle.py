"""The warehouse DAG's debounce: a burst of completions becomes one dbt build."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from callcare.core.registry import Registry, call_events
from callcare.status import TERMINAL


def last_finished_at(registry: Registry) -> datetime | None:
    """When the latest call reached COMPLETED or FAILED (the registry's outbox knows)."""
    query = sa.select(sa.func.max(call_events.c.created_at)).where(
        call_events.c.status.in_([s.value for s in TERMINAL])
    )
    with registry.engine.connect() as conn:
        latest = conn.execute(query).scalar()
    if latest is None:
        return None
    return latest if latest.tzinfo else latest.replace(tzinfo=UTC)


def settled(
    registry: Registry,
    quiet_s: float,
    max_wait_s: float,
    run_started_at: datetime,
    now: datetime | None = None,
) -> bool:
    """True when no call finished for `quiet_s`, or the run has waited `max_wait_s` already.

    Calls complete in bursts (a Drive folder synced at once, a reprocessing batch); each publish
    emits the summaries asset. Airflow already folds the events that arrive while a run is queued
    into that one run; waiting for a quiet moment folds the rest of the burst in too, and the
    upper bound keeps a steady stream from starving the marts.
    """
    now = now or datetime.now(UTC)
    if (now - run_started_at).total_seconds() >= max_wait_s:
        return True
    latest = last_finished_at(registry)
    return latest is None or (now - latest).total_seconds() >= quiet_s
