"""The lake's Parquet tables: schemas, their evolution rules, the rows of finished calls, the catalog."""

from __future__ import annotations

import json
import re
from pathlib import Path

import botocore.session
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.validate import ParamValidator
from callcare import lake_paths, names
from callcare.core import lake_rows
from callcare.core.context import Context
from callcare.core.registry import NewCall
from callcare.core.tables import (
    LAKE_TABLES,
    PARTITION_KEY,
    calls_table,
    description,
    metrics_table,
    status_events_table,
)
from callcare.core.transcript import Transcript, Turn
from callcare.lake_paths import table_key
from callcare.status import CallStatus
from callcare.transcription.metrics import compute_metrics
from callcare.warehouse import dbt as warehouse
from callcare.warehouse import glue_tables

# The columns each table had when the warehouse was first built (issue 6), in order. Evolution
# rules 1-2 (tables.py): a schema only grows at its end, so these stay a prefix of it, same types.
FIRST_RELEASE: dict[str, list[tuple[str, str]]] = {
    "calls": [
        ("call_id", "string"),
        ("call_date", "string"),
        ("source", "string"),
        ("audio_uri", "string"),
        ("audio_format", "string"),
        ("duration_s", "double"),
        ("channels", "int32"),
        ("stt_engine", "string"),
        ("summary_backend", "string"),
        ("model_id", "string"),
        ("prompt_version", "string"),
        ("uploaded_at", "timestamp[us, tz=UTC]"),
        ("completed_at", "timestamp[us, tz=UTC]"),
        ("agent_talk_s", "double"),
        ("customer_talk_s", "double"),
        ("non_talk_s", "double"),
        ("longest_silence_s", "double"),
        ("interruptions", "int32"),
        ("agent_wpm", "double"),
        ("customer_wpm", "double"),
        ("metrics_json", "string"),
        ("status", "string"),
        ("error_message", "string"),
        ("attempt", "int32"),
        ("updated_at", "timestamp[us, tz=UTC]"),
        ("size_bytes", "int64"),
        ("sentiment", "string"),
        ("category", "string"),
        ("agent_id", "string"),
        ("customer_id", "string"),
        ("resolved", "bool"),
        ("escalated", "bool"),
        ("cost_usd", "double"),
    ],
    "turns": [
        ("call_id", "string"),
        ("call_date", "string"),
        ("turn_index", "int32"),
        ("speaker", "string"),
        ("role", "string"),
        ("start_s", "double"),
        ("end_s", "double"),
        ("word_count", "int32"),
        ("text", "string"),
        ("redacted", "bool"),
    ],
    "summaries": [
        ("call_id", "string"),
        ("call_date", "string"),
        ("prompt_version", "string"),
        ("backend", "string"),
        ("model_id", "string"),
        ("issue_sentence", "string"),
        ("key_details", "list<item: string>"),
        ("action_items", "list<item: string>"),
        ("next_steps", "list<item: string>"),
        ("sentiment", "string"),
        ("category", "string"),
        ("resolved", "bool"),
        ("escalated", "bool"),
        ("agent_id", "string"),
        ("customer_id", "string"),
        ("input_tokens", "int64"),
        ("output_tokens", "int64"),
        ("cost_usd", "double"),
        ("summary_json", "string"),
        ("customer_sentiment", "string"),
        ("agent_sentiment", "string"),
        ("truncated", "bool"),
    ],
    "metrics": [
        ("call_id", "string"),
        ("call_date", "string"),
        ("duration_s", "double"),
        ("agent_talk_s", "double"),
        ("customer_talk_s", "double"),
        ("unknown_talk_s", "double"),
        ("non_talk_s", "double"),
        ("longest_silence_s", "double"),
        ("overlap_s", "double"),
        ("interruptions", "int32"),
        ("agent_interruptions", "int32"),
        ("customer_interruptions", "int32"),
        ("agent_turns", "int32"),
        ("customer_turns", "int32"),
        ("unknown_turns", "int32"),
        ("agent_words", "int32"),
        ("customer_words", "int32"),
        ("agent_wpm", "double"),
        ("customer_wpm", "double"),
        ("talk_ratio", "double"),
        ("metrics_json", "string"),
    ],
    "status_events": [
        ("event_id", "int64"),
        ("call_id", "string"),
        ("call_date", "string"),
        ("status", "string"),
        ("previous_status", "string"),
        ("event", "string"),
        ("error_message", "string"),
        ("payload_json", "string"),
        ("created_at", "timestamp[us, tz=UTC]"),
    ],
}


