"""The aws profile's S3 lake, Transcribe path, SNS alerts and settings against moto's server.

moto runs as a server (a thread) so that pyarrow's C++ S3 client, boto3 and the Airflow hooks all
reach it over HTTP, exactly as they reach AWS.
"""

from __future__ import annotations

import io
import json
import math
import struct
import urllib.request
import uuid
import wave
from pathlib import Path

import boto3
import pyarrow as pa
import pytest
from callcare.config import Settings
from callcare.core.context import CallFailed, Context
from callcare.core.lake import Lake, presigned_audio_url
from callcare.core.registry import NewCall, Registry
from callcare.hooks.settings import task_settings
from callcare.status import CallStatus
from callcare.steps.alerts import Alert, Facts, SnsPublisher, build_alert, publish_pending, severity

from tests.support.aws_fixtures import REGION
from tests.support.fake_aws import FakeTranscribe, transcribe_output

pytestmark = pytest.mark.usefixtures("dummy_aws")
MiB = 1024 * 1024


def tone_wav(seconds: float = 1.0, channels: int = 1, rate: int = 16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = bytearray()
        for n in range(int(seconds * rate)):
            sample = int(8000 * math.sin(2 * math.pi * 440 * n / rate))
            frames += struct.pack("<h", sample) * channels
        w.writeframes(bytes(frames))
    return out.getvalue()


@pytest.fixture
def s3(moto_server):
    return boto3.client("s3", endpoint_url=moto_server, region_name=REGION)


@pytest.fixture
def kms_key(moto_server) -> str:
    return boto3.client("kms", endpoint_url=moto_server, region_name=REGION).create_key()["KeyMetadata"][
        "KeyId"
    ]


@pytest.fixture
def bucket(s3) -> str:
    name = f"lake-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


@pytest.fixture
def settings(tmp_path, moto_server, bucket, kms_key) -> Settings:
    return Settings(
        home=tmp_path,
        profile="aws",
        lake_uri=f"s3://{bucket}/prod",
        s3_endpoint_url=moto_server,
        aws_region=REGION,
        lake_kms_key_id=kms_key,
        registry_url=f"sqlite:///{tmp_path / 'registry.db'}",
    )


@pytest.fixture
def ctx(settings) -> Context:
    context = Context.create(settings)
    context.registry.create_schema()
    return context


# -- the S3 lake -------------------------------------------------------------------------------------


def test_every_lake_write_is_sse_kms_and_reads_come_back(ctx, s3, bucket, kms_key):
    lake = ctx.lake
    uri = lake.put_json("summaries/2026-09-10/c-1-summary.json", {"a": 1})
    assert uri == f"s3://{bucket}/prod/summaries/2026-09-10/c-1-summary.json"
    assert lake.get_json(lake.key_from_uri(uri)) == {"a": 1}
    lake.write_parquet("tables/calls/call_date=2026-09-10/c-1.parquet", pa.table({"call_id": ["c-1"]}))
    assert lake.read_parquet("tables/calls/call_date=2026-09-10/c-1.parquet").to_pylist() == [
        {"call_id": "c-1"}
    ]
    lake.put_bytes("raw-audio/2026-09-10/c-1.wav", b"RIFF....")
    assert lake.exists("raw-audio/2026-09-10/c-1.wav") and not lake.exists("raw-audio/nope.wav")
    keys = lake.list_keys("")
    assert keys == [
        "raw-audio/2026-09-10/c-1.wav",
        "summaries/2026-09-10/c-1-summary.json",
        "tables/calls/call_date=2026-09-10/c-1.parquet",
    ]  # and no directory marker objects
    for key in keys:
        head = s3.head_object(Bucket=bucket, Key=f"prod/{key}")
        assert head["ServerSideEncryption"] == "aws:kms", key
        assert kms_key in head["SSEKMSKeyId"], key
    assert (
        s3.head_object(Bucket=bucket, Key="prod/raw-audio/2026-09-10/c-1.wav")["ContentType"] == "audio/wav"
    )


def test_a_stream_becomes_a_multipart_object_only_when_it_completes(ctx, s3, bucket):
    lake = ctx.lake
    data = bytes(range(256)) * (12 * MiB // 256)
    with lake.open_writer("raw-audio/2026-09-10/big.wav") as out:
        for start in range(0, len(data), MiB):
            out.write(data[start : start + MiB])
        assert not lake.exists("raw-audio/2026-09-10/big.wav")  # nothing visible before the end
    head = s3.head_object(Bucket=bucket, Key="prod/raw-audio/2026-09-10/big.wav")
    assert head["ETag"].strip('"').endswith("-2") and head["ServerSideEncryption"] == "aws:kms"
    assert lake.get_bytes("raw-audio/2026-09-10/big.wav") == data

    with pytest.raises(RuntimeError), lake.open_writer("raw-audio/2026-09-10/broken.wav") as out:
        out.write(data)
        raise RuntimeError("the source broke off")
    assert not lake.exists("raw-audio/2026-09-10/broken.wav")
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_presigned_audio_urls_play_without_credentials(ctx, settings):
    audio = tone_wav(0.2)
    uri = ctx.lake.put_bytes("raw-audio/2026-09-10/c-2.wav", audio)
    url = presigned_audio_url(Lake.from_settings(settings), uri, 60)
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=60" in url
    with urllib.request.urlopen(url, timeout=10) as response:  # no credentials of its own
        assert response.read() == audio
        assert response.headers["Content-Type"] == "audio/wav"
    transcript = ctx.lake.put_json("transcripts/2026-09-10/c-2-transcript.json", {})
    with pytest.raises(ValueError, match="only recordings"):
        presigned_audio_url(Lake.from_settings(settings), transcript, 60)
    with pytest.raises(ValueError, match="not in the lake"):
        presigned_audio_url(Lake.from_settings(settings), "s3://another-bucket/raw-audio/x.wav", 60)
    with pytest.raises(ValueError):
        presigned_audio_url(Lake.from_settings(settings), uri, 7 * 24 * 3600)


def test_a_local_lake_is_unchanged(tmp_path):
    lake = Lake.from_settings(Settings(home=tmp_path))
    assert lake.uri.startswith("file://")
    with lake.open_writer("raw-audio/x.wav") as out:
        out.write(b"abc")
    assert lake.get_bytes("raw-audio/x.wav") == b"abc"
    with pytest.raises(ValueError), lake.open_writer("raw-audio/y.wav") as out:
        out.write(b"abc")
        raise ValueError("stop")
    assert lake.list_keys("raw-audio") == ["raw-audio/x.wav"]  # no temporary file left either
    with pytest.raises(ValueError, match="presigned"):
        lake.presigned_url("raw-audio/x.wav", 60)


# -- the Transcribe path ------------------------------------------------------------------------


def register(ctx: Context, audio: bytes, call_id: str = "c-aws1") -> str:
    key = f"raw-audio/2026-09-10/{call_id}.wav"
    uri = ctx.lake.put_bytes(key, audio)
    ctx.registry.register(
        NewCall(call_id, "gdrive", f"F/{call_id}.wav", "0" * 64, "2026-09-10", uri, "wav", len(audio))
    )
    return call_id


def test_prepare_reads_the_header_from_s3_and_refuses_what_cannot_be_decoded(ctx):
    from callcare.steps.amazon_transcribe import prepare_transcription

    call_id = register(ctx, tone_wav(1.5, channels=2))
    prepared = prepare_transcription(call_id, ctx)
    assert prepared == {
        "call_id": call_id,
        "attempt": 1,
        "media_uri": ctx.registry.get(call_id)["audio_uri"],
        "call_date": "2026-09-10",
        "channels": 2,
    }
    call = ctx.registry.get(call_id)
    assert call["status"] == CallStatus.TRANSCRIBING and call["duration_s"] == pytest.approx(1.5)

    bad = register(ctx, b"RIFF\x10\x00\x00\x00WAVEfmt " + b"\xff" * 4000, "c-bad")
    with pytest.raises(CallFailed, match="could not be decoded"):
        prepare_transcription(bad, ctx)

    long_call = register(ctx, tone_wav(3.0), "c-long")
    with pytest.raises(CallFailed, match="limit"):
        prepare_transcription(
            long_call, Context(ctx.settings.with_overrides(max_duration_s=2), ctx.lake, ctx.registry)
        )


REF = {
    "call_id": "call-x",
    "files": {},
    "turns": [
        {
            "speaker": "agent",
            "text": "Thank you for calling, how can I help you today?",
            "start": 0.3,
            "end": 2.5,
        },
        {
            "speaker": "customer",
            "text": "Hi, my internet has been down since Monday.",
            "start": 3.0,
            "end": 5.5,
        },
        {
            "speaker": "agent",
            "text": "I'm sorry about that. Let me check your account.",
            "start": 6.0,
            "end": 8.0,
        },
    ],
}


@pytest.fixture
def fake_transcribe(moto_server):
    fake = FakeTranscribe(boto3.client("s3", endpoint_url=moto_server, region_name=REGION), REGION).start()
    yield fake
    fake.stop()


def test_transcribe_operator_then_our_transcript(ctx, fake_transcribe, monkeypatch, moto_server):
    """prepare → the real operator against the fake Transcribe → finish: roles by channel."""
    from callcare.operators.transcribe import TranscribeCallOperator as CallTranscribeOperator
    from callcare.steps.amazon_transcribe import finish_transcription, prepare_transcription

    audio = tone_wav(1.0, channels=2)
    fake_transcribe.recordings[__import__("hashlib").sha256(audio).hexdigest()] = REF
    call_id = register(ctx, audio, "c-tx")
    prepared = prepare_transcription(call_id, ctx)
    monkeypatch.setenv("AIRFLOW_CONN_AWS_TEST", fake_transcribe.airflow_connection(moto_server))
    op = CallTranscribeOperator(
        task_id="transcribe",
        aws_conn_id="aws_test",
        settings=ctx.settings,
        deferrable=False,
        waiter_delay=0,
        waiter_max_attempts=3,
        **prepared,
    )
    job = op.execute({})
    [(_, start)] = [r for r in fake_transcribe.requests if r[0] == "StartTranscriptionJob"]
    assert start["Settings"] == {"ChannelIdentification": True}
    assert start["OutputKey"] == f"prod/transcripts/2026-09-10/{call_id}-transcribe-raw.json"
    assert job["transcript_uri"] == f"{ctx.lake.uri}/transcripts/2026-09-10/{call_id}-transcribe-raw.json"

    stored = finish_transcription(call_id, job, ctx)
    document = ctx.lake.get_json(ctx.lake.key_from_uri(stored["transcript_uri"]))
    turns = document["transcript"]["turns"]
    assert [(t["speaker"], t["role"]) for t in turns] == [
        ("ch_0", "agent"),
        ("ch_1", "customer"),
        ("ch_0", "agent"),
    ]
    assert turns[1]["text"] == "Hi, my internet has been down since Monday."
    assert document["transcript"]["engine"] == "amazon-transcribe"
    assert (
        document["metrics"]["turn_count"]["agent"] == 2 and document["metrics"]["turn_count"]["customer"] == 1
    )
    call = ctx.registry.get(call_id)
    assert call["stt_engine"] == "amazon-transcribe" and call["transcript_uri"] == stored["transcript_uri"]


def test_mono_output_gets_roles_from_what_is_said(ctx):
    from callcare.steps.amazon_transcribe import finish_transcription

    call_id = register(ctx, tone_wav(0.5), "c-mono")
    key = f"transcripts/2026-09-10/{call_id}-transcribe-raw.json"
    uri = ctx.lake.put_json(key, transcribe_output(REF, "callcare-c-mono", channels=False))
    stored = finish_transcription(call_id, {"call_id": call_id, "job_name": "j", "transcript_uri": uri}, ctx)
    turns = ctx.lake.get_json(ctx.lake.key_from_uri(stored["transcript_uri"]))["transcript"]["turns"]
    assert [(t["speaker"], t["role"]) for t in turns] == [
        ("spk_0", "agent"),
        ("spk_1", "customer"),
        ("spk_0", "agent"),
    ]
    with pytest.raises(ValueError):
        finish_transcription(call_id, {"call_id": "someone-else", "transcript_uri": uri}, ctx)


# -- alerts --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (Facts("COMPLETED", "Negative", False, True), ("critical", ["escalated", "negative_unresolved"])),
        (Facts("COMPLETED", "Negative", False, False), ("high", ["negative_unresolved"])),
        (Facts("COMPLETED", "Neutral", False, True), ("high", ["escalated"])),
        (Facts("COMPLETED", "Negative", True, False), ("info", [])),
        (Facts("COMPLETED", "Negative", None, None), ("info", [])),
        (Facts("COMPLETED", "Positive", True, False), ("info", [])),
        (Facts("FAILED", None, None, None), ("warning", ["processing_failed"])),
    ],
)
def test_severity_rules(facts, expected):
    assert severity(facts) == expected


