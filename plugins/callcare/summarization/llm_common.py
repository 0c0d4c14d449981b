"""What every LLM backend shares: the prompt, the truncation policy, JSON parsing, the repair and
max-tokens retries, transient-error backoff and cost accounting.

A backend only has to turn a neutral Conversation into one model reply (LlmReply); everything
that decides whether that reply becomes a summary lives here, so Bedrock and OpenAI-compatible
servers fail, retry and get repaired the same way. Nothing here logs prompt or reply text.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol, TypeVar

from callcare.summarization.base import SummaryFailed, SummaryResult, SummaryTransientError
from callcare.summarization.pricing import Price, cost_usd
from callcare.summarization.schema import SummaryInvalid, load_prompt_template, load_schema, validate_summary

if TYPE_CHECKING:
    from callcare.core.transcript import Transcript

log = logging.getLogger(__name__)
T = TypeVar("T")

# stop reasons, normalised across Anthropic Messages, Converse and OpenAI chat completions
END, MAX_TOKENS, FILTERED, REFUSED, OTHER = "end", "max_tokens", "filtered", "refused", "other"
_STOP_REASONS = {
    "end_turn": END, "stop_sequence": END, "stop": END,
    "max_tokens": MAX_TOKENS, "length": MAX_TOKENS, "model_context_window_exceeded": MAX_TOKENS,
    "guardrail_intervened": FILTERED, "content_filtered": FILTERED, "content_filter": FILTERED,
    "refusal": REFUSED,
}  # fmt: skip
TRUNCATION_HEAD_SHARE = 1 / 3  # of the character budget kept from the start; the rest from the end
MAX_TOKENS_CEILING = 8192


class PromptTooLong(Exception):
    """The model rejected the input as too long: retry once with a tighter transcript budget."""


def stop_reason(raw: str | None) -> str:
    return _STOP_REASONS.get(raw or "", OTHER)


@dataclass
class LlmReply:
    text: str
    stop: str  # one of END, MAX_TOKENS, FILTERED, REFUSED, OTHER
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    raw_stop: str | None = None


@dataclass(frozen=True)
class Conversation:
    system: str
    messages: tuple[tuple[str, str], ...]  # (role "user" | "assistant", text)

    def with_repair(self, bad_reply: str, problem: str) -> Conversation:
        ask = (
            f"That reply was not a valid summary: {problem}. Answer again with only the corrected JSON "
            "object, valid against the schema, and nothing else."
        )
        return replace(self, messages=(*self.messages, ("assistant", bad_reply or "(empty)"), ("user", ask)))


class ChatClient(Protocol):
    """One request to a model. Raises SummaryTransientError, SummaryFailed or PromptTooLong."""

    def complete(self, conversation: Conversation, max_tokens: int) -> LlmReply: ...


# -- prompt -------------------------------------------------------------------------------------------


def _label(role: str, speaker: str) -> str:
    return {"agent": "AGENT", "customer": "CUSTOMER"}.get(role, f"SPEAKER {speaker}")


def render_transcript(transcript: Transcript, max_chars: int) -> tuple[str, bool]:
    """Role-labelled lines; over budget, the middle turns give way to a marker line.

    The opening carries the reason for the call and the IDs, the end carries the outcome and the
    next steps, so those are kept: a third of the budget from the start, the rest from the end.
    """
    lines = [f"{_label(t.role, t.speaker)}: {t.text.strip()}" for t in transcript.turns if t.text.strip()]
    if sum(len(x) + 1 for x in lines) <= max_chars:
        return "\n".join(lines), False
    head_budget = int(max_chars * TRUNCATION_HEAD_SHARE)
    tail_budget = max_chars - head_budget - 80
    head: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > head_budget:
            break
        head.append(line)
        used += len(line) + 1
    tail: list[str] = []
    used = 0
    for line in reversed(lines[len(head) :]):
        if used + len(line) + 1 > tail_budget:
            break
        tail.insert(0, line)
        used += len(line) + 1
    if not head and not tail:  # one enormous turn: keep both ends of its text
        text = lines[0]
        return f"{text[:head_budget]}\n[... middle of the turn omitted ...]\n{text[-tail_budget:]}", True
    omitted = len(lines) - len(head) - len(tail)
    marker = f"[... {omitted} turns in the middle of the call omitted for length ...]"
    return "\n".join([*head, marker, *tail]), True


def build_conversation(
    transcript: Transcript, call_date: str, version: str, max_chars: int
) -> tuple[Conversation, bool]:
    system_t, user_t = load_prompt_template(version)
    schema = json.dumps(load_schema(version), indent=1)
    text, truncated = render_transcript(transcript, max_chars)
    system = system_t.replace("{{schema}}", schema)
    user = user_t.replace("{{call_date}}", call_date).replace("{{transcript}}", text)
    return Conversation(system=system, messages=(("user", user),)), truncated


# -- replies ------------------------------------------------------------------------------------------


def extract_json(text: str) -> dict:
    """The JSON object in a reply, tolerating a Markdown fence or a sentence around it."""
    cleaned = text.strip()
    if cleaned.startswith("```"):
        cleaned = cleaned.split("\n", 1)[1] if "\n" in cleaned else ""
        cleaned = cleaned.rsplit("```", 1)[0]
    start, end = cleaned.find("{"), cleaned.rfind("}")
    if start < 0:
        raise SummaryInvalid("the reply holds no JSON object")
    try:
        value = json.loads(cleaned[start : end + 1] if end > start else cleaned[start:])
    except json.JSONDecodeError as exc:
        raise SummaryInvalid(
            f"the reply is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from exc
    if not isinstance(value, dict):
        raise SummaryInvalid("the reply's JSON is not an object")
    return value


def check_summary(text: str, call_date: str, version: str) -> dict:
    """Parse and validate; the call date is ours, not the model's, so it is set before validating."""
    summary = extract_json(text)
    summary["call_date"] = call_date
    validate_summary(summary, version)
    return summary


