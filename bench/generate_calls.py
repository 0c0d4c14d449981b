"""Realistic lake tables for N calls, for the warehouse benchmark and for load-testing the marts.

    python -m bench.generate_calls OUT_LAKE_DIR [--calls 100000] [--days 90] [--layout per-day|per-call]
                                   [--seed 7]

Writes `tables/<name>/call_date=YYYY-MM-DD/*.parquet` under OUT_LAKE_DIR with the pipeline's own
schemas (callcare.core.tables), so dbt reads it exactly as it reads pipeline output:

* --layout per-call (what the pipeline writes): one file per call and table, `{call_id}.parquet`.
  Realistic, and slow to read: this is the small-files cost the benchmark measures.
* --layout per-day (default): one file per table and day, as a compaction job would leave it.

What is realistic about the rows: calls arrive on weekdays more than weekends; 40 agents, a few
percent of calls with no agent id said; categories with their own sentiment, resolution and
escalation odds; lognormal call lengths (median about 5 minutes) with turns every ~12 s; 3 % of calls
FAILED with a reason, 1 % reprocessed once, 2 % re-summarized with prompt v2; Amazon Transcribe and
Bedrock Claude Haiku token counts and prices; status events with queue, transcription and summary
times that scale with the call's length. What is not: the words. Issue sentences come from a few
templates per category, and turns carry no text (the marts never read it).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute
import pyarrow.parquet as pq
from callcare.core.tables import (
    CALLS_SCHEMA,
    METRICS_SCHEMA,
    STATUS_EVENTS_SCHEMA,
    SUMMARIES_SCHEMA,
    TURNS_SCHEMA,
)

# category: (weight, P(negative), P(resolved), P(escalated))
CATEGORIES: dict[str, tuple[float, float, float, float]] = {
    "billing": (0.20, 0.35, 0.70, 0.08),
    "account_access": (0.10, 0.20, 0.85, 0.03),
    "order_delivery": (0.12, 0.40, 0.55, 0.07),
    "outage_technical": (0.10, 0.45, 0.45, 0.15),
    "refund_return": (0.08, 0.30, 0.60, 0.06),
    "plan_change": (0.07, 0.10, 0.90, 0.02),
    "cancellation": (0.06, 0.40, 0.50, 0.20),
    "claim": (0.05, 0.30, 0.30, 0.25),
    "complaint": (0.05, 0.70, 0.35, 0.35),
    "fraud_security": (0.04, 0.50, 0.40, 0.30),
    "information_request": (0.08, 0.05, 0.95, 0.01),
    "scheduling": (0.04, 0.08, 0.92, 0.01),
    "other": (0.01, 0.20, 0.60, 0.05),
}
ISSUES: dict[str, list[str]] = {
    "billing": [
        "The customer was charged twice for the monthly invoice",
        "The customer disputes a late payment fee on the bill",
        "The customer does not understand a higher bill after the promotion ended",
    ],
    "account_access": [
        "The customer is locked out of the online account after a password reset",
        "The customer cannot receive the verification code to log in",
    ],
    "order_delivery": [
        "The customer's order has not arrived and tracking shows no update",
        "The customer received a damaged package and wants a replacement delivery",
    ],
    "outage_technical": [
        "The customer's internet service keeps dropping since the outage",
        "The customer's router shows a red light and there is no connection",
    ],
    "refund_return": [
        "The customer wants a refund for a returned item that was never credited",
        "The customer asks how to return a product bought online",
    ],
    "plan_change": ["The customer wants to upgrade the plan to include more data"],
    "cancellation": ["The customer wants to cancel the subscription because of the price increase"],
    "claim": ["The customer is following up on an insurance claim for water damage"],
    "complaint": ["The customer complains about rude treatment on a previous call and slow service"],
    "fraud_security": ["The customer reports unrecognized charges on the credit card"],
    "information_request": ["The customer asks about store opening hours and the warranty policy"],
    "scheduling": ["The customer wants to reschedule the technician appointment"],
    "other": ["The customer has a question that does not fit the usual topics"],
}
FAILURES = [
    "the recording could not be decoded (no audio stream)",
    "no speech was recognized in the recording",
    "summary failed: the model output did not match the schema",
    "transcribe failed: TranscriptionFailed: job FAILED (media too short)",
]
AGENTS = [f"AGT-{1000 + 37 * i}" for i in range(40)]
MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
PRICE_IN, PRICE_OUT = 0.0008, 0.004  # USD per 1k tokens


def _call_id(i: int, seed: int) -> str:
    return "c-" + hashlib.sha256(f"{seed}:{i}".encode()).hexdigest()[:20]


def generate(n_calls: int, days: int, seed: int, end: date | None = None) -> dict[str, pa.Table]:
    """All five tables for n_calls calls over the `days` days before `end` (default: today)."""
    rng = np.random.default_rng(seed)
    end = end or datetime.now(UTC).date()
    first = end - timedelta(days=days - 1)
    day_list = [first + timedelta(days=k) for k in range(days)]
    day_weights = np.array([1.0 if d.weekday() < 5 else 0.35 for d in day_list])
    day_idx = rng.choice(days, size=n_calls, p=day_weights / day_weights.sum())
    # business hours, UTC-ish: 8:00 to 18:00 with a lunch dip
    seconds_in_day = rng.normal(13 * 3600, 2.6 * 3600, n_calls).clip(7 * 3600, 19 * 3600)

    names = list(CATEGORIES)
    weights = np.array([CATEGORIES[c][0] for c in names])
    cat_idx = rng.choice(len(names), size=n_calls, p=weights / weights.sum())
    duration = np.exp(rng.normal(np.log(300), 0.55, n_calls)).clip(20, 3600)
    agent_idx = rng.integers(0, len(AGENTS), n_calls)
    no_agent = rng.random(n_calls) < 0.06
    failed = rng.random(n_calls) < 0.03
    reprocessed = rng.random(n_calls) < 0.01
    resummarized = (rng.random(n_calls) < 0.02) & ~failed
    u_sent, u_res, u_esc, u_cust = (rng.random(n_calls) for _ in range(4))

    calls: list[dict[str, Any]] = []
    summaries: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    turn_cols: dict[str, list[Any]] = {f.name: [] for f in TURNS_SCHEMA}
    event_id = 0
    for i in range(n_calls):
        call_id = _call_id(i, seed)
        call_date = day_list[day_idx[i]].isoformat()
        category = names[cat_idx[i]]
        _, p_neg, p_res, p_esc = CATEGORIES[category]
        dur = float(duration[i])
        escalated = bool(u_esc[i] < p_esc)
        resolved = bool(u_res[i] < p_res) and not escalated
        sentiment = "Negative" if u_sent[i] < p_neg else ("Positive" if u_sent[i] > 0.65 else "Neutral")
        agent_id = None if no_agent[i] else AGENTS[agent_idx[i]]
        uploaded = datetime.combine(day_list[day_idx[i]], datetime.min.time(), UTC) + timedelta(
            seconds=float(seconds_in_day[i]) + dur + 30
        )

        # lifecycle: attempts of UPLOADED -> TRANSCRIBING -> SUMMARIZING -> COMPLETED/FAILED
        t = uploaded
        status = "COMPLETED"
        attempts = 2 if reprocessed[i] else 1
        completed_at = None
        for attempt in range(1, attempts + 1):
            chain = ["UPLOADED", "TRANSCRIBING", "SUMMARIZING"]
            final = "FAILED" if failed[i] and attempt == attempts else "COMPLETED"
            previous = None if attempt == 1 else "COMPLETED"
            for step in [*chain, final]:
                if step == "TRANSCRIBING":
                    t += timedelta(seconds=float(rng.exponential(20)) + 2)
                elif step == "SUMMARIZING":
                    t += timedelta(seconds=dur * float(rng.uniform(0.15, 0.45)) + 15)
                elif step in ("COMPLETED", "FAILED"):
                    t += timedelta(seconds=float(rng.uniform(4, 25)))
                elif attempt > 1:  # reprocessed by an operator, hours later
                    t += timedelta(hours=float(rng.uniform(1, 30)))
                event_id += 1
                events.append(
                    {
                        "event_id": event_id,
                        "call_id": call_id,
                        "call_date": call_date,
                        "status": step,
                        "previous_status": previous,
                        "event": None,
                        "error_message": FAILURES[i % len(FAILURES)] if step == "FAILED" else None,
                        "payload_json": "{}",
                        "created_at": t,
                    }
                )
                previous = step
            status = final
            if final == "COMPLETED":
                completed_at = t
        if resummarized[i]:
            event_id += 1
            t += timedelta(days=float(rng.uniform(1, 10)))
            events.append(
                {
                    "event_id": event_id,
                    "call_id": call_id,
                    "call_date": call_date,
                    "status": "COMPLETED",
                    "previous_status": "COMPLETED",
                    "event": "resummarized",
                    "error_message": None,
                    "payload_json": '{"event": "resummarized", "prompt_version": "v2"}',
                    "created_at": t,
                }
            )

        completed = status == "COMPLETED"
        agent_talk = dur * float(rng.uniform(0.35, 0.5))
        customer_talk = dur * float(rng.uniform(0.3, 0.45))
        n_turns = max(4, int(dur / 12))
        m = {
            "call_id": call_id,
            "call_date": call_date,
            "duration_s": round(dur, 3),
            "agent_talk_s": round(agent_talk, 3),
            "customer_talk_s": round(customer_talk, 3),
            "unknown_talk_s": 0.0,
            "non_talk_s": round(max(0.0, dur - agent_talk - customer_talk), 3),
            "longest_silence_s": round(float(rng.exponential(8)) + 1, 3),
            "overlap_s": round(float(rng.exponential(3)), 3),
            "interruptions": int(rng.poisson(2)),
            "agent_interruptions": None,
            "customer_interruptions": None,
            "agent_turns": n_turns // 2 + n_turns % 2,
            "customer_turns": n_turns // 2,
            "unknown_turns": 0,
            "agent_words": int(agent_talk * 2.6),
            "customer_words": int(customer_talk * 2.4),
            "agent_wpm": 156.0,
            "customer_wpm": 144.0,
            "talk_ratio": round(agent_talk / (agent_talk + customer_talk), 4),
            "metrics_json": "{}",
        }
        m["agent_interruptions"] = m["interruptions"] // 2
        m["customer_interruptions"] = m["interruptions"] - m["interruptions"] // 2
        in_tokens = int(dur * 3.2) + 900
        out_tokens = int(rng.integers(250, 600))
        cost = round(in_tokens / 1000 * PRICE_IN + out_tokens / 1000 * PRICE_OUT, 6)
        summary = {
            "call_id": call_id,
            "call_date": call_date,
            "prompt_version": "v1",
            "backend": "bedrock",
            "model_id": MODEL,
            "issue_sentence": ISSUES[category][i % len(ISSUES[category])],
            "key_details": [f"detail {k}" for k in range(int(rng.integers(1, 6)))],
            "action_items": [f"action {k}" for k in range(int(rng.integers(0, 4)))],
            "next_steps": [f"step {k}" for k in range(int(rng.integers(0, 3)))],
            "sentiment": sentiment,
            "category": category,
            "resolved": resolved,
            "escalated": escalated,
            "agent_id": agent_id,
            "customer_id": f"ACC{int(u_cust[i] * 1e7):07d}" if u_cust[i] < 0.8 else None,
            "input_tokens": in_tokens,
            "output_tokens": out_tokens,
            "cost_usd": cost,
            "summary_json": "{}",
            "customer_sentiment": sentiment,
            "agent_sentiment": "Positive" if u_sent[i] > 0.2 else "Neutral",
            "truncated": False,
        }
        if completed:
            summaries.append(summary)
            if resummarized[i]:
                summaries.append({**summary, "prompt_version": "v2", "cost_usd": round(cost * 1.1, 6)})
            metrics.append(m)
            starts = np.sort(rng.uniform(0, dur, n_turns))
            for k in range(n_turns):
                turn_cols["call_id"].append(call_id)
                turn_cols["call_date"].append(call_date)
                turn_cols["turn_index"].append(k)
                turn_cols["speaker"].append(f"ch_{k % 2}")
                turn_cols["role"].append("agent" if k % 2 == 0 else "customer")
                start = float(starts[k])
                turn_cols["start_s"].append(round(start, 2))
                turn_cols["end_s"].append(round(min(dur, start + float(rng.uniform(2, 20))), 2))
                turn_cols["word_count"].append(int(rng.integers(2, 45)))
                turn_cols["text"].append(None)
                turn_cols["redacted"].append(False)
        calls.append(
            {
                "call_id": call_id,
                "call_date": call_date,
                "source": "gdrive",
                "audio_uri": f"s3://callcare-lake/raw-audio/{call_date}/{call_id}.wav",
                "audio_format": "wav",
                "duration_s": round(dur, 3),
                "channels": 2,
                "stt_engine": "amazon-transcribe",
                "summary_backend": "bedrock" if completed else None,
                "model_id": MODEL if completed else None,
                "prompt_version": "v1" if completed else None,
                "uploaded_at": uploaded,
                "completed_at": completed_at if completed else None,
                "agent_talk_s": m["agent_talk_s"],
                "customer_talk_s": m["customer_talk_s"],
                "non_talk_s": m["non_talk_s"],
                "longest_silence_s": m["longest_silence_s"],
                "interruptions": m["interruptions"],
                "agent_wpm": m["agent_wpm"],
                "customer_wpm": m["customer_wpm"],
                "metrics_json": "{}",
                "status": status,
                "error_message": None if completed else FAILURES[i % len(FAILURES)],
                "attempt": attempts,
                "updated_at": t,
                "size_bytes": int(dur * 32000),
                "sentiment": sentiment if completed else None,
                "category": category if completed else None,
                "agent_id": agent_id if completed else None,
                "customer_id": summary["customer_id"] if completed else None,
                "resolved": resolved if completed else None,
                "escalated": escalated if completed else None,
                "cost_usd": cost if completed else None,
            }
        )
    return {
        "calls": pa.Table.from_pylist(calls, schema=CALLS_SCHEMA),
        "turns": pa.Table.from_pydict(turn_cols, schema=TURNS_SCHEMA),
        "summaries": pa.Table.from_pylist(summaries, schema=SUMMARIES_SCHEMA),
        "metrics": pa.Table.from_pylist(metrics, schema=METRICS_SCHEMA),
        "status_events": pa.Table.from_pylist(events, schema=STATUS_EVENTS_SCHEMA),
    }


def write(tables: dict[str, pa.Table], lake_dir: Path, layout: str = "per-day") -> int:
    """Files as the lake holds them; returns how many were written."""
    written = 0
    for name, table in tables.items():
        dates = table.column("call_date")
        for call_date in sorted(set(dates.to_pylist())):
            seen: set[tuple[str, str]] = set()
            part = table.filter(pa.compute.equal(dates, call_date))
            folder = lake_dir / "tables" / name / f"call_date={call_date}"
            folder.mkdir(parents=True, exist_ok=True)
            if layout == "per-day":
                pq.write_table(part, folder / "part-0.parquet", compression="zstd")
                written += 1
                continue
            # one file per call; a summary version other than the pipeline's gets its own file
            for row in part.to_pylist():
                version = row.get("prompt_version") if name == "summaries" else None
                tail = f"-{version}" if version and version != "v1" else ""
                key = (row["call_id"], tail)
                if name in ("turns", "status_events"):
                    if key in seen:
                        continue
                    seen.add(key)
                    ids = part.column("call_id")
                    one = part.filter(pa.compute.equal(ids, row["call_id"]))
                else:
                    one = pa.Table.from_pylist([row], schema=table.schema)
                pq.write_table(one, folder / f"{row['call_id']}{tail}.parquet", compression="zstd")
                written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lake_dir", type=Path)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--layout", choices=("per-day", "per-call"), default="per-day")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    tables = generate(args.calls, args.days, args.seed)
    generated = time.perf_counter()
    files = write(tables, args.lake_dir, args.layout)
    rows = ", ".join(f"{name} {t.num_rows}" for name, t in tables.items())
    print(f"generated {args.calls} calls in {generated - started:.1f} s: {rows}")
    print(
        f"wrote {files} files ({args.layout}) to {args.lake_dir} in {time.perf_counter() - generated:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
