"""A call's rows in the lake's Parquet tables: the one writer of every table, one naming rule.

The pipeline's publish step (turns, summaries, metrics, then calls and status_events), a FAILED call
(calls and status_events, so failure rates reach the marts) and a re-summary (a summaries row of
its version, and the calls row when the new summary becomes current) all write through here, so
the tables cannot disagree about where a call's row lives. Compaction (steps.compact) later merges a
past day's files into one; a call written here after that outranks its compacted copy for readers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from callcare.core.lake import Lake
from callcare.core.registry import Registry
from callcare.core.tables import (
    calls_table,
    metrics_table,
    status_events_table,
    summaries_table,
    turns_table,
)
from callcare.core.transcript import Transcript
from callcare.lake_paths import table_key

log = logging.getLogger(__name__)


def summaries_row_key(lake: Lake, call_date: str, call_id: str, prompt_version: str) -> str:
    """Where a summary version's Parquet row goes, so the table keeps one row per (call, version).

    The pipeline's row is `{call_id}.parquet` while it holds that version; any other version gets
    `{call_id}-{version}.parquet` (lake_paths.table_key). A version that already has its own file is
    replaced there rather than written a second time into `{call_id}.parquet`, which would count the
    call twice and drop the version that file held.
    """
    base = table_key("summaries", call_date, call_id)
    versioned = table_key("summaries", call_date, call_id, prompt_version=prompt_version)
    if lake.exists(versioned):
        return versioned
    if lake.exists(base):
        versions = set(lake.read_parquet(base).column("prompt_version").to_pylist())
        return base if versions == {prompt_version} else versioned
    return base


def write_summary_row(lake: Lake, call_id: str, call_date: str, stored: Mapping[str, Any]) -> str:
    """The summaries row of one stored summary document (its metadata plus the summary)."""
    key = summaries_row_key(lake, call_date, call_id, str(stored["prompt_version"]))
    return lake.write_parquet(key, summaries_table(call_id, call_date, dict(stored)))


def write_processed_rows(
    lake: Lake,
    call_id: str,
    call_date: str,
    transcript: Transcript,
    stored_summary: Mapping[str, Any],
    metrics: Mapping[str, Any],
) -> dict[str, str]:
    """The turns, summaries and metrics rows of a processed call (before its status changes)."""
    return {
        "turns": lake.write_parquet(
            table_key("turns", call_date, call_id), turns_table(call_date, transcript)
        ),
        "summaries": write_summary_row(lake, call_id, call_date, stored_summary),
        "metrics": lake.write_parquet(
            table_key("metrics", call_date, call_id), metrics_table(call_id, call_date, dict(metrics))
        ),
    }


def write_call_row(lake: Lake, call: Mapping[str, Any], metrics: Mapping[str, Any]) -> str:
    """The `calls` row, as the registry has the call now."""
    return lake.write_parquet(
        table_key("calls", call["call_date"], call["call_id"]), calls_table(dict(call), dict(metrics))
    )


def write_call_rows(
    lake: Lake, registry: Registry, call_id: str, metrics: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """The call's `calls` row and all its outbox events, as the registry has them now.

    Call it after the status change the rows should show: the events file is rewritten whole each
    time, so a reprocessed call's file holds every attempt. `metrics` defaults to the registry's
    copy; publish passes the transcript document's, which it has read anyway.
    """
    call = registry.get(call_id)
    if metrics is None:
        metrics = json.loads(call["metrics_json"]) if call.get("metrics_json") else {}
    call_date = call["call_date"]
    events = list(registry.events(call_id))
    return {
        "calls": write_call_row(lake, call, metrics),
        "status_events": lake.write_parquet(
            table_key("status_events", call_date, call_id), status_events_table(call_id, call_date, events)
        ),
    }


def record_failed_call(lake: Lake, registry: Registry, call_id: str) -> bool:
    """A FAILED call's rows, so failures count in the marts; never raises.

    A FAILED call never reaches publish, so without this the warehouse would only know calls that
    succeeded and every failure rate would read 0. The call is already FAILED in the registry, and
    a lake outage must not hide the task's own error. Returns whether the rows were written.
    """
    try:
        write_call_rows(lake, registry, call_id)
    except Exception:
        log.exception("call %s: could not write its FAILED rows to the lake", call_id)
        return False
    return True
