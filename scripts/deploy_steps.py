#!/usr/bin/env python3
"""The steps of scripts/deploy.sh that talk to AWS, in Python (boto3), one subcommand each.

    python scripts/deploy_steps.py synth   --env staging [-c callcare:certificateArn=arn:...]
    python scripts/deploy_steps.py upload  --env staging [--artifacts infra/build/mwaa]
    python scripts/deploy_steps.py image   --env staging
    python scripts/deploy_steps.py stack-parameters --env staging
    python scripts/deploy_steps.py secrets --env staging [--gdrive-key-file key.json] [--gdrive-folder-id ID]
    python scripts/deploy_steps.py pools   --env staging
    python scripts/deploy_steps.py status  --env staging

Why Python and not the AWS CLI: the same code runs against AWS and, in the deployment rehearsal
(tests/rehearsal), against moto's server. boto3 takes the endpoint from AWS_ENDPOINT_URL (and the
per-service AWS_ENDPOINT_URL_<SERVICE>), so an override needs nothing here; the CDK CLI does not
honour it reliably, which is why deploy.sh refuses its two CDK steps (storage, stacks) under an
override and the rehearsal stands in for them with moto's CloudFormation.

Every step reads what it deploys to from the synthesized cloud assembly (the `synth` step writes it
to infra/build/<env>/cdk.out, and the CDK CLI deploys that very assembly): the artifacts bucket and
the object keys from the MWAA environment, the image repository, the secrets, the stack parameters.
Nothing is recomputed from naming conventions, so a step cannot write where the stacks do not read.

The steps keep no state between them: object versions are read back from S3, and the web image tag
is a digest of the image's build context, so any step can run alone, again, in any later session.

Runs in the deploy environment (.venv-infra: boto3; the synth step also needs aws-cdk-lib and node).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
INFRA = REPO / "infra"
DEFAULT_ARTIFACTS = INFRA / "build" / "mwaa"
DOCKERFILE = REPO / "webapp" / "Dockerfile"
# Never part of an artifact or an image: caches, build outputs, local environments (the same rules as
# scripts/package_mwaa.py, so the image gets the package as MWAA gets it).
EXCLUDED_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".venv", "node_modules", ".git"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo"}
EXCLUDED_NAMES = {".DS_Store"}
# The stack parameters deploy.sh passes (infra/callcare_infra/stacks: airflow.py, webapp.py, alerting.py).
VERSION_PARAMETERS = {
    "PluginsS3Path": "PluginsObjectVersion",
    "RequirementsS3Path": "RequirementsObjectVersion",
    "StartupScriptS3Path": "StartupObjectVersion",
}


class DeployError(RuntimeError):
    """A step cannot go on; the message says what the operator does about it."""


def log(message: str) -> None:
    print(f"  {message}", flush=True)


def _client(service: str, region: str | None = None):
    import boto3

    return boto3.client(service, region_name=region)


# -- the cloud assembly -----------------------------------------------------------------------------


def default_assembly(env: str) -> Path:
    return INFRA / "build" / env / "cdk.out"


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


class Assembly:
    """The synthesized CDK app of one environment (a cloud assembly directory)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        manifest = path / "manifest.json"
        if not manifest.exists():
            raise DeployError(f"no cloud assembly in {path}: run the synth step first")
        self.manifest = json.loads(manifest.read_text())
        self._stacks = {
            name: artifact
            for name, artifact in self.manifest["artifacts"].items()
            if artifact["type"] == "aws:cloudformation:stack"
        }
        environments = {a["environment"] for a in self._stacks.values()}
        if len(environments) != 1:
            raise DeployError(f"the assembly targets {sorted(environments)}, expected one account/region")
        account, region = environments.pop().removeprefix("aws://").split("/")
        self.account, self.region = account, region
        self.partition = _partition(region)
        self._templates: dict[str, dict] = {}

    def stacks(self) -> list[str]:
        """Stack names in deployment order (dependencies first)."""
        ordered: list[str] = []

        def visit(name: str) -> None:
            if name in ordered:
                return
            for dependency in self._stacks[name].get("dependencies", []):
                if dependency in self._stacks:
                    visit(dependency)
            ordered.append(name)

        for name in self._stacks:
            visit(name)
        return ordered

    def stack_name(self, artifact: str) -> str:
        return self._stacks[artifact].get("properties", {}).get("stackName", artifact)

    def template(self, stack: str) -> dict:
        if stack not in self._templates:
            file = self._stacks[stack]["properties"]["templateFile"]
            self._templates[stack] = json.loads((self.path / file).read_text())
        return self._templates[stack]

    def resources(self, type_: str) -> Iterator[tuple[str, str, dict]]:
        for stack in self.stacks():
            for logical_id, resource in self.template(stack).get("Resources", {}).items():
                if resource["Type"] == type_:
                    yield stack, logical_id, resource

    def only(self, type_: str) -> tuple[str, str, dict]:
        found = list(self.resources(type_))
        if len(found) != 1:
            raise DeployError(f"expected one {type_} in the assembly, found {len(found)}")
        return found[0]

    def literal(self, value: Any) -> str:
        """A template value made of literals, pseudo parameters and Fn::Join (names and ARNs are)."""
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref" and argument in self._pseudo:
                return self._pseudo[argument]
            if function == "Fn::Join":
                separator, parts = argument
                return separator.join(self.literal(part) for part in parts)
            if function == "Fn::If":  # optional artifacts: the path when its version is set
                return self.literal(argument[1])
        raise DeployError(f"cannot read {json.dumps(value)[:200]} from the template without deploying it")

    @property
    def _pseudo(self) -> dict[str, str]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com",
        }

    # what the steps address, as the stacks define it
    @property
    def mwaa(self) -> tuple[str, dict]:
        stack, _, resource = self.only("AWS::MWAA::Environment")
        return stack, resource["Properties"]

    @property
    def mwaa_environment(self) -> str:
        return self.literal(self.mwaa[1]["Name"])

    @property
    def artifacts_bucket(self) -> str:
        arn = self.literal(self.mwaa[1]["SourceBucketArn"])
        return arn.split(":::", 1)[1]

    @property
    def dags_prefix(self) -> str:
        return self.literal(self.mwaa[1]["DagS3Path"]).strip("/")

    def artifact_keys(self) -> dict[str, str]:
        """S3 key of each versioned artifact (plugins.zip, ...) -> its stack parameter."""
        properties = self.mwaa[1]
        return {self.literal(properties[path]): parameter for path, parameter in VERSION_PARAMETERS.items()}

    @property
    def web_repository(self) -> str:
        return self.literal(self.only("AWS::ECR::Repository")[2]["Properties"]["RepositoryName"])

    def secrets(self) -> dict[str, dict]:
        """Every Secrets Manager secret the stacks declare, by name -> its properties."""
        return {
            self.literal(r["Properties"]["Name"]): r["Properties"]
            for _, _, r in self.resources("AWS::SecretsManager::Secret")
        }


