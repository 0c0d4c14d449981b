"""The aws profile end to end: the real DAGs under a running scheduler, Google Drive to SNS.

Around the stack: moto's server (S3 with a KMS key, SNS, SQS, Secrets Manager), the fake Drive
(real discovery document, service-account JWT flow), the fake Transcribe and Bedrock endpoints,
and a fresh PostgreSQL database as the registry. Airflow reads the Drive key, the registry's
connection and the callcare_settings Variable from Secrets Manager through the amazon provider's
backend, as MWAA does; the environment holds only the profile, the lake and the endpoints.

Three corpus recordings, a corrupt one and a PDF go into the Drive folder: the three end
COMPLETED with every object at its contract path (SSE-KMS), the corrupt one FAILED, the PDF is
ignored, each landed file is moved to the Processed folder, and the SNS topic delivers one alert
per finished call to an SQS queue (a filtered subscription receives only the urgent ones). A
recording added afterwards is picked up by the next poll and alerts as critical.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import boto3
import psycopg2
import pytest
from callcare.config import Settings
from callcare.core.lake import Lake
from callcare.core.registry import Registry
from callcare.dev.local_stack import AirflowStack
from callcare.names import SETTINGS_VARIABLE
from callcare.status import TERMINAL

from tests.support.aws_fixtures import REGION
from tests.support.fake_aws import FakeBedrock, FakeTranscribe
from tests.support.fake_drive import FakeDrive, service_account_key
from tests.support.helpers import render_corpus, wait_for

REPO = Path(__file__).resolve().parents[2]
DAGS = ("callcare_ingest.py", "callcare_process_call.py", "callcare_alerts.py")
FIRST = {  # Drive name -> rendered file
    "2026-10-06_call-0023.wav": "call-0023.wav",  # mono: speaker labels, roles from what is said
    "2026-10-12_call-0026.wav": "call-0026.stereo.wav",  # stereo: channel identification
    "2026-09-22_call-0014.wav": "call-0014.8k.wav",  # 8 kHz mu-law
}
LATER = ("2026-10-15_call-0029.wav", "call-0029.wav")  # Negative, unresolved, escalated
pytestmark = [pytest.mark.e2e, pytest.mark.audio, pytest.mark.usefixtures("dummy_aws")]


@pytest.fixture(scope="module")
def later_audio(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus-later")
    return render_corpus(out, ["call-0029"])


@pytest.fixture
def registry_db():
    """A fresh PostgreSQL database for this run's registry."""
    name = f"callcare_e2e_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    yield name
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def receive_all(sqs, url: str) -> list[dict]:
    out = []
    while True:
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not got:
            return out
        for message in got:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_drive_to_sns_under_a_running_scheduler(
    tmp_path, moto_server, corpus_audio, later_audio, registry_db, monkeypatch
):
    from tests.support.helpers import dialogues, free_port, process_runs

    aws = {"endpoint_url": moto_server, "region_name": REGION}
    s3, sns, sqs = (boto3.client(name, **aws) for name in ("s3", "sns", "sqs"))
    bucket = f"callcare-lake-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    kms_key = boto3.client("kms", **aws).create_key()["KeyMetadata"]["Arn"]
    topic = sns.create_topic(Name="callcare-alerts")["TopicArn"]
    queues = {}
    for name, policy in (("all", None), ("urgent", {"severity": ["high", "critical"]})):
        url = sqs.create_queue(QueueName=f"{name}-{uuid.uuid4().hex[:6]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"FilterPolicy": json.dumps(policy)} if policy else {},
        )
        queues[name] = url

    drive = FakeDrive().start()
    transcribe = FakeTranscribe(s3, REGION).start()
    transcribe.learn(corpus_audio)
    transcribe.learn(later_audio)
    bedrock = FakeBedrock(dialogues()).start()
    try:
        folder = drive.add_folder("Call recordings")
        processed = drive.add_folder("Processed")
        for name, rendered in FIRST.items():
            drive.add_file(name, (corpus_audio / rendered).read_bytes(), "audio/wav", folder)
        drive.add_file(
            "2026-10-16_corrupt.wav", b"RIFF\x10\x00\x00\x00WAVEfmt " + b"\xff" * 4000, "audio/wav", folder
        )
        drive.add_file("procedures.pdf", b"%PDF-1.4 not a call", "application/pdf", folder)

        # the secrets, where MWAA keeps them
        keyfile = service_account_key(drive)
        db_password = f"pw-{uuid.uuid4().hex}"  # trust auth ignores it; it must still never be logged
        secrets = boto3.client("secretsmanager", **aws)
        for name, value in {
            "airflow/connections/callcare_gdrive": {
                "conn_type": "google_cloud_platform",
                "extra": {"keyfile_dict": json.dumps(keyfile)},
            },
            "airflow/connections/callcare_registry": {
                "conn_type": "postgres",
                "host": "127.0.0.1",
                "port": 5432,
                "login": "postgres",
                "password": db_password,
                "schema": registry_db,
            },
            f"airflow/variables/{SETTINGS_VARIABLE}": {
                "gdrive_folder_id": folder,
                "gdrive_processed_folder_id": processed,
                "sns_topic_arn": topic,
            },
        }.items():
            secrets.create_secret(Name=name, SecretString=json.dumps(value))

        home = tmp_path / "home"
        env = {
            **os.environ,
            "CALLCARE_PROFILE": "aws",
            "CALLCARE_LAKE_URI": f"s3://{bucket}/prod",
            "CALLCARE_S3_ENDPOINT_URL": moto_server,
            "CALLCARE_LAKE_KMS_KEY_ID": kms_key,
            "CALLCARE_AWS_REGION": REGION,
            "CALLCARE_REGISTRY_CONN_ID": "callcare_registry",
            "CALLCARE_SUMMARY_BACKEND": "bedrock",
            "CALLCARE_TRANSCRIBE_POLL_INTERVAL_S": "2",
            "CALLCARE_TRANSCRIBE_OUTPUT_KMS_KEY_ID": kms_key,
            "CALLCARE_GDRIVE_API_ENDPOINT": drive.url,
            "AIRFLOW__SECRETS__BACKEND": (
                "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
            ),
            "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(
                {
                    "connections_prefix": "airflow/connections",
                    "variables_prefix": "airflow/variables",
                    "config_prefix": None,
                    **aws,
                }
            ),
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {
                    "conn_type": "aws",
                    "extra": {**aws, "service_config": {"transcribe": {"endpoint_url": transcribe.url}}},
                }
            ),
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url,
        }
        dags = tmp_path / "dags"
        dags.mkdir()
        for dag_file in DAGS:  # the real files; the warehouse DAG (dbt on Athena) is not part of this test
            (dags / dag_file).symlink_to(REPO / "dags" / dag_file)
        stack = AirflowStack(home, port=free_port(), base_env=env)
        stack.env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
        registry = Registry(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{registry_db}")
        lake = Lake.from_settings(
            Settings(
                home=home, lake_uri=f"s3://{bucket}/prod", s3_endpoint_url=moto_server, aws_region=REGION
            )
        )

        with stack:
            calls = wait_for(
                lambda: _finished(registry, 4), timeout_s=720, what="4 calls from Drive to finish", poll_s=3
            )
            by_name = {c["source_ref"].split("/", 1)[1]: c for c in calls}
            failed = by_name.pop("2026-10-16_corrupt.wav")
            assert failed["status"] == "FAILED" and "could not be decoded" in failed["error_message"]
            assert set(by_name) == set(FIRST)
            for name, call in by_name.items():
                assert call["status"] == "COMPLETED", f"{name}: {call['error_message']}"
                assert call["source"] == "gdrive" and call["stt_engine"] == "amazon-transcribe"
                assert call["summary_backend"] == "bedrock"
                _check_objects(s3, lake, bucket, call, kms_key)
            stereo = by_name["2026-10-12_call-0026.wav"]
            turns = lake.get_json(lake.key_from_uri(stereo["transcript_uri"]))["transcript"]["turns"]
            assert {(t["speaker"], t["role"]) for t in turns} == {("ch_0", "agent"), ("ch_1", "customer")}
            # Bedrock saw role-labelled transcripts, never a SPEAKER of unknown role
            assert len(bedrock.requests) >= 3
            assert all(
                "AGENT:" in r["transcript"] and "CUSTOMER:" in r["transcript"] for r in bedrock.requests
            )
            assert all("SPEAKER " not in r["transcript"] for r in bedrock.requests)
            # landed files moved to Processed; the PDF stayed where it was, unregistered
            for file in drive.files.values():
                if file.name in FIRST or file.name == "2026-10-16_corrupt.wav":
                    assert file.parents == [processed], file.name
                if file.name == "procedures.pdf":
                    assert file.parents == [folder]

            alerts: list[dict] = []  # receiving deletes, so what arrives is kept across polls
            wait_for(
                lambda: len(_collect(sqs, queues["all"], alerts)) >= 4,
                timeout_s=240,
                what="4 alerts on the SNS topic",
            )
            statuses = sorted(json.loads(a["Message"])["status"] for a in alerts)
            assert statuses == ["COMPLETED", "COMPLETED", "COMPLETED", "FAILED"]
            for alert in alerts:
                attributes = {k: v["Value"] for k, v in alert["MessageAttributes"].items()}
                body = json.loads(alert["Message"])
                assert attributes["status"] == body["status"] and attributes["call_id"] == body["call_id"]
                if body["status"] == "COMPLETED":
                    assert {"sentiment", "escalated", "category", "severity"} <= set(attributes)
                    assert attributes["severity"] == "info"  # none of the first three is urgent
                else:
                    assert attributes["severity"] == "warning"

            # a recording added later is picked up by the next poll
            name, rendered = LATER
            drive.add_file(name, (later_audio / rendered).read_bytes(), "audio/wav", folder)
            calls = wait_for(lambda: _finished(registry, 5), timeout_s=360, what="the later call to finish")
            later = next(c for c in calls if c["source_ref"].endswith(name))
            assert later["status"] == "COMPLETED", later["error_message"]
            assert (later["sentiment"], later["resolved"], later["escalated"]) == ("Negative", False, True)
            _check_objects(s3, lake, bucket, later, kms_key)
            urgent: list[dict] = []
            wait_for(lambda: _collect(sqs, queues["urgent"], urgent), timeout_s=240, what="the urgent alert")
            assert [json.loads(m["Message"])["call_id"] for m in urgent] == [later["call_id"]]
            assert urgent[0]["MessageAttributes"]["severity"]["Value"] == "critical"
            runs = process_runs(stack.env)
            assert len(runs) == 5 and {r["run_id"].split("__")[1] for r in runs} == {
                c["call_id"] for c in calls
            }

        leftovers = subprocess.run(["pgrep", "-f", str(home)], capture_output=True, text=True).stdout.split()
        assert leftovers == [], "stopping the stack left processes running"
        # nothing secret reached a log: not the Drive key, not the database password
        key_line = keyfile["private_key"].splitlines()[1]
        for log in home.rglob("*.log"):
            text = log.read_text(errors="replace")
            assert key_line not in text and db_password not in text, f"a secret in {log}"
    finally:
        drive.stop()
        transcribe.stop()
        bedrock.stop()


def _finished(registry: Registry, count: int):
    try:
        calls = registry.list_calls()
    except Exception:  # the first ingest run has not created the schema yet
        return None
    return len(calls) == count and all(c["status"] in TERMINAL for c in calls) and calls


def _collect(sqs, url: str, into: list) -> list:
    into.extend(receive_all(sqs, url))
    return into


def _check_objects(s3, lake: Lake, bucket: str, call: dict, kms_key: str) -> None:
    """Every object of the call at its contract path, each written with the lake's KMS key."""
    date, call_id = call["call_date"], call["call_id"]
    keys = [
        f"raw-audio/{date}/{call_id}.wav",
        f"transcripts/{date}/{call_id}-transcript.json",
        f"transcripts/{date}/{call_id}-transcribe-raw.json",
        f"summaries/{date}/{call_id}-summary.json",
        *(f"tables/{t}/call_date={date}/{call_id}.parquet" for t in ("calls", "turns", "metrics")),
    ]
    assert call["audio_uri"] == lake.uri_for(keys[0])
    assert call["transcript_uri"] == lake.uri_for(keys[1])
    assert call["summary_uri"] == lake.uri_for(keys[3])
    summaries = lake.list_keys(f"tables/summaries/call_date={date}/")
    assert any(k.rsplit("/", 1)[-1].startswith(call_id) for k in summaries)
    for key in keys:
        head = s3.head_object(Bucket=bucket, Key=f"prod/{key}")
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == kms_key, key
