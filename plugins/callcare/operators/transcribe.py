"""Transcribe one call with Amazon Transcribe, waiting in the triggerer rather than in a worker slot.

The provider's shape: the hook (`callcare.hooks.transcribe`) owns the client and the job request,
the trigger (`callcare.triggers.transcribe`) names the waiter, this operator starts and defers.

A batch job takes minutes; holding a worker for that would make the Transcribe pool cost worker
slots too. Deferred, the wait is one coroutine polling botocore's `transcription_job_completed`
waiter. The task returns references only (job name, output URI): the transcript holds PII.

The transcribe stage's seconds (names.STAGE_SECONDS, Stage transcribe, as the local engine's step
records them) are the job's own, from its CreationTime to its CompletionTime: a deferred task spans
processes and the triggerer's wait, and Transcribe's timestamps measure the job, queueing included,
whichever process reads them. prepare_transcription and read_transcript are stages of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.amazon.aws.utils.waiter_with_logging import wait
from airflow.sdk import conf
from airflow.sdk.exceptions import AirflowException

from callcare import observability
from callcare.config import Settings
from callcare.hooks.settings import task_settings
from callcare.hooks.transcribe import (
    COMPLETED,
    FAILED,
    TranscribeHook,
    TranscriptionJobFailed,
    build_job_request,
    output_location,
    transcript_s3_uri,
)
from callcare.triggers.transcribe import STATUS_QUERIES, WAITER_NAME, TranscriptionJobCompletedTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

TRANSCRIBE_STAGE = "transcribe"  # the local profile's stage of the same work (dag_tasks.process)


class TranscribeCallOperator(AwsBaseOperator[TranscribeHook]):
    """Start (or find) the Transcribe job of one call and wait for its output.

    :param call_id: the call's id. (templated)
    :param attempt: the call's processing attempt (the registry's counter, raised by `reprocess`);
        the job name is derived from the call id and the attempt, so Airflow retries of one attempt
        re-attach to its job and a reprocess starts a new one. (templated)
    :param media_uri: s3:// URI of the recording. (templated)
    :param call_date: YYYY-MM-DD, the lake partition of the output. (templated)
    :param channels: 2 for agent/customer on separate channels, else 1. (templated)
    :param settings: defaults to the task-side settings (environment, the callcare_settings
        Variable, connections), read when the task runs: a DAG is parsed without them.
    :param deferrable: wait in the triggerer instead of a worker slot.
    :param waiter_delay: seconds between status polls.
    :param waiter_max_attempts: polls before giving up.
    """

    aws_hook_class = TranscribeHook
    template_fields: Sequence[str] = aws_template_fields(
        "call_id", "attempt", "media_uri", "call_date", "channels"
    )

    def __init__(
        self,
        *,
        call_id: str,
        attempt: int | str,
        media_uri: str,
        call_date: str,
        channels: int | str = 1,
        settings: Settings | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        waiter_delay: int = 30,
        waiter_max_attempts: int = 120,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.call_id = call_id
        self.attempt = attempt
        self.media_uri = media_uri
        self.call_date = call_date
        self.channels = channels
        self.settings = settings
        self.deferrable = deferrable
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def _settings(self) -> Settings:
        if self.settings is None:
            self.settings = task_settings()
            observability.configure(self.settings)  # the metric sinks the task's settings name
        return self.settings

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        # Without a region on the task, the settings' region is used (it wins over the connection's).
        params = super()._hook_parameters
        return {**params, "region_name": params["region_name"] or self._settings().aws_region}

    def execute(self, context: Context) -> dict[str, str]:
        request = build_job_request(
            call_id=self.call_id,
            attempt=self.attempt,
            media_uri=self.media_uri,
            call_date=self.call_date,
            channels=int(self.channels),
            settings=self._settings(),
        )
        job_name = request["TranscriptionJobName"]
        job, reused = self.hook.start_or_reuse_job(request)
        status = job.get("TranscriptionJobStatus")
        self.log.info("Transcription job %s %s (%s)", job_name, "reused" if reused else "started", status)
        if status in (COMPLETED, FAILED):
            return self._result(job)

        if self.deferrable:
            self.defer(
                trigger=TranscriptionJobCompletedTrigger(
                    job_name=job_name,
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self._hook_parameters["region_name"],
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
            )
        try:
            wait(
                waiter=self.hook.get_waiter(WAITER_NAME),
                waiter_delay=self.waiter_delay,
                waiter_max_attempts=self.waiter_max_attempts,
                args={"TranscriptionJobName": job_name},
                failure_message=f"Transcription job {job_name} failed",
                status_message=f"Transcription job {job_name} status",
                status_args=STATUS_QUERIES,
            )
        except AirflowException:
            job = self.hook.get_job(job_name)
            if job.get("TranscriptionJobStatus") != FAILED:
                raise  # timed out waiting: a retry re-attaches to the same job
        else:
            job = self.hook.get_job(job_name)
        return self._result(job)  # a FAILED job raises TranscriptionJobFailed there

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, str]:
        event = validate_execute_complete_event(event)
        job = self.hook.get_job(event["job_name"])
        if event.get("status") != "success" and job.get("TranscriptionJobStatus") != FAILED:
            raise AirflowException(
                f"Waiting for transcription job {event['job_name']}: {event.get('message')}"
            )
        return self._result(job)

    def _record_stage(self, job: Mapping[str, Any]) -> None:
        """The job's seconds as the transcribe stage, once it ended (COMPLETED or FAILED)."""
        start, end = job.get("CreationTime") or job.get("StartTime"), job.get("CompletionTime")
        if start is None or end is None:
            self.log.info(
                "Transcription job %s reports no times: stage not timed", job.get("TranscriptionJobName")
            )
            return
        seconds = observability.processing_seconds(start, end)
        if seconds is not None:
            self._settings()
            observability.record_stage(self.call_id, TRANSCRIBE_STAGE, seconds)

    def _result(self, job: Mapping[str, Any]) -> dict[str, str]:
        """References for XCom; a FAILED job raises instead, with Transcribe's FailureReason."""
        name = job["TranscriptionJobName"]
        status = job.get("TranscriptionJobStatus")
        if status in (COMPLETED, FAILED):
            self._record_stage(job)
        if status == FAILED:
            raise TranscriptionJobFailed(name, job.get("FailureReason"))
        if status != COMPLETED:
            raise AirflowException(f"Transcription job {name} is {status}, not {COMPLETED}")
        uri = transcript_s3_uri(job)
        if uri is None:  # no usable URL in the answer: the job wrote where we asked it to
            bucket, key = output_location(self._settings(), self.call_id, self.call_date)
            uri = f"s3://{bucket}/{key}"
        return {"call_id": self.call_id, "job_name": name, "transcript_uri": uri}
