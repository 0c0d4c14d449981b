"""Which file's rows count when a table's partition holds more than one copy of a call: the one rule.

A partition of a lake table (`tables/<table>/call_date=D/`) holds per-call files, written by
core.lake_rows as calls finish, and after compaction one `compacted-<generation>.parquet` file. For
short whiles it holds both copies of a call: compaction writes its file before it deletes the
per-call files it merged (on S3 nothing makes the two one atomic step), a compaction killed midway
leaves them side by side until the next run, and a call reprocessed or re-summarized after its day
was compacted gets a new per-call file beside the compacted one.

Every reader (dbt's staging models on DuckDB and Athena, `callcare sql`, `callcare check`, the
compaction itself) therefore takes each *unit* of a table (LakeTable.unit: a call's rows; a summary
version's row) from one file only, the best of the files that exist for it, whether or not that file
holds any of its rows:

1. the unit's per-call file beats any compacted file: it is either the newest write of that unit
   (written after the compaction read it) or a byte-for-byte copy of what the compacted file holds.
   A per-call file names its call (`<call_id>.parquet`), so where the unit is the call it replaces
   the call's rows even when it holds none (a call reprocessed into a transcript with no turns). In
   summaries the unit is a call's prompt version, which the pipeline's `<call_id>.parquet` does not
   name; there a per-call file replaces the versions its rows hold (always one row: a summary);
2. otherwise the partition's latest compacted generation: it was merged from every earlier one and
   everything newer that was there when it ran, so a unit it lacks has no rows, even if an earlier
   generation a killed compaction left behind still holds some.

The rank is in the file name alone, so SQL can apply it with the file's path (DuckDB's `filename`,
Athena's `"$path"`) and, on DuckDB, a listing of the files that hold no rows: see
dbt/macros/lake_source.sql and callcare.warehouse.sql, which must agree with `current_rows`
(tests/dbt/test_lake_rule.py). Athena sees a file only through its rows, so there a per-call file that holds no rows
counts for nothing until the next compaction merges it (docs/OPERATIONS.md, "Lake compaction").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyarrow as pa

from callcare.core.lake import Lake
from callcare.core.tables import LAKE_TABLES
from callcare.lake_paths import compacted_generation, partition_prefix


def file_rank(key: str) -> tuple[int, str]:
    """Higher wins: per-call files (1, name) over compacted ones (0, generation), then by name.

    SQL orders the same way: a per-call file over a compacted one, then the later path (one
    partition's files share their folder, and generations sort as text).
    """
    name = key.rsplit("/", 1)[-1]
    generation = compacted_generation(key)
    return (0, generation) if generation is not None else (1, name)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` with `schema`'s columns in its order (nulls where an older file lacks one), then any
    columns the schema does not know (a newer writer's), so merging files never drops a column."""
    extra = [f for f in table.schema if f.name not in schema.names]
    target = pa.schema([*schema, *extra], metadata=schema.metadata)
    columns = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.nulls(table.num_rows, f.type)
        for f in target
    ]
    return pa.Table.from_arrays(columns, schema=target)


def current_rows(files: Iterable[tuple[str, pa.Table]], table_name: str) -> pa.Table:
    """The rows readers count from the given files of one partition: each unit from its best file.

    `files` are (key, rows) pairs, every file of the partition, empty ones included: a per-call file
    that holds no rows still replaces its call (see the module's rule).
    """
    table = LAKE_TABLES[table_name]
    named_by_file = tuple(table.unit) == ("call_id",)
    files = list(files)
    per_call = [item for item in files if compacted_generation(item[0]) is None]
    compacted = [item for item in files if compacted_generation(item[0]) is not None]
    ranked = sorted(per_call, key=lambda item: file_rank(item[0]), reverse=True)
    if compacted:  # only the latest generation: it holds whatever an earlier one still counted
        ranked.append(max(compacted, key=lambda item: file_rank(item[0])))
    seen: set[tuple[object, ...]] = set()
    kept: list[pa.Table] = []
    for key, rows in ranked:
        units = _units(rows, table.unit)
        mask = [unit not in seen for unit in units]
        seen.update(units)
        if named_by_file and compacted_generation(key) is None:
            seen.add((call_id_of(key),))
        kept.append(conform(rows.filter(pa.array(mask, pa.bool_())), table.schema))
    if not kept:
        return table.schema.empty_table()
    return pa.concat_tables(kept, promote_options="permissive")


def call_id_of(key: str) -> str:
    """The call a per-call file is named after (`<call_id>.parquet`; not a summaries `-<version>` file's)."""
    return key.rsplit("/", 1)[-1].removesuffix(".parquet")


def _units(rows: pa.Table, unit: Sequence[str]) -> list[tuple[object, ...]]:
    return list(zip(*(rows.column(name).to_pylist() for name in unit), strict=True))


# a compaction deletes a merged file once its compacted file is written; a reader that listed the
# partition just before finds it gone, lists again (the compacted file is there) and reads again
READ_ATTEMPTS = 3


def read_partition(lake: Lake, table_name: str, call_date: str) -> pa.Table:
    """The rows of one table and day as every reader counts them (see the module's rule).

    A file listed and then deleted before it is read (a compaction finishing meanwhile) makes the
    read start over from a new listing, up to READ_ATTEMPTS times: the files that replace it were
    written before the delete, so the second listing holds them. Any other missing file is an error.
    """
    prefix = partition_prefix(table_name, call_date)
    for attempt in range(1, READ_ATTEMPTS + 1):
        keys = [key for key in lake.list_keys(prefix) if key.endswith(".parquet")]
        try:
            return current_rows([(key, lake.read_parquet(key)) for key in keys], table_name)
        except OSError:  # FileNotFoundError locally; pyarrow's S3 says OSError (NoSuchKey)
            still_there = set(lake.list_keys(prefix))
            if attempt == READ_ATTEMPTS or all(key in still_there for key in keys):
                raise
    raise AssertionError("unreachable")
