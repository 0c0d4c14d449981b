"""The steps of one call's processing, each a plain function the DAG's tasks call.

Each step reads its inputs from the lake and the registry by call id and returns references only
(ids, URIs, counts): transcripts hold PII and never travel through XCom or logs. A step raises
CallFailed when retrying cannot help (a corrupt recording, an invalid summary); the task then marks
the call FAILED with the reason. Any other exception is retried by Airflow.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from callcare import observability, warehouse
from callcare.transcription.audio import AudioDecodeError, RecordingTooLong, decode_audio
from callcare.config import Settings, get_settings
from callcare.core.lake import Lake
from callcare.lake_paths import summary_key, table_key, transcript_key
from callcare.core.registry import Registry
from callcare.status import CallStatus
from callcare.summarization.base import SummaryFailed, get_backend
from callcare.summarization.schema import SummaryInvalid, validate_summary
from callcare.core.tables import metrics_table, summaries_table, turns_table
from callcare.transcription.engines import TranscriptionFailed, get_engine
from callcare.transcription.metrics import compute_metrics
from callcare.core.transcript import Transcript
from callcare.transcription.roles import assign_roles

log = logging.getLogger(__name__)

MAX_REASON = 500


class CallFailed(Exception):
    """Permanent failure of one call; `reason` is short, readable and free of transcript text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:MAX_REASON]


@dataclass
class Context:
    settings: Settings
    lake: Lake
    registry: Registry

    @classmethod
    def create(cls, settings: Settings | None = None) -> Context:
        settings = settings or get_settings()
        return cls(settings, Lake.from_settings(settings), Registry(settings.registry_url))


def transcribe(call_id: str, ctx: Context) -> dict[str, Any]:
    call = ctx.registry.get(call_id)
    ctx.registry.transition(call_id, CallStatus.TRANSCRIBING)
    audio_bytes = ctx.lake.get_bytes(ctx.lake.key_from_uri(call["audio_uri"]))
    try:
        audio = decode_audio(audio_bytes, max_duration_s=ctx.settings.max_duration_s)
    except RecordingTooLong as exc:
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
        metrics_json=_json(metrics),
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
    backend = get_backend(ctx.settings)
    try:
        result = backend.summarize(transcript, call["call_date"])
        validate_summary(result.summary, result.prompt_version)
    except (SummaryFailed, SummaryInvalid) as exc:
        raise CallFailed(f"summary failed: {getattr(exc, 'reason', exc)}") from exc
    stored = {**result.metadata(), "summary": result.summary}
    key = summary_key(call["call_date"], call_id, result.prompt_version)
    uri = ctx.lake.put_json(key, stored)
    ctx.registry.update_fields(
        call_id,
        summary_uri=uri,
        summary_backend=result.backend,
        model_id=result.model_id,
        prompt_version=result.prompt_version,
        cost_usd=result.cost_usd,
    )
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
    summary = stored["summary"]
    call_date = call["call_date"]
    ctx.lake.write_parquet(table_key("turns", call_date, call_id), turns_table(call_date, transcript))
    ctx.lake.write_parquet(
        warehouse.summaries_row_key(ctx.lake, call_date, call_id, stored["prompt_version"]),
        summaries_table(call_id, call_date, stored),
    )
    ctx.lake.write_parquet(
        table_key("metrics", call_date, call_id),
        metrics_table(call_id, call_date, document.get("metrics", {})),
    )
    fields = {
        "sentiment": summary.get("sentiment"),
        "category": summary.get("category"),
        "agent_id": summary.get("agent_id"),
        "customer_id": summary.get("customer_id"),
        "resolved": summary.get("resolved"),
        "escalated": summary.get("escalated"),
    }
    if call["status"] != CallStatus.COMPLETED:
        ctx.registry.transition(call_id, CallStatus.COMPLETED, **fields)
        completed = ctx.registry.get(call_id)
        observability.record_completed(
            call_id, observability.processing_seconds(completed["created_at"], completed.get("completed_at"))
        )
    warehouse.write_call_rows(ctx.lake, ctx.registry, call_id, document.get("metrics", {}))
    return {"call_id": call_id, "status": CallStatus.COMPLETED.value}


def fail(call_id: str, reason: str, ctx: Context) -> bool:
    """Mark FAILED unless the call already ended; True when this call changed it."""
    call = ctx.registry.get(call_id)
    if call["status"] in (CallStatus.COMPLETED, CallStatus.FAILED):
        return False
    changed = ctx.registry.transition(call_id, CallStatus.FAILED, error_message=reason[:MAX_REASON])
    if changed:
        warehouse.record_failed_call(call_id, ctx)  # calls + status_events rows; never raises
    return changed


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
