"""Seed data for the web app's tests: corpus dialogues as registered calls, through the real registry.

Each call gets a WAV recording (a tone per turn, so the player has real audio to seek in), a
transcript document with turn timings, a summary document from the dialogue's ground truth, and the
status events the pipeline would have written. Nothing here needs flite or sox.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import math
import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callcare.config import Settings
from callcare.core.lake import Lake
from callcare.core.registry import NewCall, Registry
from callcare.ids import call_id_from_content
from callcare.lake_paths import raw_audio_key, summary_key, transcript_key
from callcare.status import CallStatus

SHARED = Path(__file__).resolve().parents[3] / "shared"
CORPUS = SHARED / "corpus"
FIXTURES = SHARED / "fixtures"
RATE = 8000
SECONDS_PER_WORD = 0.08  # short audio keeps the tests quick; timings stay proportional
GAP_S = 0.3


def dialogues() -> list[dict[str, Any]]:
    return json.loads((CORPUS / "dialogues.json").read_text())


def timed_turns(dialogue: dict[str, Any]) -> list[dict[str, Any]]:
    t = 0.4
    turns = []
    for turn in dialogue["turns"]:
        length = max(0.6, SECONDS_PER_WORD * len(turn["text"].split()))
        role = turn["speaker"]
        turns.append(
            {
                "speaker": f"spk_{0 if role == 'agent' else 1}",
                "role": role,
                "start": round(t, 2),
                "end": round(t + length, 2),
                "text": turn["text"],
                "confidence": 0.9,
                "words": [],
                "redacted": False,
            }
        )
        t += length + GAP_S
    return turns


def _period(freq: int) -> bytes:
    """One period of a sine whose period is a whole number of samples at RATE."""
    n = RATE // freq
    return b"".join(struct.pack("<h", int(6000 * math.sin(2 * math.pi * i / n))) for i in range(n))


AGENT_TONE, CUSTOMER_TONE = _period(400), _period(250)


def wav_for(turns: list[dict[str, Any]]) -> bytes:
    """Silence, with a tone under each turn (a different one per role)."""
    duration = turns[-1]["end"] + 0.5 if turns else 1.0
    pcm = bytearray(int(duration * RATE) * 2)
    for t in turns:
        start, end = int(t["start"] * RATE) * 2, int(t["end"] * RATE) * 2
        tone = AGENT_TONE if t["role"] == "agent" else CUSTOMER_TONE
        pcm[start:end] = (tone * ((end - start) // len(tone) + 1))[: end - start]
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(bytes(pcm))
    return out.getvalue()


def metrics_for(turns: list[dict[str, Any]]) -> dict[str, Any]:
    talk: dict[str, float] = {}
    count: dict[str, int] = {}
    words: dict[str, int] = {}
    for t in turns:
        talk[t["role"]] = round(talk.get(t["role"], 0.0) + t["end"] - t["start"], 2)
        count[t["role"]] = count.get(t["role"], 0) + 1
        words[t["role"]] = words.get(t["role"], 0) + len(t["text"].split())
    duration = turns[-1]["end"] + 0.5 if turns else 0.0
    return {
        "duration_s": duration,
        "talk_time_s": talk,
        "non_talk_s": round(duration - sum(talk.values()), 2),
        "longest_silence_s": GAP_S,
        "overlap_s": 0.0,
        "interruptions": 0,
        "interruptions_by_role": {"agent": 0, "customer": 0},
        "words_per_minute": {r: round(60 * words[r] / talk[r], 1) for r in talk},
        "turn_count": count,
        "word_count": words,
    }


@dataclass
class SeededCall:
    call_id: str
    call_date: str
    dialogue: dict[str, Any]
    turns: list[dict[str, Any]]
    wav: bytes


def register_call(registry: Registry, lake: Lake, dialogue: dict[str, Any], call_date: str) -> SeededCall:
    turns = timed_turns(dialogue)
    wav = wav_for(turns)
    # distinct content per (dialogue, date): append the date to the hashed bytes
    sha = hashlib.sha256(wav + call_date.encode()).hexdigest()
    call_id = call_id_from_content(sha)
    key = raw_audio_key(call_date, call_id, "wav")
    uri = lake.put_bytes(key, wav)
    registry.register(
        NewCall(
            call_id=call_id,
            source="inbox",
            source_ref=f"{dialogue['call_id']}.wav",
            content_sha256=sha,
            call_date=call_date,
            audio_uri=uri,
            audio_format="wav",
            size_bytes=len(wav),
        )
    )
    return SeededCall(call_id, call_date, dialogue, turns, wav)


def complete_call(registry: Registry, lake: Lake, call: SeededCall, fail: str | None = None) -> None:
    """What the pipeline does: TRANSCRIBING, SUMMARIZING, then COMPLETED (or FAILED) with the documents."""
    registry.transition(call.call_id, CallStatus.TRANSCRIBING)
    if fail:
        registry.transition(call.call_id, CallStatus.FAILED, error_message=fail)
        return
    metrics = metrics_for(call.turns)
    transcript = {
        "call_id": call.call_id,
        "engine": "reference",
        "duration_s": metrics["duration_s"],
        "channels": 1,
        "turns": call.turns,
        "language": "en-US",
        "role_confidence": 0.9,
        "redacted": False,
    }
    turi = lake.put_json(
        transcript_key(call.call_date, call.call_id), {"transcript": transcript, "metrics": metrics}
    )
    registry.update_fields(
        call.call_id,
        transcript_uri=turi,
        duration_s=metrics["duration_s"],
        channels=1,
        stt_engine="reference",
        metrics_json=json.dumps(metrics, sort_keys=True),
    )
    registry.transition(call.call_id, CallStatus.SUMMARIZING)
    truth = call.dialogue["truth"]
    summary = truth_summary(call.dialogue, call.call_date, truth.get("agent_id"), truth.get("customer_id"))
    stored = {
        "backend": "offline",
        "model_id": "callcare-offline-analyzer",
        "prompt_version": "v1",
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": 0.0,
        "summary": summary,
    }
    suri = lake.put_json(summary_key(call.call_date, call.call_id), stored)
    registry.update_fields(
        call.call_id,
        summary_uri=suri,
        summary_backend="offline",
        model_id="callcare-offline-analyzer",
        prompt_version="v1",
        cost_usd=0.0,
    )
    registry.transition(
        call.call_id,
        CallStatus.COMPLETED,
        sentiment=summary["sentiment"],
        category=summary["category"],
        agent_id=summary["agent_id"],
        customer_id=summary["customer_id"],
        resolved=summary["resolved"],
        escalated=summary["escalated"],
    )


def seed(home: Path, count: int = 12, today: dt.date | None = None) -> list[SeededCall]:
    """`count` calls dated over the last days: all COMPLETED but the last two (one FAILED, one UPLOADED)."""
    today = today or dt.datetime.now(dt.UTC).date()
    settings = Settings(home=home)
    registry = Registry(settings.registry_url)
    registry.create_schema()
    lake = Lake(settings.lake_uri)
    seeded = []
    source = dialogues()
    for i in range(count):
        dialogue = source[i % len(source)]
        call_date = (today - dt.timedelta(days=i % 9)).isoformat()
        call = register_call(registry, lake, dialogue, call_date)
        if i == count - 2:
            complete_call(registry, lake, call, fail="the recording could not be decoded (test)")
        elif i < count - 2:
            complete_call(registry, lake, call)
        seeded.append(call)
    registry.engine.dispose()
    return seeded


def truth_summary(
    dialogue: dict[str, Any], call_date: str, agent_id: str | None, customer_id: str | None
) -> dict[str, Any]:
    """The summary a perfect model would write for a corpus dialogue, from its ground truth."""
    truth = dialogue["truth"]
    return {
        "call_date": call_date,
        "issue_sentence": truth["issue_sentence"],
        "key_details": truth.get("key_details", []),
        "action_items": truth.get("action_items", []),
        "next_steps": truth.get("next_steps", []),
        "sentiment": truth["sentiment"],
        "customer_sentiment": truth["sentiment"],
        "agent_sentiment": "Positive",
        "agent_id": agent_id,
        "customer_id": customer_id,
        "category": dialogue["category"],
        "resolved": truth.get("resolved", False),
        "escalated": truth.get("escalated", False),
    }
