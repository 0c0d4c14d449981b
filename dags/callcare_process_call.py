"""One call: transcribe → summarize → publish (Parquet + COMPLETED). The run id carries the call id.

On the aws profile, transcription is Amazon Transcribe: prepare_transcription checks the recording
in S3, transcribe runs the job (deferrable, pool callcare_transcribe) and read_transcript turns its
output into our transcript; summaries are bounded by the Bedrock pool.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, task
from callcare.dag_tasks import process as tasks

SETTINGS = tasks.parse_settings()  # the profile decides the shape; it comes from the environment


@dag(
    dag_id=tasks.PROCESS_DAG_ID,
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
        "on_failure_callback": tasks.mark_call_failed,
    },
    render_template_as_native_obj=True,
    doc_md=__doc__,
)
def callcare_process_call() -> None:
    aws = SETTINGS.profile == "aws"

    @task(pool=tasks.LOCAL_STT_POOL, execution_timeout=timedelta(minutes=30))
    def transcribe(params: dict | None = None) -> dict:
        return tasks.transcribe(params["call_id"])

    @task(multiple_outputs=True, execution_timeout=timedelta(minutes=10))
    def prepare_transcription(params: dict | None = None) -> dict:
        return tasks.prepare_transcription(params["call_id"])

    @task(execution_timeout=timedelta(minutes=10))
    def read_transcript(job: dict, params: dict | None = None) -> dict:
        return tasks.read_transcript(params["call_id"], job)

    @task(pool=tasks.BEDROCK_POOL if aws else None, execution_timeout=timedelta(minutes=10))
    def summarize(transcribed: dict) -> dict:
        return tasks.summarize(transcribed["call_id"])

    @task(execution_timeout=timedelta(minutes=10), outlets=[tasks.summaries_asset()])
    def publish(summarized: dict) -> dict:
        return tasks.publish(summarized["call_id"])

    if not aws:
        publish(summarize(transcribe()))
        return

    prepared = prepare_transcription()
    poll_s = max(1, SETTINGS.transcribe_poll_interval_s)
    job = tasks.transcribe_operator(
        task_id="transcribe",
        pool=tasks.TRANSCRIBE_POOL,
        deferrable=True,
        aws_conn_id=SETTINGS.aws_conn_id,
        call_id=prepared["call_id"],
        attempt=prepared["attempt"],
        media_uri=prepared["media_uri"],
        call_date=prepared["call_date"],
        channels=prepared["channels"],
        waiter_delay=poll_s,
        waiter_max_attempts=max(1, 3 * 3600 // poll_s),  # a 4 h call takes Transcribe well under 3 h
        execution_timeout=timedelta(hours=3, minutes=30),
    )
    publish(summarize(read_transcript(job.output)))


callcare_process_call()
