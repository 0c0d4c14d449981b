"""The aws profile's steps: Drive ingestion, the Amazon Transcribe path of a call, and SNS alerts.

Transcription is split around the deferrable TranscribeCallOperator: `prepare_transcription`
checks the recording and tells the operator where it is and how many channels it has (so stereo
calls use channel identification), the operator runs the job while waiting in the triggerer, and
`finish_transcription` parses the job's output into our transcript with the same roles, metrics
and storage as the offline path. Every step returns references only.
"""

from __future__ import annotations

import logging
from typing import Any

import av

from callcare.steps import process as pipeline
from callcare.steps.alerts import SnsPublisher, publish_pending
from callcare.transcription.audio import too_long_reason, unsupported_codec_reason
from callcare.operators.transcribe import TranscribeCallOperator
from callcare.steps.process import CallFailed, Context
from callcare.status import CallStatus
from callcare.transcription.transcribe_parser import parse_transcribe_json

log = logging.getLogger(__name__)


def land_drive(ctx: Context) -> dict[str, int]:
    from callcare.sources.gdrive import ingest_drive

    counts = {"new": 0, "duplicate": 0, "deferred": 0, "skipped": 0, "given_up": 0}
    for outcome in ingest_drive(ctx.settings, ctx.lake, ctx.registry):
        counts[outcome.outcome] += 1
    return counts


def probe_audio(ctx: Context, key: str) -> tuple[int, float | None]:
    """(channels, duration in seconds or None) from the recording's header and first frame.

    Reads through ranged requests, so a long recording is not fetched; decoding one frame catches a
    file whose header is fine but whose audio is not, before Transcribe is paid to find out.
    """
    with ctx.lake.open_input(key) as source, av.open(source, mode="r") as container:
        if not container.streams.audio:
            raise ValueError("the file has no audio stream")
        stream = container.streams.audio[0]
        if stream.codec_context is None:  # FFmpeg knows no decoder for this codec
            raise ValueError(unsupported_codec_reason(container))
        channels = int(stream.codec_context.channels or 1)
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        next(container.decode(stream))
    return channels, duration


def prepare_transcription(call_id: str, ctx: Context) -> dict[str, Any]:
    call = ctx.registry.get(call_id)
    ctx.registry.transition(call_id, CallStatus.TRANSCRIBING)
    if not call["audio_uri"].startswith("s3://"):
        raise CallFailed("Amazon Transcribe reads recordings from S3; this one is not in an S3 lake")
    try:
        channels, duration = probe_audio(ctx, ctx.lake.key_from_uri(call["audio_uri"]))
    except av.error.FFmpegError as exc:  # its str() carries an errno and '<none>': keep the words
        raise CallFailed(
            f"the recording could not be decoded ({exc.strerror or type(exc).__name__})"
        ) from exc
    except (ValueError, StopIteration, EOFError) as exc:
        raise CallFailed(f"the recording could not be decoded ({type(exc).__name__}: {exc})") from exc
    if duration is not None and duration > ctx.settings.max_duration_s:
        raise CallFailed(too_long_reason(duration, ctx.settings.max_duration_s))
    ctx.registry.update_fields(call_id, channels=min(channels, 2), duration_s=duration)
    return {
        "call_id": call_id,
        "media_uri": call["audio_uri"],
        "call_date": call["call_date"],
        "channels": min(channels, 2),
    }


def read_output(ctx: Context, uri: str) -> bytes:
    """Transcribe's output: in the lake, or in the separate output bucket when one is configured."""
    if uri.startswith(ctx.lake.uri + "/"):
        return ctx.lake.get_bytes(ctx.lake.key_from_uri(uri))
    if not uri.startswith("s3://") or ctx.lake.uri.startswith("file://"):
        raise ValueError(f"cannot read Transcribe output at {uri}")
    with ctx.lake.fs.open_input_stream(uri.removeprefix("s3://")) as src:
        return src.read()


def finish_transcription(call_id: str, job: dict[str, Any], ctx: Context) -> dict[str, Any]:
    if job.get("call_id") != call_id or not job.get("transcript_uri"):
        raise ValueError(f"the Transcribe task returned no output for call {call_id}: {sorted(job)}")
    call = ctx.registry.get(call_id)
    raw = read_output(ctx, job["transcript_uri"])
    try:
        transcript = parse_transcribe_json(raw, call_id=call_id, duration_s=call["duration_s"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CallFailed(f"the Transcribe output could not be read ({type(exc).__name__})") from exc
    return pipeline.store_transcript(call_id, call, transcript, ctx)


def publish_alerts(ctx: Context) -> dict[str, int]:
    if not ctx.settings.sns_topic_arn:
        raise ValueError("sns_topic_arn is not set: the aws profile publishes alerts to an SNS topic")
    publisher = SnsPublisher(ctx.settings.sns_topic_arn, ctx.settings.aws_conn_id, ctx.settings.aws_region)
    return publish_pending(ctx.registry, publisher, ctx.settings.alerts_batch_size)


class CallTranscribeOperator(TranscribeCallOperator):
    """TranscribeCallOperator reading the task's settings (environment + the callcare_settings Variable).

    The DAG is parsed without Airflow Variables, so the settings cannot be handed over at parse
    time; the job request (output bucket, KMS key, redaction, ...) is built when the task runs.
    """

    def _settings(self):  # type: ignore[no-untyped-def]
        if self.settings is None:
            from callcare.dag_tasks.process import task_settings

            self.settings = task_settings()
        return self.settings
