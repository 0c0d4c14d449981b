"""Running dbt, from its own virtualenv, against the settings' lake and warehouse.

`dbt_env` / `dbt_command` point dbt at the settings' lake and warehouse: the warehouse DAG (through
cosmos, `callcare.dag_tasks.warehouse`), the tests, the benchmark and `callcare sql` all go through
them and cannot disagree about where things are. dbt never shares the Airflow environment
(dbt-athena pins an older PyAthena), so it always runs as a subprocess.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from callcare.config import Settings
from callcare.core.lake import lake_dir


def dbt_env(settings: Settings) -> dict[str, str]:
    """The CALLCARE_* variables dbt/profiles.yml and the sources read, from the settings."""
    env = {
        "CALLCARE_DBT_TARGET": str(settings.dbt_target),
        "CALLCARE_WAREHOUSE_PATH": str(settings.warehouse_path),
        "CALLCARE_GLUE_DATABASE": settings.glue_database,
        "CALLCARE_ATHENA_DATABASE": settings.athena_database,
        "CALLCARE_ATHENA_WORK_GROUP": settings.athena_work_group,
        "CALLCARE_AWS_REGION": settings.aws_region,
        # no network calls home from dbt (CI and MWAA have no route out anyway)
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    local_lake = lake_dir(settings)
    if local_lake is not None:
        env["CALLCARE_LAKE_DIR"] = str(local_lake)
    lake_root = (settings.lake_uri or "").rstrip("/")
    if settings.athena_s3_staging_dir or lake_root.startswith("s3://"):
        env["CALLCARE_ATHENA_S3_STAGING_DIR"] = (
            settings.athena_s3_staging_dir or f"{lake_root}/athena-results/"
        )
    if settings.athena_s3_data_dir or lake_root.startswith("s3://"):
        env["CALLCARE_ATHENA_S3_DATA_DIR"] = settings.athena_s3_data_dir or f"{lake_root}/warehouse/"
    if settings.dbt_target == "athena":
        # unit tests prove the SQL in CI on DuckDB; in production they would only cost Athena queries
        env["DBT_EXCLUDE_RESOURCE_TYPES"] = "unit_test"
    return env


def dbt_command(settings: Settings, *args: str) -> list[str]:
    """`dbt <args>` against this project and profile, from dbt's own virtualenv."""
    project = Path(str(settings.dbt_project_dir))
    return [
        str(settings.dbt_executable),
        *args,
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target",
        str(settings.dbt_target),
    ]


def run_dbt(
    settings: Settings, *args: str, extra_env: Mapping[str, str] | None = None, capture: bool = True
) -> subprocess.CompletedProcess[str]:
    """One dbt command, outside Airflow (tests, benchmark, by hand). Raises nothing on failure."""
    prepare(settings)
    env = {**os.environ, **dbt_env(settings), **(extra_env or {})}
    return subprocess.run(
        dbt_command(settings, *args),
        env=env,
        cwd=str(settings.dbt_project_dir),
        text=True,
        capture_output=capture,
        check=False,
    )


def prepare(settings: Settings) -> None:
    """DuckDB creates its file but not the folder it lives in."""
    if settings.dbt_target == "duckdb":
        Path(str(settings.warehouse_path)).parent.mkdir(parents=True, exist_ok=True)
