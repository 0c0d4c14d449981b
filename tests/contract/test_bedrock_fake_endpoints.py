"""The LLM backends over real HTTP against fake servers on 127.0.0.1.

Bedrock: boto3's bedrock-runtime client (dummy credentials, endpoint_url override) talks to a tiny
http.server that replays scripted responses, including the recorded fixture bodies, so request
signing, URL building, botocore's response and error parsing are all the real thing. The same
server stands in for an OpenAI-compatible chat-completions endpoint (Ollama, vLLM, llama.cpp).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from callcare.config import Settings
from callcare.core.transcript import Transcript, Turn
from callcare.summarization.base import SummaryFailed, SummaryTransientError
from callcare.summarization.bedrock import BedrockBackend, parse_response_body
from callcare.summarization.choose import get_backend
from callcare.summarization.llm_common import Backoff, Conversation
from callcare.summarization.openai_compat import OpenAICompatBackend

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "bedrock"
HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"
NOVA = "amazon.nova-micro-v1:0"
SECRET = "my account password is swordfish"


class FakeServer:
    """Replays queued (status, headers, body) responses and records each request."""

    def __init__(self) -> None:
        self.responses: deque[tuple[int, dict[str, str], bytes]] = deque()
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": json.loads(raw)}
                )
                status, headers, body = (
                    server.responses.popleft()
                    if server.responses
                    else (500, {}, b'{"message": "unscripted"}')
                )
                self.send_response(status)
                headers = {"Content-Type": "application/json", **headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def push(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.responses.append((status, headers or {}, data))


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    fake.thread.start()
    yield fake
    fake.httpd.shutdown()
    fake.httpd.server_close()


@pytest.fixture(autouse=True)
def dummy_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials for signing only; no profile, no metadata service, nothing beyond 127.0.0.1."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def transcript() -> Transcript:
    lines = [
        ("agent", "Thanks for calling, this is Ana, agent ID A-G-T one two three four."),
        ("customer", f"Hi, I was charged twice this month, and {SECRET}."),
        ("agent", "I've refunded the second charge."),
        ("customer", "Great, thanks."),
    ]
    turns = [Turn(f"spk_{i % 2}", float(i), i + 0.9, text, role) for i, (role, text) in enumerate(lines)]
    return Transcript("call-x", "reference", 4.0, 1, turns)


def summary(**changes: Any) -> dict[str, Any]:
    out = {
        "call_date": "2026-02-03",
        "issue_sentence": "The customer was charged twice this month.",
        "key_details": [],
        "action_items": ["Refund the second charge (done during the call)."],
        "next_steps": [],
        "sentiment": "Positive",
        "customer_sentiment": "Neutral",
        "agent_sentiment": "Positive",
        "agent_id": "AGT-1234",
        "customer_id": None,
        "category": "billing",
        "resolved": True,
        "escalated": False,
    }
    out.update(changes)
    return out


def messages_body(text: str, stop: str = "end_turn", tokens: tuple[int, int] = (900, 120)) -> dict[str, Any]:
    return {
        "id": "msg_bdrk_test",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-5-haiku-20241022",
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": tokens[0], "output_tokens": tokens[1]},
    }


def converse_body(text: str, stop: str = "end_turn") -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": stop,
        "usage": {"inputTokens": 800, "outputTokens": 100, "totalTokens": 900},
        "metrics": {"latencyMs": 120},
    }


THROTTLED = {"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"}


def bedrock(
    server: FakeServer, model: str = HAIKU, sleeps: list[float] | None = None, **kw: Any
) -> BedrockBackend:
    backoff = Backoff(attempts=3, base_s=0.5, sleep=(sleeps if sleeps is not None else []).append)
    settings = Settings(summary_backend="bedrock", bedrock_model_id=model, bedrock_max_output_tokens=1000)
    return BedrockBackend.from_settings(settings, endpoint_url=server.url, backoff=backoff, **kw)


# -- Bedrock ------------------------------------------------------------------------------------------


def test_invoke_model_request_and_result(server: FakeServer, caplog: pytest.LogCaptureFixture) -> None:
    # ours at DEBUG; botocore logs request bodies at its own DEBUG level, which deployments keep off
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="callcare")
    server.push(200, messages_body(json.dumps(summary(issue_sentence=SECRET))))
    result = bedrock(server).summarize(transcript(), "2026-02-03")
    assert result.summary["issue_sentence"] == SECRET
    assert (result.backend, result.model_id, result.prompt_version) == ("bedrock", HAIKU, "v1")
    assert (result.input_tokens, result.output_tokens) == (900, 120)
    assert result.cost_usd == pytest.approx((900 * 0.0008 + 120 * 0.004) / 1000)
    (request,) = server.requests
    assert request["path"] == "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/invoke"
    assert request["headers"]["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
    body = request["body"]
    assert body["anthropic_version"] == "bedrock-2023-05-31" and body["max_tokens"] == 1000
    assert '"additionalProperties": false' in body["system"]
    user_text = body["messages"][0]["content"][0]["text"]
    assert "AGENT: Thanks for calling" in user_text and "Call date: 2026-02-03" in user_text
    assert SECRET not in caplog.text  # neither the prompt nor the reply is logged


def test_throttling_then_success(server: FakeServer) -> None:
    server.push(429, {"message": "Too many requests, please wait before trying again."}, THROTTLED)
    server.push(200, messages_body(json.dumps(summary())))
    sleeps: list[float] = []
    result = bedrock(server, sleeps=sleeps).summarize(transcript(), "2026-02-03")
    assert result.summary["category"] == "billing"
    assert len(server.requests) == 2 and len(sleeps) == 1  # botocore did not retry on its own


def test_throttling_with_the_recorded_synthetic_body(server: FakeServer) -> None:
    server.push(429, (FIXTURES / "error-429-throttling.SYNTHETIC.json").read_bytes())
    server.push(200, messages_body(json.dumps(summary())))
    bedrock(server).summarize(transcript(), "2026-02-03")
    assert len(server.requests) == 2


def test_persistent_throttling_is_transient_for_airflow(server: FakeServer) -> None:
    for _ in range(3):
        server.push(429, {"message": "Rate exceeded"}, THROTTLED)
    with pytest.raises(SummaryTransientError, match="after 3 attempts"):
        bedrock(server).summarize(transcript(), "2026-02-03")
    assert len(server.requests) == 3


def test_server_error_is_retried(server: FakeServer) -> None:
    server.push(503, {"message": "Service unavailable"}, {"x-amzn-ErrorType": "ServiceUnavailableException"})
    server.push(200, messages_body(json.dumps(summary())))
    bedrock(server).summarize(transcript(), "2026-02-03")
    assert len(server.requests) == 2


def test_invalid_json_then_valid_is_repaired(server: FakeServer) -> None:
    server.push(
        200, messages_body('{"call_date": "2026-02-03", "issue_sentence": "The cus', tokens=(900, 20))
    )
    server.push(200, messages_body(json.dumps(summary()), tokens=(950, 120)))
    result = bedrock(server).summarize(transcript(), "2026-02-03")
    assert result.repaired and (result.input_tokens, result.output_tokens) == (1850, 140)
    second = server.requests[1]["body"]["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    assert second[1]["content"][0]["text"].startswith('{"call_date"')
    assert "not valid JSON" in second[2]["content"][0]["text"]


def test_schema_violation_twice_fails_with_the_reason(server: FakeServer) -> None:
    server.push(200, messages_body(json.dumps(summary(sentiment="Furious"))))
    server.push(200, messages_body(json.dumps(summary(resolved="maybe"))))
    with pytest.raises(SummaryFailed) as info:
        bedrock(server).summarize(transcript(), "2026-02-03")
    assert (
        info.value.reason
        == "invalid summary after one repair attempt: $.resolved: must be of type boolean, got str"
    )


def test_max_tokens_retries_with_a_bigger_budget(server: FakeServer) -> None:
    server.push(200, messages_body('{"call_date": "2026-02-03", "issue', stop="max_tokens"))
    server.push(200, messages_body(json.dumps(summary())))
    result = bedrock(server).summarize(transcript(), "2026-02-03")
    assert [r["body"]["max_tokens"] for r in server.requests] == [1000, 2000]
    assert not result.repaired


def test_max_tokens_twice_fails(server: FakeServer) -> None:
    server.push(200, messages_body("{", stop="max_tokens"))
    server.push(200, messages_body("{", stop="max_tokens"))
    with pytest.raises(SummaryFailed, match="cut off at max_tokens=2000"):
        bedrock(server).summarize(transcript(), "2026-02-03")


def test_validation_error_is_permanent_and_not_retried(server: FakeServer) -> None:
    server.push(
        400,
        (FIXTURES / "error-400-validation-invalid-model-id.json").read_bytes(),
        {"x-amzn-ErrorType": "ValidationException"},
    )
    with pytest.raises(SummaryFailed) as info:
        bedrock(server).summarize(transcript(), "2026-02-03")
    assert info.value.reason == "bedrock ValidationException: The provided model identifier is invalid."
    assert len(server.requests) == 1


def test_input_too_long_is_retried_with_a_truncated_transcript(server: FakeServer) -> None:
    server.push(
        400,
        {"message": "Input is too long for requested model."},
        {"x-amzn-ErrorType": "ValidationException"},
    )
    server.push(200, messages_body(json.dumps(summary())))
    long_call = transcript()
    long_call.turns = [Turn("spk_0", float(i), i + 1.0, f"line {i} " * 20, "agent") for i in range(400)]
    result = bedrock(server).summarize(long_call, "2026-02-03")
    assert result.truncated
    first, second = (len(r["body"]["messages"][0]["content"][0]["text"]) for r in server.requests)
    assert second < first


def test_converse_for_non_anthropic_models(server: FakeServer) -> None:
    server.push(200, converse_body(json.dumps(summary())))
    result = bedrock(server, model=NOVA).summarize(transcript(), "2026-02-03")
    assert result.cost_usd == pytest.approx((800 * 0.000035 + 100 * 0.00014) / 1000)
    (request,) = server.requests
    assert request["path"] == "/model/amazon.nova-micro-v1%3A0/converse"
    assert request["body"]["inferenceConfig"] == {"maxTokens": 1000, "temperature": 0}
    assert request["body"]["system"][0]["text"].startswith("You summarize customer-care phone calls")


def test_converse_guardrail_is_a_permanent_failure(server: FakeServer) -> None:
    server.push(200, (FIXTURES / "converse-nova-lite-guardrail_intervened.json").read_bytes())
    with pytest.raises(SummaryFailed, match="blocked \\(guardrail_intervened\\)"):
        bedrock(server, model=NOVA).summarize(transcript(), "2026-02-03")


@pytest.mark.parametrize(
    "name",
    sorted(
        p.name
        for p in FIXTURES.glob("*.json")
        if p.name.startswith(("invoke-", "converse-")) and not p.name.endswith(".http-meta.json")
    ),
)
def test_recorded_bodies_through_boto3(server: FakeServer, name: str) -> None:
    """botocore's parsing of each real body, then ours, gives what parsing the file directly gives."""
    raw = (FIXTURES / name).read_bytes()
    server.push(200, raw)
    backend = bedrock(server, api="invoke" if name.startswith("invoke-") else "converse")
    reply = backend.complete(Conversation("system", (("user", "hello"),)), 50)
    direct = parse_response_body(json.loads(raw))
    assert (reply.text, reply.stop, reply.input_tokens, reply.output_tokens) == (
        direct.text,
        direct.stop,
        direct.input_tokens,
        direct.output_tokens,
    )