def finished_call(registry: Registry, call_id: str, **labels) -> None:
    registry.register(NewCall(call_id, "gdrive", "F/x.wav", "0" * 64, "2026-09-10", "s3://b/x.wav", "wav", 1))
    registry.transition(call_id, CallStatus.TRANSCRIBING)
    registry.transition(call_id, CallStatus.SUMMARIZING)
    registry.transition(call_id, CallStatus.COMPLETED, **labels)


@pytest.fixture
def topic_and_queues(moto_server):
    sns = boto3.client("sns", endpoint_url=moto_server, region_name=REGION)
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name=REGION)
    topic = sns.create_topic(Name=f"alerts-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queues = {}
    for name, policy in (("all", None), ("urgent", {"severity": ["high", "critical"]})):
        url = sqs.create_queue(QueueName=f"{name}-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes = {"FilterPolicy": json.dumps(policy)} if policy else {}
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes=attributes)
        queues[name] = url
    return topic, queues, sqs


def drain(sqs, url: str) -> list[dict]:
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return out
        out.extend(json.loads(m["Body"]) for m in got)
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_outbox_to_sns_with_attributes_for_subscription_filters(
    ctx, topic_and_queues, monkeypatch, moto_server
):
    topic, queues, sqs = topic_and_queues
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_TEST", json.dumps({"conn_type": "aws", "extra": {"endpoint_url": moto_server}})
    )
    reg = ctx.registry
    finished_call(reg, "c-angry", sentiment="Negative", resolved=False, escalated=True, category="complaint")
    finished_call(reg, "c-fine", sentiment="Positive", resolved=True, escalated=False, category="billing")
    reg.register(NewCall("c-broken", "gdrive", "F/b.wav", "0" * 64, "2026-09-11", "s3://b/b.wav", "wav", 1))
    reg.transition("c-broken", CallStatus.FAILED, error_message="the recording could not be decoded")

    publisher = SnsPublisher(topic, aws_conn_id="aws_test", region=REGION)
    assert publish_pending(reg, publisher) == {"critical": 1, "info": 1, "warning": 1}
    assert publish_pending(reg, publisher) == {}  # each event goes out once

    everything = drain(sqs, queues["all"])
    assert len(everything) == 3
    by_call = {json.loads(m["Message"])["call_id"]: m for m in everything}
    angry = by_call["c-angry"]
    attributes = {k: v["Value"] for k, v in angry["MessageAttributes"].items()}
    assert attributes["status"] == "COMPLETED" and attributes["severity"] == "critical"
    assert attributes["sentiment"] == "Negative" and attributes["escalated"] == "true"
    assert attributes["resolved"] == "false" and attributes["category"] == "complaint"
    assert json.loads(attributes["alert_reasons"]) == ["escalated", "negative_unresolved"]
    assert angry["Subject"] == "[critical] call c-angry COMPLETED"
    body = json.loads(angry["Message"])
    assert body["previous_status"] == "SUMMARIZING" and body["call_date"] == "2026-09-10"
    broken = json.loads(by_call["c-broken"]["Message"])
    assert broken["status"] == "FAILED" and broken["error_message"] == "the recording could not be decoded"
    assert "sentiment" not in by_call["c-broken"]["MessageAttributes"]  # unknown labels are left out
    # the filtered subscription got only what a supervisor must see
    assert [json.loads(m["Message"])["call_id"] for m in drain(sqs, queues["urgent"])] == ["c-angry"]
    published = [e for e in reg.events() if e["status"] in ("COMPLETED", "FAILED")]
    assert all(e["published_at"] is not None for e in published)
    assert all(e["published_at"] is None for e in reg.events() if e["status"] == "UPLOADED")


