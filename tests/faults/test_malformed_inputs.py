"""Malformed inputs (issue #9): a bad recording or a bad answer fails its own call, clearly, and no other.

Every case takes the product's own path, in-process, the way the DAG tasks call it: the ingest DAG's
`land_new_recordings` (the inbox on the local profile, the Drive folder on aws) and `calls_to_start`,
then the processing DAG's steps (`run_step`; on aws `prepare_transcription`, the Transcribe operator
and `finish_transcription`). Where Airflow would retry a task, the test runs it as many times as the
parsed DAG allows, then calls the DAG's own on_failure_callback. Each case checks the reason a
person reads (the registry's error_message, or the reason file beside a rejected upload), where the
original file is kept, and that the good calls beside it are untouched or still end COMPLETED.

Recognition and summaries are the instant engine and backend wherever the real ones do not matter:
they still decode and segment the audio, so a bad recording fails exactly as it would. Bedrock,
Transcribe and Drive are the fakes of tests/aws, speaking the services' wire protocols.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import random
import re
import struct
import tracemalloc
import uuid
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import av
import boto3
import numpy as np
import pytest
from airflow.sdk.exceptions import AirflowFailException
from callcare.config import reset_settings
from callcare.core.context import MAX_REASON, Context
from callcare.core.transcript import Transcript
from callcare.dag_tasks import ingest as ingest_tasks
from callcare.dag_tasks import process as process_tasks
from callcare.hooks.settings import task_settings
from callcare.hooks.transcribe import TranscriptionJobFailed
from callcare.lake_paths import table_key
from callcare.names import BEDROCK_SERVICE, DRIVE_SERVICE, PROCESS_DAG_ID, THROTTLED_SERVICES, THROTTLES
from callcare.sources.cursor import CursorStore
from callcare.sources.gdrive import DEFAULT_RETRIES
from callcare.status import CallStatus
from callcare.summarization.base import SummaryTransientError
from callcare.summarization.instant import InstantBackend
from callcare.summarization.llm_common import Backoff

from tests.support.aws_fixtures import REGION
from tests.support.fake_aws import FakeBedrock, FakeTranscribe
from tests.support.fake_drive import FakeDrive
from tests.support.helpers import REPO, capture_metrics, dialogues

HOUR = 3600
SIZE_CAP = 8 * 2**20
DAY = "2026-10-05"
GOOD = f"{DAY}_good.wav"
WAV_MIME = "audio/wav"


# -- recordings, good and bad, made on the spot --------------------------------------------------------


def wav(frames: bytes, rate: int = 16000, width: int = 2) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


def talk(pitch: float, seconds: float = 3.0, rate: int = 16000) -> np.ndarray:
    """Tone bursts with pauses between them: what the energy segmentation takes for turns of speech.

    The pitch makes each recording's bytes, and so its call id (a content hash), its own.
    """
    t = np.arange(int(seconds * rate)) / rate
    return (6000 * np.sin(2 * np.pi * pitch * t) * (np.sin(2 * np.pi * 0.5 * t) > 0)).astype(np.int16)


def talk_wav(pitch: float, seconds: float = 3.0, rate: int = 16000) -> bytes:
    return wav(talk(pitch, seconds, rate).astype("<i2").tobytes(), rate)


def encoded(container: str, codec: str, pitch: float, seconds: float = 2.0) -> bytes:
    """`talk` encoded with FFmpeg's own encoders (PyAV): FLAC, MP3."""
    out = io.BytesIO()
    with av.open(out, "w", format=container) as output:
        stream = output.add_stream(codec, rate=16000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(talk(pitch, seconds).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            output.mux(packet)
    return out.getvalue()


def video_only_mp4() -> bytes:
    """An .mp4 with one second of video and no sound."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as output:
        stream = output.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        black = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
        for packet in [p for _ in range(10) for p in stream.encode(black)] + list(stream.encode(None)):
            output.mux(packet)
    return out.getvalue()


def unknown_codec_wav() -> bytes:
    """A WAV whose format tag (0x1234) names a codec FFmpeg has no decoder for."""
    data = bytearray(talk_wav(300.0))
    assert data[20:22] == struct.pack("<H", 1)  # WAVE_FORMAT_PCM
    data[20:22] = struct.pack("<H", 0x1234)
    return bytes(data)


def corrupt_mp3() -> bytes:
    """A real MP3 with every seventh byte after its first frame header overwritten with noise."""
    data = bytearray(encoded("mp3", "libmp3lame", 320.0, seconds=3.0))
    noise = np.random.default_rng(7).integers(0, 256, len(data), dtype=np.uint8)
    data[200::7] = noise[200::7].tobytes()
    return bytes(data)


def two_hour_wav() -> bytes:
    """Two hours, cheaply: 8-bit mono silence at 1 kHz is 7.2 MB (decoded to 16 kHz PCM, 230 MB)."""
    return wav(b"\x80" * (2 * HOUR * 1000), rate=1000, width=1)


# -- the local profile, as its tasks see it ---------------------------------------------------------


@pytest.fixture(scope="module")
def process_dag() -> Any:
    """The processing DAG as Airflow parses it: its retries and failure callback are the product's."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "callcare_process_call.py"))
    return bag.dags[PROCESS_DAG_ID]


@pytest.fixture
def local(callcare_home: Path, monkeypatch: pytest.MonkeyPatch) -> Context:
    """Settings from the environment and the (empty) callcare_settings Variable, as in a task."""
    env = {
        "CALLCARE_STT_ENGINE": "instant",
        "CALLCARE_SUMMARY_BACKEND": "instant",
        "CALLCARE_MAX_DURATION_S": str(HOUR),
        "CALLCARE_MAX_UPLOAD_BYTES": str(SIZE_CAP),
        "AIRFLOW_VAR_CALLCARE_SETTINGS": "{}",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    ctx = Context.create(task_settings())
    ctx.settings.inbox_dir.mkdir(parents=True)
    return ctx


def drop(ctx: Context, name: str, data: bytes) -> None:
    """A file in the inbox, written long enough ago to count as settled."""
    from tests.support.helpers import drop_settled

    drop_settled(ctx.settings.inbox_dir, name, data)


def land() -> tuple[dict[str, int], set[str]]:
    """The ingest DAG's tasks: what landed, and the calls it would start processing."""
    counts = ingest_tasks.land_new_recordings()
    return counts, {start["conf"]["call_id"] for start in ingest_tasks.calls_to_start()}


def calls_by_file(ctx: Context) -> dict[str, dict[str, Any]]:
    """Registry rows by file name (a Drive source_ref is "<file id>/<name>")."""
    return {call["source_ref"].rsplit("/", 1)[-1]: call for call in ctx.registry.list_calls()}


def process(call_id: str) -> str | None:
    """The local processing DAG's tasks in order: the step that failed the call for good, or None."""
    for step in (process_tasks.transcribe, process_tasks.summarize, process_tasks.publish):
        try:
            step(call_id)
        except AirflowFailException:  # CallFailed: no retry, the call is FAILED with the reason
            return step.__name__
    return None


def lake_files(ctx: Context, call_id: str) -> dict[str, bytes]:
    return {key: ctx.lake.get_bytes(key) for key in ctx.lake.list_keys("") if call_id in key}


def assert_readable(reason: str) -> None:
    """What a person reads: one short line, no traceback, errno or Python internals."""
    assert reason and len(reason) <= MAX_REASON and "\n" not in reason, reason
    for noise in ("Traceback", "Errno", "NoneType", "<none>", "has no attribute"):
        assert noise not in reason, reason


def land_pair(ctx: Context, bad_name: str, bad: bytes) -> tuple[str, str]:
    """The bad file and a good one in the same poll: both are landed and both are started."""
    drop(ctx, bad_name, bad)
    drop(ctx, GOOD, talk_wav(440.0))
    counts, started = land()
    assert counts == {"new": 2, "duplicate": 0, "rejected": 0}
    calls = calls_by_file(ctx)
    bad_id, good_id = calls[bad_name]["call_id"], calls[GOOD]["call_id"]
    assert started == {bad_id, good_id}
    return bad_id, good_id


@pytest.fixture
def earlier(local: Context) -> Iterator[str]:
    """A call COMPLETED before the bad input arrives; at the end, its row and lake objects are unchanged."""
    drop(local, f"{DAY}_earlier.wav", talk_wav(180.0))
    land()
    [call] = local.registry.list_calls()
    assert process(call["call_id"]) is None
    row, files = local.registry.get(call["call_id"]), lake_files(local, call["call_id"])
    assert row["status"] == "COMPLETED" and any(key.startswith("summaries/") for key in files)
    yield call["call_id"]
    assert local.registry.get(call["call_id"]) == row
    assert lake_files(local, call["call_id"]) == files


def assert_failed_alone(ctx: Context, bad_id: str, good_id: str, name: str, data: bytes, reason: str) -> str:
    """FAILED once with a reason matching `reason`, nothing lost, the good call COMPLETED; the reason."""
    failed = ctx.registry.get(bad_id)
    assert failed["status"] == "FAILED"
    message = failed["error_message"]
    assert re.search(reason, message), message
    assert_readable(message)
    statuses = [event["status"] for event in ctx.registry.events(bad_id)]
    assert statuses[-1] == "FAILED" and statuses.count("FAILED") == 1, statuses
    # nothing lost: the original, byte for byte, in processed/ and in the lake
    assert (ctx.settings.inbox_dir / "processed" / DAY / name).read_bytes() == data
    assert ctx.lake.get_bytes(ctx.lake.key_from_uri(failed["audio_uri"])) == data
    # the failure reaches the warehouse's tables as well
    events = ctx.lake.read_parquet(table_key("status_events", DAY, bad_id)).column("status").to_pylist()
    assert events[-1] == "FAILED"
    assert failed["summary_uri"] is None
    assert ctx.registry.get(good_id)["status"] == "COMPLETED"
    return message


# -- rejected at the inbox, before anything is registered -----------------------------------------


REJECTED = [
    pytest.param(f"{DAY}_empty.wav", lambda: b"", r"the file is empty", id="empty-file"),
    pytest.param(
        f"{DAY}_notes.txt",
        lambda: b"Customer asked for a call back on Monday.\n",
        r"not a supported audio format: \.txt",
        id="text-file",
    ),
    pytest.param(
        f"{DAY}_huge.wav",
        lambda: b"RIFF" + bytes(SIZE_CAP - 3),
        # one byte over: the reason must still show the file is bigger than the cap
        rf"over the size cap: {SIZE_CAP + 1:,} bytes .*; the limit is {SIZE_CAP:,} bytes",
        id="over-size-cap",
    ),
]


@pytest.mark.parametrize(("name", "content", "reason"), REJECTED)
def test_rejected_at_the_inbox_with_a_reason_file(
    local: Context, earlier: str, name: str, content: Callable[[], bytes], reason: str
) -> None:
    data = content()
    drop(local, name, data)
    drop(local, GOOD, talk_wav(440.0))
    counts, started = land()
    assert counts == {"new": 1, "duplicate": 0, "rejected": 1}
    rejected = local.settings.inbox_dir / "rejected" / name
    assert rejected.read_bytes() == data  # kept as it came
    written = (local.settings.inbox_dir / "rejected" / f"{name}.reason.txt").read_text().strip()
    assert re.search(reason, written), written
    assert_readable(written)
    assert sorted(p.name for p in local.settings.inbox_dir.iterdir()) == ["processed", "rejected"]
    calls = calls_by_file(local)
    assert set(calls) == {f"{DAY}_earlier.wav", GOOD}  # never registered, so never started
    good_id = calls[GOOD]["call_id"]
    assert started == {good_id}
    raw = {local.lake.key_from_uri(c["audio_uri"]) for c in calls.values()}
    assert set(local.lake.list_keys("raw-audio")) == raw  # and nothing of it in the lake
    assert process(good_id) is None
    assert local.registry.get(good_id)["status"] == "COMPLETED"


# -- landed, then FAILED by the step that finds the problem ------------------------------------------


FAILING = [
    pytest.param(
        "cut-in-header.wav",
        lambda: talk_wav(300.0)[:40],  # the data chunk's header is cut off
        "transcribe",
        r"^the recording could not be decoded \(cannot decode audio: Invalid data found when processing "
        r"input\)$",
        id="truncated-wav-in-header",
    ),
    pytest.param(
        "header-only.wav",
        lambda: talk_wav(310.0)[:44],  # a whole header promising 3 s, and not one sample
        "transcribe",
        r"^the recording could not be decoded \(the audio stream holds no samples\)$",
        id="truncated-wav-after-header",
    ),
    pytest.param(
        "noise.wav",
        lambda: np.random.default_rng(11).bytes(48_000),
        "transcribe",
        r"^the recording could not be decoded \(cannot decode audio: Invalid data found",
        id="random-bytes-named-wav",
    ),
    pytest.param(
        "adpcm-ish.wav",
        unknown_codec_wav,
        "transcribe",
        r"^the recording could not be decoded \(unsupported audio codec: no decoder for the audio in "
        r"this wav file\)$",
        id="unsupported-codec",
    ),
    pytest.param(
        "screen-recording.mp4",
        video_only_mp4,
        "transcribe",
        r"^the recording could not be decoded \(the file has no audio stream\)$",
        id="video-only-container",
    ),
    pytest.param(
        "voicemail.mp3",
        corrupt_mp3,
        "transcribe",
        r"^the recording could not be decoded \(cannot decode audio: Invalid data found",
        id="corrupt-mp3",
    ),
    pytest.param(
        "hold-line.wav",
        lambda: wav(bytes(2 * 16000 * 4)),
        "summarize",
        r"^no speech was recognized in the recording$",
        id="silent-audio",
    ),
]


@pytest.mark.parametrize(("name", "content", "step", "reason"), FAILING)
def test_a_bad_recording_fails_its_call_alone(
    local: Context, earlier: str, name: str, content: Callable[[], bytes], step: str, reason: str
) -> None:
    data = content()
    bad_id, good_id = land_pair(local, f"{DAY}_{name}", data)
    assert process(bad_id) == step
    assert process(good_id) is None
    assert_failed_alone(local, bad_id, good_id, f"{DAY}_{name}", data, reason)
    failed = local.registry.get(bad_id)
    if step == "transcribe":
        assert failed["transcript_uri"] is None and failed["duration_s"] is None
    else:  # decoded and segmented: the transcript says nobody spoke, and it is kept
        document = local.lake.get_json(local.lake.key_from_uri(failed["transcript_uri"]))
        assert document["transcript"]["turns"] == [] and document["transcript"]["duration_s"] == 4.0


def test_a_two_hour_recording_is_refused_from_its_header_not_decoded(local: Context, earlier: str) -> None:
    name, data = f"{DAY}_all-afternoon.wav", two_hour_wav()
    bad_id, good_id = land_pair(local, name, data)
    tracemalloc.start()
    try:
        assert process(bad_id) == "transcribe"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    decoded = 2 * HOUR * 16000 * 2  # bytes of the 16 kHz PCM a full decode would hold
    assert peak < decoded / 8, f"peak {peak / 2**20:.0f} MiB: the recording was decoded to find its length"
    assert process(good_id) is None
    assert_failed_alone(
        local,
        bad_id,
        good_id,
        name,
        data,
        r"^the recording is too long: it lasts 120 min; the limit is 60 min$",
    )


GRACEFUL = [
    # the decoder sniffs the content, so a misnamed file is processed as what it is; the lake keeps
    # the bytes under the name's extension and the registry's audio_format says what the name said
    pytest.param(f"{DAY}_flac-content.mp3", lambda: encoded("flac", "flac", 350.0), 2.0, id="flac-named-mp3"),
    # a recorder that died mid-call: the header promises 4 s, 2 s arrived, and those are processed
    pytest.param(
        f"{DAY}_cut-short.wav",
        lambda: talk_wav(370.0, 4.0)[: 44 + 2 * 16000 * 2],
        2.0,
        id="wav-cut-mid-audio",
    ),
]


@pytest.mark.parametrize(("name", "content", "seconds"), GRACEFUL)
def test_content_not_the_name_decides(
    local: Context, earlier: str, name: str, content: Callable[[], bytes], seconds: float
) -> None:
    data = content()
    call_id, good_id = land_pair(local, name, data)
    assert process(call_id) is None
    call = local.registry.get(call_id)
    assert call["status"] == "COMPLETED", call["error_message"]
    assert call["duration_s"] == pytest.approx(seconds, abs=0.05)
    assert call["audio_format"] == name.rsplit(".", 1)[1]
    assert local.lake.get_bytes(local.lake.key_from_uri(call["audio_uri"])) == data
    turns = local.lake.get_json(local.lake.key_from_uri(call["transcript_uri"]))["transcript"]["turns"]
    assert turns and max(turn["end"] for turn in turns) <= seconds + 0.05
    assert process(good_id) is None


# -- the summary model answers badly -----------------------------------------------------------------


@pytest.fixture
def bedrock(
    local: Context, earlier: str, dummy_aws: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeBedrock]:
    """Summaries from (fake) Bedrock, switched on once the earlier call has COMPLETED."""
    fake = FakeBedrock(dialogues()).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", fake.url)
    monkeypatch.setenv("CALLCARE_SUMMARY_BACKEND", "bedrock")
    monkeypatch.setenv("CALLCARE_AWS_REGION", REGION)
    reset_settings()
    yield fake
    fake.stop()


def valid_summary(call_date: str) -> str:
    """A schema-valid summary, as the model should answer."""
    summary = InstantBackend().summarize(Transcript("x", "instant", 1.0, 1, []), call_date).summary
    return json.dumps(
        {**summary, "issue_sentence": "The customer asked why a bill went up.", "category": "billing"}
    )


BAD_REPLIES = [
    pytest.param(
        "Sure! The customer called about a bill and was happy in the end.",
        r"^summary failed: invalid summary after one repair attempt: the reply holds no JSON object$",
        id="llm-reply-not-json",
    ),
    pytest.param(
        '{"issue_sentence": "A bill went up.", "sentiment": ',
        r"^summary failed: invalid summary after one repair attempt: the reply is not valid JSON \(",
        id="llm-reply-broken-json",
    ),
    pytest.param(
        json.dumps({"issue_sentence": "A bill went up.", "sentiment": "Delighted"}),
        r"^summary failed: invalid summary after one repair attempt: .*(sentiment|required)",
        id="llm-reply-schema-invalid",
    ),
]


@pytest.mark.parametrize(("reply", "reason"), BAD_REPLIES)
def test_an_invalid_summary_fails_after_one_repair(
    local: Context, bedrock: FakeBedrock, reply: str, reason: str
) -> None:
    name, data = f"{DAY}_complaint.wav", talk_wav(510.0)
    bad_id, good_id = land_pair(local, name, data)
    bedrock.reply_next(reply, times=2)  # the answer, and the answer to the repair request
    bedrock.reply_next(valid_summary(DAY))  # then the good call's
    assert process(bad_id) == "summarize"
    assert process(good_id) is None
    # one request, one repair (the bad reply and the complaint about it sent back), no third try
    assert [r["turns"] for r in bedrock.requests] == [1, 3, 1]
    assert_failed_alone(local, bad_id, good_id, name, data, reason)
    transcript_uri = local.registry.get(bad_id)["transcript_uri"]
    assert local.lake.get_json(local.lake.key_from_uri(transcript_uri))["transcript"]["turns"]  # kept
    good = local.registry.get(good_id)
    stored = local.lake.get_json(local.lake.key_from_uri(good["summary_uri"]))
    assert stored["summary"]["category"] == "billing" and stored["backend"] == "bedrock"


def on_failure(dag: Any, task_id: str, call_id: str, exc: BaseException) -> None:
    """What Airflow does once a task's retries are spent: the DAG's on_failure_callback."""
    callbacks = dag.default_args["on_failure_callback"]
    for callback in callbacks if isinstance(callbacks, list) else [callbacks]:
        callback({"params": {"call_id": call_id}, "exception": exc, "ti": SimpleNamespace(task_id=task_id)})


@pytest.mark.timeout(120)
def test_a_throttling_storm_ends_failed_with_bounded_retries(
    local: Context, bedrock: FakeBedrock, process_dag: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    delays: list[float] = []

    def no_wait(_low: float, high: float) -> float:  # the backoff's jitter: record the bound, wait 0
        delays.append(high)
        return 0.0

    monkeypatch.setattr(random, "uniform", no_wait)
    name, data = f"{DAY}_busy-day.wav", talk_wav(530.0)
    bad_id, good_id = land_pair(local, name, data)
    process_tasks.transcribe(bad_id)
    metrics = capture_metrics(monkeypatch)
    bedrock.fail_next(
        429, "ThrottlingException", "Too many requests, please wait before trying again.", 10**6
    )
    tries = process_dag.get_task("summarize").retries + 1
    for _ in range(tries):
        with pytest.raises(SummaryTransientError, match="ThrottlingException") as raised:
            process_tasks.summarize(bad_id)
        # transient: Airflow retries the task, the call is not FAILED yet
        assert local.registry.get(bad_id)["status"] == "SUMMARIZING"
    on_failure(process_dag, "summarize", bad_id, raised.value)
    backoff = Backoff()
    assert len(bedrock.requests) == tries * backoff.attempts  # bounded: no retry loop of its own
    assert len(delays) == tries * (backoff.attempts - 1) and max(delays) <= backoff.cap_s
    # every throttled request is one Throttles datum, under the Service infra's alarm reads
    throttles = [m for m in metrics if m["metric"] == THROTTLES]
    assert len(throttles) == len(bedrock.requests)
    assert {(m["Service"], m["call_id"]) for m in throttles} == {(BEDROCK_SERVICE, bad_id)}
    assert BEDROCK_SERVICE in THROTTLED_SERVICES
    bedrock.script.clear()  # the storm is over
    bedrock.reply_next(valid_summary(DAY))
    assert process(good_id) is None
    assert_failed_alone(
        local,
        bad_id,
        good_id,
        name,
        data,
        rf"^summarize failed: SummaryTransientError: .*still failing after {backoff.attempts} attempts: "
        r"bedrock ThrottlingException: Too many requests",
    )


# -- the aws profile: Drive folder, S3 lake, Amazon Transcribe ------------------------------------


@pytest.fixture
def aws(
    callcare_home: Path,
    moto_server: str,
    dummy_aws: None,
    fake_drive: FakeDrive,
    drive_connection: dict,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[SimpleNamespace]:
    """The aws profile as its tasks see it: Drive (fake) → S3 lake (moto) → Transcribe (fake) →
    Bedrock (fake; the aws profile refuses the instant backend)."""
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name=REGION)
    bedrock = FakeBedrock(dialogues()).start()
    bedrock.reply_next(valid_summary(DAY), times=10**6)  # the model's answer to every call
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    transcribe = FakeTranscribe(s3, REGION).start()
    folder = fake_drive.add_folder("recordings")
    env = {
        "AIRFLOW_CONN_AWS_FAULTS": transcribe.airflow_connection(moto_server),
        "AIRFLOW_VAR_CALLCARE_SETTINGS": "{}",
        "CALLCARE_PROFILE": "aws",
        "CALLCARE_LAKE_URI": f"s3://{bucket}/prod",
        "CALLCARE_S3_ENDPOINT_URL": moto_server,
        "CALLCARE_AWS_REGION": REGION,
        "CALLCARE_AWS_CONN_ID": "aws_faults",
        "CALLCARE_GDRIVE_FOLDER_ID": folder,
        "CALLCARE_GDRIVE_API_ENDPOINT": fake_drive.url,
        "CALLCARE_SUMMARY_BACKEND": "bedrock",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    yield SimpleNamespace(
        ctx=Context.create(task_settings()),
        drive=fake_drive,
        folder=folder,
        transcribe=transcribe,
    )
    transcribe.stop()
    bedrock.stop()


SPOKEN = {  # what the fake Transcribe "hears" in the good recording
    "files": {},
    "turns": [
        {"speaker": "agent", "text": "Good morning, billing desk, how can I help?", "start": 0.2, "end": 1.4},
        {
            "speaker": "customer",
            "text": "My last bill doubled and I want to know why.",
            "start": 1.6,
            "end": 2.8,
        },
    ],
}


def transcribe_task(call_id: str, prepared: dict[str, Any]) -> dict[str, str]:
    """The DAG's transcribe task (its synchronous wait; the deferred one ends in the same checks)."""
    from callcare.operators.transcribe import TranscribeCallOperator as CallTranscribeOperator

    settings = task_settings()
    operator = CallTranscribeOperator(
        task_id="transcribe",
        aws_conn_id=settings.aws_conn_id,
        deferrable=False,
        waiter_delay=0,
        waiter_max_attempts=3,
        **prepared,
    )
    return operator.execute({})


def test_a_failed_transcribe_job_fails_its_call_alone(aws: SimpleNamespace, process_dag: Any) -> None:
    ctx = aws.ctx
    good_audio, refused_audio = talk_wav(610.0, 3.0), talk_wav(620.0, 3.0, rate=8000)
    aws.transcribe.recordings[hashlib.sha256(good_audio).hexdigest()] = SPOKEN  # anything else: job FAILED
    aws.drive.add_file(GOOD, good_audio, WAV_MIME, aws.folder)
    aws.drive.add_file(f"{DAY}_refused.wav", refused_audio, WAV_MIME, aws.folder)
    counts, started = land()
    assert counts["new"] == 2
    calls = calls_by_file(ctx)
    bad_id, good_id = calls[f"{DAY}_refused.wav"]["call_id"], calls[GOOD]["call_id"]
    assert started == {bad_id, good_id}

    prepared = process_tasks.prepare_transcription(bad_id)
    with pytest.raises(TranscriptionJobFailed) as raised:
        transcribe_task(bad_id, prepared)
    # an AirflowFailException: the task fails at once, whatever retries the DAG gives it
    assert isinstance(raised.value, AirflowFailException) and process_dag.default_args["retries"] >= 1
    on_failure(process_dag, "transcribe", bad_id, raised.value)
    # run again by hand (a cleared task), the same attempt re-attaches to its FAILED job: no new job
    with pytest.raises(TranscriptionJobFailed):
        transcribe_task(bad_id, prepared)
    operations = [operation for operation, _ in aws.transcribe.requests]
    assert "DeleteTranscriptionJob" not in operations
    assert [name for name in aws.transcribe.jobs if bad_id in name] == [f"callcare-{bad_id}-a1"]

    job = transcribe_task(good_id, process_tasks.prepare_transcription(good_id))
    process_tasks.read_transcript(good_id, job)
    process_tasks.summarize(good_id)
    process_tasks.publish(good_id)

    failed = ctx.registry.get(bad_id)
    assert failed["status"] == "FAILED"
    assert re.fullmatch(
        r"transcribe failed: TranscriptionJobFailed: Transcription job callcare-\S+ failed: "
        r"The media format provided does not match the detected media format\.",
        failed["error_message"],
    ), failed["error_message"]
    assert_readable(failed["error_message"])
    assert ctx.lake.get_bytes(ctx.lake.key_from_uri(failed["audio_uri"])) == refused_audio  # kept
    good = ctx.registry.get(good_id)
    assert good["status"] == "COMPLETED" and good["stt_engine"] == "amazon-transcribe"
    assert good["summary_backend"] == "bedrock"  # never the instant backend on aws
    turns = ctx.lake.get_json(ctx.lake.key_from_uri(good["transcript_uri"]))["transcript"]["turns"]
    assert [t["text"] for t in turns] == [t["text"] for t in SPOKEN["turns"]]

    # `callcare reprocess` (a new attempt) transcribes again, with a job of its own
    aws.transcribe.recordings[hashlib.sha256(refused_audio).hexdigest()] = SPOKEN  # now it "hears" it
    ctx.registry.transition(bad_id, CallStatus.UPLOADED)
    again = process_tasks.prepare_transcription(bad_id)
    assert again["attempt"] == 2
    job = transcribe_task(bad_id, again)
    assert job["job_name"] == f"callcare-{bad_id}-a2"
    process_tasks.read_transcript(bad_id, job)
    assert ctx.registry.get(bad_id)["stt_engine"] == "amazon-transcribe"


def drive_media(drive: FakeDrive, file_id: str) -> list[dict[str, Any]]:
    return [
        r
        for r in drive.calls("drive.files.get")
        if r["params"].get("alt") == "media" and r["params"]["fileId"] == file_id
    ]


def pending(ctx: Context) -> dict[str, dict[str, Any]]:
    """The Drive cursor's files to retry at the next poll, with the error that held each back."""
    return CursorStore(ctx.registry.engine).load(f"gdrive:{ctx.settings.gdrive_folder_id}").get("pending", {})


def test_a_drive_403_gives_one_file_up_with_its_reason_and_lands_the_rest(
    aws: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("CALLCARE_GDRIVE_MAX_ATTEMPTS", "2")
    ctx, drive = aws.ctx, aws.drive
    locked_name, later = f"{DAY}_locked.wav", f"{DAY}_later.wav"
    locked = drive.add_file(locked_name, talk_wav(700.0), WAV_MIME, aws.folder)
    drive.add_file(GOOD, talk_wav(710.0), WAV_MIME, aws.folder)
    # every request about that file, its download and its metadata alike, is refused
    drive.fail_next("drive.files.get", 403, "insufficientFilePermissions", times=10, file_id=locked)
    counts, _ = land()
    assert (counts["new"], counts["deferred"]) == (1, 1)
    reason = pending(ctx)[locked]["error"]
    assert (
        "access denied (insufficientFilePermissions)" in reason and "needs at least Viewer access" in reason
    )
    assert_readable(reason)
    drive.add_file(later, talk_wav(715.0), WAV_MIME, aws.folder)
    with caplog.at_level(logging.ERROR, logger="callcare.sources.gdrive"):
        counts, _ = land()  # the locked file is looked up again, refused again: the poll goes on
    assert (counts["new"], counts["given_up"]) == (1, 1)
    assert re.search(rf"{locked} given up after 2 polls: .*insufficientFilePermissions", caplog.text)
    assert locked_name not in caplog.text  # the id, not the name: names carry PII (review L8)
    assert pending(ctx) == {}
    calls = calls_by_file(ctx)
    assert set(calls) == {GOOD, later}
    assert {start["conf"]["call_id"] for start in ingest_tasks.calls_to_start()} == {
        c["call_id"] for c in calls.values()
    }
    assert ctx.lake.list_keys("raw-audio") == sorted(
        ctx.lake.key_from_uri(c["audio_uri"]) for c in calls.values()
    )
    assert drive.files[locked].content is not None  # still in Drive, for someone to share properly


def test_a_drive_404_skips_that_file_until_drive_reports_it_again(
    aws: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    ctx, drive = aws.ctx, aws.drive
    gone_audio = talk_wav(720.0)
    gone = drive.add_file(f"{DAY}_unshared.wav", gone_audio, WAV_MIME, aws.folder)
    drive.add_file(GOOD, talk_wav(730.0), WAV_MIME, aws.folder)
    drive.fail_next("drive.files.get", 404, "notFound", file_id=gone)  # unshared between listing and download
    with caplog.at_level(logging.INFO, logger="callcare.sources.gdrive"):
        counts, _ = land()
    assert (counts["new"], counts["skipped"]) == (1, 1)
    [logged] = [r.getMessage() for r in caplog.records if f"{gone}: skipped" in r.getMessage()]
    assert "not found (notFound); it does not exist or is not shared with" in logged, logged
    assert set(calls_by_file(ctx)) == {GOOD} and pending(ctx) == {}
    assert len(ctx.lake.list_keys("raw-audio")) == 1  # nothing half-written
    drive.change(gone, name=f"{DAY}_unshared.wav")  # shared again: Drive reports a change
    counts, _ = land()
    assert counts["new"] == 1
    back = calls_by_file(ctx)[f"{DAY}_unshared.wav"]
    assert ctx.lake.get_bytes(ctx.lake.key_from_uri(back["audio_uri"])) == gone_audio  # nothing lost


def test_a_drive_429_storm_defers_one_file_with_bounded_retries(
    aws: SimpleNamespace, no_sleep: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, drive = aws.ctx, aws.drive
    metrics = capture_metrics(monkeypatch)
    busy_audio = talk_wav(740.0)
    busy = drive.add_file(f"{DAY}_busy.wav", busy_audio, WAV_MIME, aws.folder)
    drive.add_file(GOOD, talk_wav(750.0), WAV_MIME, aws.folder)
    drive.fail_next("drive.files.get", 429, "rateLimitExceeded", times=10**6, file_id=busy)
    counts, _ = land()
    assert (counts["new"], counts["deferred"]) == (1, 1)
    tries = len(drive_media(drive, busy))
    assert 1 < tries <= DEFAULT_RETRIES + 1  # the client library retried, and then stopped
    # each 429 is one Throttles datum: the ones the client retried and the last one
    throttles = [m for m in metrics if m["metric"] == THROTTLES]
    assert len(throttles) == tries and {m["Service"] for m in throttles} == {DRIVE_SERVICE}
    assert DRIVE_SERVICE in THROTTLED_SERVICES
    assert len(no_sleep) >= tries - 1
    reason = pending(ctx)[busy]["error"]
    assert re.search(r"Drive still answers 429 rateLimitExceeded after retries$", reason), reason
    assert_readable(reason)
    assert set(calls_by_file(ctx)) == {GOOD}
    drive.faults.clear()  # the storm is over: the next poll lands it
    counts, _ = land()
    assert counts["new"] == 1 and pending(ctx) == {}
    assert len([m for m in metrics if m["metric"] == THROTTLES]) == tries  # no new throttle
    landed = calls_by_file(ctx)[f"{DAY}_busy.wav"]
    assert ctx.lake.get_bytes(ctx.lake.key_from_uri(landed["audio_uri"])) == busy_audio