# -- retries --------------------------------------------------------------------------------------------


@dataclass
class Backoff:
    """Bounded exponential backoff with full jitter; `sleep` is swappable so tests do not wait.

    `on_throttle` is called once per throttled attempt, the last one included: the pipeline passes
    the throttling metric in (this layer records none), and an alarm counts every throttled request.
    """

    attempts: int = 5
    base_s: float = 1.0
    cap_s: float = 20.0
    sleep: Callable[[float], None] = field(default=time.sleep)
    on_throttle: Callable[[], None] | None = None

    def run(self, call: Callable[[], T], what: str) -> T:
        for attempt in range(1, self.attempts + 1):
            try:
                return call()
            except SummaryTransientError as exc:
                if exc.throttled and self.on_throttle is not None:
                    self.on_throttle()
                if attempt == self.attempts:
                    raise SummaryTransientError(
                        f"{what}: still failing after {attempt} attempts: {exc}", throttled=exc.throttled
                    ) from exc
                delay = random.uniform(0, min(self.cap_s, self.base_s * 2 ** (attempt - 1)))
                log.warning("%s: transient error (%s), attempt %d/%d, retrying in %.1fs",
                            what, exc, attempt, self.attempts, delay)  # fmt: skip
                self.sleep(delay)
        raise AssertionError("unreachable")


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def add(self, reply: LlmReply) -> None:
        self.input_tokens += reply.input_tokens
        self.output_tokens += reply.output_tokens
        self.cache_read_tokens += reply.cache_read_tokens
        self.cache_write_tokens += reply.cache_write_tokens


@dataclass
class LlmSettings:
    backend: str
    model_id: str
    prompt_version: str
    max_output_tokens: int
    max_transcript_chars: int
    prices: dict[str, Price] = field(default_factory=dict)


def summarize_with_repair(
    client: ChatClient, transcript: Transcript, call_date: str, cfg: LlmSettings
) -> SummaryResult:
    """One summary from a chat model, with at most one repair and one bigger-budget retry.

    Invalid JSON or a schema violation: the error goes back to the model once, then SummaryFailed.
    Cut off at max_tokens: one retry with twice the budget (up to MAX_TOKENS_CEILING), then
    SummaryFailed. A guardrail or refusal is final. Input too long: one retry at half the budget.
    """
    if not transcript.text.strip():
        raise SummaryFailed("transcript has no speech to summarize")
    budget_chars = cfg.max_transcript_chars
    conversation, truncated = build_conversation(transcript, call_date, cfg.prompt_version, budget_chars)
    usage = Usage()
    max_tokens = cfg.max_output_tokens
    grew = shrank = repaired = False
    while True:
        try:
            reply = client.complete(conversation, max_tokens)
        except PromptTooLong as exc:
            if shrank:
                raise SummaryFailed(f"transcript too long for {cfg.model_id} even after truncation") from exc
            shrank = True
            budget_chars //= 2
            conversation, truncated = build_conversation(
                transcript, call_date, cfg.prompt_version, budget_chars
            )
            log.warning(
                "%s: input too long, retrying with a %d-character transcript", cfg.backend, budget_chars
            )
            continue
        usage.add(reply)
        log.info("%s %s: stop=%s in=%d out=%d", cfg.backend, cfg.model_id, reply.raw_stop,
                 reply.input_tokens, reply.output_tokens)  # fmt: skip
        if reply.stop == FILTERED:
            raise SummaryFailed(f"the model's output was blocked ({reply.raw_stop})")
        if reply.stop == REFUSED:
            raise SummaryFailed("the model refused to summarize this call")
        if reply.stop == MAX_TOKENS:
            if grew or max_tokens >= MAX_TOKENS_CEILING:
                raise SummaryFailed(f"the reply was cut off at max_tokens={max_tokens}")
            grew = True
            max_tokens = min(MAX_TOKENS_CEILING, max_tokens * 2)
            log.warning("%s: reply cut off, retrying with max_tokens=%d", cfg.backend, max_tokens)
            continue
        try:
            summary = check_summary(reply.text, call_date, cfg.prompt_version)
        except SummaryInvalid as exc:
            if repaired:
                raise SummaryFailed(f"invalid summary after one repair attempt: {exc}") from exc
            repaired = True
            log.warning("%s: invalid summary (%s), asking the model to repair it", cfg.backend, exc)
            conversation = conversation.with_repair(reply.text, str(exc))
            continue
        return SummaryResult(
            summary=summary,
            backend=cfg.backend,
            model_id=cfg.model_id,
            prompt_version=cfg.prompt_version,
            input_tokens=usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens,
            output_tokens=usage.output_tokens,
            cost_usd=cost_usd(
                cfg.model_id,
                usage.input_tokens,
                usage.output_tokens,
                usage.cache_read_tokens,
                usage.cache_write_tokens,
                cfg.prices,
            ),
            truncated=truncated,
            repaired=repaired,
        )
