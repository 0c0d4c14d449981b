from datetime import timedelta
from pathlib import Path

import pytest
from callcare.names import ALERTS_DAG_ID, DAG_IDS, INGEST_DAG_ID, PROCESS_DAG_ID

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert {INGEST_DAG_ID, PROCESS_DAG_ID} <= set(dagbag.dag_ids)


def test_every_dag_is_tagged_and_every_task_retries(dagbag) -> None:
    for dag in dagbag.dags.values():
        assert "callcare" in dag.tags, dag.dag_id
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag.dag_id}.{task.task_id} has no retries"


def test_every_shipped_dag_is_unpaused_at_creation(dagbag) -> None:
    """Airflow and MWAA pause a new DAG unless it says otherwise (`dags_are_paused_at_creation`),
    and a deployment has nobody to unpause it: paused, the warehouse never builds marts and a
    resummarize run triggered by hand stays queued."""
    assert set(DAG_IDS) - {ALERTS_DAG_ID} <= set(dagbag.dag_ids)  # alerts: aws only, tests/aws
    for dag in dagbag.dags.values():
        assert dag.is_paused_upon_creation is False, f"{dag.dag_id} would start paused"


def test_processing_runs_one_call_and_bounds_speech_to_text(dagbag) -> None:
    from callcare.names import LOCAL_STT_POOL

    dag = dagbag.dags[PROCESS_DAG_ID]
    assert dag.schedule is None  # started by the ingest DAG, one run per call
    assert "call_id" in dag.params
    assert dag.get_task("transcribe").pool == LOCAL_STT_POOL
    order = [t.task_id for t in dag.topological_sort()]
    assert order == ["transcribe", "summarize", "publish"]
    for task in dag.tasks:
        assert task.on_failure_callback, f"{task.task_id} would leave its call unmarked on failure"


def test_ingest_polls_often_and_never_overlaps(dagbag) -> None:
    dag = dagbag.dags[INGEST_DAG_ID]
    assert dag.max_active_runs == 1
    assert isinstance(dag.schedule, timedelta)
    assert dag.schedule.total_seconds() <= 30
