"""The warehouse side of the pipeline: the per-call rows it needs, and running dbt over them.

- `write_call_rows` writes a finished call's `calls` and `status_events` rows (publish() calls it
  after COMPLETED; `record_failed_call` after FAILED), so both kinds of call reach the marts.
- `dbt_env` / `dbt_command` / `cosmos_kwargs` point dbt, run from its own virtualenv, at the
  settings' lake and warehouse: the warehouse DAG, the tests, the benchmark and `callcare sql` all
  go through them and cannot disagree about where things are.
- `settled` is the warehouse DAG's debounce: a burst of completions becomes one dbt build.
- `query` runs SQL on DuckDB over the marts and the lake (`callcare sql`). DuckDB lives in dbt's
  virtualenv, not Airflow's, so without it in this interpreter this file runs there as a script;
  that is why only the standard library is imported at module level.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

if TYPE_CHECKING:
    from callcare.config import Settings
    from callcare.core.lake import Lake
    from callcare.steps.process import Context
    from callcare.core.registry import Registry

log = logging.getLogger(__name__)

WAREHOUSE_DAG_ID = "callcare_warehouse"
# publish() emits it (the processing DAG's publish task has it as outlet); the warehouse DAG is
# scheduled on it. Only the name matters to Airflow; the URI says what it stands for. The `x-`
# scheme tells Airflow the URI is ours: any other scheme makes every task process that parses the
# DAG load all providers' URI normalizers (the S3 and GCS hooks, about 2.5 s of CPU per task).
SUMMARIES_ASSET_NAME = "callcare_lake_summaries"
SUMMARIES_ASSET_URI = "x-callcare://lake/tables/summaries"
# the warehouse DAG emits it when the marts are rebuilt (for SPICE refreshes, app caches)
MARTS_ASSET_NAME = "callcare_warehouse_marts"
MARTS_ASSET_URI = "x-callcare://warehouse/marts"
LAKE_TABLE_NAMES = ("calls", "turns", "summaries", "metrics", "status_events")


# -- rows of finished calls ---------------------------------------------------------------------


def summaries_row_key(lake: Lake, call_date: str, call_id: str, prompt_version: str) -> str:
    """Where a summary version's Parquet row goes, so the table keeps one row per (call, version).

    The pipeline's row is `{call_id}.parquet`; a re-summary with another version gets
    `{call_id}-{version}.parquet` (lake_paths.table_key). When a call is processed again with a
    version that already has its own file, that file is replaced rather than a second row of the
    version written into `{call_id}.parquet`, which would also drop the version that file held.
    """
    from callcare.lake_paths import table_key

    base = table_key("summaries", call_date, call_id)
    versioned = table_key("summaries", call_date, call_id, prompt_version=prompt_version)
    if lake.exists(versioned):
        return versioned
    if lake.exists(base) and set(lake.read_parquet(base).column("prompt_version").to_pylist()) != {
        prompt_version
    }:
        return versioned
    return base


def write_call_rows(
    lake: Lake, registry: Registry, call_id: str, metrics: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """The call's `calls` row and all its outbox events, as the registry has them now.

    Call it after the status change the rows should show: the events file is rewritten whole each
    time, so a reprocessed call's file holds every attempt. `metrics` defaults to the registry's
    copy; publish passes the transcript document's, which it has read anyway.
    """
    from callcare.lake_paths import table_key
    from callcare.core.tables import calls_table, status_events_table

    call = registry.get(call_id)
    if metrics is None:
        metrics = json.loads(call["metrics_json"]) if call.get("metrics_json") else {}
    call_date = call["call_date"]
    events = list(registry.events(call_id))
    return {
        "calls": lake.write_parquet(table_key("calls", call_date, call_id), calls_table(call, metrics)),
        "status_events": lake.write_parquet(
            table_key("status_events", call_date, call_id), status_events_table(call_id, call_date, events)
        ),
    }


def record_failed_call(call_id: str, ctx: Context) -> bool:
    """The hook for pipeline.fail(): a FAILED call's rows, so failures count in the marts.

    A FAILED call never reaches publish(), so without this the warehouse would only know calls
    that succeeded and every failure rate would read 0. It never raises: the call is already
    FAILED in the registry, and a lake outage must not hide the task's own error. Returns whether
    the rows were written.
    """
    try:
        write_call_rows(ctx.lake, ctx.registry, call_id)
    except Exception:
        log.exception("call %s: could not write its FAILED rows to the lake", call_id)
        return False
    return True


# -- dbt ----------------------------------------------------------------------------------------


def lake_dir(settings: Settings) -> Path | None:
    """The lake as a local folder (what DuckDB reads), or None when the lake is not file://."""
    parsed = urlparse(settings.lake_uri or "")
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.path))


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


