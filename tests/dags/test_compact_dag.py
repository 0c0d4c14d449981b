"""The compaction DAG: its wiring, and `dag.test()` compacting days two days old and older, never
today or yesterday (a partition's date is the recording's local date: UTC's yesterday may still be
recorded west of UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from callcare.core.context import Context
from callcare.core.lake_generations import read_partition
from callcare.core.tables import CALLS_SCHEMA, TURNS_SCHEMA
from callcare.lake_paths import compacted_generation, partition_prefix, table_key
from callcare.names import COMPACT_DAG_ID as DAG_ID

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "callcare_compact.py"))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


def write_call(ctx: Context, call_id: str, call_date: str) -> None:
    ctx.lake.write_parquet(
        table_key("calls", call_date, call_id),
        pa.Table.from_pylist([{"call_id": call_id, "call_date": call_date}], schema=CALLS_SCHEMA),
    )
    ctx.lake.write_parquet(
        table_key("turns", call_date, call_id),
        pa.Table.from_pylist(
            [{"call_id": call_id, "call_date": call_date, "turn_index": i} for i in range(4)],
            schema=TURNS_SCHEMA,
        ),
    )


def counted(ctx: Context, days: list[str]) -> dict[tuple[str, str], list[tuple]]:
    """Every (table, day)'s rows as readers count them, order aside."""
    return {
        (t, d): sorted(tuple(r.values()) for r in read_partition(ctx.lake, t, d).to_pylist())
        for t in ("calls", "turns")
        for d in days
    }


def test_the_dag_runs_daily_one_at_a_time_unpaused(dag) -> None:
    assert dag.timetable.expression == "15 1 * * *"
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert dag.is_paused_upon_creation is False
    assert [t.task_id for t in dag.tasks] == ["compact"]
    assert dag.get_task("compact").retries >= 1


def test_a_run_compacts_closed_days_and_leaves_today_and_yesterday(airflow_db, ctx: Context, dag) -> None:
    today = datetime.now(UTC).date()
    days = [(today - timedelta(days=n)).isoformat() for n in (0, 1, 2, 3)]
    for n in range(12):
        write_call(ctx, f"c-{n}", days[n % 4])
    before = counted(ctx, days)

    run = dag.test()

    assert run.state == "success"
    for table in ("calls", "turns"):
        for day in days[:2]:  # today and yesterday: untouched
            assert len(ctx.lake.list_keys(partition_prefix(table, day))) == 3
        for day in days[2:]:
            [only] = ctx.lake.list_keys(partition_prefix(table, day))
            assert compacted_generation(only) is not None
    assert counted(ctx, days) == before

    listed = {(t, d): ctx.lake.list_keys(partition_prefix(t, d)) for t in ("calls", "turns") for d in days}
    again = dag.test()  # nothing left to do: the files stay as they are
    assert again.state == "success"
    assert {
        (t, d): ctx.lake.list_keys(partition_prefix(t, d)) for t in ("calls", "turns") for d in days
    } == listed
