"""Running the operator's deploy steps from the rehearsal: scripts/deploy.sh itself, and its Python half."""

from __future__ import annotations

import importlib.util
import os
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


def release_env(repo: Path) -> dict[str, str]:
    """checkout_env() for another release's checkout (tests/rehearsal/test_artifact_upgrade.py): its
    callcare first; this checkout's root after it, for the CDK CLI stand-in (tests.rehearsal)."""
    if repo == REPO:
        return checkout_env()
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo / "plugins"), str(REPO)])}


def deploy_env(endpoint: str, region: str, tmp: Path, repo: Path = REPO, **extra: str) -> dict[str, str]:
    """What an operator's shell has for deploy.sh, pointed at moto: the endpoint override, a region,
    credentials (moto takes any), no AWS config of the machine, and the code of the release being
    deployed (this checkout unless `repo` is another) with the deploy environment's interpreter."""
    env = release_env(repo)
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


def deploy(
    env: dict[str, str], name: str, *args: str, timeout: float = 300, repo: Path = REPO
) -> subprocess.CompletedProcess:
    """`scripts/deploy.sh <name> <args>` of the release in `repo`, its output kept for the assertion
    message."""
    return subprocess.run(
        [str(repo / DEPLOY_SH.relative_to(REPO)), name, *args],
        env=env,
        cwd=repo,
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
