#!/bin/bash
# callcare's MWAA startup script. MWAA runs it on every container (scheduler, worker, webserver) before
# requirements.txt is installed and Airflow starts, with a 5-minute limit, and keeps the variables it
# exports for the Airflow processes. It:
#   1. exports the CALLCARE_* settings from the environment's `callcare.*` Airflow configuration options
#      (MWAA passes those as AIRFLOW__CALLCARE__*; infra/callcare_infra/stacks/airflow.py sets them);
#   2. builds dbt's own virtualenv (DESIGN.md: dbt-athena needs an older PyAthena than the amazon
#      provider brings) from the pinned dbt requirements, on schedulers and workers (cosmos renders and
#      runs dbt there), and exports CALLCARE_DBT_EXECUTABLE for the warehouse DAG.
# MWAA may source this file: it never calls `exit` or `set -e`, and a failed dbt install leaves Airflow
# starting (the warehouse DAG then fails with the reason logged here) instead of a crash loop.
#
# scripts/package_mwaa.py embeds dbt/requirements.txt and dbt/constraints.txt below, so the deployed
# script needs nothing else; run from a checkout, it reads them from $CALLCARE_DBT_DIR (default:
# $AIRFLOW_HOME/dags/dbt, where the dags prefix puts them).

# >>> embedded dbt requirements (scripts/package_mwaa.py)
CALLCARE_DBT_REQUIREMENTS=""
CALLCARE_DBT_CONSTRAINTS=""
# <<< embedded dbt requirements

callcare_export_settings() {
  local var name
  for var in $(compgen -e); do
    case "$var" in
      AIRFLOW__CALLCARE__*)
        name="CALLCARE_${var#AIRFLOW__CALLCARE__}"
        export "$name=${!var}"
        ;;
    esac
  done
}

callcare_build_dbt_venv() {
  local home="${AIRFLOW_HOME:-/usr/local/airflow}"
  local venv="${CALLCARE_DBT_VENV:-$home/dbt_venv}"
  local dir="${CALLCARE_DBT_DIR:-$home/dags/dbt}"
  local work
  work="$(mktemp -d)" || return 1
  if [ -n "$CALLCARE_DBT_REQUIREMENTS" ]; then
    printf '%s\n' "$CALLCARE_DBT_REQUIREMENTS" > "$work/requirements.txt"
    printf '%s\n' "$CALLCARE_DBT_CONSTRAINTS" > "$work/constraints.txt"
  elif [ -f "$dir/requirements.txt" ] && [ -f "$dir/constraints.txt" ]; then
    cp "$dir/requirements.txt" "$dir/constraints.txt" "$work/"
  else
    echo "callcare startup: no dbt requirements embedded and none in $dir; dbt venv not built" >&2
    rm -rf "$work"
    return 1
  fi
  local stamp
  stamp="$(cat "$work/requirements.txt" "$work/constraints.txt" | sha256sum | cut -d' ' -f1)"
  if [ -x "$venv/bin/dbt" ] && [ "$(cat "$venv/.callcare-stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "callcare startup: dbt virtualenv $venv is current"
  else
    echo "callcare startup: building the dbt virtualenv in $venv"
    rm -rf "$venv"
    # MWAA sets PIP_USER=true for its own installs; a virtualenv install must not use --user.
    if PIP_USER=false python3 -m venv "$venv" \
      && PIP_USER=false "$venv/bin/pip" install --quiet --no-cache-dir --disable-pip-version-check \
        -r "$work/requirements.txt" -c "$work/constraints.txt"; then
      echo "$stamp" > "$venv/.callcare-stamp"
      echo "callcare startup: dbt $("$venv/bin/dbt" --version 2>/dev/null | head -n 2 | tr '\n' ' ')"
    else
      echo "callcare startup: building the dbt virtualenv failed; the warehouse DAG cannot run dbt" >&2
      rm -rf "$work"
      return 1
    fi
  fi
  rm -rf "$work"
  export CALLCARE_DBT_EXECUTABLE="$venv/bin/dbt"
}

callcare_startup() {
  callcare_export_settings
  case "${MWAA_AIRFLOW_COMPONENT:-}" in
    webserver) echo "callcare startup: webserver, no dbt environment needed" ;;
    *) callcare_build_dbt_venv || true ;;
  esac
}

callcare_startup