def test_every_lake_table_has_a_schema_and_a_path() -> None:
    assert set(LAKE_TABLES) == set(lake_paths.TABLES) == set(FIRST_RELEASE)
    assert names.LAKE_TABLES == lake_paths.TABLES


@pytest.mark.parametrize("name", sorted(FIRST_RELEASE))
def test_schemas_only_grow_at_the_end(name: str) -> None:
    schema = LAKE_TABLES[name].schema
    current = [(f.name, str(f.type)) for f in schema]
    first = FIRST_RELEASE[name]
    assert current[: len(first)] == first, "a column was renamed, retyped, moved or dropped"
    added = schema.names[len(first) :]
    assert all(schema.field(n).nullable for n in added), "a column added later must be nullable"


@pytest.mark.parametrize("name", sorted(LAKE_TABLES))
def test_every_column_is_described_and_the_key_is_required(name: str) -> None:
    table = LAKE_TABLES[name]
    for field in table.schema:
        assert description(field), f"{name}.{field.name} has no description"
        assert len(description(field)) <= 255, f"{name}.{field.name}: Glue comments stop at 255"
    for column in (*table.grain, PARTITION_KEY):
        assert not table.schema.field(column).nullable, f"{name}.{column} is part of the key"


def transcript(call_id: str = "c-1") -> Transcript:
    turns = [
        Turn("ch_0", 0.0, 4.0, "thank you for calling how can I help", role="agent"),
        Turn("ch_1", 3.5, 9.0, "my bill is wrong this month", role="customer"),
        Turn("spk_9", 9.5, 10.0, "hmm", role="unknown"),
        Turn("ch_0", 10.0, 14.0, "let me fix that for you", role="agent"),
    ]
    return Transcript(call_id, "reference", 15.0, 2, turns)


def test_metrics_rows_flatten_call_metrics_by_role() -> None:
    metrics = compute_metrics(transcript()).to_dict()
    [row] = metrics_table("c-1", "2026-09-14", metrics).to_pylist()
    for role in ("agent", "customer"):
        assert row[f"{role}_talk_s"] == metrics["talk_time_s"][role]
        assert row[f"{role}_turns"] == metrics["turn_count"][role]
        assert row[f"{role}_words"] == metrics["word_count"][role]
        assert row[f"{role}_wpm"] == metrics["words_per_minute"][role]
        assert row[f"{role}_interruptions"] == metrics["interruptions_by_role"][role]
    assert row["unknown_talk_s"] == metrics["talk_time_s"]["unknown"] > 0
    assert row["unknown_turns"] == 1
    assert row["interruptions"] == metrics["interruptions"] == 1  # the customer started at 3.5 s
    assert row["talk_ratio"] == metrics["talk_ratio"]
    assert json.loads(row["metrics_json"]) == metrics


def register(ctx: Context, call_id: str, call_date: str = "2026-09-14") -> None:
    ctx.registry.register(
        NewCall(
            call_id, "inbox", f"{call_id}.wav", "cd" * 32, call_date, f"file:///x/{call_id}.wav", "wav", 4096
        )
    )


def read(ctx: Context, table: str, call_id: str, call_date: str = "2026-09-14") -> list[dict]:
    return pq.read_table(ctx.lake.path(table_key(table, call_date, call_id))).to_pylist()


