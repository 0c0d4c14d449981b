"""dbt build time and mart query times on DuckDB over N generated calls.

    python -m bench.warehouse_bench [--calls 100000] [--days 90] [--layout per-day|per-call]
                                    [--lake DIR] [--runs 5] [--threads 4] [--json]

Generates the lake with bench/generate_calls.py (or reuses --lake when it already has tables),
runs `dbt build` (seeds, models, data tests, unit tests) into a fresh DuckDB file through dbt's own
virtualenv exactly as the warehouse DAG does (callcare.warehouse.dbt), and prints:

* the wall time of the build, and the slowest nodes from dbt's run_results.json;
* for a set of analyst queries on the marts (the charts the web app and QuickSight draw), the
  median wall time over --runs runs, measured inside DuckDB's process (connection opened once).

--layout per-call reads the lake as the pipeline leaves it (one file per call and table); per-day
is a compacted lake (one file per table and day). The difference is the small-files cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

QUERIES: dict[str, str] = {
    "daily volume, last 30 days": "select * from daily_call_volume order by call_date desc limit 30",
    "sentiment trend, last 90 days": (
        "select call_date, negative_share, negative_share_7d from sentiment_trend "
        "order by call_date desc limit 90"
    ),
    "top categories, latest week": (
        "select * from top_categories where week_start = (select max(week_start) from top_categories) "
        "order by rank_in_week"
    ),
    "agent scorecard, last 4 weeks": (
        "select agent_id, sum(calls_handled) as calls, avg(avg_handle_time_s) as aht, "
        "avg(negative_share) as negative, sum(escalations) as escalations, avg(resolution_rate) as resolved "
        "from agent_performance where week_start >= (select max(week_start) - 21 from agent_performance) "
        "group by agent_id order by calls desc"
    ),
    "cost per day, last 30 days": (
        "select call_date, total_cost_usd, cost_per_call_usd from daily_costs order by call_date desc limit 30"
    ),
    "SLA, last 14 days": "select * from pipeline_sla order by upload_date desc limit 14",
    "fct_calls: negative share by category x agent": (
        "select category, agent_id, count(*) as calls, avg(case when is_negative then 1.0 else 0 end) as neg "
        "from fct_calls where call_status = 'COMPLETED' group by all order by calls desc limit 50"
    ),
    "fct_calls: p90 upload->completed by week": (
        "select date_trunc('week', call_date) as week, quantile_cont(upload_to_completed_s, 0.9) as p90 "
        "from fct_calls group by 1 order by 1"
    ),
    "fct_turns: interruptions and gaps by agent": (
        "select agent_id, count(*) as turns, avg(case when is_interruption then 1.0 else 0 end) as interruptions, "
        "median(gap_before_s) as median_gap from fct_turns group by agent_id order by turns desc"
    ),
}


def time_queries(database: str, runs: int) -> dict[str, float]:
    """Median milliseconds per query; runs in dbt's virtualenv, where duckdb is."""
    import duckdb

    con = duckdb.connect(database, read_only=True)
    timings = {}
    for name, sql in QUERIES.items():
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            con.execute(sql).fetchall()
            samples.append((time.perf_counter() - started) * 1000)
        timings[name] = statistics.median(samples)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--layout", choices=("per-day", "per-call"), default="per-day")
    parser.add_argument("--lake", type=Path, help="lake folder to reuse or fill (default: a temporary one)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--time-queries", metavar="DUCKDB_FILE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.time_queries:  # the half that runs in dbt's virtualenv
        print(json.dumps(time_queries(args.time_queries, args.runs)))
        return 0

    # imported here, not at the top: the --time-queries half runs this file in dbt's virtualenv,
    # which has neither callcare nor pyarrow
    from callcare.config import Settings
    from callcare.warehouse import dbt as warehouse

    from bench.generate_calls import generate, write

    work = Path(tempfile.mkdtemp(prefix="callcare-bench-"))
    lake = args.lake or work / "lake"
    figures: dict[str, object] = {"calls": args.calls, "layout": args.layout, "threads": args.threads}
    if not (lake / "tables").is_dir():
        started = time.perf_counter()
        tables = generate(args.calls, args.days, seed=7)
        figures["files"] = write(tables, lake, args.layout)
        figures["rows"] = {name: t.num_rows for name, t in tables.items()}
        figures["generate_s"] = round(time.perf_counter() - started, 1)
    settings = Settings(home=work, lake_uri=lake.resolve().as_uri())
    extra = {"CALLCARE_DBT_THREADS": str(args.threads)}
    target = work / "target"

    started = time.perf_counter()
    result = warehouse.run_dbt(settings, "build", "--target-path", str(target), extra_env=extra)
    figures["dbt_build_s"] = round(time.perf_counter() - started, 1)
    if result.returncode != 0:
        print(result.stdout[-5000:], file=sys.stderr)
        print(f"dbt build failed after {figures['dbt_build_s']} s", file=sys.stderr)
        return 1
    results = json.loads((target / "run_results.json").read_text())["results"]
    slowest = sorted(results, key=lambda r: r["execution_time"], reverse=True)[:8]
    figures["slowest_nodes_s"] = {
        r["unique_id"].split(".", 2)[-1]: round(r["execution_time"], 2) for r in slowest
    }
    figures["nodes"] = len(results)

    python = Path(str(settings.dbt_executable)).with_name("python")
    timed = subprocess.run(
        [str(python), __file__, "--time-queries", str(settings.warehouse_path), "--runs", str(args.runs)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures["query_ms"] = {k: round(v, 1) for k, v in json.loads(timed.stdout).items()}
    figures["warehouse_mb"] = round(Path(str(settings.warehouse_path)).stat().st_size / 1e6, 1)

    if args.json:
        print(json.dumps(figures, indent=1))
        return 0
    print(f"calls: {args.calls} ({args.layout}), dbt threads: {args.threads}")
    if "rows" in figures:
        print(f"generated in {figures['generate_s']} s: {figures['rows']}, {figures['files']} files")
    print(
        f"dbt build: {figures['dbt_build_s']} s wall for {figures['nodes']} nodes, DuckDB file {figures['warehouse_mb']} MB"
    )
    print("slowest nodes (s):")
    for name, seconds in figures["slowest_nodes_s"].items():  # type: ignore[union-attr]
        print(f"  {seconds:8.2f}  {name}")
    print(f"mart queries (median of {args.runs}, ms):")
    for name, ms in figures["query_ms"].items():  # type: ignore[union-attr]
        print(f"  {ms:8.1f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