# -- synth ------------------------------------------------------------------------------------------


def caller_account_and_region() -> tuple[str, str]:
    import boto3

    # AWS_REGION as the AWS CLI v2 reads it; boto3 itself reads only AWS_DEFAULT_REGION and the profile
    region = os.environ.get("AWS_REGION") or boto3.session.Session().region_name
    if not region:
        raise DeployError("no AWS region: set AWS_REGION")
    account = _client("sts", region).get_caller_identity()["Account"]
    return account, region


def synth_context(env: str, overrides: dict[str, Any], context_file: Path) -> dict[str, Any]:
    """The context the CDK CLI would give the app: cdk.json, then cdk.context.json, then -c values."""
    context = dict(json.loads((INFRA / "cdk.json").read_text())["context"])
    if context_file.exists():
        context.update(json.loads(context_file.read_text()))
    context.update(overrides)
    context["callcare:env"] = env
    return context


def lookup_context(missing: list[dict], region: str) -> dict[str, Any]:
    """Resolve the context lookups synth reported, as the CDK CLI's context providers do.

    Only the availability-zones provider is needed (the VPC spreads over two zones); the CLI resolves
    it the same way (EC2 DescribeAvailabilityZones, the available ones). Any other provider means the
    app grew a lookup this step does not know: `npx aws-cdk@2 synth` in infra/ resolves it into
    cdk.context.json, which this step then reads.
    """
    resolved: dict[str, Any] = {}
    for entry in missing:
        if entry["provider"] != "availability-zones":
            raise DeployError(
                f"context lookup {entry['key']} ({entry['provider']}) is not resolved: run "
                "`npx aws-cdk@2 synth` in infra/ once (it writes cdk.context.json), then this step again"
            )
        zones = _client("ec2", entry["props"].get("region", region)).describe_availability_zones()
        resolved[entry["key"]] = sorted(
            z["ZoneName"] for z in zones["AvailabilityZones"] if z.get("State") == "available"
        )
    return resolved


