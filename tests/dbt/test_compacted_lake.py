"""`dbt build` on DuckDB counts each call once whatever state compaction left the lake in.

The lake is bench/generate_calls.py's, written one file per call as the pipeline writes them (no
speech-to-text needed). The build's staging tables and marts are compared across: the per-call
lake; a compaction that wrote every compacted file and was stopped before any delete (each call in
two files); a call re-summarized after its day was compacted (a newer per-call file); and the
finished compaction. `callcare sql`'s lake views follow the same rule.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from callcare.config import Settings
from callcare.core.lake import Lake
from callcare.core.tables import SUMMARIES_SCHEMA
from callcare.lake_paths import table_key
from callcare.steps.compact import compact_before
from callcare.warehouse import dbt as warehouse

from bench.generate_calls import generate, write

COUNTS = (
    "select (select count(*) from stg_calls) as calls, (select count(*) from stg_turns) as turns,"
    " (select count(*) from stg_summaries) as summaries, (select count(*) from stg_call_metrics) as metrics,"
    " (select count(*) from stg_status_events) as events, (select count(*) from fct_calls) as fct_calls,"
    " (select sum(completed_calls + failed_calls) from daily_call_volume) as volume"
)
LAKE_COUNTS = (
    "select (select count(*) from lake.calls) as calls, (select count(*) from lake.turns) as turns,"
    " (select count(*) from lake.summaries) as summaries"
)


def build(home: Path) -> None:
    result = warehouse.run_dbt(Settings(home=home), "build")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_no_call_is_counted_twice_or_lost_in_any_state_compaction_leaves(
    tmp_path: Path, sql, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = generate(60, days=3, seed=11, end=date(2026, 5, 3))
    write(tables, tmp_path / "lake", layout="per-call")
    lake = Lake((tmp_path / "lake").as_uri())
    build(tmp_path)
    before = sql(tmp_path, COUNTS)
    lake_before = sql(tmp_path, LAKE_COUNTS)
    assert before[0]["calls"] == before[0]["fct_calls"] == before[0]["volume"] == 60

    with monkeypatch.context() as patched:  # stopped after every write, before any delete
        patched.setattr(Lake, "delete_if_unchanged", lambda *_: False)
        compact_before(lake, date(2026, 5, 4))
    names = [key.rsplit("/", 1)[-1] for key in lake.list_keys("tables/calls/")]
    assert sum(name.startswith("compacted-") for name in names) == 3 and len(names) == 3 + 60
    build(tmp_path)
    assert sql(tmp_path, COUNTS) == before
    assert sql(tmp_path, LAKE_COUNTS) == lake_before

    # finished; then a call is re-summarized after its day was compacted: its new per-call row
    # replaces the compacted one, before and after the next compaction merges it in
    compact_before(lake, date(2026, 5, 4))
    assert len(lake.list_keys("tables/calls/")) == 3
    row = next(r for r in tables["summaries"].to_pylist() if r["prompt_version"] == "v1")
    new = {**row, "sentiment": "Negative" if row["sentiment"] != "Negative" else "Positive"}
    key = table_key("summaries", row["call_date"], row["call_id"])
    lake.write_parquet(key, pa.Table.from_pylist([new], schema=SUMMARIES_SCHEMA))
    current = (
        f"select sentiment from stg_summaries where call_id = '{row['call_id']}' and prompt_version = 'v1'"
    )
    for compacted_again in (False, True):
        if compacted_again:
            compact_before(lake, date(2026, 5, 4))
            assert len(lake.list_keys("tables/summaries/")) == 3
        build(tmp_path)
        assert sql(tmp_path, COUNTS) == before
        assert sql(tmp_path, current) == [{"sentiment": new["sentiment"]}]
