"""Deployment rehearsal, stages 3 to 5: the pipeline running as MWAA runs it, from what shipped, and
the web service as its ECS task definition runs it on the calls the pipeline wrote.

The environment is deployed into moto by the operator's own steps (tests/rehearsal/deployment.py:
synth, upload, secrets, with moto's CloudFormation in place of the CDK CLI). Then Airflow starts as
MWAA's image starts it (tests/rehearsal/mwaa_runtime.py): the artifacts read back from the artifacts
bucket at the object versions the stack names, requirements.txt installed with MWAA's constraints
into a Python 3.12 environment, plugins.zip unpacked, startup.sh sourced, the Celery executor over
SQS, a standalone dag-processor, a triggerer, an api-server and two Celery workers, configured by the
template's AirflowConfigurationOptions over MWAA's own options. The pools come from the deploy
step `pools`, through a fake of MWAA's InvokeRestApi in front of the api-server.

What the rehearsal adds, and nothing more: the AWS network (endpoint overrides to moto, the fake
Transcribe, Bedrock, Drive and MWAA control plane), MWAA's own resources (its Celery queue, its
metadata database, the fernet key), the local PostgreSQL in the place of the RDS instance (the
attached secret's host, port and database point at it), the operator's Drive folder with its
recordings, and an SQS queue subscribed to the alert topic (an alert consumer; infra subscribes
only e-mail). No pool, Variable, connection or setting is created by the test.

IAM is enforced from the end of the deployment on where moto can enforce it (S3, SQS, STS, IAM:
tests/rehearsal/iam.py): the harness and the deploy steps sign as the operator's IAM user, the MWAA
components with the execution role's credentials and the web tasks with the task role's, so every
lake access and the Celery queue pass the deployed policies or the run fails.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.rehearsal.iam import create_operator, enforced, execution_role_arn, role_credentials, use_operator
from tests.rehearsal.mwaa_runtime import (
    STARTUP_LIMIT_S,
    MwaaAirflow,
    MwaaSettings,
    prepare_container,
)
from tests.rehearsal.steps import ok
from tests.rehearsal.web_checks import assert_the_web_service_runs_as_deployed
from tests.support.fake_aws import FakeBedrock, FakeTranscribe
from tests.support.fake_drive import FakeDrive, service_account_key
from tests.support.fake_mwaa import FakeMwaa
from tests.support.helpers import dialogues, free_port, render_corpus, wait_for

REPO = Path(__file__).resolve().parents[2]
INFRA_PYTHON = REPO / ".venv-infra" / "bin" / "python"
MWAA_VENV = REPO / ".venv-mwaa"
RECORDINGS = {  # Drive name -> rendered file: 16 kHz mono, 8 kHz mu-law, stereo
    "2026-10-06_call-0023.wav": "call-0023.wav",
    "2026-09-22_call-0014.wav": "call-0014.8k.wav",
    "2026-10-12_call-0026.wav": "call-0026.stereo.wav",
    "2026-10-15_call-0029.wav": "call-0029.wav",
}
CORRUPT = "2026-10-16_corrupt.wav"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.audio,
    pytest.mark.timeout(1500),
    pytest.mark.skipif(not INFRA_PYTHON.exists(), reason="needs the deploy environment (.venv-infra)"),
]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    ids = sorted({name.split("_", 1)[1].removesuffix(".wav") for name in RECORDINGS})
    return render_corpus(out, ids)


def test_the_pipeline_runs_as_mwaa_runs_it(tmp_path, moto_server, rendered, pg_databases):
    from tests.rehearsal.deployment import deploy_to_moto, point_registry_at_local_database

    drive = FakeDrive().start()
    transcribe = bedrock = mwaa_fake = None
    airflow = None
    enforcement = contextlib.ExitStack()
    try:
        folder = drive.add_folder("Call recordings")
        key_file = tmp_path / "drive-key.json"
        key_file.write_text(json.dumps(service_account_key(drive)))

        # -- the operator's deployment, into moto ------------------------------------------------
        r = deploy_to_moto(moto_server, tmp_path / "deploy", key_file, folder, python=str(INFRA_PYTHON))
        airflow_stack = r.stack("Airflow")
        _, mwaa = airflow_stack.properties("AWS::MWAA::Environment")
        options = {k: str(v) for k, v in airflow_stack.resolve(mwaa["AirflowConfigurationOptions"]).items()}
        region = airflow_stack.pseudo["AWS::Region"]

        # -- IAM, enforced from here on where moto can (tests/rehearsal/iam.py): the harness and the
        # deploy steps sign as the operator's user, MWAA with its execution role, the web tasks with
        # their task role
        use_operator(r, create_operator(r.client("iam")))
        execution_role = role_credentials(execution_role_arn(r), "mwaa-rehearsal", region)
        enforcement.enter_context(enforced(moto_server))
        s3 = r.client("s3")

        # -- the registry's database: RDS played by the local PostgreSQL -------------------------
        registry_db = pg_databases("registry")
        attached = point_registry_at_local_database(r, options, registry_db)

        # -- MWAA: the artifacts it reads, at the versions the stack names -----------------------
        home = tmp_path / "mwaa"
        artifacts = prepare_container(s3, airflow_stack, mwaa, home, MWAA_VENV)

        # -- the AWS network and MWAA's own resources ---------------------------------------------
        transcribe = FakeTranscribe(s3, region).start()
        transcribe.learn(rendered)
        bedrock = FakeBedrock(dialogues()).start()
        sqs, sns = r.client("sqs"), r.client("sns")
        celery_queue = sqs.create_queue(QueueName=f"airflow-celery-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        alerts_queue = sqs.create_queue(QueueName="rehearsal-alerts")["QueueUrl"]
        alerts_arn = sqs.get_queue_attributes(QueueUrl=alerts_queue, AttributeNames=["QueueArn"])
        sns.subscribe(
            TopicArn=options["callcare.sns_topic_arn"],
            Protocol="sqs",
            Endpoint=alerts_arn["Attributes"]["QueueArn"],
        )
        network = {
            "AWS_ENDPOINT_URL": moto_server,
            "AWS_ENDPOINT_URL_TRANSCRIBE": transcribe.url,
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url,
            **execution_role.environ(),
            "AWS_EC2_METADATA_DISABLED": "true",
            # pyarrow's S3 client and the Drive API client take no AWS_ENDPOINT_URL: callcare's own
            # endpoint settings, which a real deployment leaves unset
            "CALLCARE_S3_ENDPOINT_URL": moto_server,
            "CALLCARE_GDRIVE_API_ENDPOINT": drive.url,
        }
        settings = MwaaSettings(
            home=home,
            venv=MWAA_VENV,
            metadata_db=f"postgresql+psycopg2://postgres@127.0.0.1:5432/{pg_databases('metadata')}",
            sqs_endpoint=moto_server,
            queue_url=celery_queue,
            region=region,
            api_port=free_port(),
            options=options,
            network=network,
        )
        airflow = MwaaAirflow(settings, artifacts["StartupScript"])
        airflow.migrate()
        airflow.start_container("webserver")
        airflow.start_container("scheduler")
        airflow.start_container("worker", "worker-1")
        airflow.start_container("worker", "worker-2")
        airflow.wait_healthy()
        # startup.sh within MWAA's limit, on the container that built dbt's environment
        assert airflow.startups["scheduler"].seconds < STARTUP_LIMIT_S, airflow.startups["scheduler"].output

        # -- the operator's pools step, through MWAA's InvokeRestApi -----------------------------
        mwaa_fake = FakeMwaa(
            airflow_stack.resolve(mwaa["Name"]), f"http://127.0.0.1:{settings.api_port}", "admin", "admin"
        ).start()
        r.env.update(AWS_ENDPOINT_URL_MWAA=mwaa_fake.url, AWS_DISABLE_HOST_PREFIX_INJECTION="true")
        ok(r.step("pools"))
        assert [c["Path"] for c in mwaa_fake.calls if c["operation"] == "InvokeRestApi"]

        # -- recordings arrive in the Drive folder -----------------------------------------------
        for name, file in RECORDINGS.items():
            drive.add_file(name, (rendered / file).read_bytes(), "audio/wav", folder)
        drive.add_file(CORRUPT, b"RIFF\x10\x00\x00\x00WAVEfmt " + b"\xff" * 4000, "audio/wav", folder)

        registry_url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{registry_db}"
        # a worker is lost while calls are in flight: its tasks must be retried on the other one
        wait_for(lambda: _any_status(registry_url, {"TRANSCRIBING", "SUMMARIZING"}), 600, "a call in flight")
        airflow.kill("worker-1.celery-worker")

        calls = wait_for(
            lambda: _finished(registry_url, len(RECORDINGS) + 1), 900, "every call to end", poll_s=5
        )
        by_name = {c["source_ref"].split("/", 1)[1]: c for c in calls}
        failed = by_name.pop(CORRUPT)
        assert failed["status"] == "FAILED" and failed["error_message"]
        for name, call in by_name.items():
            assert call["status"] == "COMPLETED", f"{name}: {call['error_message']}"
            assert call["stt_engine"] == "amazon-transcribe" and call["summary_backend"] == "bedrock"
            lake_bucket = options["callcare.lake_uri"].removeprefix("s3://").split("/", 1)[0]
            s3.head_object(
                Bucket=lake_bucket, Key=f"summaries/{call['call_date']}/{call['call_id']}-summary.json"
            )

        # the pipeline ran with IAM enforced: its credentials, the execution role's, write recordings
        # but may not delete one (tests/rehearsal/test_iam_enforced.py tests the rest)
        recording = by_name[next(iter(RECORDINGS))]["audio_uri"].removeprefix(f"s3://{lake_bucket}/")
        as_mwaa = execution_role.session(region).client("s3", endpoint_url=moto_server)
        with pytest.raises(ClientError, match="AccessDenied"):
            as_mwaa.delete_object(Bucket=lake_bucket, Key=recording)
        s3.head_object(Bucket=lake_bucket, Key=recording)

        # each call alerted exactly once, on the template's topic
        alerts: list[dict] = []  # receiving deletes, so what arrives is kept across polls
        wait_for(lambda: len(_drain(sqs, alerts_queue, alerts)) >= len(calls), 240, "one alert per call")
        time.sleep(10)  # and no second one
        _drain(sqs, alerts_queue, alerts)
        assert sorted(json.loads(a["Message"])["call_id"] for a in alerts) == sorted(
            c["call_id"] for c in calls
        )
        # one paid Transcribe job per decodable call, even with a worker lost
        started = [req for op, req in transcribe.requests if op == "StartTranscriptionJob"]
        assert len({req["TranscriptionJobName"] for req in started}) == len(RECORDINGS)

        # the warehouse DAG starts on its own after the summaries asset; dbt-athena reaches Athena
        # with the template's workgroup and database (moto answers queries with no rows)
        from moto.backends import get_backend

        account, athena_region = airflow_stack.pseudo["AWS::AccountId"], region
        executions = wait_for(
            lambda: list(get_backend("athena")[account][athena_region].executions.values()),
            600,
            "dbt-athena's first query",
        )
        seen = [(e.workgroup and e.workgroup.name, e.context, e.query[:120]) for e in executions]
        assert {w for w, _, _ in seen} == {options["callcare.athena_work_group"]}, seen
        databases = {c.get("Database") for _, c, _ in seen if isinstance(c, dict) and c.get("Database")}
        assert databases <= {options["callcare.athena_database"], options["callcare.glue_database"]}, seen
        # -- the web service, as its task definition runs it, on the calls the pipeline wrote ------
        recordings = {name: rendered / file for name, file in RECORDINGS.items()}
        served = {call["call_id"]: recordings[name].read_bytes() for name, call in by_name.items()}
        assert_the_web_service_runs_as_deployed(r, tmp_path / "web", moto_server, served)

        # nothing secret reached a component's log (CloudWatch on MWAA): not the Drive key, not
        # the registry's generated password
        key_line = json.loads(key_file.read_text())["private_key"].splitlines()[1]
        for log in home.rglob("*.log"):
            text = log.read_text(errors="replace")
            assert key_line not in text and attached["password"] not in text, f"a secret in {log}"
    finally:
        if airflow is not None:
            airflow.stop()
        for fake in (drive, transcribe, bedrock, mwaa_fake):
            if fake is not None:
                fake.stop()
        enforcement.close()


def _query(url: str, sql: str) -> list[dict]:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(sqlalchemy.text(sql))]
    except sqlalchemy.exc.ProgrammingError:  # the schema is not there before the first ingest
        return []
    finally:
        engine.dispose()


def _any_status(url: str, statuses: set[str]) -> bool:
    return any(row["status"] in statuses for row in _query(url, "SELECT status FROM calls"))


def _finished(url: str, count: int):
    rows = _query(url, "SELECT * FROM calls")
    done = [r for r in rows if r["status"] in ("COMPLETED", "FAILED")]
    return len(rows) == count and len(done) == count and rows


def _drain(sqs, url: str, into: list) -> list:
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return into
        for message in got:
            into.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