def synth(
    env: str,
    assembly: Path,
    overrides: dict[str, Any] | None = None,
    context_file: Path | None = None,
    account_region: tuple[str, str] | None = None,
) -> Assembly:
    """Synthesize the CDK app for the caller's account and region, as `cdk synth` does, offline.

    The app runs under this interpreter (the deploy environment has aws-cdk-lib) with the CLI's own
    protocol (CDK_OUTDIR, CDK_CONTEXT_JSON, CDK_DEFAULT_ACCOUNT/REGION), so `cdk deploy --app <dir>`
    later deploys exactly these templates, and the other steps read the same ones.
    """
    context_file = context_file or INFRA / "cdk.context.json"
    account, region = account_region or caller_account_and_region()
    context = synth_context(env, overrides or {}, context_file)
    for _ in range(2):
        if assembly.exists():
            shutil.rmtree(assembly)
        assembly.mkdir(parents=True)
        environ = dict(os.environ)
        environ.update(
            CDK_OUTDIR=str(assembly),
            CDK_CONTEXT_JSON=json.dumps(context),
            CDK_DEFAULT_ACCOUNT=account,
            CDK_DEFAULT_REGION=region,
        )
        subprocess.run([sys.executable, str(INFRA / "app.py")], env=environ, check=True, cwd=INFRA)
        missing = json.loads((assembly / "manifest.json").read_text()).get("missing", [])
        if not missing:
            result = Assembly(assembly)
            log(f"synthesized {len(result.stacks())} stacks for {account}/{region} into {assembly}")
            return result
        resolved = lookup_context(missing, region)
        saved = json.loads(context_file.read_text()) if context_file.exists() else {}
        context_file.parent.mkdir(parents=True, exist_ok=True)
        context_file.write_text(json.dumps({**saved, **resolved}, indent=2, sort_keys=True) + "\n")
        log(f"resolved {', '.join(resolved)} into {context_file}")
        context.update(resolved)
    raise DeployError("synth still reports missing context after resolving it")


# -- upload -----------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _remote_sha(s3, bucket: str, key: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        return s3.head_object(Bucket=bucket, Key=key)["Metadata"].get("sha256")
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def _put_if_changed(s3, bucket: str, key: str, path: Path) -> bool:
    sha = _sha256(path)
    if _remote_sha(s3, bucket, key) == sha:
        return False
    s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), Metadata={"sha256": sha})
    return True


def upload(assembly: Assembly, artifacts: Path, s3=None) -> dict[str, str]:
    """Upload scripts/package_mwaa.py's output to the artifacts bucket; return each versioned key's version.

    The dags prefix is synchronized (MWAA reads it continuously; files gone locally are deleted).
    plugins.zip, requirements.txt and startup.sh are uploaded only when their content changed (sha256
    kept as object metadata): MWAA reads those by object version, and a new version restarts it.
    """
    s3 = s3 or _client("s3", assembly.region)
    bucket = assembly.artifacts_bucket
    if not (artifacts / "manifest.json").exists():
        raise DeployError(f"no MWAA artifacts in {artifacts}: run the artifacts step first")
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        raise DeployError(f"s3://{bucket} is not versioned: MWAA reads plugins and requirements by version")

    prefix = assembly.dags_prefix
    local = {
        f"{prefix}/{p.relative_to(artifacts / 'dags').as_posix()}": p
        for p in sorted((artifacts / "dags").rglob("*"))
        if p.is_file()
    }
    remote = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        remote.update(o["Key"] for o in page.get("Contents", []))
    changed = [key for key, path in local.items() if _put_if_changed(s3, bucket, key, path)]
    stale = sorted(remote - set(local))
    for start in range(0, len(stale), 1000):
        s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale[start : start + 1000]]}
        )
    log(f"s3://{bucket}/{prefix}/: {len(local)} files, {len(changed)} uploaded, {len(stale)} deleted")

    versions: dict[str, str] = {}
    for key in assembly.artifact_keys():
        uploaded = _put_if_changed(s3, bucket, key, artifacts / key)
        versions[key] = s3.head_object(Bucket=bucket, Key=key)["VersionId"]
        log(f"{key}: {'uploaded' if uploaded else 'unchanged'}, version {versions[key]}")
    return versions