def cosmos_kwargs(settings: Settings) -> dict[str, Any]:
    """The configs of the warehouse DAG's DbtTaskGroup, so the DAG file stays wiring.

    ExecutionMode.LOCAL with dbt_executable_path is cosmos' MWAA recipe: a startup script builds
    dbt's virtualenv and every task runs that dbt as a subprocess. TestBehavior.BUILD makes each
    model one `dbt build --select model` task, so a failing data or unit test fails that model's
    task (and skips what depends on it) where the grid shows it. Parsing uses `dbt ls`, cached by
    cosmos per project checksum, so no manifest has to be kept in sync by hand.
    """
    from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

    project = Path(str(settings.dbt_project_dir))
    env = dbt_env(settings)
    return {
        "project_config": ProjectConfig(dbt_project_path=project, env_vars=env, install_dbt_deps=False),
        "profile_config": ProfileConfig(
            profile_name="callcare",
            target_name=str(settings.dbt_target),
            profiles_yml_filepath=project / "profiles.yml",
        ),
        "execution_config": ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=str(settings.dbt_executable),
        ),
        "render_config": RenderConfig(
            load_method=LoadMode.DBT_LS,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=str(settings.dbt_executable),
            test_behavior=TestBehavior.BUILD,
            # a test of several models (relationships, reconciliations) gets a task of its own
            # after all of them; inside one model's build it would run before the others exist
            should_detach_multiple_parents_tests=True,
            # the DAG emits one asset for the marts; per-model assets would name DuckDB files
            emit_datasets=False,
        ),
    }


def last_finished_at(registry: Registry) -> datetime | None:
    """When the latest call reached COMPLETED or FAILED (the registry's outbox knows)."""
    import sqlalchemy as sa

    from callcare.core.registry import call_events
    from callcare.status import TERMINAL

    query = sa.select(sa.func.max(call_events.c.created_at)).where(
        call_events.c.status.in_([s.value for s in TERMINAL])
    )
    with registry.engine.connect() as conn:
        latest = conn.execute(query).scalar()
    if latest is None:
        return None
    return latest if latest.tzinfo else latest.replace(tzinfo=UTC)


def settled(
    registry: Registry,
    quiet_s: float,
    max_wait_s: float,
    run_started_at: datetime,
    now: datetime | None = None,
) -> bool:
    """True when no call finished for `quiet_s`, or the run has waited `max_wait_s` already.

    Calls complete in bursts (a Drive folder synced at once, a reprocessing batch); each publish
    emits the summaries asset. Airflow already folds the events that arrive while a run is queued
    into that one run; waiting for a quiet moment folds the rest of the burst in too, and the
    upper bound keeps a steady stream from starving the marts.
    """
    now = now or datetime.now(UTC)
    if (now - run_started_at).total_seconds() >= max_wait_s:
        return True
    latest = last_finished_at(registry)
    return latest is None or (now - latest).total_seconds() >= quiet_s


def summaries_asset() -> Any:
    """The asset publish() updates (outlet of the processing DAG's publish task)."""
    from airflow.sdk import Asset

    return Asset(name=SUMMARIES_ASSET_NAME, uri=SUMMARIES_ASSET_URI)


def marts_asset() -> Any:
    """The asset the warehouse DAG updates once the marts are rebuilt and tested."""
    from airflow.sdk import Asset

    return Asset(name=MARTS_ASSET_NAME, uri=MARTS_ASSET_URI)


def task_settle(run_started_at: datetime) -> bool:
    """The warehouse DAG's first task: True once the burst of completions is over (see settled)."""
    from callcare.config import get_settings
    from callcare.core.registry import Registry

    settings = get_settings()
    registry = Registry(str(settings.registry_url))
    registry.create_schema()
    done = settled(registry, settings.warehouse_quiet_s, settings.warehouse_max_wait_s, run_started_at)
    if done:
        prepare(settings)
    else:
        log.info("calls are still finishing; waiting for %d s of quiet", settings.warehouse_quiet_s)
    return done


