"""Parquet rows of one call, with explicit schemas (Hive-partitioned by call_date in the lake).

Schema evolution: columns are only ever added, at the end, nullable; a column is never renamed
or retyped in place (add a new one and stop filling the old). dbt staging models absorb the rest.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from callcare.transcription.model import Transcript

CALLS_SCHEMA = pa.schema(
    [
        ("call_id", pa.string()),
        ("call_date", pa.string()),
        ("source", pa.string()),
        ("audio_uri", pa.string()),
        ("audio_format", pa.string()),
        ("duration_s", pa.float64()),
        ("channels", pa.int32()),
        ("stt_engine", pa.string()),
        ("summary_backend", pa.string()),
        ("model_id", pa.string()),
        ("prompt_version", pa.string()),
        ("uploaded_at", pa.timestamp("us", tz="UTC")),
        ("completed_at", pa.timestamp("us", tz="UTC")),
        ("agent_talk_s", pa.float64()),
        ("customer_talk_s", pa.float64()),
        ("non_talk_s", pa.float64()),
        ("longest_silence_s", pa.float64()),
        ("interruptions", pa.int32()),
        ("agent_wpm", pa.float64()),
        ("customer_wpm", pa.float64()),
        ("metrics_json", pa.string()),
    ]
)

TURNS_SCHEMA = pa.schema(
    [
        ("call_id", pa.string()),
        ("call_date", pa.string()),
        ("turn_index", pa.int32()),
        ("speaker", pa.string()),
        ("role", pa.string()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("word_count", pa.int32()),
        ("text", pa.string()),
        ("redacted", pa.bool_()),
    ]
)

SUMMARIES_SCHEMA = pa.schema(
    [
        ("call_id", pa.string()),
        ("call_date", pa.string()),
        ("prompt_version", pa.string()),
        ("backend", pa.string()),
        ("model_id", pa.string()),
        ("issue_sentence", pa.string()),
        ("key_details", pa.list_(pa.string())),
        ("action_items", pa.list_(pa.string())),
        ("next_steps", pa.list_(pa.string())),
        ("sentiment", pa.string()),
        ("category", pa.string()),
        ("resolved", pa.bool_()),
        ("escalated", pa.bool_()),
        ("agent_id", pa.string()),
        ("customer_id", pa.string()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cost_usd", pa.float64()),
        ("summary_json", pa.string()),
    ]
)


def _metric(metrics: dict[str, Any], *path: str) -> Any:
    node: Any = metrics
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def calls_table(call: dict[str, Any], metrics: dict[str, Any]) -> pa.Table:
    row = {
        "call_id": call["call_id"],
        "call_date": call["call_date"],
        "source": call["source"],
        "audio_uri": call["audio_uri"],
        "audio_format": call["audio_format"],
        "duration_s": call.get("duration_s"),
        "channels": call.get("channels"),
        "stt_engine": call.get("stt_engine"),
        "summary_backend": call.get("summary_backend"),
        "model_id": call.get("model_id"),
        "prompt_version": call.get("prompt_version"),
        "uploaded_at": call["created_at"],
        "completed_at": call.get("completed_at"),
        "agent_talk_s": _metric(metrics, "talk_time_s", "agent"),
        "customer_talk_s": _metric(metrics, "talk_time_s", "customer"),
        "non_talk_s": _metric(metrics, "non_talk_s"),
        "longest_silence_s": _metric(metrics, "longest_silence_s"),
        "interruptions": _metric(metrics, "interruptions"),
        "agent_wpm": _metric(metrics, "words_per_minute", "agent"),
        "customer_wpm": _metric(metrics, "words_per_minute", "customer"),
        "metrics_json": json.dumps(metrics, sort_keys=True),
    }
    return pa.Table.from_pylist([row], schema=CALLS_SCHEMA)


def turns_table(call_date: str, transcript: Transcript) -> pa.Table:
    rows = [
        {
            "call_id": transcript.call_id,
            "call_date": call_date,
            "turn_index": i,
            "speaker": t.speaker,
            "role": t.role,
            "start_s": t.start,
            "end_s": t.end,
            "word_count": len(t.text.split()),
            "text": t.text,
            "redacted": t.redacted,
        }
        for i, t in enumerate(transcript.turns)
    ]
    return pa.Table.from_pylist(rows, schema=TURNS_SCHEMA)


def summaries_table(call_id: str, call_date: str, stored: dict[str, Any]) -> pa.Table:
    summary = stored["summary"]
    row = {
        "call_id": call_id,
        "call_date": call_date,
        "prompt_version": stored["prompt_version"],
        "backend": stored["backend"],
        "model_id": stored["model_id"],
        "issue_sentence": summary.get("issue_sentence"),
        "key_details": summary.get("key_details"),
        "action_items": summary.get("action_items"),
        "next_steps": summary.get("next_steps"),
        "sentiment": summary.get("sentiment"),
        "category": summary.get("category"),
        "resolved": summary.get("resolved"),
        "escalated": summary.get("escalated"),
        "agent_id": summary.get("agent_id"),
        "customer_id": summary.get("customer_id"),
        "input_tokens": stored.get("input_tokens"),
        "output_tokens": stored.get("output_tokens"),
        "cost_usd": stored.get("cost_usd"),
        "summary_json": json.dumps(summary, sort_keys=True),
    }
    return pa.Table.from_pylist([row], schema=SUMMARIES_SCHEMA)
