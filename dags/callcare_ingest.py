"""Polls the source for new recordings, lands them in the lake and starts one processing run per call.

The source is the inbox folder on the local profile and the Google Drive folder on aws.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task
from callcare.dag_tasks import ingest as tasks


@dag(
    dag_id=tasks.INGEST_DAG_ID,
    schedule=timedelta(seconds=30),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,
    tags=["callcare", "ingest"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},
    doc_md=__doc__,
)
def callcare_ingest() -> None:
    @task
    def land_new_recordings() -> dict[str, int]:
        # the inbox folder on the local profile, the Google Drive folder on aws
        return tasks.land_new_recordings()

    @task
    def calls_to_start(_landed: dict[str, int]) -> list[dict]:
        return tasks.calls_to_start()

    starts = calls_to_start(land_new_recordings())
    triggered = TriggerDagRunOperator.partial(
        task_id="start_processing",
        trigger_dag_id=tasks.PROCESS_DAG_ID,
        skip_when_already_exists=True,
        wait_for_completion=False,
    ).expand_kwargs(starts)

    @task(trigger_rule="none_failed")
    def mark_started(starts: list[dict]) -> int:
        return tasks.mark_started(starts)

    triggered >> mark_started(starts)


callcare_ingest()
