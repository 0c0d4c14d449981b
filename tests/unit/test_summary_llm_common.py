"""The shared LLM logic: prompt building, truncation, JSON extraction, repair, budgets, backoff, cost."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from callcare.core.transcript import Transcript, Turn
from callcare.summarization.base import SummaryFailed, SummaryTransientError
from callcare.summarization.llm_common import (
    END,
    FILTERED,
    MAX_TOKENS,
    Backoff,
    Conversation,
    LlmReply,
    LlmSettings,
    PromptTooLong,
    build_conversation,
    extract_json,
    render_transcript,
    summarize_with_repair,
)
from callcare.summarization.pricing import PRICES, base_model_id, cost_usd, parse_price_overrides
from callcare.summarization.schema import SummaryInvalid

SECRET = "my card is four one one one"  # transcript text that must never reach a log line


def transcript(n_turns: int = 4) -> Transcript:
    lines = [
        "Thanks for calling, agent ID A-G-T one two three four.",
        f"Hi, {SECRET} and I was charged twice.",
    ]
    lines += [f"Filler line number {i} about the charge." for i in range(max(0, n_turns - 2))]
    turns = [
        Turn(f"spk_{i % 2}", float(i), i + 0.9, text, "agent" if i % 2 == 0 else "customer")
        for i, text in enumerate(lines[:n_turns])
    ]
    return Transcript("call-x", "reference", float(n_turns), 1, turns)


def valid_summary(**changes: object) -> dict:
    summary = {
        "call_date": "1999-01-01",  # deliberately wrong: the backend sets the real date
        "issue_sentence": "The customer was charged twice.",
        "key_details": [],
        "action_items": ["Refund one charge."],
        "next_steps": [],
        "sentiment": "Neutral",
        "customer_sentiment": "Neutral",
        "agent_sentiment": "Positive",
        "agent_id": "AGT-1234",
        "customer_id": None,
        "category": "billing",
        "resolved": True,
        "escalated": False,
    }
    summary.update(changes)
    return summary


class Scripted:
    """A ChatClient that replays replies (or raises exceptions) and records every request."""

    def __init__(self, *replies: LlmReply | Exception) -> None:
        self.replies: Iterator[LlmReply | Exception] = iter(replies)
        self.calls: list[tuple[Conversation, int]] = []

    def complete(self, conversation: Conversation, max_tokens: int) -> LlmReply:
        self.calls.append((conversation, max_tokens))
        reply = next(self.replies)
        if isinstance(reply, Exception):
            raise reply
        return reply


def reply(text: str, stop: str = END, tokens: tuple[int, int] = (100, 50)) -> LlmReply:
    return LlmReply(text=text, stop=stop, raw_stop=stop, input_tokens=tokens[0], output_tokens=tokens[1])


CFG = LlmSettings("bedrock", "anthropic.claude-3-5-haiku-20241022-v1:0", "v1", 1000, 48000)


def test_valid_reply_becomes_a_result_with_tokens_and_cost() -> None:
    client = Scripted(reply(json.dumps(valid_summary())))
    result = summarize_with_repair(client, transcript(), "2026-02-03", CFG)
    assert result.summary["call_date"] == "2026-02-03"
    assert (result.input_tokens, result.output_tokens) == (100, 50)
    assert result.cost_usd == pytest.approx((100 * 0.0008 + 50 * 0.004) / 1000)
    assert not result.repaired and not result.truncated
    assert len(client.calls) == 1 and client.calls[0][1] == 1000


def test_invalid_json_is_repaired_once_and_usage_adds_up() -> None:
    client = Scripted(reply('{"call_date": "2026-02-03", "sentiment": '), reply(json.dumps(valid_summary())))
    result = summarize_with_repair(client, transcript(), "2026-02-03", CFG)
    assert result.repaired
    assert (result.input_tokens, result.output_tokens) == (200, 100)
    repair_turns = client.calls[1][0].messages
    assert [r for r, _ in repair_turns] == ["user", "assistant", "user"]
    assert "not valid JSON" in repair_turns[2][1]


def test_schema_violation_is_sent_back_with_the_path() -> None:
    client = Scripted(reply(json.dumps(valid_summary(sentiment="Angry"))), reply(json.dumps(valid_summary())))
    summarize_with_repair(client, transcript(), "2026-02-03", CFG)
    assert "$.sentiment: must be one of" in client.calls[1][0].messages[-1][1]


def test_second_invalid_reply_is_a_permanent_failure() -> None:
    client = Scripted(reply("no json here"), reply(json.dumps(valid_summary(category="weather"))))
    with pytest.raises(SummaryFailed, match=r"after one repair attempt: \$\.category"):
        summarize_with_repair(client, transcript(), "2026-02-03", CFG)


def test_max_tokens_retries_once_with_twice_the_budget() -> None:
    client = Scripted(reply('{"call_date": "20', MAX_TOKENS), reply(json.dumps(valid_summary())))
    result = summarize_with_repair(client, transcript(), "2026-02-03", CFG)
    assert [m for _, m in client.calls] == [1000, 2000]
    assert not result.repaired


def test_max_tokens_twice_fails() -> None:
    client = Scripted(reply("{", MAX_TOKENS), reply("{", MAX_TOKENS))
    with pytest.raises(SummaryFailed, match="cut off at max_tokens=2000"):
        summarize_with_repair(client, transcript(), "2026-02-03", CFG)


def test_guardrail_is_final() -> None:
    client = Scripted(LlmReply("{ADDRESS}", FILTERED, raw_stop="guardrail_intervened"))
    with pytest.raises(SummaryFailed, match="guardrail_intervened"):
        summarize_with_repair(client, transcript(), "2026-02-03", CFG)
    assert len(client.calls) == 1


def test_prompt_too_long_retries_once_with_a_shorter_transcript() -> None:
    client = Scripted(PromptTooLong("Input is too long"), reply(json.dumps(valid_summary())))
    cfg = LlmSettings("bedrock", "m", "v1", 1000, 2000)
    result = summarize_with_repair(client, transcript(60), "2026-02-03", cfg)
    assert result.truncated
    first, second = (c[0].messages[0][1] for c in client.calls)
    assert len(second) < len(first)
    with pytest.raises(SummaryFailed, match="too long"):
        summarize_with_repair(
            Scripted(PromptTooLong("x"), PromptTooLong("x")), transcript(), "2026-02-03", cfg
        )


def test_transient_errors_pass_through_for_airflow_to_retry() -> None:
    with pytest.raises(SummaryTransientError):
        summarize_with_repair(Scripted(SummaryTransientError("throttled")), transcript(), "2026-02-03", CFG)


def test_empty_transcript_is_not_sent() -> None:
    empty = Transcript("c", "x", 1.0, 1, [Turn("spk_0", 0, 1, "  ", "agent")])
    client = Scripted()
    with pytest.raises(SummaryFailed, match="no speech"):
        summarize_with_repair(client, empty, "2026-02-03", CFG)
    assert client.calls == []


def test_no_transcript_or_reply_text_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = Scripted(reply(f'{{"note": "{SECRET}"'), reply(json.dumps(valid_summary(issue_sentence=SECRET))))
    summarize_with_repair(client, transcript(), "2026-02-03", CFG)
    assert caplog.records and SECRET not in caplog.text


def test_prompt_carries_schema_roles_and_date() -> None:
    conversation, truncated = build_conversation(transcript(), "2026-02-03", "v1", 48000)
    assert '"additionalProperties": false' in conversation.system
    user = conversation.messages[0][1]
    assert "Call date: 2026-02-03" in user
    assert "AGENT: Thanks for calling" in user and "CUSTOMER: Hi," in user
    assert "{{" not in conversation.system + user and not truncated


def test_unknown_roles_are_labelled_by_speaker() -> None:
    t = transcript(2)
    for turn in t.turns:
        turn.role = "unknown"
    text, _ = render_transcript(t, 10_000)
    assert text.splitlines()[0].startswith("SPEAKER spk_0: ")


def test_truncation_keeps_both_ends_and_says_so() -> None:
    t = transcript(200)
    text, truncated = render_transcript(t, 3000)
    assert truncated and len(text) <= 3000
    lines = text.splitlines()
    assert lines[0].startswith("AGENT: Thanks for calling")
    assert lines[-1].endswith("Filler line number 197 about the charge.")
    assert any("turns in the middle of the call omitted" in line for line in lines)


def test_one_huge_turn_is_cut_in_its_middle() -> None:
    t = Transcript("c", "x", 1.0, 1, [Turn("spk_0", 0, 1, "start " + "word " * 5000 + "finish", "customer")])
    text, truncated = render_transcript(t, 1000)
    assert truncated and text.startswith("CUSTOMER: start") and text.endswith("finish") and len(text) < 1100


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('Here is the summary:\n{"a": {"b": [1]}}\nDone.', {"a": {"b": [1]}}),
    ],
)
def test_extract_json(text: str, expected: dict) -> None:
    assert extract_json(text) == expected


@pytest.mark.parametrize("text", ["", "no braces", '{"a": }', "[1, 2]"])
def test_extract_json_failures_are_summary_invalid(text: str) -> None:
    with pytest.raises(SummaryInvalid):
        extract_json(text)


def test_backoff_retries_transient_errors_then_gives_up() -> None:
    sleeps: list[float] = []
    attempts = iter([SummaryTransientError("a"), SummaryTransientError("b"), "ok"])

    def call() -> str:
        item = next(attempts)
        if isinstance(item, Exception):
            raise item
        return item

    assert Backoff(attempts=3, base_s=1, sleep=sleeps.append).run(call, "x") == "ok"
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 1 and 0 <= sleeps[1] <= 2

    def always() -> str:
        raise SummaryTransientError("throttled")

    with pytest.raises(SummaryTransientError, match="after 2 attempts"):
        Backoff(attempts=2, sleep=lambda s: None).run(always, "x")


def test_backoff_does_not_retry_permanent_errors() -> None:
    calls = []

    def call() -> None:
        calls.append(1)
        raise SummaryFailed("bad request")

    with pytest.raises(SummaryFailed):
        Backoff(attempts=5, sleep=lambda s: None).run(call, "x")
    assert len(calls) == 1


def test_pricing_profiles_arns_overrides_and_cache() -> None:
    base = "anthropic.claude-3-5-haiku-20241022-v1:0"
    assert base_model_id(f"us.{base}") == base
    assert base_model_id(f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.{base}") == base
    assert cost_usd(f"us.{base}", 1000, 1000) == pytest.approx(
        PRICES[base].input_per_1k + PRICES[base].output_per_1k
    )
    with_cache = cost_usd(base, 0, 0, cache_read_tokens=10000, cache_write_tokens=1000)
    assert with_cache == pytest.approx((10000 * 0.1 + 1000 * 1.25) * PRICES[base].input_per_1k / 1000)
    overrides = parse_price_overrides('{"llama3.1:8b": {"input_per_1k": 0.5, "output_per_1k": 1}}')
    assert cost_usd("llama3.1:8b", 2000, 1000, overrides=overrides) == pytest.approx(2.0)
    assert cost_usd("unknown-model", 1000, 1000) == 0.0
    with pytest.raises(ValueError, match="CALLCARE_LLM_PRICES_JSON"):
        parse_price_overrides('{"m": {"input": 1}}')
