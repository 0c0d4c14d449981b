"""The lake layout of DESIGN.md, in one place: every lake key is made here.

Depends on nothing but `callcare.names`, so the web app, infra and tests can import it.
"""

from __future__ import annotations

import re

from callcare.names import COMPACTED_FILE_PREFIX, DATE_PATTERN, LAKE_TABLES, PROMPT_VERSION_PATTERN

# re.ASCII and fullmatch: `\d` would take other scripts' digits, and `$` a trailing newline
_DATE = re.compile(DATE_PATTERN, re.ASCII)
TABLES = LAKE_TABLES
_PROMPT_VERSION = re.compile(PROMPT_VERSION_PATTERN, re.ASCII)
# Every part of a key is checked here, so no value from a file name, a registry row or a setting can
# make a key that leaves its folder (security review L10): ids and engine names are one plain
# segment (content-hash ids are c- and 20 hex digits; tests and tools use shorter ones), and an
# extension is a few letters or digits.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", re.ASCII)
_EXTENSION = re.compile(r"[a-z0-9]{1,8}", re.ASCII)


def _check_date(call_date: str) -> str:
    if not _DATE.fullmatch(call_date):
        raise ValueError(f"call_date must be YYYY-MM-DD, got {call_date!r}")
    return call_date


def _check_name(value: str, what: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(f"not a {what}: {value!r}")
    return value


def _check_prompt_version(prompt_version: str) -> str:
    if not _PROMPT_VERSION.fullmatch(prompt_version):  # it becomes part of a file name
        raise ValueError(f"not a prompt version: {prompt_version!r}")
    return prompt_version


def raw_audio_key(call_date: str, call_id: str, ext: str) -> str:
    extension = ext.lower().lstrip(".")
    if not _EXTENSION.fullmatch(extension):
        raise ValueError(f"not a file extension: {ext!r}")
    return f"raw-audio/{_check_date(call_date)}/{_check_name(call_id, 'call id')}.{extension}"


def transcript_key(call_date: str, call_id: str) -> str:
    return f"transcripts/{_check_date(call_date)}/{_check_name(call_id, 'call id')}-transcript.json"


def engine_output_key(call_date: str, call_id: str, engine: str) -> str:
    name = f"{_check_name(call_id, 'call id')}-{_check_name(engine, 'engine name')}"
    return f"transcripts/{_check_date(call_date)}/{name}-raw.json"


def summary_key(call_date: str, call_id: str, prompt_version: str = "v1") -> str:
    suffix = "" if prompt_version == "v1" else f"-{_check_prompt_version(prompt_version)}"
    return f"summaries/{_check_date(call_date)}/{_check_name(call_id, 'call id')}-summary{suffix}.json"


# A compacted file: one per table and day, `compacted-<generation>.parquet` beside the per-call files.
# The generation is UTC time to the microsecond, so a later compaction sorts after an earlier one as
# text; no call id may start with the prefix, so a file name alone says which kind it is.
COMPACTED_PREFIX = COMPACTED_FILE_PREFIX
_GENERATION = re.compile(r"\d{8}T\d{12}Z", re.ASCII)


def partition_prefix(table: str, call_date: str) -> str:
    """The folder of one table and day, with its trailing slash (a prefix to list)."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}")
    return f"tables/{table}/call_date={_check_date(call_date)}/"


def compacted_table_key(table: str, call_date: str, generation: str) -> str:
    if not _GENERATION.fullmatch(generation):
        raise ValueError(f"not a compaction generation: {generation!r}")
    return f"{partition_prefix(table, call_date)}{COMPACTED_PREFIX}{generation}.parquet"


def compacted_generation(key: str) -> str | None:
    """The generation of a compacted file's key; None for any other file (a per-call one)."""
    name = key.rsplit("/", 1)[-1]
    if not (name.startswith(COMPACTED_PREFIX) and name.endswith(".parquet")):
        return None
    generation = name[len(COMPACTED_PREFIX) : -len(".parquet")]
    return generation if _GENERATION.fullmatch(generation) else None


def table_key(table: str, call_date: str, call_id: str, prompt_version: str | None = None) -> str:
    """One Parquet file per call and partition; a `prompt_version` names another file beside it.

    Re-summarizing with another prompt version must not replace the row the pipeline wrote, so the
    new version's row goes to `{call_id}-{prompt_version}.parquet` in the same partition: readers of
    the partition see one row per (call_id, prompt_version). Only the summaries table has versions.
    """
    if call_id.startswith(COMPACTED_PREFIX):  # readers tell compacted files by this prefix
        raise ValueError(f"a call id may not start with {COMPACTED_PREFIX!r}: {call_id!r}")
    folder = partition_prefix(table, call_date).rstrip("/")
    if prompt_version is None:
        return f"{folder}/{_check_name(call_id, 'call id')}.parquet"
    if table != "summaries":
        raise ValueError(f"only the summaries table is versioned, not {table!r}")
    return f"{folder}/{_check_name(call_id, 'call id')}-{_check_prompt_version(prompt_version)}.parquet"
