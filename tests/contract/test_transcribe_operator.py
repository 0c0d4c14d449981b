"""Amazon Transcribe operator, hook and trigger against moto (request shapes, reuse, states) and
botocore's Stubber (FAILED jobs, which moto never produces), both checking requests against the
real service model.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib
import json
from pathlib import Path
from typing import Any

import boto3
import botocore.endpoint
import botocore.exceptions
import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred
from airflow.triggers.base import TriggerEvent
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.stub import Stubber
from callcare.config import Settings
from callcare.hooks.transcribe import (
    TranscribeHook,
    TranscriptionJobConflict,
    TranscriptionJobFailed,
    build_job_request,
    job_name_for,
)
from callcare.names import STAGE_SECONDS, THROTTLED_SERVICES, THROTTLES, TRANSCRIBE_POOL, TRANSCRIBE_SERVICE
from callcare.operators.transcribe import TranscribeCallOperator, TranscriptionJobCompletedTrigger
from moto import mock_aws

from tests.support.helpers import capture_metrics

REGION = "eu-west-1"
CALL_ID = "c0ffee1234"
CALL_DATE = "2026-09-02"
MEDIA = f"s3://callcare-lake/prod/raw-audio/{CALL_DATE}/{CALL_ID}.wav"
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "transcribe-api"


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def aws():
    with mock_aws():
        yield


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path, lake_uri="s3://callcare-lake/prod", aws_region=REGION, max_speakers=2)


def make_operator(settings: Settings, **kwargs: Any) -> TranscribeCallOperator:
    params: dict[str, Any] = {
        "task_id": "transcribe",
        "call_id": CALL_ID,
        "attempt": 1,
        "media_uri": MEDIA,
        "call_date": CALL_DATE,
        "settings": settings,
        "aws_conn_id": None,
        "waiter_delay": 0,
        "waiter_max_attempts": 5,
        "deferrable": False,
        **kwargs,
    }
    return TranscribeCallOperator(**params)


def capture_start_requests(hook: TranscribeHook) -> list[dict[str, Any]]:
    """What the client really sends to StartTranscriptionJob, after botocore validated it."""
    sent: list[dict[str, Any]] = []
    hook.conn.meta.events.register(
        "provide-client-params.transcribe.StartTranscriptionJob",
        lambda params, **_: sent.append(dict(params)),
    )
    return sent


def job_statuses(hook: TranscribeHook) -> list[str]:
    return [
        j["TranscriptionJobStatus"] for j in hook.conn.list_transcription_jobs()["TranscriptionJobSummaries"]
    ]


# -- request shapes ----------------------------------------------------------------------------


def test_mono_call_asks_for_speaker_labels(aws, settings):
    op = make_operator(settings, channels=1)
    sent = capture_start_requests(op.hook)
    result = op.execute({})
    (request,) = sent
    assert request["TranscriptionJobName"] == job_name_for(CALL_ID, 1)
    assert request["Media"] == {"MediaFileUri": MEDIA}
    assert request["LanguageCode"] == settings.transcribe_language_code
    assert request["Settings"] == {"ShowSpeakerLabels": True, "MaxSpeakerLabels": settings.max_speakers}
    assert "ContentRedaction" not in request and "IdentifyLanguage" not in request
    assert request["OutputBucketName"] == "callcare-lake"
    assert request["OutputKey"] == f"prod/transcripts/{CALL_DATE}/{CALL_ID}-transcribe-raw.json"
    stored = op.hook.get_job(request["TranscriptionJobName"])
    assert stored["Settings"]["ShowSpeakerLabels"] is True
    # XCom gets references only
    assert result == {
        "call_id": CALL_ID,
        "job_name": request["TranscriptionJobName"],
        "transcript_uri": f"s3://callcare-lake/prod/transcripts/{CALL_DATE}/{CALL_ID}-transcribe-raw.json",
    }


def test_stereo_call_uses_channel_identification(aws, settings):
    op = make_operator(settings, channels="2")  # templated fields arrive as strings
    sent = capture_start_requests(op.hook)
    op.execute({})
    assert sent[0]["Settings"] == {"ChannelIdentification": True}
    assert op.hook.get_job(job_name_for(CALL_ID, 1))["Settings"]["ChannelIdentification"] is True


def test_redaction_vocabulary_and_filter_from_settings(aws, settings):
    settings = settings.with_overrides(
        transcribe_redaction_output="redacted_and_unredacted",
        transcribe_pii_entity_types="NAME, SSN,CREDIT_DEBIT_NUMBER",
        transcribe_vocabulary_name="callcare-terms",
        transcribe_vocabulary_filter_name="callcare-profanity",
        transcribe_vocabulary_filter_method="mask",
        max_speakers=3,
        transcribe_output_kms_key_id="alias/callcare-lake",
    )
    op = make_operator(settings)
    op.hook.conn.create_vocabulary(
        VocabularyName="callcare-terms", LanguageCode="en-US", Phrases=["callcare"]
    )
    sent = capture_start_requests(op.hook)
    op.execute({})
    request = sent[0]
    assert request["ContentRedaction"] == {
        "RedactionType": "PII",
        "RedactionOutput": "redacted_and_unredacted",
        "PiiEntityTypes": ["NAME", "SSN", "CREDIT_DEBIT_NUMBER"],
    }
    assert request["Settings"] == {
        "ShowSpeakerLabels": True,
        "MaxSpeakerLabels": 3,
        "VocabularyName": "callcare-terms",
        "VocabularyFilterName": "callcare-profanity",
        "VocabularyFilterMethod": "mask",
    }
    assert request["OutputEncryptionKMSKeyId"] == "alias/callcare-lake"


# -- idempotency -------------------------------------------------------------------------------


def test_second_run_reuses_the_completed_job(aws, settings):
    first = make_operator(settings).execute({})
    op = make_operator(settings)
    sent = capture_start_requests(op.hook)
    assert op.execute({}) == first
    assert len(sent) == 1  # it asked, got ConflictException, and reused
    assert job_statuses(op.hook) == ["COMPLETED"]


def test_run_while_the_job_is_still_going_waits_for_that_job(aws, settings):
    op = make_operator(settings)
    request = build_job_request(
        call_id=CALL_ID, attempt=1, media_uri=MEDIA, call_date=CALL_DATE, channels=1, settings=settings
    )
    op.hook.conn.start_transcription_job(**request)
    result = op.execute({})
    assert result["job_name"] == request["TranscriptionJobName"]
    assert job_statuses(op.hook) == ["COMPLETED"]


def test_a_reprocess_starts_a_new_job_and_its_retries_reuse_it(aws, settings):
    """`reprocess` raises the call's attempt: Transcribe runs again (the old job's name is taken),
    while a retry of the new attempt re-attaches to the new job."""
    first = make_operator(settings, attempt=1).execute({})
    again = make_operator(settings, attempt="2")  # templated fields arrive as strings
    sent = capture_start_requests(again.hook)
    second = again.execute({})
    assert [r["TranscriptionJobName"] for r in sent] == [job_name_for(CALL_ID, 2)]
    assert second["job_name"] == job_name_for(CALL_ID, 2) != first["job_name"]
    assert make_operator(settings, attempt=2).execute({}) == second
    assert job_statuses(again.hook) == ["COMPLETED", "COMPLETED"]


def test_same_name_for_other_media_is_refused(aws, settings):
    make_operator(settings).execute({})
    with pytest.raises(TranscriptionJobConflict):
        make_operator(settings, media_uri="s3://callcare-lake/prod/raw-audio/other.wav").execute({})


# -- states, with the Stubber --------------------------------------------------------------------


def job(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "TranscriptionJob": {
            "TranscriptionJobName": job_name_for(CALL_ID, 1),
            "TranscriptionJobStatus": status,
            "Media": {"MediaFileUri": MEDIA},
            **extra,
        }
    }


def request_for(settings: Settings) -> dict[str, Any]:
    return build_job_request(
        call_id=CALL_ID, attempt=1, media_uri=MEDIA, call_date=CALL_DATE, channels=1, settings=settings
    )


NAME = {"TranscriptionJobName": job_name_for(CALL_ID, 1)}
REASON = "The media format provided does not match the detected media format."


def stubbed(op: TranscribeCallOperator) -> Stubber:
    stub = Stubber(op.hook.conn)
    stub.activate()
    return stub


def test_failed_job_raises_with_its_failure_reason(settings):
    op = make_operator(settings)
    stub = stubbed(op)
    stub.add_response("start_transcription_job", job("IN_PROGRESS"), request_for(settings))
    stub.add_response("get_transcription_job", job("FAILED", FailureReason=REASON), NAME)  # the waiter
    stub.add_response("get_transcription_job", job("FAILED", FailureReason=REASON), NAME)  # the reason
    with pytest.raises(TranscriptionJobFailed) as failed:
        op.execute({})
    assert failed.value.failure_reason == REASON
    assert failed.value.job_name == job_name_for(CALL_ID, 1)
    assert REASON in str(failed.value)
    stub.assert_no_pending_responses()


def test_a_failed_job_fails_the_task_without_retries(settings):
    """FAILED is the attempt's answer: no Airflow retry (AirflowFailException), no second job."""
    op = make_operator(settings)
    stub = stubbed(op)
    stub.add_response("start_transcription_job", job("IN_PROGRESS"), request_for(settings))
    stub.add_response("get_transcription_job", job("FAILED", FailureReason=REASON), NAME)  # the waiter
    stub.add_response("get_transcription_job", job("FAILED", FailureReason=REASON), NAME)  # the reason
    with pytest.raises(AirflowFailException) as failed:
        op.execute({})
    assert isinstance(failed.value, TranscriptionJobFailed) and REASON in str(failed.value)
    stub.assert_no_pending_responses()


