"""Compaction (callcare.steps.compact) on the local lake and on S3 (moto's server): rows kept exactly,
idempotent, late writes win, and a run stopped midway (an error, or SIGKILL) leaves every row
counted once by the readers' rule (callcare.core.lake_generations)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from callcare.core.lake import Lake
from callcare.core.lake_generations import read_partition
from callcare.core.tables import CALLS_SCHEMA, SUMMARIES_SCHEMA, TURNS_SCHEMA
from callcare.lake_paths import TABLES, compacted_generation, partition_prefix, table_key
from callcare.steps.compact import compact_before, compact_partition, next_generation

from tests.support.aws_fixtures import moto_lake_settings

REPO = Path(__file__).resolve().parents[2]
DAYS = ("2026-03-01", "2026-03-02")
TODAY = date(2026, 3, 3)


def write_call(
    lake: Lake, call_id: str, call_date: str, *, turns: int = 3, status: str = "COMPLETED"
) -> None:
    """A call's per-call files, as core.lake_rows writes them (calls, turns, summaries)."""
    lake.write_parquet(
        table_key("calls", call_date, call_id),
        pa.Table.from_pylist(
            [{"call_id": call_id, "call_date": call_date, "status": status, "attempt": turns}],
            schema=CALLS_SCHEMA,
        ),
    )
    lake.write_parquet(
        table_key("turns", call_date, call_id),
        pa.Table.from_pylist(
            [
                {"call_id": call_id, "call_date": call_date, "turn_index": i, "text": f"{status} {i}"}
                for i in range(turns)
            ],
            schema=TURNS_SCHEMA,
        ),
    )
    for version in ("v1", "v2"):
        key = table_key("summaries", call_date, call_id, None if version == "v1" else version)
        lake.write_parquet(
            key,
            pa.Table.from_pylist(
                [
                    {
                        "call_id": call_id,
                        "call_date": call_date,
                        "prompt_version": version,
                        "sentiment": status,
                    }
                ],
                schema=SUMMARIES_SCHEMA,
            ),
        )


def counted(lake: Lake) -> dict[str, list[dict]]:
    """Every table's rows as readers count them, in a stable order."""
    rows: dict[str, list[dict]] = {}
    for table in TABLES:
        found = [r for day in DAYS for r in read_partition(lake, table, day).to_pylist()]
        rows[table] = sorted(
            found, key=lambda r: (r["call_id"], str(r.get("turn_index")), str(r.get("prompt_version")))
        )
    return rows


def files(lake: Lake, table: str, day: str) -> list[str]:
    return lake.list_keys(partition_prefix(table, day))


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    if request.param == "local":
        return Lake((tmp_path / "lake").as_uri())
    moto_server = request.getfixturevalue("moto_server")
    request.getfixturevalue("dummy_aws")
    return Lake.from_settings(moto_lake_settings(moto_server, tmp_path))


@pytest.fixture
def filled(lake: Lake) -> dict[str, list[dict]]:
    for n in range(6):
        write_call(lake, f"c-{n}", DAYS[n % 2], turns=2 + n)
    return counted(lake)


def test_each_past_day_becomes_one_file_per_table_with_exactly_the_same_rows(lake, filled) -> None:
    done = compact_before(lake, TODAY)

    assert len(done) == 3 * len(DAYS)  # calls, turns, summaries on each day; no other table has files
    for table in ("calls", "turns", "summaries"):
        for day in DAYS:
            [only] = files(lake, table, day)
            assert compacted_generation(only) is not None
    assert counted(lake) == filled
    assert sum(len(rows) for rows in filled.values()) == 6 + sum(2 + n for n in range(6)) + 12


def test_today_is_left_alone(lake, filled) -> None:
    write_call(lake, "c-today", TODAY.isoformat())

    compact_before(lake, TODAY)

    assert files(lake, "calls", TODAY.isoformat()) == [table_key("calls", TODAY.isoformat(), "c-today")]


def test_a_rerun_changes_nothing(lake, filled) -> None:
    compact_before(lake, TODAY)
    before = {day: files(lake, "turns", day) for day in DAYS}

    assert compact_before(lake, TODAY) == []
    assert compact_partition(lake, "turns", DAYS[0]).written is None
    assert {day: files(lake, "turns", day) for day in DAYS} == before
    assert counted(lake) == filled


def test_a_late_write_after_compaction_wins_and_survives_the_next_compaction(lake, filled) -> None:
    compact_before(lake, TODAY)
    # c-2 reprocessed: fewer turns than before, another status; its old turns must not linger
    write_call(lake, "c-2", DAYS[0], turns=1, status="FAILED")
    expected = {table: [r for r in rows if r["call_id"] != "c-2"] for table, rows in filled.items()}

    for _ in range(2):  # as readers see it now, and after compacting the late file in
        rows = counted(lake)
        late = {table: [r for r in rows[table] if r["call_id"] == "c-2"] for table in rows}
        assert [r["status"] for r in late["calls"]] == ["FAILED"]
        assert [r["text"] for r in late["turns"]] == ["FAILED 0"]
        assert [(r["prompt_version"], r["sentiment"]) for r in late["summaries"]] == [
            ("v1", "FAILED"),
            ("v2", "FAILED"),
        ]
        assert {t: [r for r in rs if r["call_id"] != "c-2"] for t, rs in rows.items()} == expected
        compact_before(lake, TODAY)
    assert len(files(lake, "turns", DAYS[0])) == 1


