"""Amazon Bedrock backend: Claude through InvokeModel (Anthropic Messages), other models through Converse.

Retries are ours, not botocore's (botocore gets one attempt): throttling and 5xx go through one
bounded backoff loop that tests can run without sleeping, and what is still failing after it
surfaces as SummaryTransientError for Airflow's task retry. Response bodies of both APIs, and
AWS JSON error bodies, are parsed by plain functions so real recorded payloads can be checked.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any

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

ANTHROPIC_VERSION = "bedrock-2023-05-31"
TRANSIENT_CODES = frozenset({
    "ThrottlingException", "TooManyRequestsException", "ServiceUnavailableException",
    "InternalServerException", "ModelNotReadyException", "ModelTimeoutException",
    "ServiceQuotaExceededException", "RequestTimeout", "RequestTimeoutException",
})  # fmt: skip
# the transient codes that mean "slow down": they count as throttles (callcare.names.THROTTLES)
THROTTLING_CODES = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "ServiceQuotaExceededException"}
)
_TOO_LONG = re.compile(r"too long|too many (input )?tokens|context (length|window)|maximum context", re.I)


class BedrockResponseError(ValueError):
    """A 200 body that is neither an Anthropic Messages nor a Converse response."""


def parse_response_body(body: dict[str, Any]) -> LlmReply:
    """An InvokeModel Anthropic Messages body or a Converse response, as one LlmReply."""
    if "output" in body and "stopReason" in body:  # Converse
        blocks = body["output"].get("message", {}).get("content", [])
        usage = body.get("usage", {})
        return LlmReply(
            text="".join(b.get("text", "") for b in blocks if isinstance(b, dict)),
            stop=stop_reason(body["stopReason"]),
            raw_stop=body["stopReason"],
            input_tokens=int(usage.get("inputTokens", 0)),
            output_tokens=int(usage.get("outputTokens", 0)),
            cache_read_tokens=int(
                usage.get("cacheReadInputTokens", usage.get("cacheReadInputTokenCount", 0))
            ),
            cache_write_tokens=int(
                usage.get("cacheWriteInputTokens", usage.get("cacheWriteInputTokenCount", 0))
            ),
        )
    if body.get("type") == "message" and "content" in body:  # Anthropic Messages
        usage = body.get("usage", {})
        return LlmReply(
            text="".join(b.get("text", "") for b in body["content"] if b.get("type") == "text"),
            stop=stop_reason(body.get("stop_reason")),
            raw_stop=body.get("stop_reason"),
            input_tokens=int(usage.get("input_tokens", 0)),
            output_tokens=int(usage.get("output_tokens", 0)),
            cache_read_tokens=int(usage.get("cache_read_input_tokens", 0) or 0),
            cache_write_tokens=int(usage.get("cache_creation_input_tokens", 0) or 0),
        )
    raise BedrockResponseError(f"unrecognised Bedrock response body with keys {sorted(body)[:8]}")


def classify_error(
    status: int, code: str | None, message: str | None
) -> SummaryFailed | SummaryTransientError | PromptTooLong:
    """The exception a Bedrock error stands for: retry later, retry shorter, or give up."""
    code = (code or "").split(":", 1)[0] or f"HTTP{status}"
    text = (message or "").strip()[:200]
    if code in TRANSIENT_CODES or status == 429 or status >= 500:
        return SummaryTransientError(
            f"bedrock {code}: {text}", throttled=code in THROTTLING_CODES or status == 429
        )
    if code == "ValidationException" and _TOO_LONG.search(text):
        return PromptTooLong(text)
    return SummaryFailed(f"bedrock {code}: {text}")


def error_from_body(status: int, body: dict[str, Any], error_type_header: str | None = None) -> Exception:
    """Classify a raw AWS JSON error body (the type is in the x-amzn-ErrorType header or __type)."""
    code = error_type_header or body.get("__type") or body.get("code")
    return classify_error(status, str(code).rsplit("#", 1)[-1] if code else None, body.get("message"))


class BedrockBackend:
    """SummaryBackend over bedrock-runtime."""

    name = "bedrock"

    def __init__(
        self,
        model_id: str,
        region: str,
        *,
        max_output_tokens: int = 2048,
        prompt_version: str = "v1",
        max_transcript_chars: int = 48000,
        prices_json: str | None = None,
        endpoint_url: str | None = None,
        client: Any = None,
        api: str = "auto",
        backoff: Backoff | None = None,
    ) -> None:
        if api not in ("auto", "invoke", "converse"):
            raise ValueError(f"api must be auto, invoke or converse, got {api!r}")
        self.model_id = model_id
        self.api = api if api != "auto" else ("invoke" if "anthropic." in model_id else "converse")
        self.backoff = backoff or Backoff()
        self.cfg = LlmSettings(
            backend=self.name,
            model_id=model_id,
            prompt_version=prompt_version,
            max_output_tokens=max_output_tokens,
            max_transcript_chars=max_transcript_chars,
            prices=parse_price_overrides(prices_json),
        )
        self._client = client if client is not None else self._make_client(region, endpoint_url)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> BedrockBackend:
        kwargs: dict[str, Any] = {
            "max_output_tokens": settings.bedrock_max_output_tokens,
            "prompt_version": settings.prompt_version,
            "max_transcript_chars": settings.llm_max_transcript_chars,
            "prices_json": settings.llm_prices_json,
        }
        kwargs.update(overrides)
        return cls(settings.bedrock_model_id, settings.aws_region, **kwargs)

    @staticmethod
    def _make_client(region: str, endpoint_url: str | None) -> Any:
        import boto3
        from botocore.config import Config

        # one attempt per call: the retry policy is Backoff's, so it is the same for every error
        config = Config(retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=300)
        return boto3.client("bedrock-runtime", region_name=region, endpoint_url=endpoint_url, config=config)

    def summarize(self, transcript: Transcript, call_date: str) -> SummaryResult:
        return summarize_with_repair(self, transcript, call_date, self.cfg)

    # ChatClient
    def complete(self, conversation: Conversation, max_tokens: int) -> LlmReply:
        send = self._invoke if self.api == "invoke" else self._converse
        return self.backoff.run(
            lambda: self._call(send, conversation, max_tokens), f"bedrock {self.model_id}"
        )

    def _call(self, send: Any, conversation: Conversation, max_tokens: int) -> LlmReply:
        from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

        try:
            return send(conversation, max_tokens)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            raise classify_error(status, err.get("Code"), err.get("Message")) from exc
        except (ConnectionError, ReadTimeoutError) as exc:
            raise SummaryTransientError(f"bedrock connection problem: {type(exc).__name__}") from exc
        except BotoCoreError as exc:
            raise SummaryFailed(f"bedrock client error: {type(exc).__name__}") from exc

    def _invoke(self, conversation: Conversation, max_tokens: int) -> LlmReply:
        body = {
            "anthropic_version": ANTHROPIC_VERSION,
            "max_tokens": max_tokens,
            "temperature": 0,
            "system": conversation.system,
            "messages": [
                {"role": r, "content": [{"type": "text", "text": t}]} for r, t in conversation.messages
            ],
        }
        response = self._client.invoke_model(
            modelId=self.model_id,
            body=json.dumps(body),
            contentType="application/json",
            accept="application/json",
        )
        try:
            return parse_response_body(json.loads(response["body"].read()))
        except (BedrockResponseError, ValueError) as exc:
            raise SummaryFailed(f"bedrock returned an unusable body: {type(exc).__name__}") from exc

    def _converse(self, conversation: Conversation, max_tokens: int) -> LlmReply:
        response = self._client.converse(
            modelId=self.model_id,
            system=[{"text": conversation.system}],
            messages=[{"role": r, "content": [{"text": t}]} for r, t in conversation.messages],
            inferenceConfig={"maxTokens": max_tokens, "temperature": 0},
        )
        try:
            return parse_response_body(response)
        except BedrockResponseError as exc:
            raise SummaryFailed(str(exc)) from exc
