#!/usr/bin/env bash
# Recompiles infra/constraints.txt (the CDK app's and the deploy steps' environment, .venv-infra) from
# infra/requirements.txt. The project's Airflow lock for Python 3.11 constrains it, so boto3, botocore
# and moto are the very releases the Airflow environment runs: the deploy steps and the rehearsal talk
# to AWS (or moto) with the same client the pipeline does.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.venv-tools/bin/uv}
"$UV" pip compile infra/requirements.txt --universal --python-version 3.11 \
  -c constraints/lock-py3.11.txt -o infra/constraints.txt -q --no-header --no-annotate
sed -i '1i # Compiled by infra/lock.sh from infra/requirements.txt (constrained by constraints/lock-py3.11.txt).' \
  infra/constraints.txt
