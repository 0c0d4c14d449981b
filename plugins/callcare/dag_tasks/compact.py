"""Task body of callcare_compact: the lake's past partitions merged into one file per table and day.

What compaction does and why it is safe to stop anywhere is `callcare.steps.compact`; this adds the
task's context and the cutoff: partitions dated before the run's logical date (UTC), so yesterday
and older. Today's partitions are still being written by every call that finishes.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from callcare.dag_tasks.runtime import task_context
from callcare.names import COMPACT_DAG_ID
from callcare.steps.compact import compact_before

__all__ = ["COMPACT_DAG_ID", "compact"]

log = logging.getLogger(__name__)


def compact(logical_date: datetime) -> dict[str, int]:
    """Compact every partition before `logical_date`'s UTC day; counts only (no keys, no call ids)."""
    lake = task_context().lake
    lake.sweep_staging()  # local: temporary files of writers (a killed compaction's too) that died
    done = compact_before(lake, logical_date.astimezone(UTC).date())
    counts = {
        "partitions": len(done),
        "files_merged": sum(r.merged for r in done),
        "files_deleted": sum(r.deleted for r in done),
        "files_kept": sum(len(r.kept) for r in done),
        "rows": sum(r.rows for r in done),
    }
    log.info("compaction: %s", counts)
    return counts