# -- the web image ----------------------------------------------------------------------------------


def _instructions(dockerfile: Path) -> Iterator[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, with continuation lines joined and comments dropped."""
    logical = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        instruction, _, arguments = logical.strip().partition(" ")
        yield instruction.upper(), arguments.strip()
        logical = ""


def dockerfile_copy_sources(dockerfile: Path = DOCKERFILE) -> list[str]:
    """The build-context paths the Dockerfile's COPY and ADD instructions read (not --from= stages)."""
    sources: list[str] = []
    for instruction, arguments in _instructions(dockerfile):
        if instruction not in ("COPY", "ADD"):
            continue
        words = json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)
        flags = [w for w in words if w.startswith("--")]
        if any(f.startswith("--from") for f in flags):
            continue
        paths = [w for w in words if not w.startswith("--")]
        for source in paths[:-1]:
            if any(c in source for c in "*?[") or "://" in source:
                raise DeployError(f"{dockerfile}: {instruction} {source}: wildcards and URLs are not staged")
            sources.append(os.path.normpath(source))
    return sources


def _context_file_included(path: Path, root: Path) -> bool:
    rel = path.relative_to(root)
    if any(part in EXCLUDED_PARTS or part.endswith(".egg-info") for part in rel.parts):
        return False
    return path.suffix not in EXCLUDED_SUFFIXES and path.name not in EXCLUDED_NAMES


def build_context_files(repo: Path = REPO, dockerfile: Path = DOCKERFILE) -> list[str]:
    """Repository-relative files of the web image's build context: the Dockerfile and what it copies.

    The context is exactly these (staged into a folder of their own), so nothing else reaches the
    daemon (the repository root holds gigabytes of virtual environments) and the image tag, a digest
    of these files, changes when and only when something the image copies changes.
    """
    files = {dockerfile.relative_to(repo).as_posix()}
    for source in dockerfile_copy_sources(dockerfile):
        path = repo / source
        if path.is_dir():
            files.update(
                p.relative_to(repo).as_posix()
                for p in path.rglob("*")
                if p.is_file() and _context_file_included(p, repo)
            )
        elif path.is_file():
            files.add(source)
        else:
            raise DeployError(f"{dockerfile.name} copies {source}, which is not in {repo}")
    return sorted(files)


def image_tag(repo: Path = REPO, dockerfile: Path = DOCKERFILE) -> str:
    """The web image's tag: a digest of its build context (paths, executable bits and contents)."""
    digest = hashlib.sha256()
    for rel in build_context_files(repo, dockerfile):
        path = repo / rel
        executable = b"x" if os.access(path, os.X_OK) else b"-"
        digest.update(rel.encode() + b"\0" + executable + b"\0" + path.read_bytes() + b"\0")
    return f"ctx-{digest.hexdigest()[:24]}"


def stage_context(dest: Path, repo: Path = REPO, dockerfile: Path = DOCKERFILE) -> Path:
    """Copy the build context into dest, keeping repository paths (the Dockerfile's COPY sources)."""
    for rel in build_context_files(repo, dockerfile):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / rel, target)
    return dest


def _git_revision(repo: Path) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or "unknown"


