#!/usr/bin/env bash
# Installs the web app's own environment, .venv-webapp, from webapp/constraints.txt, idempotently:
# nothing is reinstalled while the requirements, the lock and the package definitions are unchanged.
# The callcare package (plugins/) goes in without its dependencies: the app imports its registry
# tables, lake and settings, and webapp/requirements.txt brings what those need (SQLAlchemy, pyarrow).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
UV_VERSION=0.13.9
VENV=.venv-webapp

if [ ! -x .venv-tools/bin/uv ]; then
  echo "webapp bootstrap: installing uv $UV_VERSION"
  "$PYTHON" -m venv .venv-tools
  .venv-tools/bin/python -m pip install -q "uv==$UV_VERSION"
fi
UV=.venv-tools/bin/uv

stamp=$(cat webapp/requirements.txt webapp/requirements-dev.txt webapp/constraints.txt webapp/pyproject.toml pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$VENV/.callcare-webapp-stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "webapp bootstrap: creating the web app environment in $VENV"
  "$UV" venv -q --allow-existing "$VENV" --python "$PYTHON"
  VIRTUAL_ENV=$VENV "$UV" pip install -q -r webapp/requirements.txt -r webapp/requirements-dev.txt \
    -c webapp/constraints.txt
  VIRTUAL_ENV=$VENV "$UV" pip install -q --no-deps -e . -e webapp
  echo "$stamp" > "$VENV/.callcare-webapp-stamp"
fi
