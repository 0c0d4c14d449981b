"""OpenAI-compatible chat-completions backend: Ollama, vLLM, llama.cpp server, or any /v1 gateway.

It lets a site keep summaries on its own hardware with an open model, under the same contract,
repair logic and retry policy as Bedrock (all of which live in llm_common).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import requests

from callcare.summarization.base import SummaryFailed, SummaryResult, SummaryTransientError
from callcare.summarization.llm_common import (
    Backoff,
    Conversation,
    LlmReply,
    LlmSettings,
    PromptTooLong,
    stop_reason,
    summarize_with_repair,
)
from callcare.summarization.pricing import parse_price_overrides

if TYPE_CHECKING:
    from callcare.config import Settings
    from callcare.core.transcript import Transcript

log = logging.getLogger(__name__)
_TOO_LONG = re.compile(r"context length|context window|too many tokens|maximum context|too long", re.I)


def parse_chat_completion(body: dict[str, Any]) -> LlmReply:
    """choices[0].message.content, finish_reason and usage of a chat.completion object."""
    choices = body.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        raise SummaryFailed("openai-compatible server returned no choices")
    choice = choices[0]
    usage = body.get("usage") or {}
    return LlmReply(
        text=(choice.get("message") or {}).get("content") or "",
        stop=stop_reason(choice.get("finish_reason")),
        raw_stop=choice.get("finish_reason"),
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
    )


def _error_message(response: requests.Response) -> str:
    try:
        err = response.json().get("error")
        message = err.get("message") if isinstance(err, dict) else err
    except (ValueError, AttributeError):
        message = None
    return str(message or response.reason or "")[:200]


class OpenAICompatBackend:
    """SummaryBackend over POST {base_url}/chat/completions."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        max_output_tokens: int = 2048,
        prompt_version: str = "v1",
        max_transcript_chars: int = 48000,
        prices_json: str | None = None,
        json_mode: bool = True,
        timeout_s: float = 300.0,
        backoff: Backoff | None = None,
        session: requests.Session | None = None,
    ) -> None:
        if not base_url or not model:
            raise ValueError("the openai backend needs CALLCARE_OPENAI_BASE_URL and CALLCARE_OPENAI_MODEL")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model_id = model
        self.api_key = api_key
        self.json_mode = json_mode
        self.timeout_s = timeout_s
        self.backoff = backoff or Backoff()
        self.session = session or requests.Session()
        self.cfg = LlmSettings(
            backend=self.name,
            model_id=model,
            prompt_version=prompt_version,
            max_output_tokens=max_output_tokens,
            max_transcript_chars=max_transcript_chars,
            prices=parse_price_overrides(prices_json),
        )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> OpenAICompatBackend:
        kwargs: dict[str, Any] = {
            "api_key": settings.openai_api_key,
            "max_output_tokens": settings.bedrock_max_output_tokens,
            "prompt_version": settings.prompt_version,
            "max_transcript_chars": settings.llm_max_transcript_chars,
            "prices_json": settings.llm_prices_json,
        }
        kwargs.update(overrides)
        return cls(settings.openai_base_url or "", settings.openai_model or "", **kwargs)

    def summarize(self, transcript: Transcript, call_date: str) -> SummaryResult:
        return summarize_with_repair(self, transcript, call_date, self.cfg)

    # ChatClient
    def complete(self, conversation: Conversation, max_tokens: int) -> LlmReply:
        return self.backoff.run(lambda: self._post(conversation, max_tokens), f"openai {self.model_id}")

    def _post(self, conversation: Conversation, max_tokens: int) -> LlmReply:
        payload: dict[str, Any] = {
            "model": self.model_id,
            "messages": [{"role": "system", "content": conversation.system}]
            + [{"role": r, "content": t} for r, t in conversation.messages],
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream": False,
        }
        if self.json_mode:
            payload["response_format"] = {"type": "json_object"}
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = self.session.post(
                self.url, json=payload, headers=headers, timeout=(10, self.timeout_s)
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise SummaryTransientError(
                f"openai-compatible server unreachable: {type(exc).__name__}"
            ) from exc
        status = response.status_code
        if status == 429 or status >= 500:
            raise SummaryTransientError(
                f"openai-compatible server HTTP {status}: {_error_message(response)}", throttled=status == 429
            )
        if status >= 400:
            message = _error_message(response)
            if status in (400, 413) and _TOO_LONG.search(message):
                raise PromptTooLong(message)
            raise SummaryFailed(f"openai-compatible server HTTP {status}: {message}")
        try:
            body = response.json()
        except ValueError as exc:
            raise SummaryFailed("openai-compatible server returned a non-JSON body") from exc
        return parse_chat_completion(body)
