"""Task bodies of callcare_process_call: one call, id in, references out.

The local profile runs transcribe → summarize → publish; aws runs prepare_transcription → the
deferrable Transcribe operator (`transcribe_operator`) → read_transcript → summarize → publish.
"""

from __future__ import annotations

from typing import Any

from callcare.dag_tasks.assets import summaries_asset
from callcare.dag_tasks.runtime import mark_call_failed, parse_settings, run_step
from callcare.names import BEDROCK_POOL, LOCAL_STT_POOL, PROCESS_DAG_ID, TRANSCRIBE_POOL
from callcare.steps import amazon_transcribe, process

__all__ = [
    "BEDROCK_POOL",
    "LOCAL_STT_POOL",
    "PROCESS_DAG_ID",
    "TRANSCRIBE_POOL",
    "mark_call_failed",
    "parse_settings",
    "prepare_transcription",
    "publish",
    "read_transcript",
    "summaries_asset",
    "summarize",
    "transcribe",
    "transcribe_operator",
]


def transcribe(call_id: str) -> dict[str, Any]:
    return run_step("transcribe", call_id, lambda ctx: process.transcribe(call_id, ctx))


def summarize(call_id: str) -> dict[str, Any]:
    return run_step("summarize", call_id, lambda ctx: process.summarize(call_id, ctx))


def publish(call_id: str) -> dict[str, Any]:
    return run_step("publish", call_id, lambda ctx: process.publish(call_id, ctx))


def prepare_transcription(call_id: str) -> dict[str, Any]:
    return run_step(
        "prepare_transcription", call_id, lambda ctx: amazon_transcribe.prepare_transcription(call_id, ctx)
    )


def read_transcript(call_id: str, job: dict[str, Any]) -> dict[str, Any]:
    return run_step(
        "read_transcript", call_id, lambda ctx: amazon_transcribe.finish_transcription(call_id, job, ctx)
    )


def transcribe_operator(**kwargs: Any) -> Any:
    """The deferrable Amazon Transcribe operator; imported here so the local profile never loads it."""
    from callcare.operators.transcribe import TranscribeCallOperator

    return TranscribeCallOperator(**kwargs)
