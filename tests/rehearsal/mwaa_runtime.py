"""MWAA's Airflow runtime, reproduced for the rehearsal from MWAA's own published image.

moto has no MWAA, so the rehearsal starts Airflow the way MWAA's container entrypoint does. Every
behaviour here comes from aws/amazon-mwaa-docker-images, images/airflow/3.3.1 (the same commit as
../shared/mwaa/README.md), cited where it is reproduced; the code stays theirs, this module only
follows it:

- the image: Python 3.12 with the packages of `bootstrap/02-airflow/001-install-required-pip-packages.sh`
  under Airflow's constraints (`etc/airflow_constraints.txt`);
- the user's requirements.txt installed with pip's `--constraint` of MWAA's essential pins
  (`bin/airflow-user/safe-pip-install`, `python/mwaa/utils/user_requirements.py`): the constraints
  file that requirements.txt names is honoured, so a pin of ours that MWAA's pins forbid fails here;
- plugins.zip unpacked into the plugins folder, the dags prefix synced into the dags folder;
- startup.sh sourced before each component starts, its exported variables kept for the component,
  within MWAA's time limit (`python/mwaa/config/setup_environment.py`, `bin/airflow-user/
  execute-user-startup-script`); not run for migrate-db;
- the options MWAA sets: essential ones (Celery over SQS, a standalone dag-processor, the execution
  API URL, statsd, triggerer queues off) and overridable ones (each task in a new interpreter, no
  scheduling right after a task, the secrets lookup pattern that keeps aws_default out of Secrets
  Manager) from `python/mwaa/config/airflow.py` and `environ.py`, then the environment's own
  AirflowConfigurationOptions (from the synthesized template) over the overridable ones;
- the components: the scheduler container runs scheduler, dag-processor and triggerer, the worker
  container `airflow celery worker`, the webserver container the api-server
  (`python/mwaa/execute_command.py`); the metadata database is migrated first (`entrypoint.py`).

What differs, and why: MWAA's own Celery transport (`python/mwaa/celery/sqs_broker.py`) adds idle-
worker bookkeeping for its autoscaling; the rehearsal uses kombu's SQS transport with the same
broker options (`python/mwaa/config/celery.py`): predefined queue, region, `is_secure` from
MWAA__SQS__USE_SSL, a 12-hour visibility timeout. Logging goes to files, not CloudWatch. The
FAB auth manager is replaced by Airflow's simple one (the UI is not under test). The psycopg2 source
build of the image is left out (psycopg2-binary, from requirements.txt, is what callcare imports).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MWAA_REFERENCE = REPO.parent / "shared" / "mwaa"  # copied from the MWAA image (its README)
AIRFLOW_CONSTRAINTS = MWAA_REFERENCE / "airflow-3.3.1-constraints-3.12.txt"
ESSENTIAL_CONSTRAINTS = MWAA_REFERENCE / "mwaa-3.3.1-essential-constraints.txt"
# bootstrap/02-airflow/001-install-required-pip-packages.sh, less the image's tooling that nothing
# here runs (boto3-stubs, watchtower, fluent-logger for CloudWatch logs, psycopg2 built from source)
IMAGE_PACKAGES = (
    "apache-airflow-providers-amazon[aiobotocore]",
    "apache-airflow[celery,statsd]==3.3.1",
    "apache-airflow-core[gunicorn]==3.3.1",
    "apache-airflow-providers-postgres",
    "celery[sqs]",
    "pycurl",
    "virtualenv",
    "apache-airflow-providers-standard",
)
# python/mwaa/config/setup_environment.py: STARTUP_SCRIPT_MAX_EXECUTION_TIME
STARTUP_LIMIT_S = 5 * 60
CELERY_CONFIG_MODULE = "rehearsal_mwaa_celery.CELERY_CONFIG"
SITE = Path(__file__).with_name("mwaa_site")  # the module above, on the components' PYTHONPATH
# which processes each MWAA container runs (python/mwaa/execute_command.py)
CONTAINERS = {
    "scheduler": ("scheduler", "dag-processor", "triggerer"),
    "worker": ("celery worker",),
    "webserver": ("api-server",),
}


def python312() -> str:
    """A CPython 3.12 of this machine (PATH, then pyenv): uv must not download one (no network)."""
    pyenv = sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
    if pyenv:  # before PATH: a pyenv shim on PATH answers "command not found" for other versions
        return str(pyenv[-1])
    found = shutil.which("python3.12")
    if found:
        return found
    raise RuntimeError("the rehearsal needs Python 3.12 (MWAA 3.3.1's): install python3.12 or a pyenv 3.12")


def uv() -> str:
    return str(REPO / ".venv-tools" / "bin" / "uv")


def install_image(venv: Path) -> None:
    """The MWAA image's Python environment, built once and reused while its inputs are unchanged."""
    stamp = hashlib.sha256("\n".join([*IMAGE_PACKAGES, AIRFLOW_CONSTRAINTS.read_text()]).encode()).hexdigest()
    stamp_file = venv / ".rehearsal-image"
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        return
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([uv(), "venv", "-q", str(venv), "--python", python312()], check=True)
    _pip(venv, "-c", str(AIRFLOW_CONSTRAINTS), *IMAGE_PACKAGES)
    stamp_file.write_text(stamp)


