"""Re-summarize finished calls with another prompt version or backend, keeping earlier versions.

Trigger by hand with a range of call dates (inclusive, either end may stay empty) or `all_calls`.
An empty prompt version or backend means the configured one. One mapped task per call, bounded by
the Bedrock pool. A call whose summary fails for good fails its own mapped task (visible in the
grid) and no other; `report` runs whatever happened, logs the counts and each failed call's
reason, and fails the run when any call failed. What is kept and what is replaced:
plugins/callcare/steps/resummarize.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, task
from callcare.dag_tasks import resummarize as tasks

DATE_PARAM = {"type": ["null", "string"], "format": "date", "pattern": tasks.DATE_PATTERN}


@dag(
    dag_id=tasks.RESUMMARIZE_DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    # two runs over the same calls would race on the same files and pay twice
    max_active_runs=1,
    # Airflow and MWAA pause a new DAG by default; paused, a run triggered by hand only queues
    is_paused_upon_creation=False,
    tags=["callcare", "resummarize"],
    params={
        "date_from": Param(None, **DATE_PARAM, description="first call date, YYYY-MM-DD (inclusive)"),
        "date_to": Param(None, **DATE_PARAM, description="last call date, YYYY-MM-DD (inclusive)"),
        "all_calls": Param(False, type="boolean", description="every COMPLETED call; no date range"),
        "prompt_version": Param(
            None,
            type=["null", "string"],
            pattern=tasks.PROMPT_VERSION_PATTERN,
            description="e.g. v2 (empty: the configured version)",
        ),
        "backend": Param(
            None,
            type=["null", "string"],
            enum=tasks.offered_backends(tasks.parse_settings()),  # aws: never the test-only instant
            description="empty: the configured one",
        ),
        "make_current": Param(
            False,
            type="boolean",
            description="show the new summary in the app even when its version is not the call's current one",
        ),
    },
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
    },
    doc_md=__doc__,
)
def callcare_resummarize() -> None:
    @task
    def select_calls(params: dict | None = None) -> list[str]:
        return tasks.select_calls(params or {})

    @task(task_id=tasks.RESUMMARIZE_TASK_ID, pool=tasks.BEDROCK_POOL, execution_timeout=timedelta(minutes=10))
    def resummarize_call(call_id: str, params: dict | None = None) -> dict:
        return tasks.resummarize_call(call_id, params or {})

    @task(trigger_rule="all_done")
    def report(call_ids: list[str] | None, outcomes: list[dict]) -> dict:
        return tasks.report(call_ids, outcomes)

    call_ids = select_calls()
    report(call_ids, resummarize_call.expand(call_id=call_ids))


callcare_resummarize()
