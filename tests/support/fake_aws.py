"""Fake Amazon Transcribe and Bedrock endpoints for the aws profile, over real HTTP on 127.0.0.1.

moto completes Transcribe jobs (their status advances on each GetTranscriptionJob) and reports a
TranscriptFileUri, but writes no output file, so the pipeline would have nothing to parse. This
Transcribe speaks the service's JSON 1.1 protocol for Start/Get/Delete/ListTranscriptionJobs (the
requests come from botocore and aiobotocore, signed, validated against the service model), and
when a job completes it reads the media from S3 (moto), recognizes the rendered corpus recording
by its SHA-256 and writes a Transcribe-format output built from the recording's ref.json (words
timed across each turn, speaker labels for mono, channel labels for stereo) to the requested
bucket and key, with the requested KMS key. Unknown media fails the job with Transcribe's message.

The Bedrock fake answers InvokeModel in the Anthropic Messages shape of the recorded fixtures. It
finds the corpus dialogue the prompt's transcript belongs to and returns that dialogue's ground
truth as the summary, so the labels alerts depend on (sentiment, resolved, escalated) are known.
Scripted answers (a given reply text, or an AWS error such as throttling) can be queued to come
first, for the fault tests.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

JOB_NAME = re.compile(r"^[0-9a-zA-Z._-]{1,200}$")
WORD = re.compile(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*|[.,?!]")
SUMMARY_FIELDS = ("issue_sentence", "key_details", "action_items", "next_steps", "agent_id", "customer_id")


class _Server:
    """A JSON-over-HTTP server on a free port, one handler function per request."""

    def __init__(self, handle: Callable[[str, str, dict[str, str], bytes], tuple[int, dict, bytes]]) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, extra, payload = handle("POST", self.path, headers, body)
                self.send_response(status)
                for key, value in {"Content-Type": "application/x-amz-json-1.1", **extra}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _error(status: int, code: str, message: str) -> tuple[int, dict, bytes]:
    return status, {"x-amzn-ErrorType": code}, json.dumps({"__type": code, "Message": message}).encode()


def _signed(headers: dict[str, str]) -> bool:
    return headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 Credential=")


# -- Transcribe ------------------------------------------------------------------------------------


def transcribe_output(ref: dict[str, Any], job_name: str, *, channels: bool) -> dict[str, Any]:
    """A batch output document for a rendered corpus call, in the layout Transcribe writes."""
    labels: dict[str, str] = {}
    items: list[dict[str, Any]] = []
    segments: list[dict[str, Any]] = []
    for turn in ref["turns"]:
        if channels:
            label = "ch_0" if turn["speaker"] == "agent" else "ch_1"
        else:
            label = labels.setdefault(turn["speaker"], f"spk_{len(labels)}")
        key = "channel_label" if channels else "speaker_label"
        tokens = WORD.findall(turn["text"])
        words = [t for t in tokens if t not in ".,?!"]
        span = max(turn["end"] - turn["start"], 0.01)
        total = sum(len(w) + 1 for w in words) or 1
        clock = turn["start"]
        turn_items = []
        for token in tokens:
            if token in ".,?!":
                turn_items.append(
                    {
                        "type": "punctuation",
                        "alternatives": [{"confidence": "0.0", "content": token}],
                        key: label,
                    }
                )
                continue
            length = span * (len(token) + 1) / total
            turn_items.append(
                {
                    "type": "pronunciation",
                    "start_time": f"{clock:.3f}",
                    "end_time": f"{clock + length * 0.9:.3f}",
                    "alternatives": [{"confidence": "0.987", "content": token}],
                    key: label,
                }
            )
            clock += length
        items.extend(turn_items)
        if not channels:
            segments.append(
                {
                    "start_time": f"{turn['start']:.3f}",
                    "end_time": f"{turn['end']:.3f}",
                    "speaker_label": label,
                    "items": [
                        {"start_time": i["start_time"], "end_time": i["end_time"], "speaker_label": label}
                        for i in turn_items
                        if i["type"] == "pronunciation"
                    ],
                }
            )
    results: dict[str, Any] = {
        "transcripts": [{"transcript": " ".join(t["text"] for t in ref["turns"])}],
        "items": items,
    }
    if channels:
        results["channel_labels"] = {
            "channels": [
                {"channel_label": ch, "items": [i for i in items if i["channel_label"] == ch]}
                for ch in ("ch_0", "ch_1")
            ],
            "number_of_channels": 2,
        }
    else:
        results["speaker_labels"] = {"channel_label": "ch_0", "speakers": len(labels), "segments": segments}
    return {"jobName": job_name, "accountId": "123456789012", "status": "COMPLETED", "results": results}


class FakeTranscribe:
    def __init__(self, s3_client: Any, region: str, polls_to_complete: int = 1) -> None:
        self.s3 = s3_client
        self.region = region
        self.polls_to_complete = polls_to_complete
        self.recordings: dict[str, dict[str, Any]] = {}  # sha256 of the audio -> ref.json
        self.jobs: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.server = _Server(self.handle)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> FakeTranscribe:
        self.server.start()
        return self

    def airflow_connection(self, moto_endpoint: str) -> str:
        """An Airflow aws connection (JSON) with S3 and the rest on moto, Transcribe on this fake."""
        extra = {
            "endpoint_url": moto_endpoint,
            "region_name": self.region,
            "service_config": {"transcribe": {"endpoint_url": self.url}},
        }
        return json.dumps({"conn_type": "aws", "extra": extra})

    def stop(self) -> None:
        self.server.stop()

    def learn(self, rendered: Path) -> None:
        """Every audio file a corpus render wrote, by content hash, with its ref.json."""
        for ref_path in rendered.glob("*.ref.json"):
            ref = json.loads(ref_path.read_text())
            for name in ref["files"].values():
                audio = rendered / name
                if audio.exists():
                    self.recordings[hashlib.sha256(audio.read_bytes()).hexdigest()] = ref

    def handle(self, verb: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        if not _signed(headers):
            return _error(
                403, "UnrecognizedClientException", "The security token included in the request is invalid."
            )
        target = headers.get("x-amz-target", "")
        operation = target.removeprefix("Transcribe.")
        request = json.loads(body or b"{}")
        self.requests.append((operation, request))
        with self.lock:
            handler = {
                "StartTranscriptionJob": self._start,
                "GetTranscriptionJob": self._get,
                "DeleteTranscriptionJob": self._delete,
                "ListTranscriptionJobs": self._list,
            }.get(operation)
            if handler is None:
                return _error(400, "UnknownOperationException", f"{target} is not faked")
            return handler(request)

    def _start(self, request: dict[str, Any]) -> tuple[int, dict, bytes]:
        name = request.get("TranscriptionJobName", "")
        if not JOB_NAME.match(name):
            return _error(400, "BadRequestException", "1 validation error detected: TranscriptionJobName")
        if name in self.jobs:
            return _error(
                400, "ConflictException", "The requested job name already exists. Use a different job name."
            )
        if not request.get("LanguageCode") and not request.get("IdentifyLanguage"):
            return _error(
                400, "BadRequestException", "Specify a language code or turn on language identification."
            )
        settings = request.get("Settings", {})
        if settings.get("ChannelIdentification") and settings.get("ShowSpeakerLabels"):
            return _error(
                400, "BadRequestException", "You can't use ChannelIdentification with ShowSpeakerLabels."
            )
        now = time.time()
        job = {
            "TranscriptionJobName": name,
            "TranscriptionJobStatus": "IN_PROGRESS",
            "LanguageCode": request.get("LanguageCode", "en-US"),
            "Media": request["Media"],
            "Settings": settings,
            "CreationTime": now,
            "StartTime": now,
            "_request": request,
            "_polls": 0,
        }
        self.jobs[name] = job
        return 200, {}, json.dumps({"TranscriptionJob": _public(job)}).encode()

    def _get(self, request: dict[str, Any]) -> tuple[int, dict, bytes]:
        job = self.jobs.get(request.get("TranscriptionJobName", ""))
        if job is None:
            return _error(
                400,
                "BadRequestException",
                "The requested job couldn't be found. Check the job name and try again.",
            )
        job["_polls"] += 1
        if job["TranscriptionJobStatus"] == "IN_PROGRESS" and job["_polls"] >= self.polls_to_complete:
            self._complete(job)
        return 200, {}, json.dumps({"TranscriptionJob": _public(job)}).encode()

    def _delete(self, request: dict[str, Any]) -> tuple[int, dict, bytes]:
        self.jobs.pop(request.get("TranscriptionJobName", ""), None)
        return 200, {}, b"{}"

    def _list(self, request: dict[str, Any]) -> tuple[int, dict, bytes]:
        summaries = [
            {k: v for k, v in _public(j).items() if k in ("TranscriptionJobName", "TranscriptionJobStatus")}
            for j in self.jobs.values()
        ]
        return 200, {}, json.dumps({"TranscriptionJobSummaries": summaries}).encode()

    def _complete(self, job: dict[str, Any]) -> None:
        request = job["_request"]
        media = urlparse(request["Media"]["MediaFileUri"])
        try:
            audio = self.s3.get_object(Bucket=media.netloc, Key=unquote(media.path.lstrip("/")))[
                "Body"
            ].read()
        except Exception as exc:  # Transcribe reports unreadable media as a failed job
            job.update(
                TranscriptionJobStatus="FAILED", FailureReason=f"The media file could not be read: {exc}"
            )
            return
        ref = self.recordings.get(hashlib.sha256(audio).hexdigest())
        if ref is None:
            job.update(
                TranscriptionJobStatus="FAILED",
                FailureReason="The media format provided does not match the detected media format.",
            )
            return
        channels = bool(job["Settings"].get("ChannelIdentification"))
        document = transcribe_output(ref, job["TranscriptionJobName"], channels=channels)
        bucket, key = (
            request["OutputBucketName"],
            request.get("OutputKey") or f"{job['TranscriptionJobName']}.json",
        )
        extra = {}
        if request.get("OutputEncryptionKMSKeyId"):
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": request["OutputEncryptionKMSKeyId"]}
        self.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode(), **extra)
        job.update(
            TranscriptionJobStatus="COMPLETED",
            CompletionTime=time.time(),
            Transcript={"TranscriptFileUri": f"https://s3.{self.region}.amazonaws.com/{bucket}/{key}"},
        )


def _public(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if not k.startswith("_")}


# -- Bedrock ---------------------------------------------------------------------------------------


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower()))


class FakeBedrock:
    """InvokeModel for Anthropic models; the summary is the matching corpus dialogue's ground truth."""

    def __init__(self, dialogues: list[dict[str, Any]]) -> None:
        self.dialogues = dialogues
        self.texts = [_words(" ".join(t["text"] for t in d["turns"])) for d in dialogues]
        self.requests: list[dict[str, Any]] = []
        # scripted answers, served before any corpus matching: [status, headers, body, times left]
        self.script: deque[list[Any]] = deque()
        self.lock = threading.Lock()
        self.server = _Server(self.handle)

    @property
    def url(self) -> str:
        return self.server.url

    def reply_next(self, text: str, times: int = 1) -> None:
        """The next `times` requests get `text` as the model's whole reply, whatever the prompt says."""
        self.script.append([200, {"Content-Type": "application/json"}, _messages_body(text, 1000), times])

    def fail_next(self, status: int, code: str, message: str, times: int = 1) -> None:
        """The next `times` requests get an AWS error (e.g. 429 ThrottlingException)."""
        self.script.append([*_error(status, code, message), times])

    def start(self) -> FakeBedrock:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def handle(self, verb: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        match = re.fullmatch(r"/model/([^/]+)/invoke", path)
        if not match:
            return _error(404, "UnknownOperationException", path)
        if not _signed(headers):
            return _error(
                403, "UnrecognizedClientException", "The security token included in the request is invalid."
            )
        request = json.loads(body)
        if request.get("anthropic_version") != "bedrock-2023-05-31" or not request.get("max_tokens"):
            return _error(400, "ValidationException", "anthropic_version and max_tokens are required")
        prompt = request["messages"][-1]["content"][0]["text"]
        transcript = prompt.split("<transcript>", 1)[-1].split("</transcript>", 1)[0]
        call_date = re.search(r"Call date: (\d{4}-\d{2}-\d{2})", prompt)
        self.requests.append(
            {"model": unquote(match[1]), "transcript": transcript, "turns": len(request["messages"])}
        )
        with self.lock:
            if self.script:
                status, headers, payload, times = self.script[0]
                self.script[0][3] = times - 1
                if times <= 1:
                    self.script.popleft()
                return status, headers, payload
        words = _words(transcript)
        scores = [len(words & t) / max(1, len(words | t)) for t in self.texts]
        best = max(range(len(scores)), key=scores.__getitem__)
        if scores[best] < 0.5:
            return _error(400, "ValidationException", "fake Bedrock: the transcript is no corpus call")
        dialogue = self.dialogues[best]
        truth = dialogue["truth"]
        summary = {
            "call_date": call_date[1] if call_date else dialogue["call_date"],
            **{k: truth[k] for k in SUMMARY_FIELDS},
            "sentiment": truth["sentiment"],
            "customer_sentiment": truth["sentiment"],
            "agent_sentiment": "Positive",
            "category": dialogue["category"],
            "resolved": truth["resolved"],
            "escalated": truth["escalated"],
        }
        answer = _messages_body(json.dumps(summary), len(prompt) // 4)
        return 200, {"Content-Type": "application/json"}, answer


def _messages_body(text: str, input_tokens: int) -> bytes:
    """An InvokeModel answer in the Anthropic Messages shape, with `text` as the reply."""
    answer = {
        "id": "msg_bdrk_" + secrets.token_hex(12),
        "type": "message",
        "role": "assistant",
        "model": "claude-3-5-haiku-20241022",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": len(text) // 4},
    }
    return json.dumps(answer).encode()
