"""The re-summarize DAG: its wiring, and `dag.test()` runs over calls the pipeline finished in-process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from callcare.core.context import Context
from callcare.core.registry import NewCall
from callcare.core.transcript import Transcript, Turn
from callcare.dag_tasks.resummarize import COUNTS_XCOM_KEY, FAILURE_XCOM_KEY, RESUMMARIZE_TASK_ID
from callcare.lake_paths import raw_audio_key, summary_key, table_key, transcript_key
from callcare.names import BEDROCK_POOL
from callcare.names import RESUMMARIZE_DAG_ID as DAG_ID
from callcare.status import CallStatus
from callcare.steps import process as pipeline
from callcare.summarization import schema
from callcare.transcription.metrics import compute_metrics

REPO = Path(__file__).resolve().parents[2]
DAY = "2026-09-14"
DIALOGUE = [
    ("agent", "Thank you for calling Northwind Energy, this is Maria. How can I help you today?"),
    ("customer", "Hi, my bill this month is three hundred twelve dollars, double what I normally pay."),
    ("agent", "I'm sorry about that. The meter reading was estimated last month, so the bill was too high."),
    ("agent", "I will correct the reading and issue a credit of one hundred fifty dollars."),
    ("customer", "Great, thank you. When will I see the credit?"),
    ("agent", "The credit will appear on your next bill within five business days."),
    ("customer", "Okay, thanks for your help."),
]


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "callcare_resummarize.py"))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


@pytest.fixture
def v2_prompts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A prompts folder that also has a version 2; dag.test() runs tasks in this process, so it applies."""
    folder = tmp_path / "prompts"
    shutil.copytree(schema.prompts_dir(), folder)
    v2 = json.loads((folder / "summary_v1.schema.json").read_text())
    v2["$id"] = "urn:callcare:summary:v2"
    (folder / "summary_v2.schema.json").write_text(json.dumps(v2))
    monkeypatch.setattr(schema, "_DEFAULT_DIRS", (folder,))
    schema._validator.cache_clear()
    yield folder
    schema._validator.cache_clear()


def processed_call(ctx: Context, call_id: str, call_date: str = DAY) -> str:
    """Registered, a transcript written the way transcribe writes it, then summarize and publish."""
    audio_uri = ctx.lake.uri_for(raw_audio_key(call_date, call_id, "wav"))
    ctx.registry.register(
        NewCall(call_id, "inbox", f"{call_id}.wav", "cd" * 32, call_date, audio_uri, "wav", 10)
    )
    ctx.registry.transition(call_id, CallStatus.TRANSCRIBING)
    turns = [
        Turn(speaker=f"ch_{int(role == 'customer')}", start=i * 5.0, end=i * 5.0 + 4.5, text=text, role=role)
        for i, (role, text) in enumerate(DIALOGUE)
    ]
    transcript = Transcript(call_id, "reference", len(turns) * 5.0, 2, turns)
    document = {"transcript": transcript.to_dict(), "metrics": compute_metrics(transcript).to_dict()}
    uri = ctx.lake.put_json(transcript_key(call_date, call_id), document)
    ctx.registry.update_fields(call_id, transcript_uri=uri, duration_s=transcript.duration_s, channels=2)
    pipeline.summarize(call_id, ctx)
    pipeline.publish(call_id, ctx)
    assert ctx.registry.get(call_id)["status"] == "COMPLETED"
    return call_id


def states(run) -> dict[tuple[str, int], str]:
    return {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}


def xcoms(run, task_id: str, key: str) -> list[Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(run_id=run.run_id, dag_ids=DAG_ID, task_ids=task_id, key=key)
        ).all()
        return [XComModel.deserialize_value(row) for row in rows]


def conf(**overrides: Any) -> dict[str, Any]:
    return {"date_from": DAY, "date_to": DAY, "prompt_version": "v2", "backend": "offline", **overrides}


