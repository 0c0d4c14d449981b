"""The aws profile's transcription steps, around the deferrable Amazon Transcribe operator.

`prepare_transcription` checks the recording and tells the operator where it is, how many
channels it has (so stereo calls use channel identification) and which processing attempt this is
(the job name carries it, so a reprocess transcribes again), the operator runs the job while
waiting in the triggerer, and `finish_transcription` parses the job's output into our transcript
with the same roles, metrics and storage as the offline path. Every step returns references only.
"""

from __future__ import annotations

import logging
from typing import Any

from callcare.core.context import CallFailed, Context
from callcare.status import CallStatus
from callcare.steps.process import store_transcript
from callcare.transcription.audio import AudioDecodeError, RecordingRefused, measure_audio
from callcare.transcription.transcribe_parser import parse_transcribe_json

log = logging.getLogger(__name__)


def prepare_transcription(call_id: str, ctx: Context) -> dict[str, Any]:
    call = ctx.registry.get(call_id)
    ctx.registry.transition(call_id, CallStatus.TRANSCRIBING)
    if not call["audio_uri"].startswith("s3://"):
        raise CallFailed("Amazon Transcribe reads recordings from S3; this one is not in an S3 lake")
    try:
        # the length counted from the decoded audio, not the header's claim: Transcribe bills what
        # it hears, so a header with no length or a false one must not get past max_duration_s
        with ctx.lake.open_input(ctx.lake.key_from_uri(call["audio_uri"])) as source:
            info = measure_audio(source, ctx.settings.max_duration_s)
    except RecordingRefused as exc:
        raise CallFailed(str(exc)) from exc
    except AudioDecodeError as exc:
        raise CallFailed(f"the recording could not be decoded ({exc})") from exc
    channels = info.channels
    ctx.registry.update_fields(call_id, channels=min(channels, 2), duration_s=info.measured_s)
    return {
        "call_id": call_id,
        "attempt": int(call["attempt"]),
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
    return store_transcript(call_id, call, transcript, ctx)
