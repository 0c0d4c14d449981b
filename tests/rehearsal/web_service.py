"""Deployment rehearsal, stage 5: the web service as ECS runs its task definition, from what shipped.

No container engine runs here (docker has no daemon), so the image is built by following its
Dockerfile in a clean Python 3.12 environment:

- the build context is the one the `image` deploy step sends to docker (scripts/deploy_steps.py
  `stage_context`: the Dockerfile and exactly what it copies), staged afresh on every build;
- that context's `webapp/Dockerfile` is read instruction by instruction: `FROM python:3.12-slim` is a
  venv of this machine's CPython 3.12 (tests/rehearsal/mwaa_runtime.python312) with the base image's
  ENV (LANG, PATH: the venv's bin/ first, where pip puts console scripts, like /usr/local/bin);
  `WORKDIR` and `COPY` lay the files out in an app folder as docker lays them out in /app; every
  `RUN pip install <args>` runs as `uv pip install <args>` into the venv from that folder (uv takes
  pip's arguments; `--no-cache-dir` is dropped: uv's cache is what makes a rebuild offline and quick);
  `ENV`, `USER`, `EXPOSE` and `CMD` are recorded. Any other instruction (or a RUN that is not a pip
  install) fails the build: the rehearsal must learn to follow it rather than skip it.
- layers are cached as docker caches them: each RUN's key is a digest of every instruction up to it
  and of the files COPY brought in before it, kept in `.venv-webimage/.layers.json`. A changed first
  RUN (the requirement files) rebuilds the venv from scratch; a later changed RUN (the callcare and
  callcare_web sources) runs again with `--reinstall`. Unchanged, a build only stages the context.

Then the image's CMD (`callcare-web serve`) starts as the task definition runs it: the environment is
the base image's, then the Dockerfile's ENV, then the container definition's `environment` as ECS
holds it in moto (the deployed WebApp stack's AWS::ECS::TaskDefinition), then its `secrets`, each
fetched from moto's Secrets Manager by its valueFrom (`<secret ARN>[:<json key>:<stage>:<version>]`),
then what Fargate adds (AWS_REGION, AWS_DEFAULT_REGION, AWS_EXECUTION_ENV, and the task role's
credentials: the task definition's taskRoleArn assumed as ECS assumes it, through moto's STS
(tests/rehearsal/iam.py `role_credentials`: moto cannot evaluate the role's trust in the
ecs-tasks service), as the container credentials endpoint hands them out). Its port is the container's PortMappings port. One-off commands
(`aws ecs run-task --overrides` with another `command`) run in the same environment.

The substitutions, and nothing else:

- the registry database: CALLCARE_DB_HOST and CALLCARE_DB_PORT (task environment) name a TLS front
  of the local PostgreSQL (`PostgresTlsFront`) instead of the RDS endpoint. The local server runs
  without TLS, and the task's CALLCARE_DB_SSLMODE=require stays as shipped, so the front answers
  libpq's SSLRequest and forwards the decrypted protocol to 127.0.0.1:5432. The database's name,
  user and password come through the task's secrets from the RDS secret, which the caller repoints
  at the local database as the pipeline rehearsal does (`point_registry_secret`);
- the AWS network: AWS_ENDPOINT_URL (boto3) and CALLCARE_S3_ENDPOINT_URL (pyarrow's S3 client and
  the presigned audio URLs, callcare's own setting, unset in a real deployment) name moto's server;
  AWS_EC2_METADATA_DISABLED keeps boto3 off the instance metadata service;
- the binding: each task has its own address in awsvpc mode, so each instance binds a loopback
  address of its own (127.0.0.2, 127.0.0.3, ...) instead of the image's 0.0.0.0 (CALLCARE_WEB_HOST),
  on the PortMappings port when that is free there, else on a free port (CALLCARE_WEB_PORT);
- the container's private file system: the image's CALLCARE_HOME (/tmp/callcare) becomes a folder of
  the instance's own. The processes run as this machine's user, not as USER nobody; nobody's HOME
  (/nonexistent) is a directory it cannot create, so HOME names a path below a regular file of the
  instance's folder, which no user can create either (nothing may write into this machine's root).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.rehearsal.iam import role_credentials
from tests.rehearsal.mwaa_runtime import python312, uv
from tests.rehearsal.steps import load_deploy_steps

REPO = Path(__file__).resolve().parents[2]
IMAGE_DIR = REPO / ".venv-webimage"
DOCKERFILE = "webapp/Dockerfile"  # in the build context, as deploy_steps builds it (-f <context>/...)
# the base image's own ENV (python:3.12-slim); PATH is the venv's bin/ before the system's
BASE_IMAGE = "python:3.12-slim"
BASE_ENV = {"LANG": "C.UTF-8"}
# what Fargate puts into every container's environment (besides the task role's credentials)
FARGATE_ENV = {"AWS_EXECUTION_ENV": "AWS_ECS_FARGATE"}
ROOTFS = "rootfs"  # the image's file system (WORKDIR /app is rootfs/app), in the build folder
PG_SSL_REQUEST = 80877103
PG_GSSENC_REQUEST = 80877104


# -- the image ------------------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    arguments: str

    @property
    def text(self) -> str:
        return f"{self.keyword} {self.arguments}"


def dockerfile_instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile: comments dropped, continuation lines joined."""
    out: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        keyword, _, arguments = line.partition(" ")
        out.append(Instruction(keyword.upper(), arguments.strip()))
    return out


