"""The DAGs on the aws profile, parsed (not run): Transcribe deferred in its pool, Bedrock's pool, alerts."""

from __future__ import annotations

from pathlib import Path

from callcare.names import ALERTS_DAG_ID, BEDROCK_POOL, PROCESS_DAG_ID, TRANSCRIBE_POOL

REPO = Path(__file__).resolve().parents[2]
DAGS = ("callcare_ingest.py", "callcare_process_call.py", "callcare_alerts.py")


def test_the_aws_dags_wire_transcribe_bedrock_and_alerts(monkeypatch):
    """Transcribe deferred in its pool, summaries in the Bedrock pool, one alerts publisher at a time."""
    from airflow.dag_processing.dagbag import DagBag
    from callcare.config import reset_settings

    monkeypatch.setenv("CALLCARE_PROFILE", "aws")
    reset_settings()
    try:
        folder = REPO / "dags"
        bags = {name: DagBag(dag_folder=str(folder / name)) for name in DAGS}
        for name, bag in bags.items():
            assert bag.import_errors == {}, name
        process = bags["callcare_process_call.py"].dags[PROCESS_DAG_ID]
        order = [t.task_id for t in process.topological_sort()]
        assert order == ["prepare_transcription", "transcribe", "read_transcript", "summarize", "publish"]
        transcribe = process.get_task("transcribe")
        assert transcribe.pool == TRANSCRIBE_POOL and transcribe.deferrable
        assert process.get_task("summarize").pool == BEDROCK_POOL
        assert all(t.on_failure_callback for t in process.tasks)
        alerts = bags["callcare_alerts.py"].dags[ALERTS_DAG_ID]
        assert alerts.max_active_runs == 1 and "callcare" in alerts.tags
        assert all(t.retries >= 1 for t in alerts.tasks)
        for bag in bags.values():  # MWAA would pause them otherwise; tests/dags checks the others
            assert all(dag.is_paused_upon_creation is False for dag in bag.dags.values())
    finally:
        reset_settings()


def test_no_alerts_dag_on_the_local_profile(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag
    from callcare.config import reset_settings

    monkeypatch.setenv("CALLCARE_PROFILE", "local")
    reset_settings()
    try:
        bag = DagBag(dag_folder=str(REPO / "dags" / "callcare_alerts.py"))
        assert bag.import_errors == {} and bag.dag_ids == []
    finally:
        reset_settings()


def test_the_resummarize_form_offers_no_test_only_backend_on_aws(monkeypatch):
    """The trigger form's backend choices: instant (canned summaries) only where it is allowed."""
    from airflow.dag_processing.dagbag import DagBag
    from callcare.config import reset_settings
    from callcare.names import RESUMMARIZE_DAG_ID

    offered = {}
    try:
        for profile in ("aws", "local"):
            monkeypatch.setenv("CALLCARE_PROFILE", profile)
            reset_settings()
            bag = DagBag(dag_folder=str(REPO / "dags" / "callcare_resummarize.py"))
            assert bag.import_errors == {}, profile
            offered[profile] = bag.dags[RESUMMARIZE_DAG_ID].params.get_param("backend").schema["enum"]
    finally:
        reset_settings()
    # nor the offline analyzer, whose packages MWAA does not install (requirements-local.txt)
    assert {"instant", "offline"}.isdisjoint(offered["aws"]) and {None, "bedrock"} <= set(offered["aws"])
    assert "instant" in offered["local"]