def test_a_rerun_of_the_attempt_keeps_its_failed_job(settings):
    """A task cleared by hand re-attaches to its FAILED job and fails again: no delete, no new job."""
    op = make_operator(settings)
    stub = stubbed(op)
    stub.add_client_error(
        "start_transcription_job",
        "ConflictException",
        http_status_code=400,
        expected_params=request_for(settings),
    )
    stub.add_response("get_transcription_job", job("FAILED", FailureReason=REASON), NAME)
    with pytest.raises(TranscriptionJobFailed) as failed:
        op.execute({})  # no further stubbed call: a delete or a second start would fail here
    assert failed.value.failure_reason == REASON
    stub.assert_no_pending_responses()


def test_other_client_errors_are_not_swallowed(settings):
    op = make_operator(settings)
    stub = stubbed(op)
    stub.add_client_error("start_transcription_job", "BadRequestException", http_status_code=400)
    with pytest.raises(botocore.exceptions.ClientError, match="BadRequestException"):
        op.execute({})


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any):
        yield self._body


def test_throttling_is_retried_with_backoff(monkeypatch):
    """LimitExceededException twice, then the documented GetTranscriptionJob answer; each throttled
    answer is one Throttles datum with the Service dimension infra's throttling alarm reads."""
    metrics = capture_metrics(monkeypatch)
    hook = TranscribeHook(aws_conn_id=None, region_name=REGION)
    assert hook.conn.meta.config.retries["mode"] == "standard"
    answer = (FIXTURES / "awsdocs-get-transcription-job-response.json").read_bytes()
    attempts: list[int] = []

    def throttle_twice(request, **_: Any) -> AWSResponse:
        attempts.append(1)
        if len(attempts) <= 2:
            body = json.dumps({"__type": "LimitExceededException", "Message": "Rate exceeded"}).encode()
            return AWSResponse(request.url, 400, {"x-amzn-ErrorType": "LimitExceededException"}, _Raw(body))
        return AWSResponse(request.url, 200, {}, _Raw(answer))

    hook.conn.meta.events.register_first("before-send.transcribe.GetTranscriptionJob", throttle_twice)
    sleeps: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", sleeps.append)
    got = hook.get_job("your-transcription-job")
    assert got == json.loads(answer)["TranscriptionJob"] | {
        "StartTime": got["StartTime"],
        "CreationTime": got["CreationTime"],
        "CompletionTime": got["CompletionTime"],
    }
    assert len(attempts) == 3
    assert len(sleeps) == 2
    throttles = [m for m in metrics if m["metric"] == THROTTLES]
    assert (
        throttles
        == [{"metric": THROTTLES, "value": 1, "unit": "Count", "call_id": None, "Service": "transcribe"}] * 2
    )
    assert TRANSCRIBE_SERVICE == "transcribe" and TRANSCRIBE_SERVICE in THROTTLED_SERVICES


