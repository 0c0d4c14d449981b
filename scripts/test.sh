#!/usr/bin/env bash
# Every test, the way CI runs them: installs what it needs, lints, then runs the suites, each in
# the environment its code deploys with (Airflow, web app, CDK app).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh --test
paths=(plugins dags tests bench webapp infra scripts)
.venv/bin/ruff check "${paths[@]}"
.venv/bin/ruff format --check "${paths[@]}"
# the layers and import rules of docs/ARCHITECTURE.md (contracts in pyproject.toml)
PYTHONPATH=plugins:webapp .venv/bin/lint-imports --no-cache
# the CDK app, and the deploy steps against moto (deployment rehearsal, stages 1-2: tests/rehearsal)
.venv-infra/bin/python -m pytest -q -p no:cacheprovider tests/infra tests/rehearsal/test_deploy_*.py
.venv-webapp/bin/python -m pytest -q -p no:cacheprovider tests/webapp
exec .venv/bin/python -m pytest --durations=15 "$@"
