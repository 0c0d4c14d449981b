#!/usr/bin/env bash
# Recompiles webapp/constraints.txt from webapp/requirements.txt and requirements-dev.txt. The project's Airflow lock for
# Python 3.11 constrains it too, so the Flask stack, SQLAlchemy and pyarrow are the very versions the
# Airflow environment (MWAA 3.3.1 parity) runs; what only the web app needs resolves on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.venv-tools/bin/uv}
"$UV" pip compile webapp/requirements.txt webapp/requirements-dev.txt --universal --python-version 3.11 \
  -c constraints/lock-py3.11.txt -o webapp/constraints.txt -q --no-header
sed -i '1i # Compiled by webapp/lock.sh from webapp/requirements*.txt (constrained by constraints/lock-py3.11.txt).' \
  webapp/constraints.txt
