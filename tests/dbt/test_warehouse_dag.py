"""The warehouse DAG: its schedule and shape, and a `dag.test()` that builds the marts through cosmos."""

from __future__ import annotations

from pathlib import Path

import pytest
from callcare.names import WAREHOUSE_DAG_ID

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.audio


def warehouse_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "callcare_warehouse.py"))
    assert bag.import_errors == {}
    return bag.dags[WAREHOUSE_DAG_ID]


def test_the_warehouse_dag_runs_dbt_build_through_cosmos(
    airflow_db, pipeline_home: Path, home_env, sql, tmp_path: Path
) -> None:
    from airflow.sdk import AssetOrTimeSchedule
    from callcare import names

    marts = tmp_path / "dag.duckdb"
    home_env(pipeline_home, warehouse_quiet_s="0", warehouse_path=str(marts))
    dag = warehouse_dag()

    assert isinstance(dag.timetable, AssetOrTimeSchedule) or isinstance(dag.schedule, AssetOrTimeSchedule)
    assert names.SUMMARIES_ASSET_URI in repr(dag.schedule)
    assert dag.max_active_runs == 1 and dag.max_active_tasks == 1  # one DuckDB writer
    assert {"callcare", "warehouse"} <= set(dag.tags)
    task_ids = {t.task_id for t in dag.tasks}
    for model in ("stg_calls", "int_call_lifecycle", "fct_calls", "fct_turns", "pipeline_sla"):
        assert f"dbt.{model}_model_build" in task_ids, sorted(task_ids)
    assert all(t.retries >= 1 for t in dag.tasks)
    order = [t.task_id for t in dag.topological_sort()]
    assert order[0] == "settle" and order[-1] == "marts_built"

    run = dag.test()

    assert run.state == "success"
    assert marts.is_file()
    calls = sql(pipeline_home, "select call_status from fct_calls", CALLCARE_WAREHOUSE_PATH=str(marts))
    assert sorted(c["call_status"] for c in calls) == ["COMPLETED", "COMPLETED", "FAILED"]
