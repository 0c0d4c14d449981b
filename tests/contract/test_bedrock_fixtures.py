"""Every recorded Amazon Bedrock response body in ../shared/fixtures/bedrock parses with the right outcome.

Expected text and token counts are read from each file plainly (and, for InvokeModel, checked
against the token-count headers Bedrock sent with it), so the assertions state what the recorded
payload says, not what the parser returned.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from callcare.summarization.base import SummaryFailed, SummaryTransientError
from callcare.summarization.bedrock import BedrockResponseError, error_from_body, parse_response_body
from callcare.summarization.llm_common import END, FILTERED, MAX_TOKENS

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "bedrock"
BODIES = sorted(p.name for p in FIXTURES.glob("*.json") if not p.name.endswith(".http-meta.json"))
pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"fixtures not found at {FIXTURES}")

# what each recorded body means for a summary request; a new fixture must be added here
OUTCOME: dict[str, str | type[Exception]] = {
    "converse-claude-sonnet45-end_turn.json": END,
    "converse-claude37-sonnet-inference-profile-guardrail-trace.json": END,  # guardrail traced, not triggered
    "converse-llama32-1b-end_turn.json": END,
    "converse-nova-lite-guardrail_intervened.json": FILTERED,
    "converse-nova-micro-max_tokens.json": MAX_TOKENS,
    "error-400-validation-invalid-model-id.json": SummaryFailed,
    "error-429-throttling.SYNTHETIC.json": SummaryTransientError,
    "invoke-claude3-haiku-messages-via-anthropic-sdk.json": END,
    "invoke-claude3-sonnet-messages-end_turn.json": END,
    "invoke-claude35-haiku-messages-max_tokens-cache-read.json": MAX_TOKENS,
    "invoke-claude35-haiku-messages-max_tokens-cache-write.json": MAX_TOKENS,
}


def load(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    body = json.loads((FIXTURES / name).read_text())
    meta = json.loads((FIXTURES / name.replace(".json", ".http-meta.json")).read_text())
    return body, meta


def header(meta: dict[str, Any], name: str) -> str | None:
    for key, values in meta["headers"].items():
        if key.lower() == name.lower():
            return values[0]
    return None


def plain_reading(body: dict[str, Any]) -> tuple[str, int, int]:
    """(text, input tokens, output tokens) read straight off the file."""
    if "stopReason" in body:
        text = "".join(block["text"] for block in body["output"]["message"]["content"])
        return text, body["usage"]["inputTokens"], body["usage"]["outputTokens"]
    text = "".join(block["text"] for block in body["content"])
    return text, body["usage"]["input_tokens"], body["usage"]["output_tokens"]


def test_every_fixture_has_an_expected_outcome() -> None:
    assert BODIES, "no Bedrock fixtures found"
    assert sorted(OUTCOME) == BODIES


@pytest.mark.parametrize("name", [n for n in BODIES if not n.startswith("error-")])
def test_success_bodies_parse(name: str) -> None:
    body, meta = load(name)
    assert meta["status"]["code"] == 200
    reply = parse_response_body(body)
    text, input_tokens, output_tokens = plain_reading(body)
    assert reply.stop == OUTCOME[name]
    assert reply.text == text and reply.text
    assert (reply.input_tokens, reply.output_tokens) == (input_tokens, output_tokens)
    if header(meta, "X-Amzn-Bedrock-Input-Token-Count") is not None:  # InvokeModel reports usage twice
        assert reply.input_tokens == int(header(meta, "X-Amzn-Bedrock-Input-Token-Count") or -1)
        assert reply.output_tokens == int(header(meta, "X-Amzn-Bedrock-Output-Token-Count") or -1)
        cache_read = header(meta, "X-Amzn-Bedrock-Cache-Read-Input-Token-Count")
        cache_write = header(meta, "X-Amzn-Bedrock-Cache-Write-Input-Token-Count")
        assert reply.cache_read_tokens == int(cache_read or 0)
        assert reply.cache_write_tokens == int(cache_write or 0)


def test_guardrail_body_is_filtered_even_though_it_has_text() -> None:
    body, _ = load("converse-nova-lite-guardrail_intervened.json")
    reply = parse_response_body(body)
    assert reply.raw_stop == "guardrail_intervened" and reply.stop == FILTERED
    assert "{ADDRESS}" in reply.text  # the masked output is what we would have received


@pytest.mark.parametrize("name", [n for n in BODIES if n.startswith("error-")])
def test_error_bodies_classify(name: str) -> None:
    body, meta = load(name)
    error = error_from_body(meta["status"]["code"], body, header(meta, "x-amzn-ErrorType"))
    assert isinstance(error, OUTCOME[name])
    assert body["message"] in str(error)
    with pytest.raises(BedrockResponseError):
        parse_response_body(body)  # an error body is never mistaken for a reply


def test_real_throttling_shape_with_the_type_in_the_header() -> None:
    error = error_from_body(
        400,  # even with an odd status, the declared type decides
        {"message": "Too many requests, please wait before trying again."},
        "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
    )
    assert isinstance(error, SummaryTransientError)
    assert str(error).startswith("bedrock ThrottlingException: Too many requests")
