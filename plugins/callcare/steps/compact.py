"""Compaction: a past day's per-call Parquet files of a table merged into one file, safely.

The pipeline writes 4-5 small files per call (core.lake_rows), and readers pay per file: `dbt
build` on DuckDB spends its time opening them, Athena pays per object listed and read. Compaction
rewrites each past partition (`tables/<table>/call_date=D/`) as one `compacted-<generation>.parquet`
and then deletes the files it merged. The steps, and why each is safe to stop after:

1. list the partition's files with a version token each (ETag on S3);
2. read them and keep what readers count (core.lake_generations.current_rows);
3. write the compacted file (one PUT on S3, a rename locally: whole or not at all). Until the
   deletes, readers see each call in two files and take it from the per-call one, the same rows;
4. delete each merged file only if it is still the version read (If-Match on S3). A file a writer
   replaced meanwhile (a reprocess, a re-summary) stays, and outranks the compacted copy.

A run killed anywhere leaves a partition that readers count right and that the next run finishes:
rerunning merges whatever is there again (an older compacted file included) into a new generation.
Two compactions must not run on one partition at the same time (the DAG runs one at a time): one
could write a later generation from an older view after the other had merged a newer per-call file.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from callcare.core.lake import Lake
from callcare.core.lake_generations import current_rows
from callcare.core.tables import LAKE_TABLES
from callcare.lake_paths import TABLES, compacted_generation, compacted_table_key

log = logging.getLogger(__name__)

GENERATION_FORMAT = "%Y%m%dT%H%M%S%fZ"
# reads and deletes of one partition's files in flight at once
IO_THREADS = 8


@dataclass
class PartitionCompaction:
    table: str
    call_date: str
    merged: int = 0  # files read
    rows: int = 0  # rows in the compacted file
    written: str | None = None  # the compacted file's key; None when there was nothing to do
    deleted: int = 0
    kept: list[str] = field(default_factory=list)  # replaced by a writer while compacting


def next_generation(existing: Iterable[str], now: datetime | None = None) -> str:
    """Now in UTC, but always after every generation already there (a worker's clock may lag)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    latest = max(existing, default=None)
    if latest is not None:
        moment = max(moment, datetime.strptime(latest, GENERATION_FORMAT) + timedelta(microseconds=1))
    return moment.strftime(GENERATION_FORMAT)


def needs_compaction(keys: Iterable[str]) -> bool:
    """More than one file, or a lone per-call file: anything but one compacted file."""
    parquet = [k for k in keys if k.endswith(".parquet")]
    return len(parquet) > 1 or (len(parquet) == 1 and compacted_generation(parquet[0]) is None)


def compact_partition(
    lake: Lake, table: str, call_date: str, versions: dict[str, str] | None = None
) -> PartitionCompaction:
    """Merge one partition into one compacted file; `versions` is its listing when already made."""
    result = PartitionCompaction(table, call_date)
    prefix = f"tables/{table}/call_date={call_date}/"
    if versions is None:
        versions = lake.versions(prefix)
    inputs = {key: version for key, version in versions.items() if key.endswith(".parquet")}
    if not needs_compaction(inputs):
        return result
    with ThreadPoolExecutor(IO_THREADS) as pool:  # small files: latency-bound, on S3 above all
        files = list(zip(inputs, pool.map(lake.read_parquet, inputs), strict=True))
    rows = current_rows(files, table)
    order = [(name, "ascending") for name in LAKE_TABLES[table].grain]
    rows = rows.sort_by(order)
    existing = (g for g in (compacted_generation(k) for k in inputs) if g is not None)
    key = compacted_table_key(table, call_date, next_generation(existing))
    lake.write_parquet(key, rows)
    result.merged, result.rows, result.written = len(files), rows.num_rows, key
    with ThreadPoolExecutor(IO_THREADS) as pool:
        deleted = list(pool.map(lake.delete_if_unchanged, inputs, inputs.values()))
    result.deleted = sum(deleted)
    result.kept = [
        merged for merged, gone in zip(inputs, deleted, strict=True) if not gone and lake.exists(merged)
    ]
    if result.kept:
        log.info("%s: %d file(s) replaced while compacting, kept: %s", prefix, len(result.kept), result.kept)
    return result


def partitions_before(lake: Lake, before: date) -> dict[tuple[str, str], dict[str, str]]:
    """(table, call_date) -> its files' versions, for every partition dated before `before`."""
    found: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    cutoff = before.isoformat()
    for table in TABLES:
        for key, version in lake.versions(f"tables/{table}/").items():
            folder = key.split("/")[2]
            if not folder.startswith("call_date="):
                continue
            call_date = folder.removeprefix("call_date=")
            if call_date < cutoff:
                found[(table, call_date)][key] = version
    return dict(found)


def compact_before(lake: Lake, before: date) -> list[PartitionCompaction]:
    """Compact every partition dated before `before` that needs it; today's writers are never raced
    when `before` is today. Oldest first, so a run cut short has finished whole days."""
    done = []
    for (table, call_date), versions in sorted(
        partitions_before(lake, before).items(), key=lambda i: i[0][::-1]
    ):
        if not needs_compaction(versions):
            continue
        result = compact_partition(lake, table, call_date, versions)
        log.info(
            "compacted %s %s: %d files -> %d rows in %s, %d deleted, %d kept",
            table,
            call_date,
            result.merged,
            result.rows,
            result.written,
            result.deleted,
            len(result.kept),
        )
        done.append(result)
    return done
