"""`dag.test()` of the processing DAG on a corpus call rendered at test time."""

import shutil
from pathlib import Path

import jsonschema
import pyarrow.parquet as pq
import pytest
from callcare.core.context import Context
from callcare.names import PROCESS_DAG_ID
from callcare.sources.inbox import ingest_inbox

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "include" / "prompts" / "summary_v1.schema.json"


def process_dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags" / "callcare_process_call.py")).dags[PROCESS_DAG_ID]


def ingest(ctx: Context, source: Path, name: str) -> str:
    ctx.settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    target = ctx.settings.inbox_dir / name
    shutil.copy(source, target)
    [outcome] = ingest_inbox(ctx.settings.inbox_dir, ctx.lake, ctx.registry, settle_s=0)
    return outcome.call_id


@pytest.mark.audio
def test_processing_a_stereo_corpus_call(airflow_db, ctx: Context, corpus_audio: Path) -> None:
    call_id = ingest(ctx, corpus_audio / "call-0023.stereo.wav", "2026-09-14_call-0023.wav")
    run = process_dag().test(run_conf={"call_id": call_id})
    assert run.state == "success"

    call = ctx.registry.get(call_id)
    assert call["status"] == "COMPLETED", call["error_message"]
    assert [e["status"] for e in ctx.registry.events(call_id)] == [
        "UPLOADED",
        "TRANSCRIBING",
        "SUMMARIZING",
        "COMPLETED",
    ]
    stored = ctx.lake.get_json(ctx.lake.key_from_uri(call["summary_uri"]))
    jsonschema.validate(stored["summary"], __import__("json").loads(SCHEMA.read_text()))
    assert stored["summary"]["call_date"] == "2026-09-14"
    transcript = ctx.lake.get_json(f"transcripts/2026-09-14/{call_id}-transcript.json")["transcript"]
    roles = {t["speaker"]: t["role"] for t in transcript["turns"]}
    assert roles == {"ch_0": "agent", "ch_1": "customer"}  # left channel is the agent's
    for table in ("calls", "turns", "summaries"):
        rows = pq.read_table(ctx.lake.path(f"tables/{table}/call_date=2026-09-14/{call_id}.parquet"))
        assert rows.num_rows >= 1
        assert set(rows.column("call_id").to_pylist()) == {call_id}


def test_a_corrupt_recording_fails_only_its_call(airflow_db, ctx: Context, tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00garbage" * 100)
    call_id = ingest(ctx, bad, "2026-09-15_bad.wav")
    process_dag().test(run_conf={"call_id": call_id})
    call = ctx.registry.get(call_id)
    assert call["status"] == "FAILED"
    assert "could not be decoded" in call["error_message"]
    assert call["transcript_uri"] is None
