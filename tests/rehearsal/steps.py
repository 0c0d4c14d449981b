"""Running the operator's deploy steps from the rehearsal: scripts/deploy.sh itself, and its Python half."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from tests.support.helpers import REPO, checkout_env

DEPLOY_SH = REPO / "scripts" / "deploy.sh"


def load_deploy_steps():
    """scripts/deploy_steps.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("deploy_steps", REPO / "scripts" / "deploy_steps.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("deploy_steps", module)
    spec.loader.exec_module(module)
    return module


def deploy_env(endpoint: str, region: str, tmp: Path, **extra: str) -> dict[str, str]:
    """What an operator's shell has for deploy.sh, pointed at moto: the endpoint override, a region,
    credentials (moto takes any), no AWS config of the machine, and this checkout's code and
    interpreter (the deploy environment the test runs in)."""
    env = checkout_env()
    for name in list(env):
        if name.startswith("AWS_") or name.startswith("CDK_"):
            del env[name]
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_REGION=region,
        AWS_ACCESS_KEY_ID="rehearsal",
        AWS_SECRET_ACCESS_KEY="rehearsal",
        AWS_CONFIG_FILE=str(tmp / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        PYTHON=sys.executable,
    )
    env.update(extra)
    return env


def deploy(env: dict[str, str], name: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`scripts/deploy.sh <name> <args>`, its output kept for the assertion message."""
    return subprocess.run(
        [str(DEPLOY_SH), name, *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def deploy_steps(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`scripts/deploy_steps.py <args>`: the half of a step deploy.sh hands to Python."""
    return subprocess.run(
        [env.get("PYTHON", sys.executable), str(REPO / "scripts" / "deploy_steps.py"), *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, (
        f"{result.args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return result
