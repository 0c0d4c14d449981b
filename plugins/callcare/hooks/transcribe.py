"""Amazon Transcribe batch jobs: the request we send, and a provider hook that sends it once.

The job name is derived from the call id and the processing attempt (the registry's counter, which
`reprocess` raises): an Airflow retry of the same attempt finds the job it started before instead of
paying for a second transcription, and a reprocess starts a new job. The output goes to the lake
bucket next to our own transcript. Throttling (Transcribe answers LimitExceededException when too
many jobs are queued) is retried by botocore's standard retry mode, with exponential backoff, and
each throttled answer is counted for the throttling alarm. A job
that ends FAILED is final for its attempt: Transcribe would fail the same media the same way, so the
task fails without Airflow retries and the call ends FAILED with the job's FailureReason.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlparse

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from botocore.config import Config
from botocore.exceptions import ClientError

from callcare import observability
from callcare.config import Settings
from callcare.lake_paths import engine_output_key
from callcare.names import TRANSCRIBE_SERVICE

JOB_NAME_PREFIX = "callcare-"
RAW_OUTPUT_ENGINE = "transcribe"  # the raw output's name in the lake: {call_id}-transcribe-raw.json
JOB_NAME_MAX = 200
COMPLETED = "COMPLETED"
FAILED = "FAILED"
IN_PROGRESS = "IN_PROGRESS"
QUEUED = "QUEUED"
# botocore's "standard" mode retries throttling and transient errors with jittered exponential backoff.
THROTTLE_RETRIES: dict[str, Any] = {"mode": "standard", "max_attempts": 10}
REDACTION_OUTPUTS = ("redacted", "redacted_and_unredacted")
FILTER_METHODS = ("mask", "remove", "tag")


class TranscriptionJobFailed(AirflowFailException):
    """Transcribe gave up on the job; `failure_reason` is the service's own explanation.

    An AirflowFailException: a retry would re-attach to the same FAILED job (or, started again,
    pay for a job that fails the same way), so the task fails at once and its failure callback
    marks the call FAILED with this message. `callcare reprocess` is the way to try again.
    """

    def __init__(self, job_name: str, failure_reason: str | None) -> None:
        self.job_name = job_name
        self.failure_reason = failure_reason or "no FailureReason given"
        super().__init__(f"Transcription job {job_name} failed: {self.failure_reason}")


class TranscriptionJobConflict(AirflowException):
    """A job with this call's name exists but transcribes other media: reusing it would be wrong."""


def job_name_for(call_id: str, attempt: int | str) -> str:
    """callcare-<call id>-a<attempt>: one job per processing attempt of a call, the same name for
    every Airflow retry of that attempt. Within Transcribe's name rules ([0-9a-zA-Z._-], at most 200
    characters); a long call id is shortened, never the attempt."""
    number = int(attempt)
    if number < 1:
        raise ValueError(f"a processing attempt counts from 1, got {attempt!r}")
    suffix = f"-a{number}"
    safe = re.sub(r"[^0-9A-Za-z._-]+", "-", call_id).strip("-.") or "call"
    return JOB_NAME_PREFIX + safe[: JOB_NAME_MAX - len(JOB_NAME_PREFIX) - len(suffix)] + suffix


def split_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"expected an s3:// URI, got {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def _call_date(value: str | dt.date) -> str:
    text = value.isoformat()[:10] if isinstance(value, dt.date) else str(value)[:10]
    dt.date.fromisoformat(text)  # a partition name that is not a date would scatter the lake
    return text


