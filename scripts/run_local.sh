#!/usr/bin/env bash
# The whole local product from one command: installs what it needs, starts Airflow's services,
# drops the sample recordings into the inbox and shows their progress. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
export CALLCARE_HOME=${CALLCARE_HOME:-$PWD/var}
exec .venv/bin/callcare up "$@"