def test_get_backend_builds_bedrock_from_settings() -> None:
    backend = get_backend(Settings(summary_backend="bedrock", aws_region="eu-west-1"))
    assert isinstance(backend, BedrockBackend) and backend.api == "invoke"


# -- OpenAI-compatible ----------------------------------------------------------------------------------


def chat_body(text: str, finish: str = "stop", usage: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "llama3.1:8b",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
    }
    if usage:
        body["usage"] = {"prompt_tokens": 700, "completion_tokens": 90, "total_tokens": 790}
    return body


def openai(server: FakeServer, **kw: Any) -> OpenAICompatBackend:
    settings = Settings(
        summary_backend="openai",
        openai_base_url=f"{server.url}/v1",
        openai_model="llama3.1:8b",
        openai_api_key="local-key",
        llm_prices_json='{"llama3.1:8b": {"input_per_1k": 0.001, "output_per_1k": 0.002}}',
    )
    return OpenAICompatBackend.from_settings(
        settings, backoff=Backoff(attempts=3, sleep=lambda s: None), **kw
    )


def test_openai_request_and_result(server: FakeServer) -> None:
    server.push(200, chat_body(json.dumps(summary())))
    result = openai(server).summarize(transcript(), "2026-02-03")
    assert (result.backend, result.model_id) == ("openai", "llama3.1:8b")
    assert (result.input_tokens, result.output_tokens) == (700, 90)
    assert result.cost_usd == pytest.approx(0.7 * 0.001 + 0.09 * 0.002)
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer local-key"
    body = request["body"]
    assert body["response_format"] == {"type": "json_object"} and body["temperature"] == 0
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_openai_429_then_success_and_missing_usage(server: FakeServer) -> None:
    server.push(429, {"error": {"message": "server busy"}})
    server.push(200, chat_body(json.dumps(summary()), usage=False))
    result = openai(server).summarize(transcript(), "2026-02-03")
    assert len(server.requests) == 2 and result.input_tokens == 0