def install_requirements(venv: Path, requirements: Path, dags_folder: Path) -> None:
    """requirements.txt as MWAA installs it: safe-pip-install, i.e. with MWAA's essential constraints.

    Our requirements.txt names its lock at MWAA's path (/usr/local/airflow/dags/constraints.txt);
    here the dags folder lives elsewhere, so that one path is rewritten to this dags folder.
    """
    text = requirements.read_text().replace("/usr/local/airflow/dags/", f"{dags_folder}/")
    local = requirements.with_name("requirements.local.txt")
    local.write_text(text)
    _pip(venv, "--constraint", str(ESSENTIAL_CONSTRAINTS), "-r", str(local))


def _pip(venv: Path, *args: str) -> None:
    subprocess.run(
        [uv(), "pip", "install", "-q", *args],
        env={**os.environ, "VIRTUAL_ENV": str(venv)},
        check=True,
    )


def fetch_artifacts(s3, airflow_stack, mwaa: dict, home: Path) -> dict[str, Path]:
    """What MWAA reads from the source bucket for an environment: the dags prefix synced into
    home/dags (a file gone from the prefix goes from the folder), plugins.zip, requirements.txt and
    startup.sh at the object versions the stack names. airflow_stack: a deployed stack
    (tests/rehearsal/deployment.DeployedStack), mwaa: its AWS::MWAA::Environment's properties."""
    bucket = airflow_stack.resolve(mwaa["SourceBucketArn"]).split(":::", 1)[1]
    dags_prefix = mwaa["DagS3Path"].strip("/")
    shutil.rmtree(home / "dags", ignore_errors=True)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{dags_prefix}/"):
        for obj in page.get("Contents", []):
            target = home / "dags" / obj["Key"][len(dags_prefix) + 1 :]
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, obj["Key"], str(target))
    artifacts = {}
    for kind in ("Plugins", "Requirements", "StartupScript"):
        key = airflow_stack.resolve(mwaa[f"{kind}S3Path"])
        version = airflow_stack.resolve(mwaa[f"{kind}S3ObjectVersion"])
        target = home / "artifacts" / key
        target.parent.mkdir(parents=True, exist_ok=True)
        body = s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
        target.write_bytes(body)
        artifacts[kind] = target
    return artifacts


def prepare_container(s3, airflow_stack, mwaa: dict, home: Path, venv: Path) -> dict[str, Path]:
    """A container of the environment as MWAA builds one: the artifacts read (fetch_artifacts), the
    image's Python environment with requirements.txt installed, plugins.zip unpacked. Returns the
    artifacts' local paths (the startup script among them)."""
    artifacts = fetch_artifacts(s3, airflow_stack, mwaa, home)
    install_image(venv)
    install_requirements(venv, artifacts["Requirements"], home / "dags")
    unpack_plugins(artifacts["Plugins"], home / "plugins")
    return artifacts


def unpack_plugins(plugins_zip: Path, plugins_folder: Path) -> None:
    shutil.rmtree(plugins_folder, ignore_errors=True)
    plugins_folder.mkdir(parents=True)
    with zipfile.ZipFile(plugins_zip) as archive:
        archive.extractall(plugins_folder)


@dataclass
class Startup:
    environ: dict[str, str]
    seconds: float
    output: str