def task_marts_built() -> dict[str, str]:
    """Last task: what was built where (references only), and the marts asset as its outlet."""
    from callcare.config import get_settings

    settings = get_settings()
    where = str(settings.warehouse_path) if settings.dbt_target == "duckdb" else settings.athena_database
    return {"target": str(settings.dbt_target), "warehouse": where}


# -- SQL on DuckDB (`callcare sql`) -------------------------------------------------------------

OUTPUT_FORMATS = ("table", "csv", "json")


def query_args(settings: Settings) -> list[str]:
    return [
        "--warehouse",
        str(settings.warehouse_path),
        "--lake",
        str(lake_dir(settings) or ""),
    ]


def query(settings: Settings, sql: str, output_format: str = "table", max_rows: int = 200) -> int:
    """Run one SQL statement over the marts and the lake; prints the result, returns an exit code.

    Runs in this interpreter when it has duckdb, else in dbt's virtualenv (where dbt-duckdb put
    it): the Airflow environment MWAA installs has no reason to carry DuckDB.
    """
    args = [*query_args(settings), "--format", output_format, "--max-rows", str(max_rows), sql]
    try:
        import duckdb  # noqa: F401
    except ImportError:
        python = Path(str(settings.dbt_executable)).with_name("python")
        if not python.exists():
            print(
                f"callcare sql: DuckDB is not installed here nor beside {settings.dbt_executable}",
                file=sys.stderr,
            )
            return 2
        return subprocess.run([str(python), str(Path(__file__).resolve()), *args], check=False).returncode
    return _duckdb_main(args)


def _duckdb_main(argv: Sequence[str]) -> int:
    """The DuckDB side of `callcare sql`; standard library and duckdb only."""
    import argparse
    import csv

    import duckdb

    parser = argparse.ArgumentParser(prog="callcare sql")
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--lake", default="")
    parser.add_argument("--format", choices=OUTPUT_FORMATS, default="table")
    parser.add_argument("--max-rows", type=int, default=200)
    parser.add_argument("sql")
    args = parser.parse_args(argv)

    con = duckdb.connect()
    schemas = ["memory.main"]
    warehouse = Path(args.warehouse)
    if warehouse.is_file():
        try:
            con.execute(f"attach {_literal(str(warehouse))} as warehouse (read_only)")
            schemas.insert(0, "warehouse.main")
        except duckdb.Error as exc:
            # the DuckDB file has one writer at a time: dbt holds it while the warehouse DAG runs
            print(
                f"callcare sql: the marts are not readable right now ({exc}); lake.* still is",
                file=sys.stderr,
            )
    else:
        print(
            f"callcare sql: no marts yet at {warehouse} (run the warehouse DAG); lake.* is there",
            file=sys.stderr,
        )
    if args.lake:
        # a catalog of its own, so `lake.calls` reads like Athena's callcare_lake.calls
        con.execute("attach ':memory:' as lake")
        for name in LAKE_TABLE_NAMES:
            pattern = f"{args.lake}/tables/{name}/*/*.parquet"
            if con.execute("select count(*) from glob(?)", [pattern]).fetchone()[0]:
                con.execute(
                    f"create view lake.main.{name} as select * from read_parquet({_literal(pattern)}, "
                    "hive_partitioning = true, union_by_name = true)"
                )
    con.execute(f"set search_path = {_literal(','.join(schemas))}")

    try:
        result = con.execute(args.sql)
    except duckdb.Error as exc:
        print(f"callcare sql: {exc}", file=sys.stderr)
        return 1
    if result.description is None:
        return 0
    columns = [d[0] for d in result.description]
    rows = result.fetchmany(args.max_rows + 1)
    more = len(rows) > args.max_rows
    rows = rows[: args.max_rows]
    if args.format == "json":
        print(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str, indent=1))
    elif args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        _print_table(columns, rows)
    if more:
        print(f"(more than {args.max_rows} rows; showing the first {args.max_rows})", file=sys.stderr)
    return 0


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.0f}"
    return str(value)


def _print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = [list(columns)] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    for k, row in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


if __name__ == "__main__":
    sys.exit(_duckdb_main(sys.argv[1:]))
