"""Runs the local profile: Airflow's four services as separate processes, and nothing else.

`airflow standalone` leaves task workers behind when stopped; here each service starts in its own
process group and stopping kills the whole group, so Ctrl-C leaves nothing running. The same class
starts the stack for the end-to-end tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO, Any

from callcare.names import POOLS

SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")
REPO_ROOT = Path(__file__).resolve().parents[3]
ADMIN_USER = "admin"


def airflow_env(home: Path, port: int = 8080, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for every Airflow process of the local profile (and the callcare settings)."""
    env = dict(os.environ if base is None else base)
    airflow_home = home / "airflow"
    secret_file = airflow_home / "secret.json"
    airflow_home.mkdir(parents=True, exist_ok=True)
    if not secret_file.exists():  # Airflow's signing secrets: 0600 from creation, like the password
        create_private(
            secret_file, json.dumps({"jwt": secrets.token_urlsafe(32), "api": secrets.token_urlsafe(32)})
        )
    secret = json.loads(secret_file.read_text())
    plugins = str(REPO_ROOT / "plugins")
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": plugins,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(airflow_home / "passwords.json"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__API__SECRET_KEY": secret["api"],
            "AIRFLOW__API_AUTH__JWT_SECRET": secret["jwt"],
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            # re-parsing the five DAG files every 15 s took a fifth of a 2-core machine during a burst;
            # new files are still found every REFRESH_INTERVAL, edits take up to 2 min to show
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "120",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(airflow_home / "logs"),
            "PYTHONPATH": os.pathsep.join(p for p in (plugins, env.get("PYTHONPATH", "")) if p),
            "CALLCARE_HOME": str(home),
        }
    )
    return env


def admin_password_file(home: Path) -> Path:
    """Where the local Airflow's admin password is kept (Airflow's simple auth manager reads it)."""
    return home / "airflow" / "passwords.json"


def admin_password(home: Path) -> str:
    """The admin's password: generated once, kept in the airflow home, never in the repo or a log.

    The file is 0600 from its creation (`create_private`, security review L7); one that appeared
    meanwhile is read, not overwritten."""
    path = admin_password_file(home)
    if path.exists():
        return json.loads(path.read_text())[ADMIN_USER]
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    if not create_private(path, json.dumps({ADMIN_USER: password})):
        return json.loads(path.read_text())[ADMIN_USER]
    return password


def create_private(path: Path, text: str) -> bool:
    """Write a new file that is 0600 from its creation (security review L7); False if it exists.

    Written first and chmod-ed after, a secret was readable with the umask's permissions in between.
    O_EXCL: a file that appeared meanwhile is left as it is (the caller reads it); O_NOFOLLOW: a link
    planted in its place is not written through (OSError)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as out:
        out.write(text)
    return True


def airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def pools_file(airflow_home: Path) -> Path:
    """callcare.names.POOLS as the file `airflow pools import` reads (include_deferred included)."""
    path = airflow_home / "pools.json"
    path.write_text(json.dumps(POOLS, indent=2, sort_keys=True) + "\n")
    return path


def initialize(env: dict[str, str], log: IO[str] | None = None) -> None:
    """Migrate the metadata database and create or update the pools (idempotent).

    One `pools import` of names.POOLS, the definitions the MWAA deploy step applies too: the same
    slots and include_deferred on both profiles, and one Airflow start instead of one per pool.
    """
    out = log or subprocess.DEVNULL
    subprocess.run(
        [airflow_bin(), "db", "migrate"], env=env, check=True, stdout=out, stderr=subprocess.STDOUT
    )
    subprocess.run(
        [airflow_bin(), "pools", "import", str(pools_file(Path(env["AIRFLOW_HOME"])))],
        env=env,
        check=True,
        stdout=out,
        stderr=subprocess.STDOUT,
    )


class AirflowStack:
    def __init__(self, home: Path, port: int = 8080, base_env: dict[str, str] | None = None) -> None:
        self.home = home
        self.port = port
        self.env = airflow_env(home, port, base_env)
        self.log_dir = home / "logs"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def initialize(self) -> None:
        admin_password(self.home)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / "init.log").open("a") as log:
            initialize(self.env, log)

    def start(self, timeout_s: float = 180) -> None:
        for service in SERVICES:
            self.start_service(service)
        self.wait_healthy(timeout_s)

    def start_service(self, service: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{service}.log").open("ab") as log:
            self.processes[service] = subprocess.Popen(
                [airflow_bin(), *service.split()],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() kills its workers too
            )

    def kill_service(self, service: str) -> None:
        """SIGKILL a service and every process in its group (the scheduler's task workers too)."""
        proc = self.processes.pop(service)
        _signal_group(proc, signal.SIGKILL)
        proc.wait()

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return dag_runs(self.env, dag_id)

    def wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for service, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"airflow {service} exited with {proc.returncode}; see {self.log_dir}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(2)
        raise TimeoutError(f"the Airflow API server did not answer within {timeout_s:.0f} s")

    def stop(self, grace_s: float = 20) -> None:
        for proc in self.processes.values():
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
        for proc in self.processes.values():
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        self.processes.clear()

    def __enter__(self) -> AirflowStack:
        self.initialize()
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def dag_runs(env: dict[str, str], dag_id: str) -> list[dict[str, Any]]:
    """A DAG's runs, as the Airflow CLI of a running stack lists them."""
    out = subprocess.run(
        [airflow_bin(), "dags", "list-runs", dag_id, "-o", "json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # the CLI may print log lines before its JSON document
    document = next(line for line in reversed(out.splitlines()) if line.startswith(("[{", "[]")))
    return list(json.loads(document))


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


class WebApp:
    """The caseworker web app (its own environment, .venv-webapp) beside the local Airflow."""

    def __init__(self, home: Path, port: int) -> None:
        self.home = home
        self.port = port
        self.password_file = home / "webapp" / "admin-password"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def executable(self) -> Path:
        return REPO_ROOT / ".venv-webapp" / "bin" / "callcare-web"

    def available(self) -> bool:
        return self.executable.exists()

    def password_hint(self) -> str:
        """Where the admin's password is: the file the app generated it into (0600), never the password
        itself (a run's output is often kept in a log anyone can read)."""
        if self.password_file.exists():
            return f"password in {self.password_file}"
        return "password from CALLCARE_WEB_ADMIN_PASSWORD"

    def start(self, timeout_s: float = 90) -> None:
        env = {
            **os.environ,
            "CALLCARE_HOME": str(self.home),
            "CALLCARE_WEB_PORT": str(self.port),
            "CALLCARE_WEB_ADMIN_PASSWORD_FILE": str(self.password_file),
        }
        log_dir = self.home / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        with (log_dir / "webapp.log").open("ab") as log:
            self.process = subprocess.Popen(
                [str(self.executable), "serve"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the web app exited with {self.process.returncode}; see {log_dir / 'webapp.log'}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/login/", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(1)
        raise TimeoutError(f"the web app did not answer within {timeout_s:.0f} s")

    def stop(self) -> None:
        if self.process is None:
            return
        _signal_group(self.process, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            _signal_group(self.process, signal.SIGKILL)
            self.process.wait()
        self.process = None
