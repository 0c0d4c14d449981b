"""The lake layout of DESIGN.md, in one place."""

from __future__ import annotations

import re

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TABLES = ("calls", "turns", "summaries", "metrics", "status_events")


def _check_date(call_date: str) -> str:
    if not _DATE.match(call_date):
        raise ValueError(f"call_date must be YYYY-MM-DD, got {call_date!r}")
    return call_date


def raw_audio_key(call_date: str, call_id: str, ext: str) -> str:
    return f"raw-audio/{_check_date(call_date)}/{call_id}.{ext.lower().lstrip('.')}"


def transcript_key(call_date: str, call_id: str) -> str:
    return f"transcripts/{_check_date(call_date)}/{call_id}-transcript.json"


def engine_output_key(call_date: str, call_id: str, engine: str) -> str:
    return f"transcripts/{_check_date(call_date)}/{call_id}-{engine}-raw.json"


def summary_key(call_date: str, call_id: str, prompt_version: str = "v1") -> str:
    suffix = "" if prompt_version == "v1" else f"-{prompt_version}"
    return f"summaries/{_check_date(call_date)}/{call_id}-summary{suffix}.json"


def table_key(table: str, call_date: str, call_id: str) -> str:
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}")
    return f"tables/{table}/call_date={_check_date(call_date)}/{call_id}.parquet"
