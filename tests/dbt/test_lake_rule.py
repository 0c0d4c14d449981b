"""The SQL rule (dbt's current_lake_rows on DuckDB, `callcare sql`'s lake views) counts exactly the
rows the Python rule (callcare.core.lake_generations, used by compaction and `callcare check`) counts,
in the states compaction and late writes leave a lake in, those with files that hold no rows included.

The macro is run as the staging models use it (`dbt show --inline`), not through a whole build.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from callcare.config import Settings
from callcare.core.lake import Lake
from callcare.core.lake_generations import read_partition
from callcare.core.tables import SUMMARIES_SCHEMA, TURNS_SCHEMA
from callcare.lake_paths import partition_prefix, table_key
from callcare.steps.compact import compact_before
from callcare.warehouse import dbt as warehouse

from tests.unit.test_compaction import write_call

DAYS = ("2026-03-01", "2026-03-02")
TODAY = date(2026, 3, 3)
# what tells one row from another, and which file's copy of it was counted
KEYS = {
    "calls": "status",
    "turns": "cast(turn_index as varchar) || ' ' || text",
    "summaries": "prompt_version || ' ' || sentiment",
}


def python_rule(lake: Lake) -> list[list[str]]:
    rows = []
    for table, key in KEYS.items():
        for day in DAYS:
            for row in read_partition(lake, table, day).to_pylist():
                if table == "turns":
                    value = f"{row['turn_index']} {row['text']}"
                elif table == "summaries":
                    value = f"{row['prompt_version']} {row['sentiment']}"
                else:
                    value = row[key]
                rows.append([table, row["call_id"], value])
    return sorted(rows)


def union(source: str) -> str:
    return " union all ".join(
        f"select '{table}' as lake_table, call_id, {key} as lake_key from {source.format(table=table)}"
        for table, key in KEYS.items()
    )


def dbt_rule(home: Path) -> list[list[str]]:
    result = warehouse.run_dbt(
        Settings(home=home),
        "show",
        "--inline",
        union("{{{{ current_lake_rows('{table}') }}}}"),
        "--limit",
        "-1",
        "--output",
        "json",
        "--log-format",
        "json",
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    for line in result.stdout.splitlines():
        event = json.loads(line)
        if event["info"]["name"] == "ShowNode":
            return sorted(
                [r["lake_table"], r["call_id"], r["lake_key"]] for r in json.loads(event["data"]["preview"])
            )
    raise AssertionError(result.stdout[-4000:])


def sql_rule(home: Path, sql) -> list[list[str]]:
    rows = sql(home, union("lake.{table}"))
    return sorted([r["lake_table"], r["call_id"], r["lake_key"]] for r in rows)


def test_the_sql_rule_counts_what_the_python_rule_counts_files_without_rows_included(
    tmp_path: Path, sql, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake((tmp_path / "lake").as_uri())
    for n in range(6):
        write_call(lake, f"c-{n}", DAYS[n % 2], turns=2 + n)
    with monkeypatch.context() as patched:  # compacted files written, nothing deleted yet
        patched.setattr(Lake, "delete_if_unchanged", lambda *_: False)
        compact_before(lake, TODAY)
    [first] = [k for k in lake.list_keys(partition_prefix("turns", DAYS[0])) if "compacted-" in k]
    # c-2 reprocessed into a transcript with no turns: its per-call file holds none
    lake.write_parquet(table_key("turns", DAYS[0], "c-2"), TURNS_SCHEMA.empty_table())

    expected = python_rule(lake)
    assert [r for r in expected if r[:2] == ["turns", "c-2"]] == []
    assert dbt_rule(tmp_path) == expected
    assert sql_rule(tmp_path, sql) == expected

    # compaction finished, but an earlier generation is left behind (as if its delete never ran);
    # a summary version and the pipeline's own summary written after; every turn of day 2 emptied
    # and compacted: that day's latest turns file holds no rows at all, its earlier one some
    old = lake.read_parquet(first)
    compact_before(lake, TODAY)
    lake.write_parquet(first, old)
    for version, sentiment in (("v3", "late"), (None, "again")):
        lake.write_parquet(
            table_key("summaries", DAYS[0], "c-4", version),
            pa.Table.from_pylist(
                [
                    {
                        "call_id": "c-4",
                        "call_date": DAYS[0],
                        "prompt_version": version or "v1",
                        "sentiment": sentiment,
                    }
                ],
                schema=SUMMARIES_SCHEMA,
            ),
        )
    [day_two] = lake.list_keys(partition_prefix("turns", DAYS[1]))
    day_two_rows = lake.read_parquet(day_two)
    for call_id in ("c-1", "c-3", "c-5"):
        lake.write_parquet(table_key("turns", DAYS[1], call_id), TURNS_SCHEMA.empty_table())
    compact_before(lake, TODAY)
    lake.write_parquet(day_two, day_two_rows)

    expected = python_rule(lake)
    assert [r for r in expected if r[0] == "turns"] == sorted(
        ["turns", call_id, f"{i} COMPLETED {i}"]
        for call_id, turns in (("c-0", 2), ("c-4", 6))
        for i in range(turns)
    )
    assert sorted(r[2] for r in expected if r[:2] == ["summaries", "c-4"]) == [
        "v1 again",
        "v2 COMPLETED",
        "v3 late",
    ]
    assert dbt_rule(tmp_path) == expected
    assert sql_rule(tmp_path, sql) == expected


LISTED_THEN_READ = """
import json, sys
import duckdb
from callcare.warehouse.sql import current_rows_sql, empty_files

