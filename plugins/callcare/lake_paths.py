"""The lake layout of DESIGN.md, in one place: every lake key is made here.

Depends on nothing but `callcare.names`, so the web app, infra and tests can import it.
"""

from __future__ import annotations

import re

from callcare.names import DATE_PATTERN, LAKE_TABLES, PROMPT_VERSION_PATTERN

_DATE = re.compile(DATE_PATTERN)
TABLES = LAKE_TABLES
_PROMPT_VERSION = re.compile(PROMPT_VERSION_PATTERN)


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


def table_key(table: str, call_date: str, call_id: str, prompt_version: str | None = None) -> str:
    """One Parquet file per call and partition; a `prompt_version` names another file beside it.

    Re-summarizing with another prompt version must not replace the row the pipeline wrote, so the
    new version's row goes to `{call_id}-{prompt_version}.parquet` in the same partition: readers of
    the partition see one row per (call_id, prompt_version). Only the summaries table has versions.
    """
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}")
    if prompt_version is None:
        return f"tables/{table}/call_date={_check_date(call_date)}/{call_id}.parquet"
    if table != "summaries":
        raise ValueError(f"only the summaries table is versioned, not {table!r}")
    if not _PROMPT_VERSION.match(prompt_version):  # it becomes part of a file name
        raise ValueError(f"not a prompt version: {prompt_version!r}")
    return f"tables/{table}/call_date={_check_date(call_date)}/{call_id}-{prompt_version}.parquet"