def test_answers_that_are_not_throttling_are_not_counted(monkeypatch):
    metrics = capture_metrics(monkeypatch)
    hook = TranscribeHook(aws_conn_id=None, region_name=REGION)

    def bad_request(request, **_: Any) -> AWSResponse:
        body = json.dumps({"__type": "BadRequestException", "Message": "no such job"}).encode()
        return AWSResponse(request.url, 400, {"x-amzn-ErrorType": "BadRequestException"}, _Raw(body))

    hook.conn.meta.events.register_first("before-send.transcribe.GetTranscriptionJob", bad_request)
    with pytest.raises(botocore.exceptions.ClientError):
        hook.get_job("nope")
    assert metrics == []


@pytest.mark.parametrize("status", ["COMPLETED", "FAILED"])
def test_the_transcribe_stage_is_the_jobs_own_time(settings, monkeypatch, status):
    """Timed like the local transcribe step (StageSeconds, Stage transcribe), from the job's own
    timestamps: the deferred task's processes and the triggerer's wait do not matter."""
    metrics = capture_metrics(monkeypatch)
    created = datetime.datetime(2026, 9, 2, 10, 0, 0, tzinfo=datetime.UTC)
    times = {"CreationTime": created, "CompletionTime": created + datetime.timedelta(seconds=95)}
    extra = (
        {"Transcript": {"TranscriptFileUri": "s3://callcare-lake/prod/x.json"}}
        if status == "COMPLETED"
        else {}
    )
    op = make_operator(settings)
    stub = stubbed(op)
    stub.add_response(
        "start_transcription_job", job("IN_PROGRESS", CreationTime=created), request_for(settings)
    )
    stub.add_response("get_transcription_job", job(status, **times, **extra), NAME)  # the waiter
    stub.add_response("get_transcription_job", job(status, **times, **extra), NAME)  # the result
    if status == "FAILED":
        with pytest.raises(TranscriptionJobFailed):
            op.execute({})
    else:
        op.execute({})
    stages = [m for m in metrics if m["metric"] == STAGE_SECONDS]
    assert stages == [
        {"metric": STAGE_SECONDS, "value": 95.0, "unit": "Seconds", "call_id": CALL_ID, "Stage": "transcribe"}
    ]


