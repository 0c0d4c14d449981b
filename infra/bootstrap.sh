#!/usr/bin/env bash
# Installs the CDK app's environment in .venv-infra from infra/constraints.txt, idempotently (the
# same stamp approach as scripts/bootstrap.sh: nothing is reinstalled while the lock is unchanged).
# Synth needs node (v18 or newer) and nothing from the network: the aws-cdk-lib wheel carries its
# JavaScript. uv comes from .venv-tools, which scripts/bootstrap.sh installs.
# The callcare package (plugins/) goes in without its dependencies, as in the web app's environment:
# the stacks import the names the pipeline defines (callcare.names: DAG ids, metric names, the
# settings Variable) rather than copying them, and import nothing of callcare that needs more.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
UV=${UV:-.venv-tools/bin/uv}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "infra/bootstrap: need root (or sudo) to run: $*" >&2; return 1; fi; }

node_major() { node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/'; }
if ! command -v node >/dev/null || [ "$(node_major)" -lt 18 ]; then
  echo "infra/bootstrap: installing nodejs with apt-get (CDK synth runs the construct library on node)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null
fi

if [ ! -x "$UV" ]; then
  echo "infra/bootstrap: $UV is missing; run scripts/bootstrap.sh (it installs uv) first" >&2
  exit 1
fi

stamp=$(cat infra/requirements.txt infra/constraints.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat .venv-infra/.callcare-stamp 2>/dev/null)" != "$stamp" ]; then
  echo "bootstrap: creating the CDK environment in .venv-infra (infra/constraints.txt)"
  "$UV" venv -q --allow-existing .venv-infra --python "$PYTHON"
  # sync, not install: the environment holds exactly the lock (nothing left over from an older one)
  VIRTUAL_ENV=.venv-infra "$UV" pip sync -q infra/constraints.txt
  VIRTUAL_ENV=.venv-infra "$UV" pip install -q --no-deps -e .
  echo "$stamp" > .venv-infra/.callcare-stamp
fi