def test_the_dag_is_manual_mapped_pooled_and_always_reports(dag) -> None:
    assert dag.schedule is None
    assert "callcare" in dag.tags
    assert {"date_from", "date_to", "all_calls", "prompt_version", "backend", "make_current"} <= set(
        dag.params
    )
    assert [t.task_id for t in dag.topological_sort()] == ["select_calls", RESUMMARIZE_TASK_ID, "report"]
    for task in dag.tasks:
        assert task.retries >= 1, task.task_id
    summary_task = dag.get_task(RESUMMARIZE_TASK_ID)
    assert summary_task.is_mapped
    assert summary_task.partial_kwargs["pool"] == BEDROCK_POOL
    assert dag.get_task("report").trigger_rule == "all_done"


def test_a_run_resummarizes_each_call_and_keeps_v1(airflow_db, ctx: Context, v2_prompts: Path, dag) -> None:
    ids = [processed_call(ctx, "call-a"), processed_call(ctx, "call-b")]
    processed_call(ctx, "call-other-day", "2026-09-15")

    run = dag.test(run_conf=conf())

    assert run.state == "success"
    assert states(run) == {
        ("select_calls", -1): "success",
        (RESUMMARIZE_TASK_ID, 0): "success",
        (RESUMMARIZE_TASK_ID, 1): "success",
        ("report", -1): "success",
    }
    [counts] = xcoms(run, "report", COUNTS_XCOM_KEY)
    assert counts == {"selected": 2, "ok": 2, "failed": 0, "made_current": 0, "replaced": 0}
    for call_id in ids:
        assert ctx.lake.get_json(summary_key(DAY, call_id, "v1"))["prompt_version"] == "v1"
        assert ctx.lake.get_json(summary_key(DAY, call_id, "v2"))["prompt_version"] == "v2"
        versions = [
            pq.read_table(ctx.lake.path(key)).column("prompt_version").to_pylist()[0]
            for key in (table_key("summaries", DAY, call_id), table_key("summaries", DAY, call_id, "v2"))
        ]
        assert versions == ["v1", "v2"]
        call = ctx.registry.get(call_id)
        assert (call["status"], call["prompt_version"]) == ("COMPLETED", "v1")
        last = list(ctx.registry.events(call_id))[-1]
        assert json.loads(last["payload_json"])["event"] == "resummarized"
    assert not ctx.lake.exists(summary_key("2026-09-15", "call-other-day", "v2"))


def test_a_failing_call_fails_its_own_task_and_the_report_still_runs(
    airflow_db, ctx: Context, v2_prompts: Path, dag
) -> None:
    good, lost = processed_call(ctx, "call-good"), processed_call(ctx, "call-lost")
    ctx.lake.fs.delete_file(ctx.lake.path(transcript_key(DAY, lost)))

    run = dag.test(run_conf=conf(make_current=True))

    assert states(run) == {
        ("select_calls", -1): "success",
        (RESUMMARIZE_TASK_ID, 0): "success",  # ids are mapped in order: call-good, call-lost
        (RESUMMARIZE_TASK_ID, 1): "failed",
        ("report", -1): "failed",  # it ran, counted, and failed the run so the failure shows
    }
    assert run.state == "failed"
    [counts] = xcoms(run, "report", COUNTS_XCOM_KEY)
    assert counts == {"selected": 2, "ok": 1, "failed": 1, "made_current": 1, "replaced": 0}
    [failure] = xcoms(run, RESUMMARIZE_TASK_ID, FAILURE_XCOM_KEY)
    assert (failure["call_id"], failure["reason"]) == (lost, "the transcript is missing from the lake")
    assert ctx.registry.get(good)["prompt_version"] == "v2"  # make_current
    lost_call = ctx.registry.get(lost)
    assert (lost_call["status"], lost_call["prompt_version"]) == ("COMPLETED", "v1")


def test_a_bad_request_fails_before_mapping_and_an_empty_range_is_fine(
    airflow_db, ctx: Context, v2_prompts: Path, dag
) -> None:
    processed_call(ctx, "call-a")
    bad = dag.test(run_conf=conf(prompt_version="v7"))
    assert bad.state == "failed"
    assert states(bad)[("select_calls", -1)] == "failed"
    assert states(bad)[("report", -1)] == "failed"
    assert not ctx.lake.exists(summary_key(DAY, "call-a", "v7"))

    empty = dag.test(run_conf=conf(date_from="2027-01-01", date_to="2027-01-31"))
    assert empty.state == "success"
    [counts] = xcoms(empty, "report", COUNTS_XCOM_KEY)
    assert counts["selected"] == 0
