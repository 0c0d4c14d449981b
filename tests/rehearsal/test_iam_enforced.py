"""Least privilege, enforced: the deployed execution role and web task role against moto's IAM.

The environment is deployed into moto by the operator's steps (tests/rehearsal/deployment.py); then
moto's IAM enforcement is switched on for S3, SQS, STS and IAM (tests/rehearsal/iam.py says why
only those) and callcare's own lake code runs with each role's credentials, assumed as MWAA and
ECS assume them:

- the MWAA execution role writes every lake prefix the pipeline writes (boto3: PutObject and a
  multipart upload, through `Lake`; pyarrow's S3 client: a streamed write), reads them back through
  pyarrow, deletes under warehouse/ (one key, and DeleteObjects as dbt-athena's rebuilds do), uses
  its Celery queue; it may NOT delete recordings or transcripts, write outside the lake's prefixes,
  write the MWAA artifacts bucket (its own DAGs) or another bucket, or use another queue;
- the web task role reads recordings, transcripts and summaries, and a presigned URL it signs plays
  the recording's bytes; it may NOT write or delete in the lake, or presign what it cannot read.

A denial that also happens without enforcement proves nothing, so every denied operation is first
run with enforcement off and must succeed there; and a copy of the execution role with one grant
widened must do what the deployed role is refused (`test_a_widened_grant_is_caught`): the denials
come from the deployed statements, not from the fake refusing everything. What moto cannot verify
(conditions, KMS, resource policies, payload integrity, the services checked against "*") is listed
in tests/rehearsal/iam.py and docs/DEPLOY.md, and not tested here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest
import requests

from tests.rehearsal.iam import (
    Credentials,
    create_operator,
    enforced,
    execution_role_arn,
    role_credentials,
    task_role_arn,
    use_operator,
)

REPO = Path(__file__).resolve().parents[2]
INFRA_PYTHON = REPO / ".venv-infra" / "bin" / "python"
DAY, CALL = "2026-10-06", "c-0123456789abcdef0123"

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(not INFRA_PYTHON.exists(), reason="needs the deploy environment (.venv-infra)"),
]


def _credentials_env(monkeypatch: pytest.MonkeyPatch, credentials: Credentials) -> None:
    """The role's credentials where boto3 and pyarrow's AWS SDK look first: the environment.

    boto3's default session keeps the credentials it first resolved, so it is dropped too (an
    MWAA task runs in a fresh interpreter and an ECS task in its own container: no such cache).
    """
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    for name, value in credentials.environ().items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="module")
def deployed(moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The environment, deployed; the operator's user; what the roles' tests need from the stacks.

    moto's backends are this process's, shared by every module's server: they are emptied before
    and after, so the pipeline rehearsal's deployment (same stack names) finds none of this one.
    """
    from tests.rehearsal.deployment import deploy_to_moto
    from tests.support.fake_drive import FakeDrive, service_account_key

    requests.post(f"{moto_server}/moto-api/reset", timeout=30).raise_for_status()
    tmp = tmp_path_factory.mktemp("iam")
    drive = FakeDrive().start()
    try:
        key_file = tmp / "drive-key.json"
        key_file.write_text(json.dumps(service_account_key(drive)))
        r = deploy_to_moto(moto_server, tmp / "deploy", key_file, "folder", python=str(INFRA_PYTHON))
    finally:
        drive.stop()
    operator = create_operator(r.client("iam"))
    use_operator(r, operator)
    airflow = r.stack("Airflow")
    _, mwaa = airflow.properties("AWS::MWAA::Environment")
    options = {k: str(v) for k, v in airflow.resolve(mwaa["AirflowConfigurationOptions"]).items()}
    region = airflow.pseudo["AWS::Region"]
    sqs = r.client("sqs")
    yield {
        "operator": operator,
        "region": region,
        "options": options,
        "artifacts_bucket": airflow.resolve(mwaa["SourceBucketArn"]).split(":::", 1)[1],
        "execution_role": execution_role_arn(r),
        "task_role": task_role_arn(r),
        "celery_queue": sqs.create_queue(QueueName="airflow-celery-rehearsal")["QueueUrl"],
        "other_queue": sqs.create_queue(QueueName="rehearsal-alerts")["QueueUrl"],
    }
    requests.post(f"{moto_server}/moto-api/reset", timeout=30).raise_for_status()