def test_a_file_replaced_while_compacting_is_kept_and_wins(lake, filled) -> None:
    listing = lake.versions(partition_prefix("calls", DAYS[1]))  # compaction lists first...
    write_call(lake, "c-1", DAYS[1], status="FAILED")  # ...a reprocess replaces c-1 meanwhile

    result = compact_partition(lake, "calls", DAYS[1], listing)

    assert result.kept == [table_key("calls", DAYS[1], "c-1")]
    assert result.deleted == len(listing) - 1
    statuses = {r["call_id"]: r["status"] for r in read_partition(lake, "calls", DAYS[1]).to_pylist()}
    assert statuses == {"c-1": "FAILED", "c-3": "COMPLETED", "c-5": "COMPLETED"}


def test_an_error_between_the_write_and_the_deletes_loses_and_doubles_nothing(
    lake, filled, monkeypatch
) -> None:
    deletes = 0
    real = Lake.delete_if_unchanged

    def failing(self: Lake, key: str, version: str) -> bool:
        nonlocal deletes
        deletes += 1
        if deletes == 2:
            raise ConnectionError("the worker lost the network")
        return real(self, key, version)

    with monkeypatch.context() as patched, pytest.raises(ConnectionError):
        patched.setattr(Lake, "delete_if_unchanged", failing)
        compact_before(lake, TODAY)

    assert len(files(lake, "calls", DAYS[0])) > 1  # the compacted file beside what was not deleted yet
    assert counted(lake) == filled
    compact_before(lake, TODAY)
    assert counted(lake) == filled
    assert all(len(files(lake, t, d)) == 1 for t in ("calls", "turns", "summaries") for d in DAYS)


def test_a_later_generation_beats_an_earlier_one_left_behind(lake, filled) -> None:
    compact_before(lake, TODAY)
    [first] = files(lake, "calls", DAYS[0])
    old = lake.read_parquet(first)
    write_call(lake, "c-0", DAYS[0], status="FAILED")
    compact_before(lake, TODAY)
    lake.write_parquet(first, old)  # as if the delete of the earlier generation had never happened

    statuses = {r["call_id"]: r["status"] for r in read_partition(lake, "calls", DAYS[0]).to_pylist()}

    assert statuses == {"c-0": "FAILED", "c-2": "COMPLETED", "c-4": "COMPLETED"}


def test_generations_only_grow() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
    assert next_generation([], now) == "20260303T010000000000Z"
    # a worker whose clock lags still writes after the generation already there
    assert next_generation(["20260303T020000000000Z"], now) == "20260303T020000000001Z"


KILLER = """
import os, signal, sys
from datetime import date
from callcare.config import Settings
from callcare.core.lake import Lake
from callcare.steps import compact

uri, endpoint, point, after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if uri.startswith("s3://"):
    lake = Lake.from_settings(Settings(profile="aws", lake_uri=uri, s3_endpoint_url=endpoint, aws_region="eu-west-1"))
else:
    lake = Lake(uri)
calls = 0
def dying(real):
    def wrapper(*args, **kwargs):
        global calls
        calls += 1
        if calls > after:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    return wrapper
if point == "write":
    Lake.write_parquet = dying(Lake.write_parquet)
else:
    Lake.delete_if_unchanged = dying(Lake.delete_if_unchanged)
compact.compact_before(lake, date(2026, 3, 3))
"""


