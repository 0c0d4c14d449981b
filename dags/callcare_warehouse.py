"""The reporting warehouse: `dbt build` (models, data tests, unit tests) through cosmos.

Runs when publish() has updated the summaries asset, and daily at 02:30 UTC so a day without
calls still refreshes the rolling marts. `settle` debounces: it waits until no call has finished
for a quiet period (bounded), so a burst of completions is one build, and Airflow folds the asset
events that arrive meanwhile into this run (max_active_runs=1). Each dbt model is one task running
`dbt build --select <model>` with dbt's own virtualenv (its data and unit tests included); a test
spanning several models is a task of its own after them. A failing test fails its task and skips
what depends on it, so the run fails where the grid shows it. On DuckDB the tasks run one at
a time (one writer per database file). The marts asset is updated once everything passed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, get_current_context, task
from callcare.dag_tasks import warehouse as tasks
from cosmos import DbtTaskGroup

settings = tasks.parse_settings()


@dag(
    dag_id=tasks.WAREHOUSE_DAG_ID,
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("30 2 * * *", timezone="UTC"), assets=tasks.summaries_asset()
    ),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    # Airflow and MWAA pause a new DAG by default; paused, no asset or daily run starts: no marts
    is_paused_upon_creation=False,
    max_active_tasks=1 if settings.dbt_target == "duckdb" else 8,
    tags=["callcare", "warehouse", "dbt"],
    default_args={
        "retries": 1,
        "retry_delay": timedelta(minutes=2),
        "execution_timeout": timedelta(minutes=30),
    },
    doc_md=__doc__,
)
def callcare_warehouse() -> None:
    @task.sensor(
        poke_interval=30,
        timeout=settings.warehouse_max_wait_s + 600,
        mode="reschedule",
    )
    def settle() -> bool:
        return tasks.settle(get_current_context()["dag_run"].start_date)

    dbt = DbtTaskGroup(group_id="dbt", **tasks.cosmos_kwargs(settings))

    @task(outlets=[tasks.marts_asset()])
    def marts_built() -> dict[str, str]:
        return tasks.marts_built()

    settle() >> dbt >> marts_built()


callcare_warehouse()