def push_image(assembly: Assembly, ecr=None, repo: Path = REPO, docker: str | None = None) -> str:
    """Build the web image from its own context and push it, unless that tag is already in ECR."""
    from botocore.exceptions import ClientError

    ecr = ecr or _client("ecr", assembly.region)
    docker = docker or os.environ.get("DOCKER", "docker")
    tag = image_tag(repo)
    repository = assembly.web_repository
    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
        log(f"{repository}:{tag} is already pushed (same build context)")
        return tag
    except ClientError as error:
        if error.response["Error"]["Code"] != "ImageNotFoundException":
            raise
    if not shutil.which(docker):
        raise DeployError(f"{docker} is required to build the web image ({repository}:{tag} is not pushed)")
    uri = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]["repositoryUri"]
    auth = ecr.get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(auth["authorizationToken"]).decode().split(":", 1)
    registry = uri.split("/", 1)[0]
    subprocess.run(
        [docker, "login", "--username", user, "--password-stdin", registry],
        input=password.encode(),
        check=True,
    )
    image = f"{uri}:{tag}"
    with tempfile.TemporaryDirectory(prefix="callcare-web-context-") as tmp:
        context = stage_context(Path(tmp), repo)
        subprocess.run(
            [
                docker,
                "build",
                "--platform",
                "linux/amd64",
                "--label",
                f"org.opencontainers.image.revision={_git_revision(repo)}",
                "-f",
                str(context / DOCKERFILE.relative_to(REPO)),
                "-t",
                image,
                str(context),
            ],
            check=True,
        )
    subprocess.run([docker, "push", image], check=True)
    log(f"pushed {image}")
    return tag


# -- stack parameters -------------------------------------------------------------------------------


def stack_parameters(
    assembly: Assembly,
    s3=None,
    *,
    web_image_tag: str,
    alert_email: str = "",
    alarm_email: str = "",
) -> dict[str, dict[str, str]]:
    """The parameter values of every stack that takes one, read back from what the steps deployed.

    The artifacts' object versions come from the bucket (the upload step must have run), so a rerun
    in a new shell, or of this step alone, deploys what is there and nothing stale.
    """
    s3 = s3 or _client("s3", assembly.region)
    values = {"WebImageTag": web_image_tag, "AlertEmail": alert_email, "AlarmEmail": alarm_email}
    bucket = assembly.artifacts_bucket
    for key, parameter in assembly.artifact_keys().items():
        if _remote_sha(s3, bucket, key) is None:
            raise DeployError(f"s3://{bucket}/{key} is missing: run the upload step first")
        values[parameter] = s3.head_object(Bucket=bucket, Key=key)["VersionId"]
    result: dict[str, dict[str, str]] = {}
    used: set[str] = set()
    for stack in assembly.stacks():
        declared = assembly.template(stack).get("Parameters", {})
        mine = {name: values[name] for name in declared if name in values}
        unset = [n for n, p in declared.items() if n not in values and "Default" not in p]
        if unset:
            raise DeployError(f"{stack} takes parameters this step does not know: {unset}")
        used.update(mine)
        if mine:
            result[assembly.stack_name(stack)] = mine
    if set(values) - used:
        raise DeployError(f"no stack takes the parameters {sorted(set(values) - used)} any more")
    return result


# -- secrets ----------------------------------------------------------------------------------------

PLACEHOLDER = "REPLACE"


def _drive_secret(secrets: dict[str, dict]) -> str:
    """The Drive connection's secret: the one whose template value is a google_cloud_platform connection."""
    names = [
        name
        for name, props in secrets.items()
        if json.loads(props.get("SecretString") or "{}").get("conn_type") == "google_cloud_platform"
    ]
    if len(names) != 1:
        raise DeployError(f"expected one Google Drive connection secret in the stacks, found {names}")
    return names[0]


def _settings_secret(secrets: dict[str, dict]) -> str:
    from callcare.names import SETTINGS_VARIABLE

    names = [name for name in secrets if name.endswith(f"/variables/{SETTINGS_VARIABLE}")]
    if len(names) != 1:
        raise DeployError(f"expected one {SETTINGS_VARIABLE} variable secret in the stacks, found {names}")
    return names[0]


