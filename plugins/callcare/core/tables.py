"""The warehouse's Parquet tables in the lake: one explicit pyarrow schema per table, and its rows.

Every table lives at `tables/<name>/call_date=YYYY-MM-DD/` (Hive partitions, see lake_paths), one
file per call (summaries: one per call and prompt version) until steps.compact merges a past day
into one file; readers count each call from one file (core.lake_generations). The schemas here are the single source
of truth: the Glue definitions (callcare.warehouse.glue_tables), the dbt sources (dbt/models/staging) and the
analyst guide's column lists are generated from them, and tests fail when those drift.

`call_date` is both the partition (in the path) and a column in each file. Athena, Trino, Spark and
DuckDB all take the partition value from the path and ignore the file's copy, which only keeps a
single file self-describing; the Glue schema therefore lists call_date as a partition key only.

Schema evolution rules (also in docs/ANALYST_GUIDE.md):

1. Add, never change. A new column is appended at the end of its schema and is nullable. Files
   already in the lake are not rewritten: readers match columns by name (Athena reads Parquet by
   name, DuckDB reads with union_by_name), so old files read the new column as null.
2. Never rename, retype or drop a column in place. Add the new column, fill both for a while, stop
   filling the old one (it stays, as null), and move the staging model to the new name; the marts
   never see the change. Widening an int32 to int64 is a retype too: add a column.
3. Descriptions are part of the schema: a column without one fails the unit tests.
4. After changing a schema, regenerate the catalog (`python -m callcare.warehouse.glue_tables --write`), which
   rewrites the Glue definitions and the dbt sources file; infra applies the Glue part.
5. A new table needs its name in lake_paths.TABLES, an entry in LAKE_TABLES below, and a writer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from callcare.core.transcript import Transcript
from callcare.names import LAKE_TABLE_UNITS

PARTITION_KEY = "call_date"
_DESCRIPTION = b"description"


def _field(name: str, type_: pa.DataType, description: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={_DESCRIPTION: description.encode()})


def _key(name: str, description: str) -> pa.Field:
    return _field(name, pa.string(), description, nullable=False)


_CALL_ID = "The call's id, deterministic from the recording's source identity (c-...)."
_CALL_DATE = "Date of the call, YYYY-MM-DD; also the Hive partition (call_date=...)."
_TS = pa.timestamp("us", tz="UTC")

CALLS_SCHEMA = pa.schema(
    [
        _key("call_id", _CALL_ID),
        _key("call_date", _CALL_DATE),
        _field("source", pa.string(), "Where the recording came from: inbox (local) or gdrive."),
        _field("audio_uri", pa.string(), "The recording in the lake (raw-audio/...)."),
        _field("audio_format", pa.string(), "Container/codec of the recording as received (wav, mp3, ...)."),
        _field("duration_s", pa.float64(), "Length of the recording in seconds."),
        _field("channels", pa.int32(), "Audio channels: 2 means agent and customer on their own channel."),
        _field("stt_engine", pa.string(), "Speech-to-text engine that made the transcript."),
        _field(
            "summary_backend", pa.string(), "Backend of the call's current summary (offline, bedrock, ...)."
        ),
        _field("model_id", pa.string(), "Model id of the call's current summary."),
        _field("prompt_version", pa.string(), "Prompt version of the call's current summary (v1, ...)."),
        _field("uploaded_at", _TS, "When the call was registered (UPLOADED), UTC."),
        _field("completed_at", _TS, "When the call last reached COMPLETED, UTC; null for FAILED calls."),
        _field("agent_talk_s", pa.float64(), "Seconds the agent was audible."),
        _field("customer_talk_s", pa.float64(), "Seconds the customer was audible."),
        _field("non_talk_s", pa.float64(), "Seconds nobody was audible (holds, dead air)."),
        _field("longest_silence_s", pa.float64(), "Longest stretch with nobody audible, seconds."),
        _field("interruptions", pa.int32(), "Turns that started while another speaker was talking."),
        _field("agent_wpm", pa.float64(), "Agent's speaking rate, words per minute of talk time."),
        _field("customer_wpm", pa.float64(), "Customer's speaking rate, words per minute of talk time."),
        _field(
            "metrics_json",
            pa.string(),
            "All conversation metrics as JSON (the metrics table has them as columns).",
        ),
        # -- added with the warehouse (issue 6) --
        _field("status", pa.string(), "Status when the row was written: COMPLETED or FAILED."),
        _field(
            "error_message", pa.string(), "Why the call FAILED (short, no transcript text); null otherwise."
        ),
        _field("attempt", pa.int32(), "Processing attempt: 1, plus one per reprocessing."),
        _field("updated_at", _TS, "When the registry row last changed before this row was written, UTC."),
        _field("size_bytes", pa.int64(), "Size of the recording in bytes."),
        _field(
            "sentiment",
            pa.string(),
            "Overall sentiment of the current summary: Positive, Neutral or Negative.",
        ),
        _field("category", pa.string(), "Main reason for the call (the summary schema's category enum)."),
        _field("agent_id", pa.string(), "Agent id as spoken in the call; null when none was said."),
        _field(
            "customer_id", pa.string(), "Customer's account/case/policy number as spoken; null when none."
        ),
        _field("resolved", pa.bool_(), "The request was fully handled during the call."),
        _field("escalated", pa.bool_(), "The case went to a supervisor, specialist or higher tier."),
        _field("cost_usd", pa.float64(), "Cost of the current summary (LLM tokens), US dollars."),
    ]
)

TURNS_SCHEMA = pa.schema(
    [
        _key("call_id", _CALL_ID),
        _key("call_date", _CALL_DATE),
        _field("turn_index", pa.int32(), "Position of the turn in the call, from 0.", nullable=False),
        _field("speaker", pa.string(), "The engine's speaker label (ch_0, spk_1, ...)."),
        _field("role", pa.string(), "agent, customer or unknown."),
        _field("start_s", pa.float64(), "Start of the turn, seconds from the start of the recording."),
        _field("end_s", pa.float64(), "End of the turn, seconds from the start of the recording."),
        _field("word_count", pa.int32(), "Words in the turn."),
        _field("text", pa.string(), "What was said. PII: keep out of marts, logs and dashboards."),
        _field("redacted", pa.bool_(), "PII was redacted by the speech-to-text engine."),
    ]
)

SUMMARIES_SCHEMA = pa.schema(
    [
        _key("call_id", _CALL_ID),
        _key("call_date", _CALL_DATE),
        _field("prompt_version", pa.string(), "Prompt version that produced the summary.", nullable=False),
        _field("backend", pa.string(), "Summary backend: offline, bedrock or openai."),
        _field("model_id", pa.string(), "Model that wrote the summary."),
        _field("issue_sentence", pa.string(), "One sentence: why the customer called (may hold PII)."),
        _field("key_details", pa.list_(pa.string()), "Facts stated in the call."),
        _field("action_items", pa.list_(pa.string()), "What the agent or company did or committed to do."),
        _field("next_steps", pa.list_(pa.string()), "What happens next, and what the customer must do."),
        _field("sentiment", pa.string(), "Overall sentiment: Positive, Neutral or Negative."),
        _field("category", pa.string(), "Main reason for the call."),
        _field("resolved", pa.bool_(), "The request was fully handled during the call."),
        _field("escalated", pa.bool_(), "The case went to a supervisor, specialist or higher tier."),
        _field("agent_id", pa.string(), "Agent id as spoken; null when none was said."),
        _field("customer_id", pa.string(), "Customer's account/case number as spoken; null when none."),
        _field("input_tokens", pa.int64(), "LLM input tokens (0 for the offline analyzer)."),
        _field("output_tokens", pa.int64(), "LLM output tokens (0 for the offline analyzer)."),
        _field("cost_usd", pa.float64(), "Cost of this summary, US dollars."),
        _field("summary_json", pa.string(), "The whole summary document as JSON."),
        # -- added with the warehouse (issue 6) --
        _field("customer_sentiment", pa.string(), "The customer's tone across the call."),
        _field("agent_sentiment", pa.string(), "The agent's tone across the call."),
        _field("truncated", pa.bool_(), "The transcript was cut to fit the model's input."),
    ]
)

METRICS_SCHEMA = pa.schema(
    [
        _key("call_id", _CALL_ID),
        _key("call_date", _CALL_DATE),
        _field("duration_s", pa.float64(), "Length of the call the metrics cover, seconds."),
        _field("agent_talk_s", pa.float64(), "Seconds the agent was audible."),
        _field("customer_talk_s", pa.float64(), "Seconds the customer was audible."),
        _field("unknown_talk_s", pa.float64(), "Seconds a speaker of unknown role was audible."),
        _field("non_talk_s", pa.float64(), "Seconds nobody was audible."),
        _field("longest_silence_s", pa.float64(), "Longest stretch with nobody audible, seconds."),
        _field("overlap_s", pa.float64(), "Seconds during which two speakers were audible at once."),
        _field("interruptions", pa.int32(), "Turns that started while another speaker was talking."),
        _field("agent_interruptions", pa.int32(), "Interruptions by the agent."),
        _field("customer_interruptions", pa.int32(), "Interruptions by the customer."),
        _field("agent_turns", pa.int32(), "Turns spoken by the agent."),
        _field("customer_turns", pa.int32(), "Turns spoken by the customer."),
        _field("unknown_turns", pa.int32(), "Turns whose speaker's role is unknown."),
        _field("agent_words", pa.int32(), "Words spoken by the agent."),
        _field("customer_words", pa.int32(), "Words spoken by the customer."),
        _field("agent_wpm", pa.float64(), "Agent's words per minute of talk time."),
        _field("customer_wpm", pa.float64(), "Customer's words per minute of talk time."),
        _field("talk_ratio", pa.float64(), "Agent's share of agent + customer talk time, 0..1."),
        _field("metrics_json", pa.string(), "The metrics document as JSON, for figures without a column."),
    ]
)

STATUS_EVENTS_SCHEMA = pa.schema(
    [
        _field("event_id", pa.int64(), "The outbox event's id in the registry (unique).", nullable=False),
        _key("call_id", _CALL_ID),
        _key("call_date", _CALL_DATE),
        _field("status", pa.string(), "Status after the event.", nullable=False),
        _field("previous_status", pa.string(), "Status before the event; null for the first (UPLOADED)."),
        _field(
            "event",
            pa.string(),
            "What happened without a status change (e.g. resummarized); null for a status change.",
        ),
        _field("error_message", pa.string(), "Reason, for FAILED."),
        _field("payload_json", pa.string(), "The event's payload as JSON (summary fields, source, ...)."),
        _field("created_at", _TS, "When the event happened, UTC.", nullable=False),
    ]
)


@dataclass(frozen=True)
class LakeTable:
    """A lake table. `unit` is what one writer call replaces as a whole: a call's rows (a summary
    version's, in summaries). Readers take each unit from one file only (core.lake_generations)."""

    name: str
    schema: pa.Schema
    description: str
    grain: tuple[str, ...]

    @property
    def unit(self) -> tuple[str, ...]:
        return LAKE_TABLE_UNITS[self.name]