def test_a_failed_publish_keeps_the_rest_in_order(ctx):
    reg = ctx.registry
    for name in ("c-1", "c-2", "c-3"):
        finished_call(reg, name, sentiment="Neutral", resolved=True, escalated=False, category="billing")
    sent: list[str] = []

    class Flaky:
        def publish(self, alert: Alert) -> str:
            if alert.call_id == "c-2" and not sent.count("boom"):
                sent.append("boom")
                raise ConnectionError("SNS is down")
            sent.append(alert.call_id)
            return "id"

    with pytest.raises(ConnectionError):
        publish_pending(reg, Flaky())
    assert publish_pending(reg, Flaky()) == {"info": 2}
    assert sent == ["c-1", "boom", "c-2", "c-3"]


def test_a_resummarized_call_is_announced_with_its_new_labels(ctx):
    reg = ctx.registry
    finished_call(reg, "c-r", sentiment="Neutral", resolved=True, escalated=False, category="billing")
    reg.record_event("c-r", "resummarized", {"prompt_version": "v2"}, sentiment="Negative", resolved=False)
    events = [e for e in reg.events("c-r") if e["status"] == "COMPLETED"]
    alerts = [build_alert(e, reg.get("c-r")) for e in events]
    assert alerts[-1].attributes["event"] == "resummarized"
    assert alerts[-1].attributes["severity"] == "high"
    assert "(resummarized)" in alerts[-1].subject


