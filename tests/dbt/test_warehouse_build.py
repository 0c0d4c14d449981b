"""`dbt build` on DuckDB over what the pipeline wrote, and what the marts then say."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from callcare.config import Settings
from callcare.core.tables import summaries_table
from callcare.lake_paths import table_key
from callcare.warehouse import dbt as warehouse

pytestmark = pytest.mark.audio


def test_the_marts_count_every_call_the_pipeline_finished(built_warehouse: Settings, sql) -> None:
    home = built_warehouse.home
    calls = sql(home, "select * from fct_calls order by call_status, call_date")
    assert [c["call_status"] for c in calls] == ["COMPLETED", "COMPLETED", "FAILED"]
    completed, failed = calls[:2], calls[2]
    assert "could not be decoded" in failed["error_message"]
    assert failed["sentiment"] is None and failed["upload_to_completed_s"] is None
    for call in completed:
        assert call["sentiment"] in ("Positive", "Neutral", "Negative")
        assert call["category"] and call["prompt_version"] == "v1"
        assert call["handle_time_s"] > 20 and 0 < call["talk_ratio"] < 1
        # every stage of the lifecycle came from the outbox events the pipeline wrote
        assert call["queue_s"] >= 0 and call["transcribe_s"] > 0 and call["summarize_s"] >= 0
        assert call["upload_to_completed_s"] == pytest.approx(call["processing_s"])
        # offline analyzer and pocketsphinx: no bill
        assert call["total_cost_usd"] == 0 and not call["is_stt_price_missing"]
    [stereo] = [c for c in completed if c["channels"] == 2]
    assert str(stereo["call_date"]) == "2026-09-14"

    lake_turns = sql(home, "select count(*) as n from lake.turns")[0]["n"]
    turns = sql(home, "select speaker_role, count(*) as n from fct_turns group by 1")
    assert sum(t["n"] for t in turns) == lake_turns > 10
    assert {t["speaker_role"] for t in turns} >= {"agent", "customer"}

    volume = sql(home, "select * from daily_call_volume order by call_date")
    assert [(str(v["call_date"]), v["completed_calls"], v["failed_calls"]) for v in volume] == [
        ("2026-09-14", 1, 0),
        ("2026-09-15", 1, 1),
    ]
    [sla] = sql(home, "select * from pipeline_sla")
    assert (sla["finished_calls"], sla["completed_calls"], sla["failed_calls"]) == (3, 2, 1)
    assert sla["p50_upload_to_completed_s"] > 0 and sla["within_sla_share"] == 1
    sentiment = sql(home, "select sum(completed_calls) as n from sentiment_trend")
    assert sentiment == [{"n": 2}]
    agents = {a["agent_id"] for a in sql(home, "select agent_id from dim_agents")}
    assert agents == {c["agent_id"] for c in completed if c["agent_id"]}


def test_a_failing_data_test_fails_the_build(pipeline_home: Path, tmp_path: Path) -> None:
    """A summary outside the contract (here a sentiment the schema does not allow) stops the build."""
    lake = tmp_path / "lake"
    shutil.copytree(pipeline_home / "lake" / "tables", lake / "tables")
    good = sorted((lake / "tables" / "summaries").glob("*/*.parquet"))[0]
    row = pq.read_table(good).to_pylist()[0]
    stored = {
        "prompt_version": "v9",
        "backend": "bedrock",
        "model_id": "m",
        "summary": {**json.loads(row["summary_json"]), "sentiment": "Furious"},
    }
    call_date = good.parent.name.split("=")[1]
    key = table_key("summaries", call_date, row["call_id"], prompt_version="v9")
    pq.write_table(summaries_table(row["call_id"], call_date, stored), lake / key)
    settings = Settings(home=tmp_path, lake_uri=lake.as_uri())

    result = warehouse.run_dbt(settings, "build", "--select", "stg_summaries")

    assert result.returncode != 0
    assert re.search(r"FAIL 1 accepted_values_stg_summaries_sentiment", result.stdout), result.stdout[-3000:]


def test_a_lake_without_files_yet_builds_empty_marts(tmp_path: Path, sql) -> None:
    """A fresh deployment: the daily run comes before the first call. Nothing to read is not an error."""
    settings = Settings(home=tmp_path)
    result = warehouse.run_dbt(settings, "build")
    assert result.returncode == 0, result.stdout[-4000:]
    counts = sql(
        tmp_path,
        "select (select count(*) from fct_calls) as calls, (select count(*) from fct_turns) as turns",
    )
    assert counts == [{"calls": 0, "turns": 0}]
