"""`dbt build` on DuckDB before and after compacting a lake written one file per call.

    python -m bench.compaction_bench [--calls 10000] [--days 90] [--threads 4] [--lake DIR] [--json]

Writes N calls as the pipeline leaves them (bench/generate_calls.py, --layout per-call: 4-5 small
Parquet files per call), runs `dbt build` (seeds, models, data and unit tests) through dbt's own
virtualenv as the warehouse DAG does, compacts every partition with callcare.steps.compact (what
the callcare_compact DAG runs), and runs `dbt build` again into a fresh DuckDB file. It prints the
file counts, both build times and the compaction's own time, and checks that the staging tables
hold the same row counts both times (compaction must not change what the marts count).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

STAGING = ("stg_calls", "stg_turns", "stg_summaries", "stg_call_metrics", "stg_status_events")


def staging_counts(python: Path, database: Path) -> dict[str, int]:
    """Row counts of the staging tables, read with dbt's DuckDB (this interpreter may lack it)."""
    query = " union all ".join(f"select '{t}', count(*) from {t}" for t in STAGING)
    code = (
        "import duckdb, json, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
        f"print(json.dumps(dict(con.execute({query!r}).fetchall())))"
    )
    done = subprocess.run(
        [str(python), "-c", code, str(database)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--lake", type=Path, help="lake folder to fill (default: a temporary one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from callcare.config import Settings
    from callcare.core.lake import Lake
    from callcare.steps.compact import compact_before
    from callcare.warehouse import dbt as warehouse

    from bench.generate_calls import generate, write

    work = Path(tempfile.mkdtemp(prefix="callcare-compaction-bench-"))
    lake_dir = args.lake or work / "lake"
    if (lake_dir / "tables").exists():
        raise SystemExit(f"{lake_dir} already has tables: give an empty folder")
    end = date.today() - timedelta(days=1)  # every day in the past: all of them get compacted
    figures: dict[str, object] = {"calls": args.calls, "days": args.days, "threads": args.threads}
    started = time.perf_counter()
    figures["files_before"] = write(generate(args.calls, args.days, seed=7, end=end), lake_dir, "per-call")
    figures["generate_s"] = round(time.perf_counter() - started, 1)
    settings = Settings(home=work, lake_uri=lake_dir.resolve().as_uri())
    python = Path(str(settings.dbt_executable)).with_name("python")
    extra = {"CALLCARE_DBT_THREADS": str(args.threads)}

    def build(label: str) -> dict[str, int]:
        database = Path(str(settings.warehouse_path))
        if database.exists():
            database.unlink()
        began = time.perf_counter()
        result = warehouse.run_dbt(settings, "build", "--target-path", str(work / label), extra_env=extra)
        figures[f"dbt_build_{label}_s"] = round(time.perf_counter() - began, 1)
        if result.returncode != 0:
            print(result.stdout[-5000:], file=sys.stderr)
            raise SystemExit(f"dbt build ({label}) failed")
        return staging_counts(python, database)

    counts_before = build("per_call")
    began = time.perf_counter()
    done = compact_before(Lake(settings.lake_uri or ""), date.today())
    figures["compaction_s"] = round(time.perf_counter() - began, 1)
    figures["partitions"] = len(done)
    figures["files_after"] = sum(1 for _ in (lake_dir / "tables").rglob("*.parquet"))
    counts_after = build("compacted")
    figures["staging_rows"] = counts_after
    if counts_after != counts_before:
        print(f"staging rows differ: before {counts_before}, after {counts_after}", file=sys.stderr)
        return 1
    if args.lake is None:
        shutil.rmtree(work, ignore_errors=True)

    if args.json:
        print(json.dumps(figures, indent=1))
        return 0
    print(f"{args.calls} calls over {args.days} days, dbt threads {args.threads}")
    print(f"per-call lake: {figures['files_before']} files, written in {figures['generate_s']} s")
    print(f"dbt build, per-call lake:  {figures['dbt_build_per_call_s']} s")
    print(
        f"compaction: {figures['partitions']} partitions -> {figures['files_after']} files "
        f"in {figures['compaction_s']} s"
    )
    print(f"dbt build, compacted lake: {figures['dbt_build_compacted_s']} s")
    print(f"staging rows, same both times: {counts_after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