def _lake(deployed: dict, moto_server: str, home: Path):
    """The lake as the pipeline builds it, and its boto3 client: Settings from the template's
    callcare.* options (startup.sh exports them as CALLCARE_*), credentials from the environment."""
    from callcare.config import Settings
    from callcare.core.lake import Lake
    from callcare.core.lake_s3 import make_s3_client

    values = {
        f"CALLCARE_{name.split('.', 1)[1].upper()}": value
        for name, value in deployed["options"].items()
        if name.startswith("callcare.")
    }
    values.update(CALLCARE_S3_ENDPOINT_URL=moto_server, CALLCARE_HOME=str(home))
    settings = Settings.from_mapping(values)
    return Lake.from_settings(settings), make_s3_client(settings)


def _pyarrow_write(lake, key: str, data: bytes) -> None:
    """pyarrow's S3 client writing (the client the lake reads with), streamed as it streams."""
    with lake.fs.open_output_stream(lake.path(key)) as out:
        out.write(data)


def _outcome(operation: Callable[[], object]) -> str:
    """ "allowed", or "denied" for S3's and SQS's AccessDenied (any other error fails the test)."""
    from botocore.exceptions import ClientError

    try:
        operation()
    except ClientError as error:
        if error.response["Error"]["Code"] in ("AccessDenied", "403"):
            return "denied"
        raise
    except OSError as error:  # pyarrow: "AWS Error ACCESS_DENIED during ... operation"
        if "ACCESS_DENIED" in str(error):
            return "denied"
        raise
    return "allowed"


def _execution_role_denials(lake, s3, sqs, deployed: dict, tag: str) -> dict[str, Callable[[], object]]:
    """What the execution role must not do; `tag` keeps the runs' keys apart."""
    from callcare import lake_paths

    bucket = lake.path("").rstrip("/")
    return {
        "delete a recording": lambda: lake.delete(lake_paths.raw_audio_key(DAY, f"{tag}-audio", "wav")),
        "delete a transcript": lambda: lake.delete(lake_paths.transcript_key(DAY, f"{tag}-audio")),
        "DeleteObjects under raw-audio/": lambda: _delete_objects(
            s3, bucket, [lake_paths.raw_audio_key(DAY, f"{tag}-audio", "wav")]
        ),
        "write outside the lake's prefixes": lambda: lake.put_bytes(f"exports/{tag}.json", b"{}"),
        "pyarrow: write outside the lake's prefixes": lambda: _pyarrow_write(
            lake, f"exports/{tag}.bin", b"x"
        ),
        "write the MWAA artifacts bucket (its DAGs)": lambda: s3.put_object(
            Bucket=deployed["artifacts_bucket"], Key=f"dags/{tag}_dag.py", Body=b"# injected"
        ),
        "pyarrow: write another bucket": lambda: lake.fs.open_output_stream(
            f"{deployed['artifacts_bucket']}/dags/{tag}.py"
        ).close(),
        "send to a queue that is not MWAA's Celery queue": lambda: sqs.send_message(
            QueueUrl=deployed["other_queue"], MessageBody="x"
        ),
    }


def _delete_objects(s3, bucket: str, keys: list[str]) -> None:
    """DeleteObjects as dbt-athena's rebuilds send it; S3 answers 200 with per-key errors."""
    from botocore.exceptions import ClientError

    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    if answer.get("Errors"):
        error = answer["Errors"][0]
        raise ClientError({"Error": {"Code": error["Code"], "Message": error["Message"]}}, "DeleteObjects")


def _seed(lake, tag: str) -> None:
    """What the denials would destroy: a recording and a transcript (written as the operator)."""
    from callcare import lake_paths

    lake.put_bytes(lake_paths.raw_audio_key(DAY, f"{tag}-audio", "wav"), b"RIFF....WAVE")
    lake.put_json(lake_paths.transcript_key(DAY, f"{tag}-audio"), {"segments": []})


