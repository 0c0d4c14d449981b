"""Task body of callcare_compact: the lake's past partitions merged into one file per table and day.

What compaction does and why it is safe to stop anywhere is `callcare.steps.compact`; this adds the
task's context and the cutoff: partitions dated two days or more before the run's logical date
(UTC). A partition's date is the recording's own (local) date, so at 01:15 UTC "yesterday" is still
being recorded and written west of UTC; two days leave every time zone's day closed. (Late writes
into an older day, a backlog or a reprocess, are still handled: a per-call file outranks the
compacted copy.)
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from callcare.dag_tasks.runtime import task_context
from callcare.names import COMPACT_DAG_ID
from callcare.steps.compact import compact_before

__all__ = ["COMPACT_DAG_ID", "compact"]

log = logging.getLogger(__name__)
# a day's partition is compacted once it is this many days old: every time zone has closed it
CLOSED_AFTER_DAYS = 2


def compact(logical_date: datetime) -> dict[str, int]:
    """Compact every partition dated before the day before `logical_date`'s UTC day; counts only
    (no keys, no call ids)."""
    lake = task_context().lake
    lake.sweep_staging()  # local: temporary files of writers (a killed compaction's too) that died
    done = compact_before(lake, logical_date.astimezone(UTC).date() - timedelta(days=CLOSED_AFTER_DAYS - 1))
    counts = {
        "partitions": len(done),
        "files_merged": sum(r.merged for r in done),
        "files_deleted": sum(r.deleted for r in done),
        "files_kept": sum(len(r.kept) for r in done),
        "rows": sum(r.rows for r in done),
    }
    log.info("compaction: %s", counts)
    return counts
