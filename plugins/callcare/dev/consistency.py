"""Checks that the lake, the registry and its outbox tell the same story about every call.

After a crash (a scheduler or worker killed mid-task) or a burst, an operator needs one answer:
was anything lost, duplicated or left half-written? The registry is the record of truth; each of
its calls must have an unbroken chain of outbox events ending at its status, at most one COMPLETED
per attempt, and, once finished, the lake files and Parquet rows the warehouse reads. Lake files no
call owns are reported too: they are what a lost registry write would leave behind. A table's rows
are read as every reader counts them: per-call files and the compacted file of a past day, each
call taken from one file (core.lake_generations), so a compaction's leftovers never count twice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import pyarrow.parquet as pq

from callcare.core.lake import Lake
from callcare.core.lake_generations import read_partition
from callcare.core.registry import Registry
from callcare.lake_paths import TABLES, compacted_generation, partition_prefix
from callcare.status import TERMINAL, CallStatus

# the per-call Parquet files publish writes for a COMPLETED call (record_failed_call writes the
# calls and status_events rows of a FAILED one)
COMPLETED_TABLES = TABLES
FAILED_TABLES = ("calls", "status_events")


@dataclass
class ConsistencyReport:
    calls: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    events: int = 0
    unpublished_events: int = 0
    completed_events: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        statuses = ", ".join(f"{s} {n}" for s, n in sorted(self.by_status.items())) or "none"
        verdict = "consistent" if self.ok else f"{len(self.problems)} problem(s)"
        return (
            f"{self.calls} calls ({statuses}); {self.events} outbox events, "
            f"{self.completed_events} COMPLETED, {self.unpublished_events} not yet published: {verdict}"
        )


def check(registry: Registry, lake: Lake, require_terminal: bool = False) -> ConsistencyReport:
    report = ConsistencyReport()
    calls = {c["call_id"]: c for c in registry.list_calls(limit=10_000_000)}
    events_by_call: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in registry.events():
        events_by_call[event["call_id"]].append(event)
        report.events += 1
        report.unpublished_events += event["published_at"] is None
        report.completed_events += event["status"] == CallStatus.COMPLETED
    report.calls = len(calls)
    partitions = Partitions(lake)
    for call_id, call in calls.items():
        report.by_status[call["status"]] += 1
        report.problems.extend(_event_problems(call, events_by_call.get(call_id, [])))
        if require_terminal and call["status"] not in TERMINAL:
            report.problems.append(f"{call_id}: still {call['status']}")
        report.problems.extend(_lake_problems(call, lake, partitions))
    report.problems.extend(_orphans(calls, lake))
    return report


def _event_problems(call: dict[str, Any], events: list[dict[str, Any]]) -> list[str]:
    """The outbox must replay to the call's status: each event continues the previous one."""
    call_id = call["call_id"]
    if not events:
        return [f"{call_id}: no outbox events"]
    problems = []
    if events[0]["status"] != CallStatus.UPLOADED or events[0]["previous_status"] is not None:
        problems.append(f"{call_id}: the first event is {events[0]['status']}, not UPLOADED")
    attempts = 1
    completed_in_attempt = 0
    for before, after in pairwise(events):
        if after["previous_status"] != before["status"]:
            problems.append(
                f"{call_id}: event {after['event_id']} follows {after['previous_status']}, "
                f"but the event before it is {before['status']}"
            )
        if after["status"] == CallStatus.UPLOADED:  # reprocessing starts a new attempt
            attempts += 1
            completed_in_attempt = 0
        elif after["status"] == CallStatus.COMPLETED:
            completed_in_attempt += 1
            if completed_in_attempt > 1:
                problems.append(f"{call_id}: COMPLETED twice in attempt {attempts}")
    if events[-1]["status"] != call["status"]:
        problems.append(f"{call_id}: status {call['status']}, but the last event is {events[-1]['status']}")
    if attempts != call["attempt"]:
        problems.append(f"{call_id}: attempt {call['attempt']}, but the outbox shows {attempts}")
    return problems


def _lake_problems(call: dict[str, Any], lake: Lake, partitions: Partitions) -> list[str]:
    call_id, call_date, status = call["call_id"], call["call_date"], call["status"]
    problems = []
    uris = {"audio": call["audio_uri"]}
    if status == CallStatus.COMPLETED:
        uris |= {"transcript": call["transcript_uri"], "summary": call["summary_uri"]}
    for what, uri in uris.items():
        if not uri:
            problems.append(f"{call_id}: {status} without a {what} URI")
        elif not lake.exists(lake.key_from_uri(uri)):
            problems.append(f"{call_id}: its {what} {uri} is not in the lake")
    if status == CallStatus.FAILED and not call["error_message"]:
        problems.append(f"{call_id}: FAILED without a reason")
    tables = {CallStatus.COMPLETED: COMPLETED_TABLES, CallStatus.FAILED: FAILED_TABLES}.get(status, ())
    for table in tables:
        counted = partitions.rows(table, call_date).get(call_id)
        if not counted:
            problems.append(f"{call_id}: no {table} row (in {partition_prefix(table, call_date)})")
            continue
        if table == "calls" and [row["status"] for row in counted] != [status]:
            problems.append(f"{call_id}: its calls row does not show one {status} row")
    return problems


class Partitions:
    """Each table and day's rows as readers count them (per-call and compacted files, one rule:
    core.lake_generations), read once per partition and kept by call id."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._rows: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}

    def rows(self, table: str, call_date: str) -> dict[str, list[dict[str, Any]]]:
        if (table, call_date) not in self._rows:
            by_call: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for row in read_partition(self.lake, table, call_date).to_pylist():
                by_call[row["call_id"]].append(row)
            self._rows[(table, call_date)] = by_call
        return self._rows[(table, call_date)]


def _orphans(calls: dict[str, dict[str, Any]], lake: Lake) -> list[str]:
    """Lake files named after a call the registry does not know."""
    problems = []
    for prefix in ("raw-audio/", "transcripts/", "summaries/", "tables/"):
        for key in lake.list_keys(prefix):
            if compacted_generation(key) is not None:  # many calls' rows: check each row's call
                ids = pq.read_table(lake.path(key), filesystem=lake.fs, columns=["call_id"])
                unknown = sorted(set(ids.column("call_id").to_pylist()) - calls.keys())
                problems.extend(
                    f"{key}: rows of call {c!r}, which the registry does not know" for c in unknown
                )
                continue
            call_id = _call_id_prefix(key.rsplit("/", 1)[-1], calls)
            if call_id not in calls:
                problems.append(f"{key}: in the lake, but no call {call_id!r} in the registry")
    return problems


def _call_id_prefix(name: str, calls: dict[str, dict[str, Any]]) -> str:
    """File names put suffixes after the id (`-transcript.json`, `-v2.parquet`, `-engine-raw.json`)."""
    stem = name.split(".", 1)[0]
    for call_id in (stem, *(stem[:i] for i, ch in enumerate(stem) if ch == "-")):
        if call_id in calls:
            return call_id
    return stem
