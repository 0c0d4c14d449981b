"""The thin layer between DAG tasks and the pipeline: ids in, references out, failures recorded.

Kept out of `dags/` so DAG files stay wiring only, and kept free of Airflow imports at module
level beyond the SDK so the package imports fast in the DAG processor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from callcare import observability, pipeline
from callcare.config import Settings
from callcare.steps.process import CallFailed, Context
from callcare.pools import BEDROCK_POOL, LOCAL_STT_POOL, TRANSCRIBE_POOL  # noqa: F401  (used by DAGs)

log = logging.getLogger(__name__)

PROCESS_DAG_ID = "callcare_process_call"
INGEST_DAG_ID = "callcare_ingest"
ALERTS_DAG_ID = "callcare_alerts"

STEPS: dict[str, Callable[[str, Context], dict[str, Any]]] = {
    "transcribe": pipeline.transcribe,
    "summarize": pipeline.summarize,
    "publish": pipeline.publish,
}


def task_settings() -> Settings:
    """Settings inside a task: the environment, the callcare_settings Variable, the registry connection."""
    return Settings.from_airflow()


def _context() -> Context:
    return Context.create(task_settings())


def run_step(step: str, call_id: str) -> dict[str, Any]:
    return _run(step, call_id, lambda ctx: STEPS[step](call_id, ctx))


def _run(step: str, call_id: str, work: Callable[[Context], dict[str, Any]]) -> dict[str, Any]:
    ctx = _context()
    try:
        with observability.stage_timer(call_id, step):
            return work(ctx)
    except CallFailed as exc:
        if pipeline.fail(call_id, exc.reason, ctx):
            observability.record_failure(call_id, exc.reason, stage=step)
        log.error("call %s FAILED in %s: %s", call_id, step, exc.reason)
        raise AirflowFailException(exc.reason) from exc


def prepare_transcription(call_id: str) -> dict[str, Any]:
    from callcare import aws_steps

    return _run("prepare_transcription", call_id, lambda ctx: aws_steps.prepare_transcription(call_id, ctx))


def finish_transcription(call_id: str, job: dict[str, Any]) -> dict[str, Any]:
    from callcare import aws_steps

    return _run("read_transcript", call_id, lambda ctx: aws_steps.finish_transcription(call_id, job, ctx))


def publish_alerts() -> dict[str, int]:
    from callcare import aws_steps

    return aws_steps.publish_alerts(_context())


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
        if pipeline.fail(call_id, reason, _context()):
            observability.record_failure(call_id, reason, stage=task_id)
    except Exception:  # the callback must never hide the task's own failure
        log.exception("could not mark call %s FAILED", call_id)


def run_id_for(call_id: str, attempt: int) -> str:
    return f"call__{call_id}__a{attempt}"


def land_new_recordings() -> dict[str, int]:
    """The profile's source: the inbox folder (local) or the Google Drive folder (aws)."""
    ctx = _context()
    if ctx.settings.profile == "aws":
        from callcare import aws_steps

        ctx.registry.create_schema()
        return aws_steps.land_drive(ctx)
    return land_inbox(ctx)


def land_inbox(ctx: Context | None = None) -> dict[str, int]:
    from callcare.sources.inbox import ingest_inbox

    ctx = ctx or _context()
    ctx.registry.create_schema()
    outcomes = ingest_inbox(
        ctx.settings.inbox_dir, ctx.lake, ctx.registry, max_bytes=ctx.settings.max_upload_bytes
    )
    counts = {"new": 0, "duplicate": 0, "rejected": 0}
    for outcome in outcomes:
        counts[outcome.outcome] += 1
    return counts


def calls_to_start() -> list[dict[str, Any]]:
    ctx = _context()
    ctx.registry.create_schema()
    starts = []
    for call_id in ctx.registry.undispatched():
        attempt = ctx.registry.get(call_id)["attempt"]
        starts.append({"trigger_run_id": run_id_for(call_id, attempt), "conf": {"call_id": call_id}})
    return starts


def mark_started(starts: list[dict[str, Any]]) -> int:
    call_ids = [s["conf"]["call_id"] for s in starts]
    _context().registry.mark_dispatched(call_ids)
    return len(call_ids)