def _exec_form(arguments: str) -> list[str]:
    """CMD/ENTRYPOINT: the JSON exec form, else the shell form."""
    if arguments.startswith("["):
        return json.loads(arguments)
    return ["/bin/sh", "-c", arguments]


def _env_pairs(arguments: str) -> dict[str, str]:
    words = shlex.split(arguments)
    if words and "=" not in words[0]:  # legacy `ENV NAME value`
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


@dataclass
class Image:
    """The image as the rehearsal has it: an environment, its app folder, its ENV and CMD."""

    root: Path
    env: dict[str, str]
    cmd: list[str]
    user: str | None
    exposed: list[int]
    workdir: Path
    built: list[str] = field(default_factory=list)  # the RUN steps this build ran (empty: all cached)


def _copy(context: Path, sources: list[str], dest: str, workdir: Path, rootfs: Path) -> None:
    """COPY <sources> <dest>: from the context, to dest relative to WORKDIR (or to the image's root)."""
    target = rootfs / dest.lstrip("/") if dest.startswith("/") else workdir / dest
    many = len(sources) > 1 or dest.endswith("/")
    for source in sources:
        origin = context / source
        if origin.is_dir():
            for path in sorted(p for p in origin.rglob("*") if p.is_file()):
                to = target / path.relative_to(origin)
                to.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, to)
        else:
            to = target / origin.name if many else target
            to.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, to)


def _pip_args(arguments: str) -> list[str]:
    words = shlex.split(arguments)
    if words[:2] not in (["pip", "install"], ["pip3", "install"]):
        raise NotImplementedError(f"the rehearsal follows `RUN pip install ...` only, not RUN {arguments}")
    return [w for w in words[2:] if w != "--no-cache-dir"]


