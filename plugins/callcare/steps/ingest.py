"""Ingest: land the profile's new recordings, then name the processing runs to start.

The source is the inbox folder on the local profile and the Google Drive folder on aws; both land
audio under raw-audio/ and register the call UPLOADED (`callcare.sources`). Starting runs is the
Airflow layer's business: this only says which calls wait for one and records that they got it.
"""

from __future__ import annotations

from typing import Any

from callcare import observability
from callcare.core.context import Context
from callcare.names import DRIVE_SERVICE, process_run_id


def land_new_recordings(ctx: Context) -> dict[str, int]:
    """Counts per outcome of one poll of the profile's source."""
    ctx.lake.sweep_staging()  # temporaries of writers that died (a local lake only)
    if ctx.settings.profile == "aws":
        return land_drive(ctx)
    return land_inbox(ctx)


def land_inbox(ctx: Context) -> dict[str, int]:
    from callcare.sources.inbox import ingest_inbox

    outcomes = ingest_inbox(
        ctx.settings.inbox_dir, ctx.lake, ctx.registry, max_bytes=ctx.settings.max_upload_bytes
    )
    counts = {"new": 0, "duplicate": 0, "rejected": 0}
    for outcome in outcomes:
        counts[outcome.outcome] += 1
    return counts


def land_drive(ctx: Context) -> dict[str, int]:
    """Counts per outcome; every throttled Drive answer counts as a throttle (names.DRIVE_SERVICE):
    the ones the Google client retried, and the last one of a request it gave up on, which holds a
    file back for the next poll or, for the folder itself, fails the poll."""
    from callcare.sources.gdrive import ingest_drive

    counts = {"new": 0, "duplicate": 0, "deferred": 0, "skipped": 0, "given_up": 0}
    try:
        with observability.google_api_throttles(DRIVE_SERVICE):
            outcomes = list(ingest_drive(ctx.settings, ctx.lake, ctx.registry))
    except Exception as exc:
        if observability.failure_reason_code(str(exc)) == "throttled":
            observability.record_throttle(DRIVE_SERVICE)
        raise
    for outcome in outcomes:
        counts[outcome.outcome] += 1
        held_back = outcome.outcome in ("deferred", "given_up")
        if held_back and observability.failure_reason_code(outcome.reason) == "throttled":
            observability.record_throttle(DRIVE_SERVICE, outcome.call_id)
    return counts


def calls_to_start(ctx: Context) -> list[dict[str, Any]]:
    """One TriggerDagRunOperator kwargs per call that waits for a processing run."""
    starts = []
    for call_id in ctx.registry.undispatched():
        attempt = ctx.registry.get(call_id)["attempt"]
        starts.append({"trigger_run_id": process_run_id(call_id, attempt), "conf": {"call_id": call_id}})
    return starts


def mark_started(ctx: Context, starts: list[dict[str, Any]]) -> int:
    call_ids = [s["conf"]["call_id"] for s in starts]
    ctx.registry.mark_dispatched(call_ids)
    return len(call_ids)