def run_startup(script: Path, environ: dict[str, str], workdir: Path) -> Startup:
    """bin/airflow-user/execute-user-startup-script: source the script, keep what it exported.

    MWAA aliases `exit` to dump the environment with jq; `env -0` after sourcing gives the same
    variables. The time limit kills the script, as MWAA's TimeoutCondition does.
    """
    dump = workdir / "customer_env_vars"
    command = f'source "{script}"; env -0 > "{dump}"'
    started = time.monotonic()
    done = subprocess.run(
        ["/bin/bash", "-c", command],
        env=environ,
        capture_output=True,
        text=True,
        timeout=STARTUP_LIMIT_S,
        cwd=workdir,
    )
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"startup.sh exited with {done.returncode}:\n{done.stdout}\n{done.stderr}")
    pairs = (item.split("=", 1) for item in dump.read_text().split("\0") if "=" in item)
    return Startup(dict(pairs), seconds, done.stdout + done.stderr)


def template_options(options: dict[str, str]) -> dict[str, str]:
    """AirflowConfigurationOptions as MWAA exports them (section.key -> AIRFLOW__SECTION__KEY)."""
    out = {}
    for name, value in options.items():
        section, key = name.split(".", 1)
        out[f"AIRFLOW__{section.upper()}__{key.upper()}"] = str(value)
    return out


@dataclass
class MwaaSettings:
    """What MWAA's service passes each container (MWAA__* variables and the AWS network)."""

    home: Path  # AIRFLOW_HOME (/usr/local/airflow on MWAA)
    venv: Path
    metadata_db: str  # SQLAlchemy URL of the metadata database (MWAA's own Aurora)
    sqs_endpoint: str  # http://host:port of the SQS service
    queue_url: str  # the environment's Celery queue (MWAA__SQS__QUEUE_URL)
    region: str
    api_port: int
    options: dict[str, str]  # the template's AirflowConfigurationOptions
    network: dict[str, str] = field(default_factory=dict)  # endpoint overrides: where AWS "is"
    fernet_key: str = field(default_factory=lambda: _fernet_key())
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def dags_folder(self) -> Path:
        return self.home / "dags"

    @property
    def plugins_folder(self) -> Path:
        return self.home / "plugins"


def _fernet_key() -> str:
    import base64

    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def mwaa_environ(settings: MwaaSettings, component: str) -> tuple[dict[str, str], dict[str, str]]:
    """(overridable, essential) variables of python/mwaa/config/{airflow,environ}.py for a container."""
    queue_name = settings.queue_url.rstrip("/").rsplit("/", 1)[-1]
    host_port = settings.sqs_endpoint.split("://", 1)[1]
    db = settings.metadata_db
    opinionated = {
        # _get_opinionated_airflow_core_config / scheduler / secrets / usage data / environ
        "AIRFLOW__CORE__EXECUTE_TASKS_NEW_PYTHON_INTERPRETER": "True",
        "AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES": "proxy,proxies",
        "AIRFLOW__API__SERVER_TYPE": "gunicorn",
        "AIRFLOW__SCHEDULER__SCHEDULE_AFTER_TASK_EXECUTION": "False",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "1800.0",
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(
            {"connections_lookup_pattern": "^(?!aws_default$).*$"}
        ),
        "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS": json.dumps(
            {"connections_lookup_pattern": "^(?!aws_default$).*$"}
        ),
        "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
        "AIRFLOW_CONN_AWS_DEFAULT": "aws://",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    }
    essential = {
        # _get_essential_airflow_executor_config (CeleryExecutor) and python/mwaa/config/sqs.py
        "AIRFLOW__CELERY__BROKER_URL": f"sqs://{host_port}",
        "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": CELERY_CONFIG_MODULE,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{db}",
        "AIRFLOW__CELERY__WORKER_ENABLE_REMOTE_CONTROL": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue_name,
        "MWAA__SQS__QUEUE_URL": settings.queue_url,
        "MWAA__SQS__USE_SSL": "false",
        # _get_essential_airflow_core_config
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{settings.api_port}/execution/",
        "AIRFLOW__CORE__FERNET_KEY": settings.fernet_key,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__MULTI_TEAM": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": settings.jwt_secret,
        "AIRFLOW__API_AUTH__JWT_ALGORITHM": "HS256",
        "AIRFLOW__EXECUTION_API__JWT_EXPIRATION_TIME": "86400",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db,
        "AIRFLOW__TRIGGERER__QUEUES_ENABLED": "False",
        "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "True",
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "localhost",
        "AIRFLOW__METRICS__STATSD_PORT": "8125",
        "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        # auth: the simple auth manager instead of FAB (module docstring)
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager."
        "SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(settings.home / "passwords.json"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(settings.api_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{settings.api_port}",
        # environ.py get_essential_environ
        "AIRFLOW_VERSION": "3.3.1",
        "AWS_EXECUTION_ENV": "Amazon_MWAA_331",
        "MWAA_AIRFLOW_COMPONENT": component,
        "MWAA_COMMAND": component,
        # the image's layout (Dockerfile: AIRFLOW_HOME=/usr/local/airflow)
        "AIRFLOW_HOME": str(settings.home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.dags_folder),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(settings.plugins_folder),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(settings.home / "logs"),
        "AWS_DEFAULT_REGION": settings.region,
        "AWS_REGION": settings.region,
        "PATH": f"{settings.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        # MWAA's own python package is on the image's PYTHONPATH; here, the celery options module
        "PYTHONPATH": str(SITE),
        "VIRTUAL_ENV": str(settings.venv),
        "HOME": os.environ.get("HOME", "/root"),
    }
    return opinionated, essential


