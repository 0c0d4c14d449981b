#!/usr/bin/env bash
# Every test, the way CI runs them: installs what it needs, lints, then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
.venv/bin/ruff check plugins dags tests bench
.venv/bin/ruff format --check plugins dags tests bench
exec .venv/bin/python -m pytest "$@"
