"""One call: transcribe → summarize → publish (Parquet + COMPLETED). The run id carries the call id."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, task
from callcare import airflow_tasks as steps


@dag(
    dag_id=steps.PROCESS_DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=16,
    is_paused_upon_creation=False,
    tags=["callcare", "processing"],
    params={"call_id": Param("", type="string", minLength=1, description="the call to process")},
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=15),
        "retry_exponential_backoff": True,
        "on_failure_callback": steps.mark_call_failed,
    },
    render_template_as_native_obj=True,
    doc_md=__doc__,
)
def callcare_process_call() -> None:
    @task(pool=steps.LOCAL_STT_POOL, execution_timeout=timedelta(minutes=30))
    def transcribe(params: dict | None = None) -> dict:
        return steps.run_step("transcribe", params["call_id"])

    @task(execution_timeout=timedelta(minutes=10))
    def summarize(transcribed: dict) -> dict:
        return steps.run_step("summarize", transcribed["call_id"])

    @task(execution_timeout=timedelta(minutes=10))
    def publish(summarized: dict) -> dict:
        return steps.run_step("publish", summarized["call_id"])

    publish(summarize(transcribe()))


callcare_process_call()