def output_location(settings: Settings, call_id: str, call_date: str | dt.date) -> tuple[str, str]:
    """Bucket and key for Transcribe's own output: transcripts/YYYY-MM-DD/ in the lake."""
    key = engine_output_key(_call_date(call_date), call_id, RAW_OUTPUT_ENGINE)
    if settings.transcribe_output_bucket:
        return settings.transcribe_output_bucket, key
    if not (settings.lake_uri or "").startswith("s3://"):
        raise ValueError(
            "Amazon Transcribe writes to S3: set CALLCARE_LAKE_URI to s3://... "
            "or CALLCARE_TRANSCRIBE_OUTPUT_BUCKET"
        )
    bucket, prefix = split_s3_uri(settings.lake_uri or "")
    return bucket, f"{prefix.strip('/')}/{key}" if prefix.strip("/") else key


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def build_job_request(
    *,
    call_id: str,
    attempt: int | str,
    media_uri: str,
    call_date: str | dt.date,
    channels: int,
    settings: Settings,
) -> dict[str, Any]:
    """StartTranscriptionJob parameters for one call.

    Two-channel audio uses channel identification (the wiring tells speakers apart for free and
    ChannelIdentification excludes speaker labels); mono audio gets speaker diarization.
    """
    split_s3_uri(media_uri)
    bucket, key = output_location(settings, call_id, call_date)
    job_settings: dict[str, Any] = {}
    if int(channels) >= 2:
        job_settings["ChannelIdentification"] = True
    else:
        job_settings["ShowSpeakerLabels"] = True
        job_settings["MaxSpeakerLabels"] = min(30, max(2, int(settings.max_speakers)))

    vocabulary: dict[str, str] = {}
    if settings.transcribe_vocabulary_name:
        vocabulary["VocabularyName"] = settings.transcribe_vocabulary_name
    if settings.transcribe_vocabulary_filter_name:
        if settings.transcribe_vocabulary_filter_method not in FILTER_METHODS:
            raise ValueError(f"transcribe_vocabulary_filter_method must be one of {FILTER_METHODS}")
        vocabulary["VocabularyFilterName"] = settings.transcribe_vocabulary_filter_name
        job_settings["VocabularyFilterMethod"] = settings.transcribe_vocabulary_filter_method

    request: dict[str, Any] = {
        "TranscriptionJobName": job_name_for(call_id, attempt),
        "Media": {"MediaFileUri": media_uri},
        "OutputBucketName": bucket,
        "OutputKey": key,
    }
    options = _csv(settings.transcribe_language_options)
    if options:
        # A custom vocabulary or filter is per language: it goes to the language it was built for.
        request["IdentifyLanguage"] = True
        request["LanguageOptions"] = options
        if vocabulary:
            if settings.transcribe_language_code not in options:
                raise ValueError(
                    "the vocabulary's language (transcribe_language_code) is not a language option"
                )
            request["LanguageIdSettings"] = {settings.transcribe_language_code: vocabulary}
    else:
        request["LanguageCode"] = settings.transcribe_language_code
        job_settings.update(vocabulary)
    request["Settings"] = job_settings

    if settings.transcribe_redaction_output:
        if settings.transcribe_redaction_output not in REDACTION_OUTPUTS:
            raise ValueError(f"transcribe_redaction_output must be one of {REDACTION_OUTPUTS}")
        redaction: dict[str, Any] = {
            "RedactionType": "PII",
            "RedactionOutput": settings.transcribe_redaction_output,
        }
        if _csv(settings.transcribe_pii_entity_types):
            redaction["PiiEntityTypes"] = _csv(settings.transcribe_pii_entity_types)
        request["ContentRedaction"] = redaction
    if settings.transcribe_output_kms_key_id:
        request["OutputEncryptionKMSKeyId"] = settings.transcribe_output_kms_key_id
    return request


def transcript_s3_uri(job: Mapping[str, Any]) -> str | None:
    """The output as an s3:// URI (Transcribe reports an https URL; the lake speaks s3://).

    None when the URL is not an S3 object URL (documentation examples use placeholders).
    """
    url = (job.get("Transcript") or {}).get("TranscriptFileUri")
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        return url
    host, path = parsed.netloc, unquote(parsed.path.lstrip("/"))
    virtual = re.match(r"^(?P<bucket>.+)\.s3[.-]", host)
    if virtual and path:  # https://bucket.s3.region.amazonaws.com/key
        return f"s3://{virtual['bucket']}/{path}"
    bucket, _, key = path.partition("/")  # https://s3.region.amazonaws.com/bucket/key
    if re.match(r"^s3[.-]", host) and bucket and key:
        return f"s3://{bucket}/{key}"
    return None


class TranscribeHook(AwsBaseHook):
    """The provider's AWS hook on the `transcribe` client, with throttling retried by default."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "transcribe"
        super().__init__(*args, **kwargs)

    @property
    def config(self) -> Config:
        """The connection's botocore config, given a retry policy when nobody chose one."""
        config = super().config
        if config.retries is None:
            config = config.merge(Config(retries=THROTTLE_RETRIES))
        return config

    def get_client_type(
        self, region_name: str | None = None, config: Config | None = None, deferrable: bool = False
    ) -> Any:
        """The provider's client, with each throttled answer recorded (names.THROTTLES, Service
        transcribe) while botocore retries it. Not the triggerer's async client: recording puts a
        metric synchronously, which would hold up every trigger sharing that event loop."""
        client = super().get_client_type(region_name=region_name, config=config, deferrable=deferrable)
        if not deferrable:
            observability.count_botocore_throttles(client, TRANSCRIBE_SERVICE)
        return client

    def get_job(self, job_name: str) -> dict[str, Any]:
        return self.conn.get_transcription_job(TranscriptionJobName=job_name)["TranscriptionJob"]

    def start_or_reuse_job(self, request: Mapping[str, Any]) -> tuple[dict, bool]:
        """Start the job, or return the job of that name that already exists (and True).

        An existing job is returned whatever its state, FAILED included: the name belongs to one
        processing attempt, and that attempt's FAILED job is its answer (never a second paid job).
        """
        name = request["TranscriptionJobName"]
        try:
            return self.conn.start_transcription_job(**request)["TranscriptionJob"], False
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConflictException":
                raise
        existing = self.get_job(name)
        wanted, found = request["Media"]["MediaFileUri"], existing.get("Media", {}).get("MediaFileUri")
        if found != wanted:
            raise TranscriptionJobConflict(f"job {name} exists for {found}, not {wanted}")
        self.log.info("Reusing job %s (%s)", name, existing.get("TranscriptionJobStatus"))
        return existing, True