def _service_account_key(path: Path) -> str:
    text = path.read_text()
    try:
        key = json.loads(text)
    except ValueError as error:
        raise DeployError(f"{path} is not the service account's key JSON: {error}") from None
    missing = [k for k in ("type", "client_email", "private_key", "token_uri") if not key.get(k)]
    if key.get("type") != "service_account" or missing:
        raise DeployError(f"{path} is not a service account key (missing {missing or ['type']})")
    return text


def apply_secrets(
    assembly: Assembly,
    sm=None,
    *,
    gdrive_key_file: Path | None = None,
    gdrive_folder_id: str | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Put the operator's values into the secrets the stacks created with placeholders.

    The stacks create every secret (CloudFormation generates the passwords and keys); only the Drive
    service account's key and the watched folder come from the operator. Values already there stay
    unless new ones are given, so a rerun is harmless. Fails while the pipeline would still read a
    placeholder: a deployment with no Drive key or no folder cannot ingest anything.
    """
    sm = sm or _client("secretsmanager", assembly.region)
    declared = assembly.secrets()
    present = {}
    for name in declared:
        try:
            present[name] = sm.describe_secret(SecretId=name)["ARN"]
        except sm.exceptions.ResourceNotFoundException:
            raise DeployError(f"secret {name} does not exist: deploy the stacks first") from None
    drive, variable = _drive_secret(declared), _settings_secret(declared)

    def current(name: str) -> str:
        return sm.get_secret_value(SecretId=name)["SecretString"]

    def put(name: str, value: str, what: str) -> None:
        if current(name) == value:
            log(f"{name}: {what} unchanged")
            return
        sm.put_secret_value(SecretId=name, SecretString=value)
        log(f"{name}: {what} set")

    if gdrive_key_file is not None:
        connection = {
            "conn_type": "google_cloud_platform",
            "extra": {"keyfile_dict": _service_account_key(gdrive_key_file)},
        }
        put(drive, json.dumps(connection), "Drive service account key")
    if gdrive_folder_id is not None or settings:
        try:
            merged = json.loads(current(variable))
        except ValueError:
            merged = {}
        merged.update(settings or {})
        if gdrive_folder_id is not None:
            merged["gdrive_folder_id"] = gdrive_folder_id
        put(variable, json.dumps(merged, sort_keys=True), "settings")

    waiting = [n for n in (drive, variable) if PLACEHOLDER in current(n)]
    if waiting:
        raise DeployError(
            f"still placeholders: {', '.join(waiting)}; give --gdrive-key-file and --gdrive-folder-id "
            "(GDRIVE_KEY_FILE, GDRIVE_FOLDER_ID for deploy.sh)"
        )
    return present


# -- pools ------------------------------------------------------------------------------------------


def pool_bodies() -> list[dict[str, Any]]:
    """Airflow REST API bodies (POST /pools, PATCH /pools/{name}) of callcare.names.POOLS."""
    from callcare.names import POOLS

    return [{"name": name, **spec} for name, spec in POOLS.items()]


def wait_available(
    mwaa, name: str, timeout_s: float, poll_s: float = 30, sleep: Callable[[float], None] = time.sleep
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        status = mwaa.get_environment(Name=name)["Environment"]["Status"]
        if status == "AVAILABLE":
            return
        if status in ("CREATE_FAILED", "UPDATE_FAILED", "DELETED", "DELETING", "UNAVAILABLE"):
            raise DeployError(f"MWAA environment {name} is {status}")
        if time.monotonic() >= deadline:
            raise DeployError(f"MWAA environment {name} is still {status} after {timeout_s:.0f} s")
        log(f"MWAA environment {name} is {status}; waiting")
        sleep(poll_s)


def apply_pools(
    mwaa,
    name: str,
    bodies: Iterable[dict[str, Any]] | None = None,
    wait_s: float = 3600,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """Create or update the Airflow pools on MWAA through its InvokeRestApi (Airflow's REST API).

    The pools are Airflow metadata, not AWS resources, so no stack can create them; without them the
    pooled tasks (transcribe, summarize) are never scheduled. PATCH first (a rerun updates slots and
    include_deferred), POST when Airflow answers 404. The caller needs airflow:InvokeRestApi on the
    environment's Admin role (arn:aws:airflow:<region>:<account>:role/<environment>/Admin).
    """
    from botocore.exceptions import ClientError

    wait_available(mwaa, name, wait_s, sleep=sleep)
    applied = []
    for body in bodies if bodies is not None else pool_bodies():
        path = f"/pools/{body['name']}"
        try:
            response = mwaa.invoke_rest_api(Name=name, Path=path, Method="PATCH", Body=body)
            action = "updated"
        except ClientError as error:
            if error.response.get("RestApiStatusCode") != 404:
                raise
            response = mwaa.invoke_rest_api(Name=name, Path="/pools", Method="POST", Body=body)
            action = "created"
        pool = response["RestApiResponse"]
        wrong = {k: pool.get(k) for k, v in body.items() if pool.get(k) != v}
        if wrong:
            raise DeployError(f"pool {body['name']}: Airflow answered {wrong}, expected {body}")
        log(f"pool {body['name']}: {action} ({body['slots']} slots, include_deferred)")
        applied.append(pool)
    return applied


# -- command line -----------------------------------------------------------------------------------


def _context_overrides(pairs: list[str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise DeployError(f"-c {pair}: expected key=value")
        overrides[key] = value
    return overrides


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "step", choices=["synth", "upload", "image", "stack-parameters", "secrets", "pools", "status"]
    )
    parser.add_argument("--env", required=True, help="environment name (callcare:env)")
    parser.add_argument("--assembly", type=Path, help="cloud assembly (default infra/build/<env>/cdk.out)")
    parser.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS, help="package_mwaa.py output")
    parser.add_argument("-c", "--context", action="append", default=[], help="synth: CDK context key=value")
    parser.add_argument("--context-file", type=Path, help="synth: resolved lookups (infra/cdk.context.json)")
    parser.add_argument("--gdrive-key-file", type=Path, help="secrets: the Drive service account's key JSON")
    parser.add_argument("--gdrive-folder-id", help="secrets: the Drive folder the ingest DAG watches")
    parser.add_argument("--settings", help="secrets: more setting overrides, a JSON object")
    parser.add_argument("--alert-email", default="", help="stack-parameters: call alerts' address")
    parser.add_argument("--alarm-email", default="", help="stack-parameters: alarms' address")
    parser.add_argument("--wait", type=float, default=3600, help="pools: seconds to wait for AVAILABLE")
    args = parser.parse_args(argv)
    path = args.assembly or default_assembly(args.env)
    try:
        if args.step == "synth":
            synth(args.env, path, _context_overrides(args.context), args.context_file)
            return 0
        assembly = Assembly(path)
        if args.step == "upload":
            print(json.dumps(upload(assembly, args.artifacts), indent=2))
        elif args.step == "image":
            push_image(assembly)
        elif args.step == "stack-parameters":
            params = stack_parameters(
                assembly,
                web_image_tag=image_tag(),
                alert_email=args.alert_email,
                alarm_email=args.alarm_email,
            )
            for stack, values in params.items():  # one CLI argument a line, for deploy.sh's mapfile
                for key, value in values.items():
                    print(f"--parameters\n{stack}:{key}={value}")
        elif args.step == "secrets":
            apply_secrets(
                assembly,
                gdrive_key_file=args.gdrive_key_file,
                gdrive_folder_id=args.gdrive_folder_id,
                settings=json.loads(args.settings) if args.settings else None,
            )
        elif args.step == "pools":
            apply_pools(_client("mwaa", assembly.region), assembly.mwaa_environment, wait_s=args.wait)
        elif args.step == "status":
            env = _client("mwaa", assembly.region).get_environment(Name=assembly.mwaa_environment)
            env = env["Environment"]
            print(json.dumps({k: env.get(k) for k in ("Name", "Status", "WebserverUrl")}, indent=2))
    except DeployError as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(
            f"deploy: {' '.join(map(str, error.cmd[:2]))} failed (exit {error.returncode})", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
