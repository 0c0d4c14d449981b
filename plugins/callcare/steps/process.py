"""The steps of one call's processing, each a plain function of (call id, context).

Each step reads its inputs from the lake and the registry by call id and returns references only
(ids, URIs, counts): transcripts hold PII and never travel through XCom or logs. A step raises
CallFailed when retrying cannot help (a corrupt recording, an invalid summary); the task layer then
marks the call FAILED with the reason (`fail`). Any other exception is retried by Airflow.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from callcare import observability
from callcare.core import lake_rows
from callcare.core.context import MAX_REASON, CallFailed, Context
from callcare.core.transcript import Transcript
from callcare.lake_paths import transcript_key
from callcare.status import CallStatus
from callcare.steps.summaries import make_summary, store_summary, summary_call_fields, summary_fields
from callcare.summarization.choose import get_backend
from callcare.transcription.audio import AudioDecodeError, RecordingRefused, decode_audio
from callcare.transcription.engines import TranscriptionFailed, get_engine
from callcare.transcription.metrics import compute_metrics
from callcare.transcription.roles import assign_roles

log = logging.getLogger(__name__)


def transcribe(call_id: str, ctx: Context) -> dict[str, Any]:
    call = ctx.registry.get(call_id)
    ctx.registry.transition(call_id, CallStatus.TRANSCRIBING)
    try:
        # streamed from the lake, not read into memory first: decoding holds the samples only
        with ctx.lake.open_input(ctx.lake.key_from_uri(call["audio_uri"])) as source:
            audio = decode_audio(source, max_duration_s=ctx.settings.max_duration_s)
    except RecordingRefused as exc:  # too long, or a decompression bomb: the message says which
        raise CallFailed(str(exc)) from exc
    except AudioDecodeError as exc:
        raise CallFailed(f"the recording could not be decoded ({exc})") from exc
    engine = get_engine(ctx.settings)
    try:
        transcript = engine.transcribe(call_id, audio)
    except TranscriptionFailed as exc:
        raise CallFailed(f"transcription failed: {exc}") from exc
    return store_transcript(call_id, call, transcript, ctx)


def store_transcript(
    call_id: str, call: dict[str, Any], transcript: Transcript, ctx: Context
) -> dict[str, Any]:
    """Roles, metrics and the stored transcript: the same for every engine (offline or Transcribe)."""
    transcript = assign_roles(transcript, ctx.settings.agent_channel)
    metrics = compute_metrics(transcript).to_dict()
    key = transcript_key(call["call_date"], call_id)
    uri = ctx.lake.put_json(key, {"transcript": transcript.to_dict(), "metrics": metrics})
    ctx.registry.update_fields(
        call_id,
        transcript_uri=uri,
        duration_s=transcript.duration_s,
        channels=transcript.channels,
        stt_engine=transcript.engine,
        metrics_json=json.dumps(metrics, sort_keys=True),
    )
    log.info("call %s transcribed: %d turns, %.1f s", call_id, len(transcript.turns), transcript.duration_s)
    return {"call_id": call_id, "transcript_uri": uri, "turns": len(transcript.turns)}


def summarize(call_id: str, ctx: Context) -> dict[str, Any]:
    call = ctx.registry.get(call_id)
    ctx.registry.transition(call_id, CallStatus.SUMMARIZING)
    if not call["transcript_uri"]:
        raise CallFailed("no transcript to summarize")
    document = ctx.lake.get_json(ctx.lake.key_from_uri(call["transcript_uri"]))
    transcript = Transcript.from_dict(document["transcript"])
    if not transcript.text.strip():
        raise CallFailed("no speech was recognized in the recording")
    backend = get_backend(
        ctx.settings, on_throttle=lambda service: observability.record_throttle(service, call_id)
    )
    result = make_summary(backend, transcript, call["call_date"])
    uri, _ = store_summary(ctx.lake, call_id, call["call_date"], result)
    ctx.registry.update_fields(call_id, **summary_call_fields(uri, result))
    observability.record_tokens(call_id, result.input_tokens, result.output_tokens)
    observability.record_cost(call_id, result.cost_usd)
    log.info("call %s summarized by %s (%s)", call_id, result.backend, result.prompt_version)
    return {"call_id": call_id, "summary_uri": uri}


def publish(call_id: str, ctx: Context) -> dict[str, Any]:
    """Parquet rows for the warehouse, then COMPLETED with the fields alerts and the app filter on.

    Safe to retry: when a lake write fails after the status change, the retry rewrites the rows
    without a second COMPLETED (which the registry would refuse). The calls and status_events rows
    come last because they show the call as the registry has it once COMPLETED.
    """
    call = ctx.registry.get(call_id)
    stored = ctx.lake.get_json(ctx.lake.key_from_uri(call["summary_uri"]))
    document = ctx.lake.get_json(ctx.lake.key_from_uri(call["transcript_uri"]))
    transcript = Transcript.from_dict(document["transcript"])
    metrics = document.get("metrics", {})
    lake_rows.write_processed_rows(ctx.lake, call_id, call["call_date"], transcript, stored, metrics)
    if call["status"] != CallStatus.COMPLETED:
        ctx.registry.transition(call_id, CallStatus.COMPLETED, **summary_fields(stored["summary"]))
        completed = ctx.registry.get(call_id)
        observability.record_completed(
            call_id, observability.processing_seconds(completed["created_at"], completed.get("completed_at"))
        )
    lake_rows.write_call_rows(ctx.lake, ctx.registry, call_id, metrics)
    return {"call_id": call_id, "status": CallStatus.COMPLETED.value}


def fail(call_id: str, reason: str, ctx: Context) -> bool:
    """Mark FAILED unless the call already ended; True when this call changed it."""
    call = ctx.registry.get(call_id)
    if call["status"] in (CallStatus.COMPLETED, CallStatus.FAILED):
        return False
    changed = ctx.registry.transition(call_id, CallStatus.FAILED, error_message=reason[:MAX_REASON])
    if changed:
        lake_rows.record_failed_call(ctx.lake, ctx.registry, call_id)  # calls + status_events rows
    return changed
