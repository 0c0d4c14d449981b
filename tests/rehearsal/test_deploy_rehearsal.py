"""Deployment rehearsal, stages 1 and 2: the operator's deploy steps against moto, as they ship.

The steps (scripts/deploy.sh: artifacts, synth, storage, upload, stacks, secrets, image) run as the
operator runs them, with AWS_ENDPOINT_URL pointing at moto's server (tests/rehearsal/deployment.py).
Two binaries are replaced: the CDK CLI of the storage and stacks steps, by a stand-in that takes its
command line and has moto's CloudFormation create the synthesized stacks
(tests/rehearsal/cdk_standin.py, moto_cloudformation.py), and docker, by a recorder.

What the test creates itself is only what an operator has before the first deploy: the CDK bootstrap
version parameter (`cdk bootstrap` makes it), the ACM certificate of the web domain, and the Drive
service account's key file with the folder id (the secrets step's inputs).

Every assertion reads moto: the deployed templates and parameters, the objects and their versions,
the secrets, the task definition. None compares a value with one the test chose for the deployment.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

pytest.importorskip("aws_cdk", reason="runs in the deploy environment: .venv-infra (scripts/test.sh)")
pytest.importorskip("moto", reason="needs moto's server (infra/requirements.txt)")

from tests.rehearsal.deployment import Deployment, deploy_to_moto
from tests.rehearsal.moto_cloudformation import LOADED_TYPES, NOT_LOADED
from tests.rehearsal.steps import load_deploy_steps, ok

FOLDER_ID = "1RehearsalFolderId"
SECRETS_BACKEND = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"

pytestmark = pytest.mark.timeout(300)


def service_account_key(path: Path) -> Path:
    """A Google service account key file as the operator downloads it (a fresh key pair)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "callcare-rehearsal",
                "private_key_id": hashlib.sha1(pem.encode()).hexdigest(),
                "private_key": pem,
                "client_email": "callcare-ingest@callcare-rehearsal.iam.gserviceaccount.com",
                "client_id": "1" + "0" * 20,
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def rehearsal(moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    tmp = tmp_path_factory.mktemp("rehearsal")
    return deploy_to_moto(moto_server, tmp / "deploy", service_account_key(tmp / "key.json"), FOLDER_ID)


def _versions(upload_output: str) -> dict[str, str]:
    """The object versions the upload step printed (a JSON object amid deploy.sh's log lines)."""
    return json.JSONDecoder().raw_decode(upload_output[upload_output.index("{") :])[0]


def _secret_and_key(value_from: str) -> tuple[str, str]:
    """An ECS secret's valueFrom: the secret's ARN and the JSON key (arn:...:secret:name-AbCdEf:key::)."""
    parts = value_from.split(":")
    return ":".join(parts[:7]), (parts[7] if len(parts) > 7 else "")


# -- stage 2: what moto created -------------------------------------------------------------------


def test_every_stack_is_created_and_what_moto_skipped_is_accounted_for(rehearsal):
    """moto creates what it supports and skips the rest silently: each skipped resource is either of
    a type the rehearsal creates itself (LOADED_TYPES) or one it does without, for a stated reason."""
    assembly = load_deploy_steps().Assembly(rehearsal.assembly_dir)
    assert set(rehearsal.deployed) == set(assembly.stacks())
    skipped, loaded = set(), set()
    for stack, deployed in rehearsal.deployed.items():
        assert deployed.status == "CREATE_COMPLETE", stack
        assert set(deployed.row_status.values()) <= {"CREATE_COMPLETE"}, stack
        resources = assembly.template(stack)["Resources"]
        assert set(deployed.created_by_moto) | set(deployed.skipped_by_moto) | set(deployed.loaded) == set(
            resources
        )
        skipped.update(deployed.skipped_by_moto.values())
        loaded.update(resources[lid]["Type"] for lid in deployed.loaded)
    assert skipped == set(NOT_LOADED), "moto skips other types now: update NOT_LOADED (or load them)"
    assert loaded == set(LOADED_TYPES)


def test_the_data_key_answers_describe_key(rehearsal):
    """The key policy CDK writes as an object reaches moto as text (moto_transform): DescribeKey works,
    as every service using the key calls it."""
    key_arn = rehearsal.stack("Airflow").resolve(
        rehearsal.stack("Airflow").properties("AWS::MWAA::Environment")[1]["KmsKey"]
    )
    metadata = rehearsal.client("kms").describe_key(KeyId=key_arn)["KeyMetadata"]
    assert metadata["Enabled"] and metadata["KeyState"] == "Enabled"
    policy = json.loads(rehearsal.client("kms").get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    assert any(":root" in json.dumps(st.get("Principal")) for st in policy["Statement"])


# -- the upload step: what MWAA reads --------------------------------------------------------------


def test_the_artifacts_bucket_holds_what_the_mwaa_environment_reads(rehearsal):
    """The MWAA environment, as deployed, names a bucket, a DAG folder and three object versions (its
    stack parameters); the bucket holds exactly the built artifacts there."""
    airflow = rehearsal.stack("Airflow")
    _, mwaa = airflow.properties("AWS::MWAA::Environment")
    bucket = airflow.resolve(mwaa["SourceBucketArn"]).split(":::", 1)[1]
    s3 = rehearsal.client("s3")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"

    built = rehearsal.artifacts
    for path_key, version_key in (
        ("PluginsS3Path", "PluginsS3ObjectVersion"),
        ("RequirementsS3Path", "RequirementsS3ObjectVersion"),
        ("StartupScriptS3Path", "StartupScriptS3ObjectVersion"),
    ):
        key, version = airflow.resolve(mwaa[path_key]), airflow.resolve(mwaa[version_key])
        assert key and version, f"the environment has no {path_key}: MWAA would run without it"
        body = s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
        assert body == (built / key).read_bytes(), f"s3://{bucket}/{key}@{version} is not the built {key}"

    dags = airflow.resolve(mwaa["DagS3Path"]).strip("/")
    listed = {
        o["Key"].removeprefix(f"{dags}/")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{dags}/")
        for o in page.get("Contents", [])
    }
    local = {p.relative_to(built / "dags").as_posix() for p in (built / "dags").rglob("*") if p.is_file()}
    assert listed == local
    assert {"constraints.txt", ".airflowignore"} <= listed and any(n.endswith(".py") for n in listed)
    requirements = s3.get_object(Bucket=bucket, Key="requirements.txt")["Body"].read().decode()
    # MWAA syncs the DAG prefix to /usr/local/airflow/dags: the constraints uploaded there are the ones
    # requirements.txt installs with
    constraint = re.search(r'--constraint "([^"]+)"', requirements)
    assert constraint and constraint[1] == "/usr/local/airflow/dags/constraints.txt"


def test_uploading_unchanged_artifacts_makes_no_new_version(rehearsal):
    """A second upload of the same build leaves every object version as it was, so the stacks step
    passes the same versions and MWAA does not restart for nothing."""
    assert _versions(rehearsal.upload.stdout) == _versions(rehearsal.upload_again.stdout)
    assert "0 uploaded, 0 deleted" in rehearsal.upload_again.stdout


# -- the secrets step and what reads the secrets ---------------------------------------------------


def test_the_secrets_step_refuses_placeholders_then_puts_the_operators_values(rehearsal):
    assert rehearsal.secrets_without_inputs.returncode != 0
    assert "still placeholders" in rehearsal.secrets_without_inputs.stderr
    sm = rehearsal.client("secretsmanager")
    airflow = rehearsal.stack("Airflow")
    options = airflow.resolve(airflow.properties("AWS::MWAA::Environment")[1]["AirflowConfigurationOptions"])
    kwargs = json.loads(options["secrets.backend_kwargs"])
    drive = json.loads(
        sm.get_secret_value(SecretId=f"{kwargs['connections_prefix']}/callcare_gdrive")["SecretString"]
    )
    assert drive["conn_type"] == "google_cloud_platform"
    assert json.loads(drive["extra"]["keyfile_dict"]) == json.loads(rehearsal.key_file.read_text())
    settings = json.loads(
        sm.get_secret_value(SecretId=f"{kwargs['variables_prefix']}/callcare_settings")["SecretString"]
    )
    assert settings["gdrive_folder_id"] == FOLDER_ID
    # a rerun with no inputs keeps them, and passes
    ok(rehearsal.step("secrets"))
    assert (
        json.loads(
            sm.get_secret_value(SecretId=f"{kwargs['variables_prefix']}/callcare_settings")["SecretString"]
        )
        == settings
    )


def test_every_secret_the_web_task_reads_exists_with_its_key(rehearsal):
    """ECS starts no task whose secrets are missing: each secret (and JSON key) the task definition
    names exists in Secrets Manager, and the registry's has the database's connection details."""
    web = rehearsal.stack("WebApp")
    task_definition = web.physical[web.properties("AWS::ECS::TaskDefinition")[0]]
    containers = rehearsal.client("ecs").describe_task_definition(taskDefinition=task_definition)[
        "taskDefinition"
    ]["containerDefinitions"]
    sm = rehearsal.client("secretsmanager")
    names = set()
    for container in containers:
        for secret in container.get("secrets", []):
            arn, key = _secret_and_key(secret["valueFrom"])
            value = sm.get_secret_value(SecretId=arn)["SecretString"]
            if key:
                assert key in json.loads(value), f"{secret['name']}: {arn} has no key {key}"
            names.add(secret["name"])
    assert {"CALLCARE_DB_PASSWORD", "CALLCARE_DB_NAME", "CALLCARE_WEB_SECRET_KEY"} <= names
    env = {e["name"]: e["value"] for c in containers for e in c.get("environment", [])}
    instance = rehearsal.client("rds").describe_db_instances()["DBInstances"][0]
    assert env["CALLCARE_DB_HOST"] == instance["Endpoint"]["Address"]


def test_the_mwaa_options_name_what_exists(rehearsal):
    """The MWAA environment's Airflow options, as deployed: the Secrets Manager backend, whose prefixes
    hold the connections and the variable the pipeline reads, and callcare.* options naming a bucket,
    topic, key, workgroup and Glue databases that exist."""
    airflow = rehearsal.stack("Airflow")
    _, mwaa = airflow.properties("AWS::MWAA::Environment")
    options = airflow.resolve(mwaa["AirflowConfigurationOptions"])
    assert options["secrets.backend"] == SECRETS_BACKEND
    kwargs = json.loads(options["secrets.backend_kwargs"])
    sm = rehearsal.client("secretsmanager")
    registry = json.loads(
        sm.get_secret_value(
            SecretId=f"{kwargs['connections_prefix']}/{options['callcare.registry_conn_id']}"
        )["SecretString"]
    )
    # the amazon provider's backend reads these keys (engine -> conn_type, dbname -> schema here)
    assert {"engine", "host", "port", "username", "password"} <= set(registry)
    assert all(word in registry for words in kwargs["extra_conn_words"].values() for word in words)
    assert sm.describe_secret(SecretId=f"{kwargs['variables_prefix']}/callcare_settings")
    assert options["callcare.profile"] == "aws"

    s3 = rehearsal.client("s3")
    for option in ("callcare.lake_uri", "callcare.athena_s3_staging_dir", "callcare.athena_s3_data_dir"):
        s3.head_bucket(Bucket=options[option].removeprefix("s3://").split("/", 1)[0])
    rehearsal.client("sns").get_topic_attributes(TopicArn=options["callcare.sns_topic_arn"])
    rehearsal.client("kms").describe_key(KeyId=options["callcare.transcribe_output_kms_key_id"])
    rehearsal.client("athena").get_work_group(WorkGroup=options["callcare.athena_work_group"])
    glue = rehearsal.client("glue")
    glue.get_database(Name=options["callcare.glue_database"])
    glue.get_database(Name=options["callcare.athena_database"])
    assert {t["Name"] for t in glue.get_tables(DatabaseName=options["callcare.glue_database"])["TableList"]}
    # the execution role exists, with its policy
    role_arn = airflow.resolve(mwaa["ExecutionRoleArn"])
    role = role_arn.rsplit("/", 1)[1]
    iam = rehearsal.client("iam")
    (attached,) = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
    document = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
    statements = {st["Sid"]: st for st in document["PolicyVersion"]["Document"]["Statement"]}
    # the role may read the secrets the backend looks up, under the backend's prefixes
    secrets = json.dumps(statements["Secrets"]["Resource"])
    assert f":secret:{kwargs['connections_prefix']}/*" in secrets


# -- the image step (break 6) ----------------------------------------------------------------------

FAKE_DOCKER = '''#!{python}
"""docker, as far as the image step uses it: records each call; `push` puts the image into the
(moto) registry, as a real push does, so the next image step finds it."""
import json, os, pathlib, sys
args = sys.argv[1:]
entry = {{"args": args}}
if args[0] == "login":
    entry["password"] = sys.stdin.read()
if args[0] == "build":
    context = pathlib.Path(args[-1]).resolve()
    entry["context"] = sorted(p.relative_to(context).as_posix() for p in context.rglob("*") if p.is_file())
    entry["dockerfile"] = str(pathlib.Path(args[args.index("-f") + 1]).resolve().relative_to(context))
if args[0] == "push":
    import boto3
    uri, tag = args[1].rsplit(":", 1)
    boto3.client("ecr", region_name=os.environ["AWS_REGION"]).put_image(
        repositoryName=uri.split("/", 1)[1], imageTag=tag,
        imageManifest=json.dumps({{"schemaVersion": 2, "tag": tag,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}}),
    )
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps(entry) + "\\n")
'''


def test_the_image_step_builds_the_dockerfiles_context_and_pushes_each_context_once(rehearsal, tmp_path):
    """`deploy.sh <env> image` hands docker a context holding every file the Dockerfile copies, at its
    repository path, with -f pointing at the Dockerfile inside it; pushes to the stack's repository
    under the tag the web stack was deployed with; and builds nothing when that tag is pushed."""
    import sys

    from tests.rehearsal.steps import deploy
    from tests.support.helpers import REPO

    docker = tmp_path / "docker"
    docker.write_text(FAKE_DOCKER.format(python=sys.executable))
    docker.chmod(0o755)
    log = tmp_path / "docker.log"
    env = dict(rehearsal.env, DOCKER=str(docker), FAKE_DOCKER_LOG=str(log))
    ok(deploy(env, "rehearsal", "image"))
    login, build, push = [json.loads(line) for line in log.read_text().splitlines()]
    assert login["args"][0] == "login" and login["password"]

    steps = load_deploy_steps()
    assert build["dockerfile"] == "webapp/Dockerfile"
    for source in steps.dockerfile_copy_sources(REPO / "webapp" / "Dockerfile"):
        assert any(f == source or f.startswith(f"{source}/") for f in build["context"]), source
    assert "plugins/callcare/names.py" in build["context"] and "pyproject.toml" in build["context"]
    assert not [f for f in build["context"] if f.startswith((".venv", "dags/", "tests/"))]

    web = rehearsal.stack("WebApp")
    repository = rehearsal.stack("Storage").physical[
        rehearsal.stack("Storage").properties("AWS::ECR::Repository")[0]
    ]
    image = push["args"][1]
    assert image == build["args"][build["args"].index("-t") + 1]
    assert image.split("/", 1)[1] == f"{repository}:{web.parameters['WebImageTag']}"

    ok(deploy(env, "rehearsal", "image"))  # the same context again: already pushed
    assert len(log.read_text().splitlines()) == 3
