"""The deferred wait for one Amazon Transcribe job: botocore's own waiter, polled in the triggerer.

Shaped like the Amazon provider's triggers: the generic waiter trigger does the polling; this only
names the waiter, its arguments, the status fields to log and the key to return.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger

from callcare.hooks.transcribe import TranscribeHook

WAITER_NAME = "transcription_job_completed"  # botocore's own transcribe waiter (TranscriptionJobCompleted)
STATUS_QUERIES = ["TranscriptionJob.TranscriptionJobStatus", "TranscriptionJob.FailureReason"]


class TranscriptionJobCompletedTrigger(AwsBaseWaiterTrigger):
    """Fires when the job is COMPLETED (status success) or FAILED / timed out (status error)."""

    def __init__(
        self,
        *,
        job_name: str,
        waiter_delay: int = 30,
        waiter_max_attempts: int = 120,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
    ) -> None:
        super().__init__(
            serialized_fields={"job_name": job_name},
            waiter_name=WAITER_NAME,
            waiter_args={"TranscriptionJobName": job_name},
            failure_message=f"Transcription job {job_name} failed",
            status_message=f"Transcription job {job_name} status",
            status_queries=STATUS_QUERIES,
            return_key="job_name",
            return_value=job_name,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
        )

    def hook(self) -> TranscribeHook:
        return TranscribeHook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.botocore_config,
        )