LAKE_TABLES: dict[str, LakeTable] = {
    t.name: t
    for t in (
        LakeTable(
            "calls",
            CALLS_SCHEMA,
            "One row per call that reached COMPLETED or FAILED, as the registry had it then.",
            ("call_id",),
        ),
        LakeTable(
            "turns", TURNS_SCHEMA, "One row per speaker turn of a completed call.", ("call_id", "turn_index")
        ),
        LakeTable(
            "summaries",
            SUMMARIES_SCHEMA,
            "One row per call and prompt version; the call's current one is calls.prompt_version.",
            ("call_id", "prompt_version"),
        ),
        LakeTable(
            "metrics", METRICS_SCHEMA, "One row per completed call: conversation metrics.", ("call_id",)
        ),
        LakeTable(
            "status_events",
            STATUS_EVENTS_SCHEMA,
            "The registry's outbox events of each finished call, one row per event.",
            ("event_id",),
        ),
    )
}


def description(field: pa.Field) -> str:
    return (field.metadata or {}).get(_DESCRIPTION, b"").decode()


def _metric(metrics: Mapping[str, Any], *path: str) -> Any:
    node: Any = metrics
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def calls_table(call: Mapping[str, Any], metrics: Mapping[str, Any]) -> pa.Table:
    """The call as the registry has it now, so write it after the status change it should show."""
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
        "status": call.get("status"),
        "error_message": call.get("error_message"),
        "attempt": call.get("attempt"),
        "updated_at": call.get("updated_at"),
        "size_bytes": call.get("size_bytes"),
        "sentiment": call.get("sentiment"),
        "category": call.get("category"),
        "agent_id": call.get("agent_id"),
        "customer_id": call.get("customer_id"),
        "resolved": call.get("resolved"),
        "escalated": call.get("escalated"),
        "cost_usd": call.get("cost_usd"),
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