def test_execution_role_least_privilege_is_enforced(deployed, moto_server, monkeypatch, tmp_path):
    from callcare import lake_paths

    region = deployed["region"]
    role = role_credentials(deployed["execution_role"], "mwaa-rehearsal", region)
    operator = deployed["operator"]
    sqs = role.session(region).client("sqs", endpoint_url=moto_server)

    # -- control: the same denials without enforcement go through (so they cannot pass vacuously) --
    _credentials_env(monkeypatch, operator)
    _seed(_lake(deployed, moto_server, tmp_path / "seed")[0], "control")
    _credentials_env(monkeypatch, role)
    lake, s3 = _lake(deployed, moto_server, tmp_path / "control")
    denials = _execution_role_denials(lake, s3, sqs, deployed, "control")
    unenforced = {name: _outcome(op) for name, op in denials.items()}
    assert set(unenforced.values()) == {"allowed"}, unenforced

    with enforced(moto_server):
        _credentials_env(monkeypatch, operator)
        _seed(_lake(deployed, moto_server, tmp_path / "seed2")[0], "enforced")
        _credentials_env(monkeypatch, role)
        lake, s3 = _lake(deployed, moto_server, tmp_path / "mwaa")

        # every prefix the pipeline writes, through the lake's boto3 writes
        recording = lake_paths.raw_audio_key(DAY, CALL, "wav")
        big = tmp_path / "big.wav"
        big.write_bytes(b"RIFF" + bytes(9 << 20))  # over one part: a multipart upload
        written = {
            recording: lambda: lake.put_file(recording, big),
            lake_paths.transcript_key(DAY, CALL): lambda: lake.put_json(
                lake_paths.transcript_key(DAY, CALL), {"segments": []}
            ),
            lake_paths.summary_key(DAY, CALL): lambda: lake.put_json(
                lake_paths.summary_key(DAY, CALL), {"summary": "ok"}
            ),
            lake_paths.table_key("calls", DAY, CALL): lambda: lake.write_parquet(
                lake_paths.table_key("calls", DAY, CALL), pa.table({"call_id": [CALL]})
            ),
            f"warehouse/calls_daily/call_date={DAY}/part-0.parquet": lambda: lake.put_bytes(
                f"warehouse/calls_daily/call_date={DAY}/part-0.parquet", b"PAR1"
            ),
        }
        for key, write in written.items():
            assert _outcome(write) == "allowed", key
        # pyarrow's own S3 writes, to each prefix
        for prefix in ("raw-audio", "transcripts", "summaries", "tables", "warehouse"):
            key = f"{prefix}/{DAY}/pyarrow-{CALL}.bin"
            assert _outcome(lambda key=key: _pyarrow_write(lake, key, b"streamed" * 1000)) == "allowed", key

        # read back through pyarrow: whole objects, ranged reads, listings, Parquet
        assert lake.get_bytes(recording)[:4] == b"RIFF"
        with lake.open_input(recording) as src:
            assert src.read(4) == b"RIFF"
        assert lake.read_parquet(lake_paths.table_key("calls", DAY, CALL)).num_rows == 1
        assert recording in lake.list_keys("raw-audio/")
        assert lake.exists(lake_paths.summary_key(DAY, CALL))

        # deletes under warehouse/ (dbt-athena's rebuilds), one key and batched
        lake.delete(f"warehouse/calls_daily/call_date={DAY}/part-0.parquet")
        lake.put_bytes("warehouse/calls_daily/part-1.parquet", b"PAR1")
        _delete_objects(s3, lake.path("").rstrip("/"), ["warehouse/calls_daily/part-1.parquet"])
        assert not lake.exists("warehouse/calls_daily/part-1.parquet")

        # the Celery queue
        sqs.send_message(QueueUrl=deployed["celery_queue"], MessageBody="task")
        assert sqs.receive_message(QueueUrl=deployed["celery_queue"]).get("Messages")

        # and what it must not do
        denials = _execution_role_denials(lake, s3, sqs, deployed, "enforced")
        enforced_outcomes = {name: _outcome(op) for name, op in denials.items()}
        assert set(enforced_outcomes.values()) == {"denied"}, enforced_outcomes
        assert lake.exists(lake_paths.raw_audio_key(DAY, "enforced-audio", "wav"))
        assert lake.exists(lake_paths.transcript_key(DAY, "enforced-audio"))