# killed before the second partition's write, before the first delete, and among the deletes
@pytest.mark.parametrize(("point", "after"), [("write", 1), ("deletes", 0), ("deletes", 5)])
def test_sigkill_midway_leaves_each_row_counted_once_and_the_next_run_finishes(
    lake, filled, point, after, request
) -> None:
    endpoint = request.getfixturevalue("moto_server") if lake.uri.startswith("s3://") else ""
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'plugins'}:{REPO}"}

    killed = subprocess.run(
        [sys.executable, "-c", KILLER, lake.uri, endpoint, point, str(after)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert counted(lake) == filled
    compact_before(lake, TODAY)
    assert counted(lake) == filled
    assert all(len(files(lake, t, d)) == 1 for t in ("calls", "turns", "summaries") for d in DAYS)


def test_the_command_compacts_days_before_the_date_given(callcare_home: Path, capsys) -> None:
    from callcare.config import get_settings
    from callcare.dev import cli

    lake = Lake.from_settings(get_settings())
    for n in range(4):
        write_call(lake, f"c-{n}", DAYS[n % 2])

    assert cli.main(["compact", "--before", DAYS[1]]) == 0

    assert "compacted 3 partitions dated before 2026-03-02" in capsys.readouterr().out
    assert len(files(lake, "turns", DAYS[0])) == 1 and len(files(lake, "turns", DAYS[1])) == 2


def test_compacted_files_and_call_files_cannot_be_mistaken_for_each_other() -> None:
    from callcare.core.lake_generations import file_rank
    from callcare.lake_paths import compacted_table_key

    key = compacted_table_key("turns", DAYS[0], "20260303T010000000000Z")
    assert key == "tables/turns/call_date=2026-03-01/compacted-20260303T010000000000Z.parquet"
    assert compacted_generation(key) == "20260303T010000000000Z"
    assert compacted_generation(table_key("turns", DAYS[0], "c-compacted")) is None
    with pytest.raises(ValueError, match="may not start with"):
        table_key("turns", DAYS[0], "compacted-20260303T010000000000Z")
    with pytest.raises(ValueError, match="generation"):
        compacted_table_key("turns", DAYS[0], "../x")
    # a per-call file outranks every compacted one; a later generation an earlier one
    later = compacted_table_key("turns", DAYS[0], "20260304T010000000000Z")
    assert file_rank(table_key("turns", DAYS[0], "c-1")) > file_rank(later) > file_rank(key)


def test_a_call_emptied_after_compaction_has_no_rows_before_and_after_the_next_compaction(
    lake, filled
) -> None:
    """A per-call file that holds no rows still replaces its call: the rule ranks files, not rows."""
    compact_before(lake, TODAY)
    # c-2 reprocessed into a transcript with no turns: its per-call turns file holds no rows
    lake.write_parquet(table_key("turns", DAYS[0], "c-2"), TURNS_SCHEMA.empty_table())
    expected = {t: [r for r in rows if t != "turns" or r["call_id"] != "c-2"] for t, rows in filled.items()}

    assert counted(lake) == expected
    compact_before(lake, TODAY)
    assert counted(lake) == expected
    [only] = files(lake, "turns", DAYS[0])
    assert "c-2" not in lake.read_parquet(only).column("call_id").to_pylist()


def test_an_earlier_generation_left_behind_does_not_bring_back_an_emptied_call(lake, filled) -> None:
    compact_before(lake, TODAY)
    [first] = files(lake, "turns", DAYS[0])
    old = lake.read_parquet(first)
    lake.write_parquet(table_key("turns", DAYS[0], "c-2"), TURNS_SCHEMA.empty_table())
    compact_before(lake, TODAY)
    lake.write_parquet(first, old)  # as if the delete of the earlier generation had never happened

    turns = read_partition(lake, "turns", DAYS[0]).to_pylist()

    assert sorted({r["call_id"] for r in turns}) == ["c-0", "c-4"]
    assert len(turns) == 2 + 6


def test_a_summary_version_written_after_compaction_leaves_the_others_counted(lake, filled) -> None:
    """In summaries the unit is a call's prompt version: a new version's file replaces only that one."""
    compact_before(lake, TODAY)
    lake.write_parquet(
        table_key("summaries", DAYS[0], "c-2", "v3"),
        pa.Table.from_pylist(
            [{"call_id": "c-2", "call_date": DAYS[0], "prompt_version": "v3", "sentiment": "late"}],
            schema=SUMMARIES_SCHEMA,
        ),
    )
    lake.write_parquet(  # the pipeline's own file again, after compaction: it holds v1 only
        table_key("summaries", DAYS[0], "c-2"),
        pa.Table.from_pylist(
            [{"call_id": "c-2", "call_date": DAYS[0], "prompt_version": "v1", "sentiment": "again"}],
            schema=SUMMARIES_SCHEMA,
        ),
    )

    for _ in range(2):
        rows = [r for r in read_partition(lake, "summaries", DAYS[0]).to_pylist() if r["call_id"] == "c-2"]
        assert sorted((r["prompt_version"], r["sentiment"]) for r in rows) == [
            ("v1", "again"),
            ("v2", "COMPLETED"),
            ("v3", "late"),
        ]
        compact_before(lake, TODAY)


def test_a_reader_that_listed_before_a_compaction_deleted_its_files_reads_again(
    lake, filled, monkeypatch
) -> None:
    """Compaction finishes between a reader's listing and its reads: the merged files it listed are
    gone. The reader lists again and counts every call once, from the compacted file."""
    real = Lake.read_parquet
    raced = []

    def compaction_in_between(self: Lake, key: str) -> pa.Table:
        if not raced:
            raced.append(key)
            compact_before(self, TODAY)  # writes the compacted file, deletes what the reader listed
        return real(self, key)

    monkeypatch.setattr(Lake, "read_parquet", compaction_in_between)

    assert counted(lake) == filled
    assert raced