def summaries_table(call_id: str, call_date: str, stored: Mapping[str, Any]) -> pa.Table:
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
        "customer_sentiment": summary.get("customer_sentiment"),
        "agent_sentiment": summary.get("agent_sentiment"),
        "truncated": stored.get("truncated"),
    }
    return pa.Table.from_pylist([row], schema=SUMMARIES_SCHEMA)


def metrics_table(call_id: str, call_date: str, metrics: Mapping[str, Any]) -> pa.Table:
    """CallMetrics.to_dict() flattened by role: the columns analysts group and filter on."""

    def by_role(key: str, role: str) -> Any:
        return _metric(metrics, key, role)

    row = {
        "call_id": call_id,
        "call_date": call_date,
        "duration_s": metrics.get("duration_s"),
        "agent_talk_s": by_role("talk_time_s", "agent"),
        "customer_talk_s": by_role("talk_time_s", "customer"),
        "unknown_talk_s": by_role("talk_time_s", "unknown"),
        "non_talk_s": metrics.get("non_talk_s"),
        "longest_silence_s": metrics.get("longest_silence_s"),
        "overlap_s": metrics.get("overlap_s"),
        "interruptions": metrics.get("interruptions"),
        "agent_interruptions": by_role("interruptions_by_role", "agent"),
        "customer_interruptions": by_role("interruptions_by_role", "customer"),
        "agent_turns": by_role("turn_count", "agent"),
        "customer_turns": by_role("turn_count", "customer"),
        "unknown_turns": by_role("turn_count", "unknown"),
        "agent_words": by_role("word_count", "agent"),
        "customer_words": by_role("word_count", "customer"),
        "agent_wpm": by_role("words_per_minute", "agent"),
        "customer_wpm": by_role("words_per_minute", "customer"),
        "talk_ratio": metrics.get("talk_ratio"),
        "metrics_json": json.dumps(metrics, sort_keys=True),
    }
    return pa.Table.from_pylist([row], schema=METRICS_SCHEMA)


def status_events_table(call_id: str, call_date: str, events: Iterable[Mapping[str, Any]]) -> pa.Table:
    """The registry's outbox rows of one call (Registry.events); the payload stays JSON."""
    rows = []
    for e in events:
        payload = json.loads(e.get("payload_json") or "{}")
        rows.append(
            {
                "event_id": e["event_id"],
                "call_id": call_id,
                "call_date": call_date,
                "status": e["status"],
                "previous_status": e.get("previous_status"),
                "event": payload.get("event") if isinstance(payload, dict) else None,
                "error_message": e.get("error_message"),
                "payload_json": e.get("payload_json"),
                "created_at": e["created_at"],
            }
        )
    return pa.Table.from_pylist(rows, schema=STATUS_EVENTS_SCHEMA)
