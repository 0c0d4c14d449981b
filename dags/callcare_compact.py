"""Lake compaction: each past day's per-call Parquet files merged into one file per table and day.

Daily at 01:15 UTC, before the warehouse's daily build (02:30), over partitions dated before the
run's logical date less a day: two days old and older, so no day still being recorded in any time
zone is raced (a partition's date is the recording's local date). One run at
a time (two compactions of one partition must not overlap). A run killed or failed anywhere leaves
a lake that readers count right, and its retry or the next day's run finishes the job: see
plugins/callcare/steps/compact.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import CronTriggerTimetable, dag, get_current_context, task
from callcare.dag_tasks import compact as tasks


@dag(
    dag_id=tasks.COMPACT_DAG_ID,
    schedule=CronTriggerTimetable("15 1 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    # Airflow and MWAA pause a new DAG by default; paused, the lake's small files only ever grow
    is_paused_upon_creation=False,
    tags=["callcare", "lake", "compaction"],
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "execution_timeout": timedelta(hours=2),
    },
    doc_md=__doc__,
)
def callcare_compact() -> None:
    @task
    def compact() -> dict[str, int]:
        return tasks.compact(get_current_context()["logical_date"])

    compact()


callcare_compact()