def test_web_task_role_reads_and_presigns_but_cannot_write(deployed, moto_server, monkeypatch, tmp_path):
    from callcare import lake_paths
    from callcare.core.lake import presigned_audio_url

    region, operator = deployed["region"], deployed["operator"]
    role = role_credentials(deployed["task_role"], "ecs-web-rehearsal", region)
    recording = lake_paths.raw_audio_key(DAY, "web-call", "wav")
    audio = b"RIFF" + bytes(range(256)) * 64

    def denials(lake, s3, tag: str) -> dict[str, Callable[[], object]]:
        return {
            "write a summary": lambda: lake.put_json(lake_paths.summary_key(DAY, f"{tag}-call"), {}),
            "write a recording": lambda: lake.put_bytes(
                lake_paths.raw_audio_key(DAY, f"{tag}-call", "wav"), b"x"
            ),
            "pyarrow: write a table": lambda: _pyarrow_write(lake, f"tables/calls/{tag}.parquet", b"x"),
            "delete a recording": lambda: lake.delete(recording),
            "read a table (not granted)": lambda: s3.get_object(
                Bucket=lake.path("").rstrip("/"), Key=f"tables/calls/{tag}-seed.parquet"
            ),
        }

    def seed(tag: str) -> None:
        _credentials_env(monkeypatch, operator)
        lake, _ = _lake(deployed, moto_server, tmp_path / f"seed-{tag}")
        lake.put_bytes(recording, audio)
        lake.put_bytes(f"tables/calls/{tag}-seed.parquet", b"PAR1")
        lake.put_json(lake_paths.transcript_key(DAY, "web-call"), {"segments": []})
        lake.put_json(lake_paths.summary_key(DAY, "web-call"), {"summary": "ok"})

    seed("control")
    _credentials_env(monkeypatch, role)
    lake, s3 = _lake(deployed, moto_server, tmp_path / "control")
    unenforced = {name: _outcome(op) for name, op in denials(lake, s3, "control").items()}
    assert set(unenforced.values()) == {"allowed"}, unenforced

    with enforced(moto_server):
        seed("enforced")
        _credentials_env(monkeypatch, role)
        lake, s3 = _lake(deployed, moto_server, tmp_path / "web")
        assert lake.get_json(lake_paths.summary_key(DAY, "web-call")) == {"summary": "ok"}
        assert lake.get_json(lake_paths.transcript_key(DAY, "web-call")) == {"segments": []}
        url = presigned_audio_url(lake, lake.uri_for(recording), 300, "call.wav")
        played = requests.get(url, timeout=30)  # the browser: no credentials of its own
        assert played.status_code == 200 and played.content == audio
        tampered = requests.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"), timeout=30)
        assert tampered.status_code == 403 and b"SignatureDoesNotMatch" in tampered.content
        # a URL it signs for what it may not read is refused, as S3 refuses it
        table_url = lake.presigned_url("tables/calls/enforced-seed.parquet", 300)
        assert requests.get(table_url, timeout=30).status_code == 403

        enforced_outcomes = {name: _outcome(op) for name, op in denials(lake, s3, "enforced").items()}
        assert set(enforced_outcomes.values()) == {"denied"}, enforced_outcomes
        assert lake.get_bytes(recording) == audio


def test_a_widened_grant_is_caught(deployed, moto_server, monkeypatch, tmp_path):
    """The denials come from the deployed statements' resources: a copy of the execution role whose
    WarehouseRebuilds statement also names raw-audio/ may delete a recording under enforcement."""
    from callcare import lake_paths

    region, operator = deployed["region"], deployed["operator"]
    iam_client = operator.session(region).client("iam", endpoint_url=moto_server)
    role_name = deployed["execution_role"].rsplit("/", 1)[1]
    role = iam_client.get_role(RoleName=role_name)["Role"]
    (attached,) = iam_client.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    policy = iam_client.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
    document = iam_client.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])[
        "PolicyVersion"
    ]["Document"]
    document = json.loads(document) if isinstance(document, str) else document
    (rebuilds,) = [s for s in document["Statement"] if s.get("Sid") == "WarehouseRebuilds"]
    (warehouse,) = [rebuilds["Resource"]] if isinstance(rebuilds["Resource"], str) else rebuilds["Resource"]
    rebuilds["Resource"] = [warehouse, warehouse.replace("/warehouse/*", "/raw-audio/*")]
    copy = iam_client.create_role(
        RoleName=f"{role_name}-widened",
        AssumeRolePolicyDocument=json.dumps(role["AssumeRolePolicyDocument"]),
    )["Role"]["Arn"]
    iam_client.put_role_policy(
        RoleName=f"{role_name}-widened", PolicyName="widened", PolicyDocument=json.dumps(document)
    )

    with enforced(moto_server):
        _credentials_env(monkeypatch, operator)
        _seed(_lake(deployed, moto_server, tmp_path / "seed")[0], "widened")
        _credentials_env(monkeypatch, role_credentials(copy, "mwaa-widened", region))
        lake, _ = _lake(deployed, moto_server, tmp_path / "widened")
        recording = lake_paths.raw_audio_key(DAY, "widened-audio", "wav")
        assert _outcome(lambda: lake.delete(recording)) == "allowed"
        assert _outcome(lambda: lake.delete(lake_paths.transcript_key(DAY, "widened-audio"))) == "denied"
