"""The thin layer between DAG tasks and the pipeline: ids in, references out, failures recorded.

Kept out of `dags/` so DAG files stay wiring only, and kept free of Airflow imports at module
level beyond the SDK so the package imports fast in the DAG processor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from callcare import pipeline
from callcare.pipeline import CallFailed, Context
from callcare.pools import BEDROCK_POOL, LOCAL_STT_POOL, TRANSCRIBE_POOL  # noqa: F401  (used by DAGs)

log = logging.getLogger(__name__)

PROCESS_DAG_ID = "callcare_process_call"
INGEST_DAG_ID = "callcare_ingest"

STEPS: dict[str, Callable[[str, Context], dict[str, Any]]] = {
    "transcribe": pipeline.transcribe,
    "summarize": pipeline.summarize,
    "publish": pipeline.publish,
}


def run_step(step: str, call_id: str) -> dict[str, Any]:
    ctx = Context.create()
    try:
        return STEPS[step](call_id, ctx)
    except CallFailed as exc:
        pipeline.fail(call_id, exc.reason, ctx)
        log.error("call %s FAILED in %s: %s", call_id, step, exc.reason)
        raise AirflowFailException(exc.reason) from exc


def mark_call_failed(context: dict[str, Any]) -> None:
    """on_failure_callback: a task failed for good (retries spent), so its call ends FAILED."""
    params = context.get("params") or {}
    call_id = params.get("call_id")
    if not call_id:
        return
    exc = context.get("exception")
    task_id = context["ti"].task_id if context.get("ti") else "a task"
    reason = f"{task_id} failed: {type(exc).__name__}: {exc}" if exc else f"{task_id} failed"
    try:
        pipeline.fail(call_id, reason, Context.create())
    except Exception:  # the callback must never hide the task's own failure
        log.exception("could not mark call %s FAILED", call_id)


def run_id_for(call_id: str, attempt: int) -> str:
    return f"call__{call_id}__a{attempt}"


def land_inbox() -> dict[str, int]:
    from callcare.sources.inbox import ingest_inbox

    ctx = Context.create()
    ctx.registry.create_schema()
    outcomes = ingest_inbox(ctx.settings.inbox_dir, ctx.lake, ctx.registry)
    counts = {"new": 0, "duplicate": 0, "rejected": 0}
    for outcome in outcomes:
        counts[outcome.outcome] += 1
    return counts


def calls_to_start() -> list[dict[str, Any]]:
    ctx = Context.create()
    ctx.registry.create_schema()
    starts = []
    for call_id in ctx.registry.undispatched():
        attempt = ctx.registry.get(call_id)["attempt"]
        starts.append({"trigger_run_id": run_id_for(call_id, attempt), "conf": {"call_id": call_id}})
    return starts


def mark_started(starts: list[dict[str, Any]]) -> int:
    call_ids = [s["conf"]["call_id"] for s in starts]
    Context.create().registry.mark_dispatched(call_ids)
    return len(call_ids)