def test_openai_repair_and_length(server: FakeServer) -> None:
    server.push(200, chat_body("Sure! Here is the summary: {oops}"))
    server.push(200, chat_body('{"call_date": "2026', finish="length"))
    server.push(200, chat_body(json.dumps(summary())))
    result = openai(server).summarize(transcript(), "2026-02-03")
    assert result.repaired
    assert [r["body"]["max_tokens"] for r in server.requests] == [2048, 2048, 4096]
    assert [m["role"] for m in server.requests[1]["body"]["messages"]] == [
        "system",
        "user",
        "assistant",
        "user",
    ]


def test_openai_client_error_is_permanent(server: FakeServer) -> None:
    server.push(404, {"error": {"message": "model 'llama3.1:8b' not found"}})
    with pytest.raises(SummaryFailed, match=re.escape("HTTP 404: model 'llama3.1:8b' not found")):
        openai(server).summarize(transcript(), "2026-02-03")
    assert len(server.requests) == 1


def test_openai_unreachable_server_is_transient() -> None:
    backend = OpenAICompatBackend(
        "http://127.0.0.1:9/v1", "m", backoff=Backoff(attempts=2, sleep=lambda s: None)
    )
    with pytest.raises(SummaryTransientError, match="unreachable"):
        backend.summarize(transcript(), "2026-02-03")


def test_openai_needs_url_and_model() -> None:
    with pytest.raises(ValueError, match="CALLCARE_OPENAI_BASE_URL"):
        get_backend(Settings(summary_backend="openai"))
