"""Which file's rows count when a table's partition holds more than one copy of a call: the one rule.

A partition of a lake table (`tables/<table>/call_date=D/`) holds per-call files, written by
core.lake_rows as calls finish, and after compaction one `compacted-<generation>.parquet` file. For
short whiles it holds both copies of a call: compaction writes its file before it deletes the
per-call files it merged (on S3 nothing makes the two one atomic step), a compaction killed midway
leaves them side by side until the next run, and a call reprocessed or re-summarized after its day
was compacted gets a new per-call file beside the compacted one.

Every reader (dbt's staging models on DuckDB and Athena, `callcare sql`, `callcare check`, the
compaction itself) therefore takes each *unit* of a table (LakeTable.unit: a call's rows; a summary
version's row) from one file only, the highest-ranked file that holds it:

1. a per-call file beats any compacted file: it is either the newest write of that call (written
   after the compaction read the call) or a byte-for-byte copy of what the compacted file holds;
2. among compacted files, the later generation wins: it was merged from the earlier one and
   everything newer that was there when it ran.

The rank is in the file name alone, so SQL can apply it with nothing but the file's path (DuckDB's
`filename`, Athena's `"$path"`): see dbt/macros/lake_source.sql, which must agree with `file_rank`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyarrow as pa

from callcare.core.lake import Lake
from callcare.core.tables import LAKE_TABLES
from callcare.lake_paths import compacted_generation, partition_prefix


def file_rank(key: str) -> tuple[int, str]:
    """Higher wins: per-call files (1, name) over compacted ones (0, generation), then by name.

    SQL orders the same way: `is compacted` ascending, then the path descending (one partition's
    files share their folder, and generations sort as text).
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

    `files` are (key, rows) pairs; rows that another, higher-ranked file also holds are left out.
    """
    table = LAKE_TABLES[table_name]
    ranked = sorted(files, key=lambda item: file_rank(item[0]), reverse=True)
    seen: set[tuple[object, ...]] = set()
    kept: list[pa.Table] = []
    for _key, rows in ranked:
        units = _units(rows, table.unit)
        mask = [unit not in seen for unit in units]
        seen.update(units)
        kept.append(conform(rows.filter(pa.array(mask, pa.bool_())), table.schema))
    if not kept:
        return table.schema.empty_table()
    return pa.concat_tables(kept, promote_options="permissive")


def _units(rows: pa.Table, unit: Sequence[str]) -> list[tuple[object, ...]]:
    return list(zip(*(rows.column(name).to_pylist() for name in unit), strict=True))


def read_partition(lake: Lake, table_name: str, call_date: str) -> pa.Table:
    """The rows of one table and day as every reader counts them (see the module's rule)."""
    prefix = partition_prefix(table_name, call_date)
    keys = [key for key in lake.list_keys(prefix) if key.endswith(".parquet")]
    return current_rows(((key, lake.read_parquet(key)) for key in keys), table_name)
