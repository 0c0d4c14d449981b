"""publish(): every warehouse row of a completed call, and a retry after COMPLETED that changes nothing."""

from __future__ import annotations

import pyarrow.parquet as pq
from callcare.core.context import Context
from callcare.core.registry import NewCall
from callcare.core.transcript import Transcript, Turn
from callcare.lake_paths import raw_audio_key, table_key, transcript_key
from callcare.status import CallStatus
from callcare.steps import process as pipeline
from callcare.transcription.metrics import compute_metrics

DATE = "2026-09-14"
LINES = [
    ("agent", "Thank you for calling, this is Sam, agent ID A G T four four one two. How can I help?"),
    ("customer", "My internet keeps dropping every evening since the outage last week."),
    ("agent", "I am sorry. I have reset your line and I will send a technician on Friday."),
    ("customer", "Thank you, that helps."),
]


def transcribed_call(ctx: Context, call_id: str) -> None:
    ctx.registry.register(
        NewCall(
            call_id,
            "inbox",
            "x.wav",
            "ef" * 32,
            DATE,
            ctx.lake.uri_for(raw_audio_key(DATE, call_id, "wav")),
            "wav",
            99,
        )
    )
    ctx.registry.transition(call_id, CallStatus.TRANSCRIBING)
    turns = [
        Turn(f"ch_{int(role == 'customer')}", i * 6.0, i * 6.0 + 5.0, text, role=role)
        for i, (role, text) in enumerate(LINES)
    ]
    transcript = Transcript(call_id, "reference", 24.0, 2, turns)
    metrics = compute_metrics(transcript).to_dict()
    uri = ctx.lake.put_json(
        transcript_key(DATE, call_id), {"transcript": transcript.to_dict(), "metrics": metrics}
    )
    ctx.registry.update_fields(call_id, transcript_uri=uri, duration_s=24.0, channels=2)


def rows(ctx: Context, table: str, call_id: str) -> list[dict]:
    return pq.read_table(ctx.lake.path(table_key(table, DATE, call_id))).to_pylist()


def test_publish_writes_all_five_tables_and_a_retry_is_harmless(ctx: Context) -> None:
    transcribed_call(ctx, "c-p")
    pipeline.summarize("c-p", ctx)
    pipeline.publish("c-p", ctx)
    pipeline.publish("c-p", ctx)  # Airflow retrying publish after the status change went through

    assert [e["status"] for e in ctx.registry.events("c-p")] == [
        "UPLOADED",
        "TRANSCRIBING",
        "SUMMARIZING",
        "COMPLETED",
    ]
    [call] = rows(ctx, "calls", "c-p")
    assert call["status"] == "COMPLETED" and call["completed_at"] is not None
    assert call["agent_talk_s"] > 0  # the transcript document's metrics, not the registry's copy
    assert call["sentiment"] in ("Positive", "Neutral", "Negative") and call["category"]
    [summary] = rows(ctx, "summaries", "c-p")
    assert summary["prompt_version"] == call["prompt_version"] == "v1"
    assert isinstance(summary["action_items"], list)
    [metrics] = rows(ctx, "metrics", "c-p")
    assert metrics["agent_turns"] == 2 and metrics["customer_turns"] == 2
    assert len(rows(ctx, "turns", "c-p")) == len(LINES)
    events = rows(ctx, "status_events", "c-p")
    assert [e["status"] for e in events] == ["UPLOADED", "TRANSCRIBING", "SUMMARIZING", "COMPLETED"]
    assert ctx.lake.list_keys("tables/summaries") == [table_key("summaries", DATE, "c-p")]