def component_environ(
    settings: MwaaSettings, component: str, startup: Path | None
) -> tuple[dict, Startup | None]:
    """setup_environment.setup_environment_variables: the order in which MWAA layers variables."""
    opinionated, essential = mwaa_environ(settings, component)
    user = template_options(settings.options)
    base = {"LANG": "C.UTF-8", **settings.network}
    ran = None
    startup_env: dict[str, str] = {}
    if startup is not None:
        ran = run_startup(startup, {**base, **opinionated, **user, **essential}, settings.home)
        startup_env = ran.environ
    return {**base, **opinionated, **startup_env, **user, **essential}, ran


class MwaaAirflow:
    """The containers of one MWAA environment as process groups; stop() leaves nothing behind."""

    def __init__(self, settings: MwaaSettings, startup: Path) -> None:
        self.settings = settings
        self.startup = startup
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.startups: dict[str, Startup] = {}
        self.log_dir = settings.home / "process-logs"

    @property
    def airflow(self) -> str:
        return str(self.settings.venv / "bin" / "airflow")

    def migrate(self) -> None:
        """The migrate-db container: no startup script, then `airflow db migrate`."""
        env, _ = component_environ(self.settings, "migrate-db", None)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        (self.settings.home / "passwords.json").write_text(json.dumps({"admin": "admin"}))
        with (self.log_dir / "migrate-db.log").open("ab") as log:
            subprocess.run(
                [self.airflow, "db", "migrate"], env=env, check=True, stdout=log, stderr=subprocess.STDOUT
            )

    def start_container(self, container: str, name: str | None = None) -> None:
        name = name or container
        env, ran = component_environ(self.settings, container, self.startup)
        assert ran is not None
        self.startups[name] = ran
        (self.log_dir / f"{name}-startup.log").write_text(ran.output)
        for process in CONTAINERS[container]:
            label = f"{name}.{process.replace(' ', '-')}"
            with (self.log_dir / f"{label}.log").open("ab") as log:
                self.processes[label] = subprocess.Popen(
                    [self.airflow, *process.split()],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )

    def kill(self, label: str) -> None:
        """SIGKILL a process and its group: a container lost with the tasks it ran."""
        proc = self.processes.pop(label)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def wait_healthy(self, timeout_s: float = 240) -> None:
        url = f"http://127.0.0.1:{self.settings.api_port}/api/v2/monitor/health"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for label, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{label} exited with {proc.returncode}; see {self.log_dir}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    body = json.loads(response.read())
                if body.get("scheduler", {}).get("status") == "healthy":
                    return
            except OSError:
                pass
            time.sleep(3)
        raise TimeoutError(f"the api-server or scheduler was not healthy within {timeout_s:.0f} s")

    def stop(self, grace_s: float = 20) -> None:
        for proc in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
        for proc in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self.processes.clear()
