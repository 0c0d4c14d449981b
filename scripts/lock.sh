#!/usr/bin/env bash
# Regenerates the lock files of the Airflow environment from Airflow's official 3.3.1 constraints
# (the file MWAA applies), one per Python minor version. MWAA runs 3.12 and gets the official pins
# unchanged; 3.11 drops the few pins whose releases need Python 3.12 and lets uv pick the newest
# release that still supports 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
official=constraints/airflow-3.3.1-official-3.12.txt
py311_dropped='^(numpy|scipy)=='
uv pip compile requirements.txt requirements-dev.txt -c "$official" --python-version 3.12 \
  --no-header --no-annotate -o constraints/lock-py3.12.txt
grep -vE "$py311_dropped" "$official" > /tmp/callcare-official-3.11.txt
uv pip compile requirements.txt requirements-dev.txt -c /tmp/callcare-official-3.11.txt \
  --python-version 3.11 --no-header --no-annotate -o constraints/lock-py3.11.txt
# the local profile's extras (requirements-local.txt), under the same pins: only what they add
for v in 3.11 3.12; do
  uv pip compile requirements-local.txt -c "constraints/lock-py$v.txt" --python-version "$v" \
    --no-header --no-annotate -o "constraints/local-lock-py$v.txt"
done
# dbt's own environment: one lock valid for every supported Python (--universal)
uv pip compile dbt/requirements.txt --universal --python-version 3.11 --no-header --no-annotate \
  -o dbt/constraints.txt