def test_a_connection_retry_policy_is_kept():
    hook = TranscribeHook(aws_conn_id=None, region_name=REGION, config=Config(retries={"mode": "adaptive"}))
    assert hook.conn.meta.config.retries["mode"] == "adaptive"


def test_documented_job_response_gives_references_only(settings):
    """The doc example's TranscriptFileUri is a placeholder: the requested location is reported."""
    op = make_operator(settings)
    documented = json.loads((FIXTURES / "awsdocs-get-transcription-job-response.json").read_text())
    result = op._result(documented["TranscriptionJob"])
    assert result == {
        "call_id": CALL_ID,
        "job_name": "your-transcription-job",
        "transcript_uri": f"s3://callcare-lake/prod/transcripts/{CALL_DATE}/{CALL_ID}-transcribe-raw.json",
    }


# -- deferrable path -----------------------------------------------------------------------------


def test_deferrable_execute_defers_to_the_waiter_trigger(aws, settings):
    op = make_operator(settings, deferrable=True, waiter_delay=15, waiter_max_attempts=40)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, TranscriptionJobCompletedTrigger)
    assert deferred.value.method_name == "execute_complete"
    classpath, kwargs = trigger.serialize()
    assert kwargs == {
        "job_name": job_name_for(CALL_ID, 1),
        "waiter_delay": 15,
        "waiter_max_attempts": 40,
        "aws_conn_id": None,
        "region_name": REGION,
    }
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert rebuilt.waiter_name == "transcription_job_completed"
    assert "transcription_job_completed" in rebuilt.hook().list_waiters()


class _AsyncClient:
    def __init__(self, client: Any) -> None:
        self.client = client

    async def __aenter__(self) -> Any:
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        return None