@contextlib.contextmanager
def _build_lock(root: Path):
    lock = (
        Path(tempfile.gettempdir())
        / f"callcare-webimage-{hashlib.sha256(str(root).encode()).hexdigest()[:12]}.lock"
    )
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_image(root: Path = IMAGE_DIR) -> Image:
    """The web image's environment, built from the deploy step's build context by its Dockerfile."""
    steps = load_deploy_steps()
    with _build_lock(root), tempfile.TemporaryDirectory(prefix="webimage-context-") as staged:
        context = steps.stage_context(Path(staged))  # afresh on every build, as the image step does
        instructions = dockerfile_instructions((context / DOCKERFILE).read_text())
        layers_file = root / ".layers.json"
        cached: list[str] = json.loads(layers_file.read_text()) if layers_file.exists() else []

        digest = hashlib.sha256()
        env = dict(BASE_ENV)
        cmd: list[str] = []
        user = None
        exposed: list[int] = []
        workdir = root / ROOTFS
        runs = 0  # RUN instructions so far
        ran: list[str] = []
        for instruction in instructions:
            digest.update(instruction.text.encode() + b"\0")
            keyword, arguments = instruction.keyword, instruction.arguments
            if keyword == "FROM":
                if arguments != BASE_IMAGE:
                    raise NotImplementedError(f"the rehearsal builds on {BASE_IMAGE}, not {arguments}")
            elif keyword == "WORKDIR":
                workdir = root / ROOTFS / arguments.lstrip("/")
            elif keyword == "COPY":
                *sources, _dest = shlex.split(arguments)
                if any(s.startswith("--") for s in sources):
                    raise NotImplementedError(f"COPY options: {arguments}")
                # laid out before each RUN (`_lay_out`); their content is part of every later key
                for source in sorted(sources):
                    for path in sorted(
                        p for p in [context / source, *(context / source).rglob("*")] if p.is_file()
                    ):
                        digest.update(path.relative_to(context).as_posix().encode() + b"\0")
                        digest.update(path.read_bytes() + b"\0")
            elif keyword == "RUN":
                key, index = digest.hexdigest(), runs
                runs += 1
                if index < len(cached) and cached[index] == key:
                    continue  # this layer and every one below it are as built before
                if index == 0 or not (root / "bin" / "python").exists():
                    # the first layer (or a missing venv): a clean environment
                    shutil.rmtree(root, ignore_errors=True)
                    subprocess.run([uv(), "venv", "-q", str(root), "--python", python312()], check=True)
                    cached = []
                _lay_out(context, instructions, instruction, root)
                args = _pip_args(arguments)
                if index > 0:  # over an earlier build of this layer: replace what it installed
                    args = ["--reinstall", *args]
                subprocess.run(
                    [uv(), "pip", "install", "-q", "--python", str(root / "bin" / "python"), *args],
                    cwd=workdir,
                    env={**os.environ, "VIRTUAL_ENV": str(root)},
                    check=True,
                )
                ran.append(instruction.text)
                cached = [*cached[:index], key]
                layers_file.write_text(json.dumps(cached))
            elif keyword == "ENV":
                env.update(_env_pairs(arguments))
            elif keyword == "USER":
                user = arguments
            elif keyword == "EXPOSE":
                exposed.extend(int(p.split("/")[0]) for p in arguments.split())
            elif keyword == "CMD":
                cmd = _exec_form(arguments)
            else:
                raise NotImplementedError(f"the rehearsal does not follow {keyword} yet")
        # the image's files as the last layer has them (a cached build lays them out again)
        _lay_out(context, instructions, None, root)
        env["PATH"] = (
            f"{root / 'bin'}{os.pathsep}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        )
        return Image(root, env, cmd, user, exposed, workdir, ran)


def _lay_out(context: Path, instructions: list[Instruction], until: Instruction | None, root: Path) -> None:
    """The image's files as the COPY instructions before `until` (None: all of them) leave them."""
    rootfs = root / ROOTFS
    shutil.rmtree(rootfs, ignore_errors=True)
    rootfs.mkdir(parents=True)
    workdir = rootfs
    for instruction in instructions:
        if instruction is until:
            return
        if instruction.keyword == "WORKDIR":
            workdir = rootfs / instruction.arguments.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "COPY":
            *sources, dest = shlex.split(instruction.arguments)
            _copy(context, sources, dest, workdir, rootfs)


# -- the task definition, as deployed ---------------------------------------------------------------


@dataclass
class WebTaskDefinition:
    """The web container of the deployed task definition, and the load balancer's health check."""

    container: str
    environment: dict[str, str]  # resolved from moto's answers
    secrets: dict[str, str]  # name -> valueFrom
    command: list[str] | None  # the container's Command; None: the image's CMD
    port: int  # PortMappings' containerPort
    task_role_arn: str
    execution_role_arn: str
    health_path: str  # the target group's HealthCheckPath
    healthy_codes: str  # its Matcher


def web_task_definition(deployment: Any) -> WebTaskDefinition:
    """The WebApp stack's AWS::ECS::TaskDefinition from the deployed template, its values resolved
    from moto's answers. (moto's ECS keeps no taskRoleArn and makes awsvpc bridge, so the template is
    read; tests/rehearsal/test_web_rehearsal.py checks ECS holds the same environment and secrets.)"""
    web = deployment.stack("WebApp")
    _, task = web.properties("AWS::ECS::TaskDefinition")
    (container,) = task["ContainerDefinitions"]
    (mapping,) = container["PortMappings"]
    _, targets = web.properties("AWS::ElasticLoadBalancingV2::TargetGroup")
    return WebTaskDefinition(
        container=container["Name"],
        environment={e["Name"]: str(web.resolve(e["Value"])) for e in container.get("Environment", [])},
        secrets={s["Name"]: web.resolve(s["ValueFrom"]) for s in container.get("Secrets", [])},
        command=container.get("Command"),
        port=int(mapping["ContainerPort"]),
        task_role_arn=web.resolve(task["TaskRoleArn"]),
        execution_role_arn=web.resolve(task["ExecutionRoleArn"]),
        health_path=targets.get("HealthCheckPath", "/"),
        healthy_codes=targets.get("Matcher", {}).get("HttpCode", "200"),
    )


def split_value_from(value_from: str) -> tuple[str, str, str, str]:
    """An ECS secret's valueFrom: (secret ARN, JSON key, version stage, version id)."""
    parts = value_from.split(":")
    arn, rest = ":".join(parts[:7]), [*parts[7:], "", "", ""]
    return arn, rest[0], rest[1], rest[2]


def secret_value(secretsmanager: Any, value_from: str) -> str:
    """What ECS injects for a secret: the secret's string, or one key of its JSON."""
    arn, key, stage, version = split_value_from(value_from)
    kwargs = {"SecretId": arn}
    if stage:
        kwargs["VersionStage"] = stage
    if version:
        kwargs["VersionId"] = version
    value = secretsmanager.get_secret_value(**kwargs)["SecretString"]
    return str(json.loads(value)[key]) if key else value


def point_registry_secret(deployment: Any, task: WebTaskDefinition, dbname: str, **fields: Any) -> str:
    """Repoint the RDS secret (the one behind the task's CALLCARE_DB_NAME) at a local database, as the
    pipeline rehearsal does: host 127.0.0.1, port 5432, user postgres unless `fields` say otherwise.
    Returns the secret's ARN."""
    from callcare_web.config import DB_NAME

    arn = split_value_from(task.secrets[DB_NAME])[0]
    sm = deployment.client("secretsmanager")
    attached = json.loads(sm.get_secret_value(SecretId=arn)["SecretString"])
    attached.update({"host": "127.0.0.1", "port": 5432, "username": "postgres", "dbname": dbname, **fields})
    sm.put_secret_value(SecretId=arn, SecretString=json.dumps(attached))
    return arn


# -- the registry database behind TLS ---------------------------------------------------------------


class PostgresTlsFront:
    """TLS in front of a PostgreSQL that runs without it, the way RDS offers it.

    libpq with sslmode=require opens with an SSLRequest; the front answers 'S', completes the TLS
    handshake with a self-signed certificate (require checks none) and forwards the decrypted
    protocol to the server. A GSSAPI-encryption request is declined ('N'), and a client that does
    not ask for TLS is refused: the task's sslmode=require is what is under test.
    """

    def __init__(self, workdir: Path, upstream: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.workdir = workdir
        self.upstream = upstream
        self.host = "127.0.0.1"
        self.port = 0
        self.connections = 0
        self.loop = asyncio.new_event_loop()
        self.thread: threading.Thread | None = None

    def start(self) -> PostgresTlsFront:
        self.workdir.mkdir(parents=True, exist_ok=True)
        cert, key = self.workdir / "front.crt", self.workdir / "front.key"
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
                *("-subj", "/CN=registry.rehearsal", "-keyout", str(key), "-out", str(cert)),
            ],
            check=True,
            capture_output=True,
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(
                asyncio.start_server(lambda r, w: self._serve(r, w, context), self.host, 0)
            )
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="postgres-tls-front", daemon=True)
        self.thread.start()
        if not ready.wait(10):
            raise RuntimeError("the PostgreSQL TLS front did not start")
        return self

    async def _serve(self, reader, writer, context: ssl.SSLContext) -> None:
        upstream_writer = None
        try:
            while True:
                length, code = struct.unpack("!ii", await reader.readexactly(8))
                if (length, code) != (8, PG_GSSENC_REQUEST):
                    break
                writer.write(b"N")
                await writer.drain()
            if (length, code) != (8, PG_SSL_REQUEST):
                return
            writer.write(b"S")
            await writer.drain()
            await writer.start_tls(context)
            self.connections += 1
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            for w in (writer, upstream_writer):
                if w is not None:
                    with contextlib.suppress(Exception):
                        w.close()

    def stop(self) -> None:
        if self.thread is None:
            return

        def close() -> None:
            self.server.close()
            self.loop.stop()

        self.loop.call_soon_threadsafe(close)
        self.thread.join(10)
        self.thread = None


