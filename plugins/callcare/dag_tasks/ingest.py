"""Task bodies of callcare_ingest: land new recordings, name the runs to start, record them started."""

from __future__ import annotations

from typing import Any

from callcare.dag_tasks.runtime import task_context
from callcare.names import INGEST_DAG_ID, PROCESS_DAG_ID
from callcare.steps import ingest

__all__ = ["INGEST_DAG_ID", "PROCESS_DAG_ID", "calls_to_start", "land_new_recordings", "mark_started"]


def land_new_recordings() -> dict[str, int]:
    """The inbox folder on the local profile, the Google Drive folder on aws."""
    return ingest.land_new_recordings(task_context())


def calls_to_start() -> list[dict[str, Any]]:
    return ingest.calls_to_start(task_context())


def mark_started(starts: list[dict[str, Any]]) -> int:
    return ingest.mark_started(task_context(), starts)