def test_a_failed_call_gets_its_calls_row_and_every_event(ctx: Context) -> None:
    register(ctx, "c-f")
    ctx.registry.transition("c-f", CallStatus.TRANSCRIBING)
    ctx.registry.transition("c-f", CallStatus.FAILED, error_message="no speech was recognized")

    assert lake_rows.record_failed_call(ctx.lake, ctx.registry, "c-f")

    [call] = read(ctx, "calls", "c-f")
    assert (call["status"], call["error_message"], call["attempt"]) == (
        "FAILED",
        "no speech was recognized",
        1,
    )
    assert call["completed_at"] is None and call["uploaded_at"] is not None
    assert call["size_bytes"] == 4096
    events = read(ctx, "status_events", "c-f")
    assert [(e["previous_status"], e["status"]) for e in events] == [
        (None, "UPLOADED"),
        ("UPLOADED", "TRANSCRIBING"),
        ("TRANSCRIBING", "FAILED"),
    ]
    assert events[-1]["error_message"] == "no speech was recognized"
    assert [e["event_id"] for e in events] == sorted({e["event_id"] for e in events})
    assert all(e["call_date"] == "2026-09-14" and e["event"] is None for e in events)


def test_recording_a_failed_call_never_raises(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    register(ctx, "c-f")
    ctx.registry.transition("c-f", CallStatus.FAILED, error_message="corrupt")

    def lake_down(*_args: object, **_kwargs: object) -> str:
        raise OSError("the lake is unreachable")

    monkeypatch.setattr(ctx.lake, "write_parquet", lake_down)
    assert lake_rows.record_failed_call(ctx.lake, ctx.registry, "c-f") is False


def test_status_events_keep_what_happened_without_a_status_change(ctx: Context) -> None:
    register(ctx, "c-r")
    ctx.registry.record_event("c-r", "resummarized", {"prompt_version": "v2"})
    rows = status_events_table("c-r", "2026-09-14", ctx.registry.events("c-r")).to_pylist()
    assert [(r["status"], r["previous_status"], r["event"]) for r in rows] == [
        ("UPLOADED", None, None),
        ("UPLOADED", "UPLOADED", "resummarized"),
    ]
    assert json.loads(rows[1]["payload_json"])["prompt_version"] == "v2"


def test_calls_rows_carry_the_registry_timestamps_as_utc(ctx: Context) -> None:
    register(ctx, "c-t")
    table = calls_table(ctx.registry.get("c-t"), {})
    assert table.schema.field("uploaded_at").type == pa.timestamp("us", tz="UTC")
    uploaded = table.column("uploaded_at")[0].as_py()
    assert uploaded.utcoffset().total_seconds() == 0


def test_a_summary_version_keeps_its_own_row(ctx: Context) -> None:
    from callcare.core.tables import summaries_table

    stored = {
        "prompt_version": "v1",
        "backend": "offline",
        "model_id": "m",
        "summary": {"sentiment": "Neutral", "key_details": ["a"], "action_items": [], "next_steps": []},
    }
    base = table_key("summaries", "2026-09-14", "c-s")
    v2 = table_key("summaries", "2026-09-14", "c-s", prompt_version="v2")
    assert lake_rows.summaries_row_key(ctx.lake, "2026-09-14", "c-s", "v1") == base
    ctx.lake.write_parquet(base, summaries_table("c-s", "2026-09-14", stored))
    assert lake_rows.summaries_row_key(ctx.lake, "2026-09-14", "c-s", "v1") == base
    # the pipeline's file holds v1: a v2 row must not replace it
    assert lake_rows.summaries_row_key(ctx.lake, "2026-09-14", "c-s", "v2") == v2
    ctx.lake.write_parquet(v2, summaries_table("c-s", "2026-09-14", {**stored, "prompt_version": "v2"}))
    assert lake_rows.summaries_row_key(ctx.lake, "2026-09-14", "c-s", "v2") == v2


# -- the catalog generated from the schemas -----------------------------------------------------


def test_the_generated_catalog_files_are_up_to_date() -> None:
    for path, text in glue_tables.outputs().items():
        assert path.is_file(), f"{path} is missing: python -m callcare.warehouse.glue_tables --write"
        assert path.read_text() == text, f"{path} is stale: python -m callcare.warehouse.glue_tables --write"


GLUE_TYPE = re.compile(r"^(string|int|bigint|double|boolean|timestamp|array<(string|int|bigint|double)>)$")


def test_glue_table_inputs_are_valid_create_table_requests() -> None:
    """Checked against botocore's own model of glue:CreateTable, as the API would check them."""
    model = botocore.session.get_session().get_service_model("glue")
    shape = model.operation_model("CreateTable").input_shape
    inputs = glue_tables.table_inputs("s3://callcare-lake/prod")
    assert [t["Name"] for t in inputs] == list(LAKE_TABLES)
    for table_input in inputs:
        report = ParamValidator().validate(
            {"DatabaseName": "callcare_lake", "TableInput": table_input}, shape
        )
        assert not report.has_errors(), report.generate_report()
        name = table_input["Name"]
        columns = [c["Name"] for c in table_input["StorageDescriptor"]["Columns"]]
        # Athena refuses a partition key that is also a column
        assert PARTITION_KEY not in columns
        assert columns == [f.name for f in LAKE_TABLES[name].schema if f.name != PARTITION_KEY]
        assert all(GLUE_TYPE.match(c["Type"]) for c in table_input["StorageDescriptor"]["Columns"])
        params = table_input["Parameters"]
        location = table_input["StorageDescriptor"]["Location"]
        assert location == f"s3://callcare-lake/prod/tables/{name}/"
        # projection must produce exactly the paths lake_paths writes
        template = params["storage.location.template"]
        assert template.replace("${call_date}", "2026-09-14") + "c-1.parquet" == (
            "s3://callcare-lake/prod/" + table_key(name, "2026-09-14", "c-1")
        )
        assert params["projection.enabled"] == "true"
        assert params[f"projection.{PARTITION_KEY}.type"] == "date"
        assert params[f"projection.{PARTITION_KEY}.format"] == "yyyy-MM-dd"
        start, end = params[f"projection.{PARTITION_KEY}.range"].split(",")
        assert re.match(r"^\d{4}-\d{2}-\d{2}$", start) and end == "NOW"


def test_the_committed_glue_json_fills_in_for_any_lake() -> None:
    committed = json.loads(glue_tables.GLUE_JSON.read_text())
    assert glue_tables.fill_lake_uri(committed, "s3://b/p/") == glue_tables.table_inputs("s3://b/p")
    with pytest.raises(ValueError, match="s3://"):
        glue_tables.table_inputs("file:///tmp/lake")


def test_dbt_sources_declare_every_column_with_both_types() -> None:
    [source] = glue_tables.dbt_sources()["sources"]
    for table in source["tables"]:
        schema = LAKE_TABLES[table["name"]].schema
        assert [c["name"] for c in table["columns"]] == schema.names
        assert all(c["description"] and c["meta"]["duckdb_type"] for c in table["columns"])


def test_settings_point_dbt_at_the_lake_and_the_warehouse(tmp_path: Path) -> None:
    from callcare.config import Settings

    local = Settings(home=tmp_path)
    env = warehouse.dbt_env(local)
    assert env["CALLCARE_LAKE_DIR"] == str(tmp_path / "lake")
    assert env["CALLCARE_WAREHOUSE_PATH"] == str(tmp_path / "warehouse" / "callcare.duckdb")
    assert env["CALLCARE_DBT_TARGET"] == "duckdb"
    assert "DBT_EXCLUDE_RESOURCE_TYPES" not in env
    aws = Settings(home=tmp_path, profile="aws", lake_uri="s3://callcare-lake/prod")
    env = warehouse.dbt_env(aws)
    assert env["CALLCARE_DBT_TARGET"] == "athena"
    assert "CALLCARE_LAKE_DIR" not in env
    assert env["CALLCARE_ATHENA_S3_STAGING_DIR"] == "s3://callcare-lake/prod/athena-results/"
    assert env["DBT_EXCLUDE_RESOURCE_TYPES"] == "unit_test"
    command = warehouse.dbt_command(local, "build")
    assert command[:2] == [local.dbt_executable, "build"]
    assert command[command.index("--project-dir") + 1] == str(local.dbt_project_dir)
    with pytest.raises(ValueError, match="CALLCARE_DBT_TARGET"):
        Settings(home=tmp_path, dbt_target="snowflake")