lake, step, listing = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect()
patterns = {table: f"{lake}/tables/{table}/*/*.parquet" for table in json.loads(sys.argv[4])}
if step == "list":
    print(json.dumps({table: empty_files(con, table, pattern) for table, pattern in patterns.items()}))
else:
    empty = json.loads(listing)
    rows = []
    for table, pattern in patterns.items():
        query = current_rows_sql(table, pattern, [tuple(e) for e in empty[table]])
        rows += [[table, *r] for r in con.execute(f"select call_id, * from ({query})").fetchall()]
    print(json.dumps(rows, default=str))
"""


def test_files_written_between_the_listing_and_the_read_are_never_lost_nor_doubled(tmp_path: Path) -> None:
    """The SQL rule lists the files that hold no rows before it reads the rest (at compile time in
    dbt, at view creation in `callcare sql`): a write or a compaction in between must not make a call
    vanish or count twice; at worst a call emptied in between still shows its previous rows."""
    import subprocess

    lake = Lake((tmp_path / "lake").as_uri())
    for n in range(6):
        write_call(lake, f"c-{n}", DAYS[n % 2], turns=2 + n)
    compact_before(lake, TODAY)
    lake.write_parquet(table_key("turns", DAYS[0], "c-2"), TURNS_SCHEMA.empty_table())
    python = Path(str(Settings(home=tmp_path).dbt_executable)).with_name("python")
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[2] / "plugins")}

    def run(step: str, listing: str = "{}") -> str:
        args = [
            str(python),
            "-c",
            LISTED_THEN_READ,
            str(tmp_path / "lake"),
            step,
            listing,
            json.dumps(list(KEYS)),
        ]
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def turns_by_call(rows: list[list]) -> dict[str, int]:
        found: dict[str, int] = {}
        for row in rows:
            if row[0] == "turns":
                found[row[1]] = found.get(row[1], 0) + 1
        return found

    listing = run("list")
    assert json.loads(listing)["turns"] != []  # c-2's empty file is listed
    # in between: c-2 reprocessed again, now with a turn, and c-4 with fewer; then the day compacted
    # (c-2's file merged into a generation newer than the listing knew, then deleted)
    write_call(lake, "c-2", DAYS[0], turns=1, status="FAILED")
    write_call(lake, "c-4", DAYS[0], turns=1, status="FAILED")
    compact_before(lake, TODAY)
    expected: dict[str, int] = {}
    for day in DAYS:
        for row in read_partition(lake, "turns", day).to_pylist():
            expected[row["call_id"]] = expected.get(row["call_id"], 0) + 1

    assert turns_by_call(json.loads(run("read", listing))) == expected
    assert expected == {"c-0": 2, "c-1": 3, "c-2": 1, "c-3": 5, "c-4": 1, "c-5": 7}

    # in between: c-0 emptied after the listing: it still shows its previous turns, once
    listing = run("list")
    lake.write_parquet(table_key("turns", DAYS[0], "c-0"), TURNS_SCHEMA.empty_table())
    assert turns_by_call(json.loads(run("read", listing)))["c-0"] == 2
    assert "c-0" not in turns_by_call(json.loads(run("read", run("list"))))


def test_a_folder_above_the_lake_named_compacted_changes_nothing(tmp_path: Path, sql) -> None:
    """Only a file's name says it is compacted (lake_paths.compacted_generation): a lake under a
    directory (or an S3 bucket) named compacted-... keeps its per-call files per-call in SQL too."""
    home = tmp_path / "compacted-test"
    lake = Lake((home / "lake").as_uri())
    for n in (1, 3, 5):
        write_call(lake, f"c-{n}", DAYS[1], turns=2 + n)
    compact_before(lake, TODAY)
    # day 1 never compacted: per-call files only; day 2 compacted, then c-3 reprocessed
    for n in (0, 2, 4):
        write_call(lake, f"c-{n}", DAYS[0], turns=2 + n)
    write_call(lake, "c-3", DAYS[1], turns=1, status="FAILED")

    expected = python_rule(lake)
    assert {r[1] for r in expected if r[0] == "turns"} == {f"c-{n}" for n in range(6)}
    assert [r for r in expected if r[:2] == ["turns", "c-3"]] == [["turns", "c-3", "0 FAILED 0"]]
    assert dbt_rule(home) == expected
    assert sql_rule(home, sql) == expected


def test_sql_tells_a_compacted_file_by_its_name_as_python_does() -> None:
    import re

    from callcare.lake_paths import compacted_generation, compacted_table_key
    from callcare.warehouse.sql import COMPACTED_NAME

    macro = (Path(__file__).resolve().parents[2] / "dbt" / "macros" / "lake_source.sql").read_text()
    assert f"return('{COMPACTED_NAME}')" in macro  # the macro lake_compacted_name: one pattern
    names = [
        compacted_table_key("turns", DAYS[0], "20260303T011500123456Z"),
        table_key("turns", DAYS[0], "c-1"),
        table_key("summaries", DAYS[0], "c-1", "v2"),
        "tables/turns/call_date=2026-03-01/compacted-latest.parquet",
    ]
    for root in ("s3://compacted-bucket/prod", "/tmp/compacted-test/lake"):
        for key in names:
            path = f"{root}/{key}"
            assert bool(re.search(COMPACTED_NAME, path)) == (compacted_generation(key) is not None), path