# -- settings and secrets --------------------------------------------------------------------------


def test_settings_from_the_airflow_variable_and_the_registry_connection(monkeypatch, tmp_path):
    monkeypatch.setenv("CALLCARE_HOME", str(tmp_path))
    monkeypatch.setenv("CALLCARE_PROFILE", "aws")
    monkeypatch.setenv("CALLCARE_GDRIVE_FOLDER_ID", "from-env")
    monkeypatch.setenv(
        "AIRFLOW_VAR_CALLCARE_SETTINGS",
        json.dumps({"gdrive_folder_id": "from-variable", "gdrive_max_files_per_poll": 7}),
    )
    monkeypatch.setenv("CALLCARE_REGISTRY_CONN_ID", "callcare_registry")
    conn = {
        "conn_type": "postgres",
        "host": "db.internal",
        "port": 5432,
        "login": "callcare",
        "password": "s3cr#t/pw",
        "schema": "callcare",
        "extra": {"sslmode": "require"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_CALLCARE_REGISTRY", json.dumps(conn))
    settings = task_settings()
    assert settings.gdrive_folder_id == "from-variable" and settings.gdrive_max_files_per_poll == 7
    from sqlalchemy.engine import make_url

    url = make_url(settings.registry_url)
    assert (url.drivername, url.host, url.database, url.username) == (
        "postgresql+psycopg2",
        "db.internal",
        "callcare",
        "callcare",
    )
    assert url.password == "s3cr#t/pw" and url.query["sslmode"] == "require"

    monkeypatch.setenv("AIRFLOW_VAR_CALLCARE_SETTINGS", json.dumps({"profile": "local"}))
    with pytest.raises(ValueError, match="profile"):
        task_settings()
    monkeypatch.setenv("AIRFLOW_VAR_CALLCARE_SETTINGS", json.dumps({"no_such_setting": 1}))
    with pytest.raises(ValueError, match="no_such_setting"):
        task_settings()


def test_the_drive_key_comes_from_secrets_manager(moto_server, tmp_path):
    """The MWAA setup: the connection is a Secrets Manager secret read by Airflow's backend."""
    from airflow.providers.amazon.aws.secrets.secrets_manager import SecretsManagerBackend

    from tests.support.fake_drive import FakeDrive, service_account_key

    keyfile = service_account_key(FakeDrive())
    secret = {"conn_type": "google_cloud_platform", "extra": {"keyfile_dict": json.dumps(keyfile)}}
    name = f"airflow/connections/callcare_gdrive_{uuid.uuid4().hex[:6]}"
    boto3.client("secretsmanager", endpoint_url=moto_server, region_name=REGION).create_secret(
        Name=name, SecretString=json.dumps(secret)
    )
    backend = SecretsManagerBackend(
        connections_prefix="airflow/connections", endpoint_url=moto_server, region_name=REGION
    )
    conn = backend.get_connection(name.removeprefix("airflow/connections/"))
    assert conn.conn_type == "google_cloud_platform"
    assert json.loads(conn.extra_dejson["keyfile_dict"])["client_email"] == keyfile["client_email"]


def test_nothing_secret_is_in_the_code():
    """No key material, AWS keys or passwords in the package (they live in connections)."""
    package = Path(__file__).resolve().parents[2] / "plugins" / "callcare"
    patterns = ("BEGIN PRIVATE KEY", "BEGIN RSA PRIVATE KEY", "AKIA", "aws_secret_access_key")
    for source in package.rglob("*.py"):
        text = source.read_text()
        for pattern in patterns:
            assert pattern not in text, f"{pattern} in {source}"


def test_a_drive_recording_streams_into_s3_as_an_encrypted_multipart_object(
    ctx, s3, bucket, kms_key, fake_drive, drive_connection
):
    from callcare.sources.cursor import CursorStore
    from callcare.sources.gdrive import DriveSource

    folder = fake_drive.add_folder("recordings")
    data = bytes(range(256)) * (12 * MiB // 256)
    fake_drive.add_file("2026-09-12_long.wav", data, "audio/wav", folder)
    settings = ctx.settings.with_overrides(
        gdrive_folder_id=folder, gdrive_api_endpoint=fake_drive.url, gdrive_download_chunk_bytes=MiB
    )
    CursorStore(ctx.registry.engine).create_schema()
    [outcome] = DriveSource.from_settings(settings, ctx.lake, ctx.registry).poll()
    assert outcome.outcome == "new"
    key = f"prod/raw-audio/2026-09-12/{outcome.call_id}.wav"
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ETag"].strip('"').endswith("-2")  # two 8 MiB-or-less parts, streamed
    assert head["ServerSideEncryption"] == "aws:kms" and kms_key in head["SSEKMSKeyId"]
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data
    assert ctx.registry.get(outcome.call_id)["audio_uri"] == f"s3://{bucket}/{key}"


def test_an_rds_generated_registry_secret_needs_dbname_mapped(moto_server):
    """The registry secret RDS generates ({"username", "password", "engine", "host", "port",
    "dbname", ...}): the backend maps `dbname` to the database only when told to."""
    from airflow.providers.amazon.aws.secrets.secrets_manager import SecretsManagerBackend
    from callcare.hooks.settings import registry_url_for
    from sqlalchemy.engine import make_url

    generated = {
        "username": "callcare",
        "password": "generated/pw",
        "engine": "postgres",
        "host": "callcare.cluster.eu-west-1.rds.amazonaws.com",
        "port": 5432,
        "dbname": "callcare",
        "dbInstanceIdentifier": "callcare-prod",
    }
    conn_id = f"callcare_registry_{uuid.uuid4().hex[:6]}"
    boto3.client("secretsmanager", endpoint_url=moto_server, region_name=REGION).create_secret(
        Name=f"airflow/connections/{conn_id}", SecretString=json.dumps(generated)
    )
    kwargs = {"connections_prefix": "airflow/connections", "endpoint_url": moto_server, "region_name": REGION}
    plain = SecretsManagerBackend(**kwargs).get_connection(conn_id)
    with pytest.raises(ValueError, match="names no database"):
        registry_url_for(plain, conn_id)
    mapped = SecretsManagerBackend(**kwargs, extra_conn_words={"schema": ["dbname"]}).get_connection(conn_id)
    url = make_url(registry_url_for(mapped, conn_id))
    assert (url.host, url.database, url.username, url.password) == (
        generated["host"],
        "callcare",
        "callcare",
        "generated/pw",
    )