class _AsyncWaiter:
    """aiobotocore's AIOWaiter contract (awaitable wait) over botocore's own sync waiter."""

    def __init__(self, waiter: Any) -> None:
        self.waiter = waiter

    async def wait(self, **kwargs: Any) -> None:
        self.waiter.wait(**kwargs)


def patch_async(monkeypatch, client_for) -> list[dict[str, Any]]:
    """No aiobotocore in this environment: the trigger gets a sync client behind the async API."""
    calls: list[dict[str, Any]] = []

    async def get_async_conn(self):
        return _AsyncClient(client_for(self))

    original = TranscribeHook.get_waiter

    def get_waiter(self, waiter_name, parameters=None, config_overrides=None, deferrable=False, client=None):
        calls.append({"name": waiter_name, "deferrable": deferrable})
        return _AsyncWaiter(original(self, waiter_name, parameters, config_overrides, False, client))

    monkeypatch.setattr(TranscribeHook, "get_async_conn", get_async_conn)
    monkeypatch.setattr(TranscribeHook, "get_waiter", get_waiter)
    return calls


async def first_event(trigger: TranscriptionJobCompletedTrigger) -> TriggerEvent:
    async for event in trigger.run():
        return event
    raise AssertionError("the trigger ended without an event")


def test_trigger_fires_success_when_the_job_completes(aws, settings, monkeypatch):
    op = make_operator(settings, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    calls = patch_async(monkeypatch, lambda hook: hook.conn)
    trigger = deferred.value.trigger
    trigger.waiter_delay = 0
    event = asyncio.run(first_event(trigger))
    assert event.payload == {"status": "success", "job_name": job_name_for(CALL_ID, 1)}
    assert calls and all(c == {"name": "transcription_job_completed", "deferrable": True} for c in calls)
    # and the task picks up from there
    assert op.execute_complete({}, event.payload)["transcript_uri"].startswith(
        "s3://callcare-lake/prod/transcripts/"
    )


def test_trigger_fires_error_with_the_failure_reason(settings, monkeypatch):
    client = boto3.client("transcribe", region_name=REGION)
    stub = Stubber(client)
    stub.add_response(
        "get_transcription_job", job("IN_PROGRESS"), {"TranscriptionJobName": job_name_for(CALL_ID, 1)}
    )
    stub.add_response("get_transcription_job", job("FAILED", FailureReason=REASON), NAME)
    stub.activate()
    patch_async(monkeypatch, lambda hook: client)
    trigger = TranscriptionJobCompletedTrigger(
        job_name=job_name_for(CALL_ID, 1),
        waiter_delay=0,
        waiter_max_attempts=5,
        aws_conn_id=None,
        region_name=REGION,
    )
    event = asyncio.run(first_event(trigger))
    assert event.payload["status"] == "error"
    assert event.payload["job_name"] == job_name_for(CALL_ID, 1)
    assert REASON in event.payload["message"]
    stub.assert_no_pending_responses()


def test_execute_complete_failure_event_raises_with_the_reason(settings):
    op = make_operator(settings)
    stub = stubbed(op)
    stub.add_response("get_transcription_job", job("FAILED", FailureReason=REASON), NAME)
    with pytest.raises(TranscriptionJobFailed, match="does not match"):
        op.execute_complete(
            {}, {"status": "error", "message": "failed", "job_name": job_name_for(CALL_ID, 1)}
        )


def test_execute_complete_timeout_is_not_a_job_failure(settings):
    op = make_operator(settings)
    stub = stubbed(op)
    stub.add_response("get_transcription_job", job("IN_PROGRESS"), NAME)
    with pytest.raises(AirflowException, match="max attempts") as raised:
        op.execute_complete(
            {},
            {
                "status": "error",
                "message": "Waiter error: max attempts reached",
                "job_name": job_name_for(CALL_ID, 1),
            },
        )
    assert not isinstance(raised.value, TranscriptionJobFailed)


def test_execute_complete_without_event(settings):
    with pytest.raises(AirflowException):
        make_operator(settings).execute_complete({}, None)


def test_operator_takes_a_pool_and_templates_its_references(settings):
    op = make_operator(settings, pool=TRANSCRIBE_POOL)
    assert op.pool == TRANSCRIBE_POOL
    assert {"call_id", "attempt", "media_uri", "call_date", "channels"} <= set(op.template_fields)
