"""How fast Airflow 3.3 starts one run per call from partitioned asset events (issue 18, bulk start).

Today ingest starts each call's processing run with one mapped TriggerDagRunOperator task per call
(12 minutes of a 500-call burst were spent starting runs). Airflow 3.2+ has a native alternative:
one task emits one asset event per call with `outlet_events[asset].add_partitions(call_ids)`, and a
DAG scheduled with `PartitionedAssetTimetable(assets=asset)` gets one run per partition key, with
the key on `dag_run.partition_key`. No task touches the metadata database and no REST permission is
needed (on MWAA: no airflow:InvokeRestApi).

This benchmark measures that mechanism alone, outside callcare, in a throwaway AIRFLOW_HOME
(SQLite metadata, LocalExecutor): it emits N partitions with `airflow dags test` of a producer DAG,
starts the scheduler, and prints how long until N runs of the consumer exist; then it emits a few of
the same keys again and prints whether the scheduler made second runs for them (it does: duplicates
must be refused by the consumer's own first task, as the registry's run claim would).

    .venv/bin/python -m bench.partitioned_fanout --calls 500
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
DAGS = textwrap.dedent(
    """
    import os
    from datetime import datetime
    from airflow.sdk import DAG, Asset, PartitionedAssetTimetable, task

    calls = Asset(uri="x-bench://calls/uploaded", name="bench_calls")

    with DAG(dag_id="bench_ingest", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
        @task(outlets=[calls])
        def start(*, outlet_events=None):
            first, count = int(os.environ["BENCH_FIRST"]), int(os.environ["BENCH_COUNT"])
            outlet_events[calls].add_partitions([f"call-{i:06d}" for i in range(first, first + count)])
        start()

    with DAG(
        dag_id="bench_process",
        schedule=PartitionedAssetTimetable(assets=calls),
        start_date=datetime(2026, 1, 1),
        catchup=False,
        is_paused_upon_creation=False,
    ):
        @task
        def work(dag_run=None):
            print(dag_run.partition_key)
        work()
    """
)


def _runs(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "select partition_key, count(*) from dag_run where dag_id = 'bench_process' group by 1"
        ).fetchall()
    return dict(rows)


def _emit(env: dict[str, str], first: int, count: int) -> None:
    subprocess.run(
        [AIRFLOW, "dags", "test", "bench_ingest"],
        env={**env, "BENCH_FIRST": str(first), "BENCH_COUNT": str(count)},
        check=True,
        capture_output=True,
        timeout=600,
    )


def _schedule_until(env: dict[str, str], db: Path, want: int, timeout_s: float) -> float | None:
    scheduler = subprocess.Popen(
        [AIRFLOW, "scheduler"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout_s:
            if sum(_runs(db).values()) >= want:
                return time.monotonic() - started
            time.sleep(0.5)
        return None
    finally:
        scheduler.terminate()
        scheduler.wait(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5, help="keys emitted a second time")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="fanout-") as tmp:
        home = Path(tmp)
        (home / "dags").mkdir()
        (home / "dags" / "bench_dags.py").write_text(DAGS)
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        }
        db = home / "airflow.db"
        subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
        subprocess.run([AIRFLOW, "dags", "reserialize"], env=env, check=True, capture_output=True)

        begun = time.monotonic()
        _emit(env, 0, args.calls)
        emitted_s = time.monotonic() - begun
        created_s = _schedule_until(env, db, args.calls, args.timeout)
        print(f"emitted {args.calls} partitions in one task run: {emitted_s:.1f} s (airflow dags test)")
        if created_s is None:
            print(f"runs created: {sum(_runs(db).values())} of {args.calls} within {args.timeout:.0f} s")
            return 1
        print(f"{args.calls} runs created {created_s:.1f} s after the scheduler started")

        _emit(env, 0, args.repeat)
        _schedule_until(env, db, args.calls + args.repeat, 120)
        runs = _runs(db)
        twice = sorted(k for k, n in runs.items() if n > 1)
        print(
            f"the same {args.repeat} keys emitted again: {len(twice)} of them got a second run"
            f" (runs in all: {sum(runs.values())})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