async def _pipe(reader, writer) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def moto_network(endpoint: str) -> dict[str, str]:
    """Where the task's AWS is: moto's server (boto3's and callcare's endpoint overrides)."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "CALLCARE_S3_ENDPOINT_URL": endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


# -- the tasks ---------------------------------------------------------------------------------------


@dataclass
class WebInstance:
    """One running task of the service: its process, where it listens, its log."""

    name: str
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class WebService:
    """The ECS service's tasks, started from the image with the task definition's environment."""

    def __init__(
        self,
        image: Image,
        task: WebTaskDefinition,
        deployment: Any,
        workdir: Path,
        registry: tuple[str, int],
        network: dict[str, str],
    ) -> None:
        self.image = image
        self.task = task
        self.deployment = deployment
        self.workdir = workdir
        self.registry = registry
        self.network = network
        self.instances: list[WebInstance] = []
        self.one_offs: list[tuple[list[str], subprocess.CompletedProcess[str]]] = []
        self.registry_front: PostgresTlsFront | None = None
        self._runs = 0

    def container_environment(self, name: str) -> dict[str, str]:
        """What the container's processes see, in the order ECS layers it (module docstring)."""
        from callcare_web.config import DB_HOST, DB_PORT

        sm = self.deployment.client("secretsmanager")
        region = self.deployment.session.region_name
        credentials = role_credentials(self.task.task_role_arn, f"ecs-{name}", region)
        private = self.workdir / name
        private.mkdir(parents=True, exist_ok=True)
        env = {**self.image.env, "HOME": _home(private, self.image.user)}
        env.update(self.task.environment)
        env.update({name_: secret_value(sm, value_from) for name_, value_from in self.task.secrets.items()})
        env.update(
            FARGATE_ENV,
            AWS_REGION=region,
            AWS_DEFAULT_REGION=region,
            **credentials.environ(),
        )
        # the substitutions (module docstring), and no other
        env[DB_HOST], env[DB_PORT] = self.registry[0], str(self.registry[1])
        env.update(self.network)
        if "CALLCARE_HOME" in env:
            env["CALLCARE_HOME"] = str(private / env["CALLCARE_HOME"].lstrip("/"))
        return env

    def _argv(self, command: list[str], env: dict[str, str]) -> list[str]:
        executable = shutil.which(command[0], path=env["PATH"])
        if executable is None:
            raise FileNotFoundError(f"{command[0]} is not on the image's PATH")
        return [executable, *command[1:]]

    def run_task(self, command: list[str], timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        """A one-off task (`aws ecs run-task` with the container's command overridden)."""
        self._runs += 1
        name = f"run-{self._runs}-{'-'.join(command[1:]) or 'task'}"
        env = self.container_environment(name)
        return subprocess.run(
            self._argv(command, env),
            env=env,
            cwd=self.image.workdir,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def start(self, count: int = 2, timeout_s: float = 120) -> list[WebInstance]:
        """`count` tasks of the service, each on its own loopback address; returns when each one's
        health check answers."""
        command = self.task.command or self.image.cmd
        for _ in range(count):
            index = len(self.instances) + 1
            name = f"task-{index}"
            host = f"127.0.0.{index + 1}"
            port = self.task.port if _bindable(host, self.task.port) else _free_port(host)
            env = self.container_environment(name)
            env.update(CALLCARE_WEB_HOST=host, CALLCARE_WEB_PORT=str(port))
            log = self.workdir / f"{name}.log"
            with log.open("ab") as out:
                process = subprocess.Popen(
                    self._argv(command, env),
                    env=env,
                    cwd=self.image.workdir,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.instances.append(WebInstance(name, host, port, process, log))
        for instance in self.instances[-count:]:
            self.wait_healthy(instance, timeout_s)
        return self.instances[-count:]

    def health(self, instance: WebInstance) -> int | None:
        """The status the load balancer's health check gets (None: no answer)."""
        try:
            with urllib.request.urlopen(f"{instance.url}{self.task.health_path}", timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return None

    def wait_healthy(self, instance: WebInstance, timeout_s: float) -> None:
        healthy = {int(code) for code in re.split(r"[,\s]+", self.task.healthy_codes) if code.isdigit()}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if instance.process.poll() is not None:
                raise RuntimeError(
                    f"{instance.name} exited with {instance.process.returncode}:\n{instance.output()[-4000:]}"
                )
            if self.health(instance) in healthy:
                return
            time.sleep(0.5)
        raise TimeoutError(f"{instance.name} not healthy in {timeout_s:.0f} s:\n{instance.output()[-4000:]}")

    def stop(self, grace_s: float = 10) -> None:
        for instance in self.instances:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(instance.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for instance in self.instances:
            try:
                instance.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(instance.process.pid, signal.SIGKILL)
                instance.process.wait()
        self.instances.clear()


def _home(private: Path, user: str | None) -> str:
    """HOME in the container: root's, or a non-root USER's that it cannot create (nobody's
    /nonexistent): below a regular file, where not even this machine's root can create it."""
    if user in (None, "root", "0"):
        home = private / "root"
        home.mkdir(exist_ok=True)
        return str(home)
    blocker = private / "no-home-for-nobody"
    blocker.touch()
    return str(blocker / "nonexistent")


def _bindable(host: str, port: int) -> bool:
    """Whether a server could listen there now (SO_REUSEADDR, as gunicorn binds)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# -- the operator's steps and the load balancer -------------------------------------------------------


def documented_one_offs(task: WebTaskDefinition) -> list[list[str]]:
    """The commands docs/DEPLOY.md has an operator run as one-off tasks of the web task definition
    before traffic, in their order: the schema step ("Upgrading an environment": `callcare-web db
    upgrade`, which also builds a new database) and the first admin ("First admin"). Each is the
    command of an `aws ecs run-task --overrides`, whose container must be the task definition's."""
    deploy = (REPO / "docs" / "DEPLOY.md").read_text()
    return [
        _run_task_override(deploy, "## Upgrading an environment", task),
        _run_task_override(deploy, "**First admin", task),
    ]


def _run_task_override(doc: str, heading: str, task: WebTaskDefinition) -> list[str]:
    """The container command of the first `--overrides '{...}'` after `heading` in docs/DEPLOY.md."""
    start = doc.find(heading)
    overrides = re.search(r"--overrides '(\{.*?\})'", doc[start:]) if start >= 0 else None
    if not overrides:
        raise AssertionError(f"docs/DEPLOY.md no longer shows a run-task after {heading!r}")
    (container,) = json.loads(overrides.group(1))["containerOverrides"]
    if container["name"] != task.container:
        raise AssertionError(
            f"docs/DEPLOY.md overrides container {container['name']!r}, not {task.container!r}"
        )
    return container["command"]


# What the ALB adds to a request it forwards from a client over HTTPS (the listener has the
# certificate), and the Host the client asked for: the app trusts one proxy hop (CALLCARE_WEB_PROXY_HOPS).
DOMAIN = "calls.rehearsal.example.com"
CLIENT_ADDRESS = "203.0.113.7"
ALB_HEADERS = {
    "X-Forwarded-For": CLIENT_ADDRESS,
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Port": "443",
    "Host": DOMAIN,
}


def login(instance: WebInstance, username: str, password: str) -> dict[str, str]:
    """Sign in through the login form as a browser does behind the ALB; the cookies it holds then.

    Cookies are handed over as plain name/value pairs: a requests jar would keep them for the Host
    header's domain and, being Secure, never send them to http://127.0.0.x."""
    import requests

    page = requests.get(f"{instance.url}/login/", headers=ALB_HEADERS, timeout=30)
    if page.status_code != 200:
        raise AssertionError(f"/login/ answered {page.status_code}: {page.text[:500]}")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page.text
    )
    if not token:
        raise AssertionError("no CSRF token on the login form")
    answer = requests.post(
        f"{instance.url}/login/",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
        cookies=page.cookies.get_dict(),
        headers={**ALB_HEADERS, "Referer": f"https://{DOMAIN}/login/", "Origin": f"https://{DOMAIN}"},
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code != 302 or "/login" in answer.headers.get("Location", "/login"):
        raise AssertionError(f"login refused ({answer.status_code}): {answer.text[:1000]}")
    return {**page.cookies.get_dict(), **answer.cookies.get_dict()}


@contextlib.contextmanager
def web_service(deployment: Any, workdir: Path, endpoint: str, count: int = 2) -> Iterator[WebService]:
    """The web service of a deployment in moto: the image built, the registry behind TLS, the
    documented one-off commands run (their results in `service.one_offs`), `count` tasks healthy.

    The registry secret must already point at the local database (`point_registry_secret`, or the
    pipeline rehearsal's repointing); everything else comes from the deployment."""
    task = web_task_definition(deployment)
    front = PostgresTlsFront(workdir / "registry-tls").start()
    service = WebService(
        build_image(), task, deployment, workdir, (front.host, front.port), moto_network(endpoint)
    )
    service.registry_front = front
    try:
        for command in documented_one_offs(task):
            done = service.run_task(command)
            service.one_offs.append((command, done))
            if done.returncode != 0:
                raise AssertionError(
                    f"{shlex.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
                )
        service.start(count)
        yield service
    finally:
        service.stop()
        front.stop()
