"""What every task body shares: its context from the task-side settings, and step failures handled.

A step raises CallFailed when retrying cannot help; here that becomes a FAILED call (with a lake row,
a metric and a log line that carry the reason, never transcript text) and an AirflowFailException,
so Airflow does not retry it. Any other exception is left to Airflow's retries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from callcare import observability
from callcare.config import Settings, get_settings
from callcare.core.context import CallFailed, Context
from callcare.hooks.settings import task_settings
from callcare.steps import process

log = logging.getLogger(__name__)


def parse_settings() -> Settings:
    """Settings while a DAG file is parsed: the environment only (see hooks.settings.PARSE_TIME_SETTINGS)."""
    return get_settings()


def task_context() -> Context:
    """Lake, registry and settings of the running task; the registry schema is brought to head."""
    settings = task_settings()
    observability.configure(settings)
    ctx = Context.create(settings)
    ctx.registry.create_schema()
    return ctx


def run_step(stage: str, call_id: str, work: Callable[[Context], dict[str, Any]]) -> dict[str, Any]:
    """Run one step of a call, timed under `stage`; CallFailed ends the call FAILED without retries."""
    ctx = task_context()
    try:
        with observability.stage_timer(call_id, stage):
            return work(ctx)
    except CallFailed as exc:
        if process.fail(call_id, exc.reason, ctx):
            observability.record_failure(call_id, exc.reason, stage=stage)
        log.error("call %s FAILED in %s: %s", call_id, stage, exc.reason)
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
        if process.fail(call_id, reason, task_context()):
            observability.record_failure(call_id, reason, stage=task_id)
    except Exception:  # the callback must never hide the task's own failure
        log.exception("could not mark call %s FAILED", call_id)
