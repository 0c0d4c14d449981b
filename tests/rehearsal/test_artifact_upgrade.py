"""Deployment rehearsal, stage 7 as deployed: an environment running an earlier release's artifacts
is upgraded to this release's by the operator's own steps, and its calls and users are still there.

`EARLIER_RELEASE` is the last commit whose deployment the pipeline rehearsal ran before this
session's changes (no search index, no lake compaction, pocketsphinx still in MWAA's requirements,
a narrower MWAA role). Its own `scripts/deploy.sh`, from a checkout of that commit, deploys the
environment into moto (tests/rehearsal/deployment.py); Airflow runs its artifacts as MWAA runs them
(tests/rehearsal/mwaa_runtime.py, one Celery worker); its pools step creates the pools; two
recordings arrive in Drive (one COMPLETED, one corrupt and FAILED with a reason); its web app's
`callcare-web create-user` adds a supervisor.

Then this checkout's `scripts/deploy.sh` deploys over it, as docs/DEPLOY.md's "Upgrading an
environment" says: `artifacts synth storage upload stacks secrets` (the storage stack unchanged,
the Airflow stack updated in place with the new artifact versions and the role's new statement),
MWAA restarts on the new versions with the same metadata database (a fresh container: a new Python
environment with this release's requirements, the dags prefix synced, plugins.zip unpacked), the
pools step runs again, and the web service starts as its task definition runs it, after the
documented one-off `callcare-web db upgrade` (the web migrations the earlier release lacked). A new
recording is processed beside the old ones; the earlier calls keep their status, reason and
summary; the earlier release's supervisor signs in to the new web app and sees every call.

What the test adds is what the pipeline rehearsal adds (endpoints, fakes, the local PostgreSQL as
RDS); IAM is not enforced here (tests/rehearsal/test_pipeline_rehearsal.py runs this release under
enforcement), but the updated role's new statement is checked in IAM. Skipped, with the reason, in
a checkout without that commit in its history (a tarball or a shallow clone).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import uuid
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.rehearsal.deployment import deploy_release_over, deploy_to_moto, point_registry_at_local_database
from tests.rehearsal.iam import execution_role_arn
from tests.rehearsal.mwaa_runtime import (
    MwaaAirflow,
    MwaaSettings,
    prepare_container,
)
from tests.rehearsal.steps import ok
from tests.rehearsal.web_service import ALB_HEADERS, login, web_service
from tests.support.fake_aws import FakeBedrock, FakeTranscribe
from tests.support.fake_drive import FakeDrive, service_account_key
from tests.support.fake_mwaa import FakeMwaa
from tests.support.helpers import REPO, dialogues, free_port, render_corpus, wait_for

# "Rehearsal: no MWAA component log holds the Drive key or the registry's generated password"
EARLIER_RELEASE = "5867c25"
INFRA_PYTHON = REPO / ".venv-infra" / "bin" / "python"
WEB_PYTHON = REPO / ".venv-webapp" / "bin" / "python"
MWAA_VENV = REPO / ".venv-mwaa"
EARLIER_MWAA_VENV = REPO / ".venv-mwaa-earlier"  # the earlier release's container image
BEFORE = {"2026-10-06_call-0023.wav": "call-0023.wav"}
CORRUPT = "2026-10-16_corrupt.wav"
AFTER = {"2026-10-12_call-0026.wav": "call-0026.8k.wav"}
SUPERVISOR, PASSWORD = "supervisor-before", "Upgrade-artifacts-7!"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.audio,
    pytest.mark.timeout(1500),
    pytest.mark.skipif(not INFRA_PYTHON.exists(), reason="needs the deploy environment (.venv-infra)"),
]


def _earlier_release(dest: Path) -> Path:
    """A checkout of EARLIER_RELEASE (its tracked files, as an operator's clone has them)."""
    known = subprocess.run(
        ["git", "-C", str(REPO), "cat-file", "-e", f"{EARLIER_RELEASE}^{{commit}}"], capture_output=True
    )
    if known.returncode != 0:
        pytest.skip(
            f"commit {EARLIER_RELEASE} is not in this checkout's history (a tarball or shallow clone)"
        )
    dest.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", EARLIER_RELEASE], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    return render_corpus(out, ["call-0023", "call-0026"])


def test_a_deployed_environment_upgrades_to_this_release(tmp_path, moto_server, rendered, pg_databases):
    earlier = _earlier_release(tmp_path / "earlier-release")
    drive = FakeDrive().start()
    fakes: list = [drive]
    airflow = None
    try:
        folder = drive.add_folder("Call recordings")
        key_file = tmp_path / "drive-key.json"
        key_file.write_text(json.dumps(service_account_key(drive)))

        # -- the earlier release, deployed by its own steps ----------------------------------------
        r = deploy_to_moto(
            moto_server, tmp_path / "deploy", key_file, folder, python=str(INFRA_PYTHON), repo=earlier
        )
        stack = r.stack("Airflow")
        _, mwaa = stack.properties("AWS::MWAA::Environment")
        options = {k: str(v) for k, v in stack.resolve(mwaa["AirflowConfigurationOptions"]).items()}
        region = stack.pseudo["AWS::Region"]
        earlier_versions = {
            k: stack.resolve(mwaa[f"{k}S3ObjectVersion"]) for k in ("Plugins", "Requirements")
        }
        s3 = r.client("s3")

        registry_db = pg_databases("registry")
        point_registry_at_local_database(r, options, registry_db)
        registry_url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{registry_db}"

        transcribe = FakeTranscribe(s3, region).start()
        transcribe.learn(rendered)
        bedrock = FakeBedrock(dialogues()).start()
        fakes += [transcribe, bedrock]
        sqs = r.client("sqs")
        celery_queue = sqs.create_queue(QueueName=f"airflow-celery-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        network = {
            "AWS_ENDPOINT_URL": moto_server,
            "AWS_ENDPOINT_URL_TRANSCRIBE": transcribe.url,
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url,
            "AWS_ACCESS_KEY_ID": "rehearsal",
            "AWS_SECRET_ACCESS_KEY": "rehearsal",
            "AWS_EC2_METADATA_DISABLED": "true",
            "CALLCARE_S3_ENDPOINT_URL": moto_server,
            "CALLCARE_GDRIVE_API_ENDPOINT": drive.url,
        }
        home = tmp_path / "mwaa-earlier"
        artifacts = prepare_container(s3, stack, mwaa, home, EARLIER_MWAA_VENV)
        settings = MwaaSettings(
            home=home,
            venv=EARLIER_MWAA_VENV,
            metadata_db=f"postgresql+psycopg2://postgres@127.0.0.1:5432/{pg_databases('metadata')}",
            sqs_endpoint=moto_server,
            queue_url=celery_queue,
            region=region,
            api_port=free_port(),
            options=options,
            network=network,
        )
        airflow = _start(settings, artifacts["StartupScript"])
        mwaa_fake = FakeMwaa(stack.resolve(mwaa["Name"]), _api(settings), "admin", "admin").start()
        fakes.append(mwaa_fake)
        r.env.update(AWS_ENDPOINT_URL_MWAA=mwaa_fake.url, AWS_DISABLE_HOST_PREFIX_INJECTION="true")
        ok(r.step("pools"))

        for name, file in BEFORE.items():
            drive.add_file(name, (rendered / file).read_bytes(), "audio/wav", folder)
        drive.add_file(CORRUPT, b"RIFF\x10\x00\x00\x00WAVEfmt " + b"\xff" * 4000, "audio/wav", folder)
        before = wait_for(
            lambda: _finished(registry_url, len(BEFORE) + 1), 900, "the earlier release's calls"
        )
        before = {c["source_ref"].split("/", 1)[1]: c for c in before}
        assert before[CORRUPT]["status"] == "FAILED" and before[CORRUPT]["error_message"]
        for name in BEFORE:
            assert before[name]["status"] == "COMPLETED", before[name]["error_message"]

        # its web app's user, added with its own command (the web service's task, one-off)
        web_env = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": f"{earlier / 'webapp'}:{earlier / 'plugins'}",
            "CALLCARE_HOME": str(tmp_path / "earlier-web-home"),
            "CALLCARE_REGISTRY_URL": registry_url,
            "CALLCARE_WEB_SECRET_KEY": "earlier-release-web-key",
        }
        added = subprocess.run(
            [
                *(str(WEB_PYTHON), "-m", "callcare_web.cli", "create-user", "--role", "supervisor"),
                *("--username", SUPERVISOR, "--email", "sup@example.com", "--password", PASSWORD),
            ],
            env=web_env,
            cwd=earlier,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert added.returncode == 0, added.stdout + added.stderr

        # -- this release, deployed over it --------------------------------------------------------
        airflow.stop()  # MWAA's update: running tasks finish, the containers are replaced
        airflow = None
        deploy_release_over(r)
        assert r.deployed["Callcare-Rehearsal-Airflow"].status == "UPDATE_COMPLETE"
        stack = r.stack("Airflow")
        _, mwaa = stack.properties("AWS::MWAA::Environment")
        options = {k: str(v) for k, v in stack.resolve(mwaa["AirflowConfigurationOptions"]).items()}
        now = {k: stack.resolve(mwaa[f"{k}S3ObjectVersion"]) for k in ("Plugins", "Requirements")}
        assert all(now[k] != earlier_versions[k] for k in now), (earlier_versions, now)
        _assert_role_has_compaction_grant(r, stack)

        home = tmp_path / "mwaa"
        artifacts = prepare_container(s3, stack, mwaa, home, MWAA_VENV)
        settings = dataclasses.replace(
            settings, home=home, venv=MWAA_VENV, api_port=free_port(), options=options
        )
        airflow = _start(settings, artifacts["StartupScript"])
        mwaa_fake.airflow_url = _api(settings)
        ok(r.step("pools"))

        for name, file in AFTER.items():
            drive.add_file(name, (rendered / file).read_bytes(), "audio/wav", folder)
        calls = wait_for(lambda: _finished(registry_url, len(BEFORE) + 1 + len(AFTER)), 900, "the new call")
        by_name = {c["source_ref"].split("/", 1)[1]: c for c in calls}
        for name in AFTER:
            assert by_name[name]["status"] == "COMPLETED", by_name[name]["error_message"]
        for name, call in before.items():  # the earlier calls, as they were
            now_call = by_name[name]
            assert (now_call["status"], now_call["error_message"]) == (call["status"], call["error_message"])
            assert now_call["completed_at"] == call["completed_at"]

        # -- the web service of this release, after the documented schema step --------------------
        with web_service(r, tmp_path / "web", moto_server, count=1) as service:
            (migrate, migrated), _ = service.one_offs
            assert migrate == ["callcare-web", "db", "upgrade"]
            assert "web: at" in migrated.stdout, migrated.stdout
            (instance,) = service.instances
            cookies = login(instance, SUPERVISOR, PASSWORD)
            listing = requests.get(f"{instance.url}/calls/", headers=ALB_HEADERS, cookies=cookies, timeout=30)
            assert listing.status_code == 200, listing.text[:500]
            for call in calls:
                assert call["call_id"] in listing.text
            old = before[next(iter(BEFORE))]["call_id"]
            detail = requests.get(
                f"{instance.url}/calls/{old}", headers=ALB_HEADERS, cookies=cookies, timeout=30
            )
            assert detail.status_code == 200 and f"/calls/{old}/audio" in detail.text
        with sa.create_engine(registry_url).connect() as conn:
            versions = conn.execute(sa.text("SELECT version_num FROM callcare_web_version")).scalars().all()
        assert versions, "the web history is recorded"
    finally:
        if airflow is not None:
            airflow.stop()
        for fake in fakes:
            fake.stop()


def _start(settings: MwaaSettings, startup: Path) -> MwaaAirflow:
    airflow = MwaaAirflow(settings, startup)
    airflow.migrate()
    airflow.start_container("webserver")
    airflow.start_container("scheduler")
    airflow.start_container("worker", "worker-1")
    airflow.wait_healthy()
    return airflow


def _api(settings: MwaaSettings) -> str:
    return f"http://127.0.0.1:{settings.api_port}"


def _assert_role_has_compaction_grant(r, stack) -> None:
    """The update applied the execution role's new statement (moto's UpdateStack leaves a managed
    policy as it was; the stand-in applies it as CloudFormation does)."""
    iam = r.client("iam")
    role = execution_role_arn(r).rsplit("/", 1)[1]
    sids = set()
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(
            PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"]
        )
        document = version["PolicyVersion"]["Document"]
        document = json.loads(document) if isinstance(document, str) else document
        sids |= {s.get("Sid") for s in document["Statement"]}
    assert "LakeCompaction" in sids, sids


def _finished(url: str, count: int):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM calls"))]
    except sa.exc.ProgrammingError:
        return None
    finally:
        engine.dispose()
    done = [r for r in rows if r["status"] in ("COMPLETED", "FAILED")]
    return len(rows) == count and len(done) == count and rows
