"""`callcare sql`: one SQL statement over the marts and the lake, on DuckDB.

DuckDB lives in dbt's virtualenv, not Airflow's (MWAA has no reason to carry it), so without it in
this interpreter this module re-runs itself there as `python -m callcare.warehouse.sql` with this
package on PYTHONPATH: that is why it imports only the standard library and `callcare.names` (which
imports nothing) at module level.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from callcare.names import COMPACTED_FILE_PREFIX, LAKE_TABLE_UNITS, LAKE_TABLES

if TYPE_CHECKING:
    from callcare.config import Settings

OUTPUT_FORMATS = ("table", "csv", "json")
# a compacted file, by its name alone (callcare.lake_paths.compacted_generation; the macro
# lake_compacted_name): a folder above the lake named compacted-... leaves per-call files per-call
COMPACTED_NAME = f"/{COMPACTED_FILE_PREFIX}[0-9]{{8}}T[0-9]{{12}}Z[.]parquet$"


def current_rows_sql(table: str, pattern: str, empty: Sequence[tuple[str, str]] = ()) -> str:
    """The rows of a lake table that count, as dbt's staging models read them on DuckDB (macro
    current_lake_rows; the rule is callcare.core.lake_generations'): each unit from the best file
    that exists for it, rows or none: its per-call file (the later path), else the partition's latest
    compacted file. `empty` is empty_files' listing, made just before: the files that decide a unit
    with no rows to show it, whose compacted rows are left out. The partition's latest generation is
    an aggregate joined back, not a window over the whole day (as the macro's, for Athena's sake)."""
    unit = LAKE_TABLE_UNITS[table]
    in_unit = "partition by " + ", ".join(f"lake_rows.{column}" for column in ("call_date", *unit))
    per_call = f"not {_compacted('lake_rows.filename')}"
    source = (
        f"read_parquet({_literal(pattern)}, hive_partitioning = true, union_by_name = true, "
        "filename = true) as lake_rows"
    )
    folder = "regexp_replace({}, '[^/]*$', '')"
    replaced = ""
    if empty:
        values = ", ".join(f"({_literal(file)}, {_literal(latest)})" for file, latest in empty)
        replaced = (
            f" and not exists (select 1 from (values {values}) as lake_empty (file, latest) "
            f"where {folder.format('lake_empty.file')} = {folder.format('lake_rows.filename')} and ("
            "(lake_empty.file = lake_empty.latest and lake_rows.filename < lake_empty.file) or "
            f"(lake_empty.file = {folder.format('lake_rows.filename')} || lake_rows.call_id || '.parquet' "
            "and lake_rows.filename <= lake_empty.latest)))"
        )
    return (
        "select * exclude (filename, lake_file_current) from (select lake_rows.*, case "
        f"when {per_call} then lake_rows.filename = "
        f"max(case when {per_call} then lake_rows.filename end) over ({in_unit}) "
        f"else count(case when {per_call} then 1 end) over ({in_unit}) = 0 "
        f"and lake_rows.filename = lake_latest.latest{replaced} end as lake_file_current "
        f"from {source} left join (select lake_rows.call_date, max(lake_rows.filename) as latest "
        f"from {source} where {_compacted('lake_rows.filename')} group by lake_rows.call_date) "
        "as lake_latest on lake_latest.call_date = lake_rows.call_date) where lake_file_current"
    )


def empty_files(con: Any, table: str, pattern: str) -> list[tuple[str, str]]:
    """(file, latest generation of its folder) for each file listed now that decides a unit with no
    rows to show it: a partition's latest compacted file that holds none and, where the unit is the
    call, a per-call file that holds none beside a compacted file (macro lake_empty_files)."""
    per_call = f" or not {_compacted('listed.file')}" if LAKE_TABLE_UNITS[table] == ("call_id",) else ""
    latest = dict(
        con.execute(
            "with listed as (select file, regexp_replace(file, '[^/]*$', '') as folder from glob(?)) "
            "select listed.file, generations.latest from listed join (select folder, max(file) as latest "
            f"from listed where {_compacted('file')} group by folder) as generations "
            f"on generations.folder = listed.folder where listed.file = generations.latest{per_call}",
            [pattern],
        ).fetchall()
    )
    if not latest:
        return []
    counted = con.execute(
        "select file_name, num_rows from parquet_file_metadata(?)", [list(latest)]
    ).fetchall()
    return sorted((file, latest[file]) for file, rows in counted if rows == 0)


def query_args(settings: Settings) -> list[str]:
    from callcare.core.lake import lake_dir

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
        package_root = str(Path(__file__).resolve().parents[2])  # the folder that holds callcare/
        env = {**os.environ, "PYTHONPATH": package_root}
        command = [str(python), "-m", "callcare.warehouse.sql", *args]
        return subprocess.run(command, env=env, check=False).returncode
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
        for name in LAKE_TABLES:
            pattern = f"{args.lake}/tables/{name}/*/*.parquet"
            if con.execute("select count(*) from glob(?)", [pattern]).fetchone()[0]:
                empty = empty_files(con, name, pattern)  # listed before the view reads the files
                con.execute(f"create view lake.main.{name} as {current_rows_sql(name, pattern, empty)}")
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


def _compacted(path: str) -> str:
    return f"regexp_matches({path}, {_literal(COMPACTED_NAME)})"


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
