"""Task bodies of callcare_resummarize: select the calls, one mapped task per call, a report.

The domain rules (what is kept, what is replaced) are `callcare.steps.resummarize`; this adds what
only Airflow has: params, XCom keys, the mapping limit, and failing a mapped task without retries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from airflow.sdk import conf, get_current_context
from airflow.sdk.exceptions import AirflowFailException

from callcare.config import Settings
from callcare.dag_tasks.runtime import parse_settings, task_context
from callcare.names import BEDROCK_POOL, DATE_PATTERN, PROMPT_VERSION_PATTERN, RESUMMARIZE_DAG_ID
from callcare.steps import resummarize as rs
from callcare.summarization.choose import BACKENDS, backends_for

__all__ = [
    "BACKENDS",
    "BEDROCK_POOL",
    "DATE_PATTERN",
    "PROMPT_VERSION_PATTERN",
    "RESUMMARIZE_DAG_ID",
    "RESUMMARIZE_TASK_ID",
    "offered_backends",
    "parse_settings",
    "report",
    "resummarize_call",
    "select_calls",
]

log = logging.getLogger(__name__)

RESUMMARIZE_TASK_ID = "resummarize_call"
FAILURE_XCOM_KEY = "failure"
COUNTS_XCOM_KEY = "counts"


def offered_backends(settings: Settings) -> list[str | None]:
    """The trigger form's backend choices: empty (the configured one) and what the profile allows;
    the aws profile leaves out the test-only instant backend (the request refuses it anyway)."""
    return [None, *backends_for(settings.profile)]


def request_from_params(params: Mapping[str, Any], settings: Settings) -> rs.Request:
    return rs.make_request(
        settings,
        params.get("prompt_version"),
        params.get("backend"),
        bool(params.get("make_current", False)),
    )


def select_calls(params: Mapping[str, Any]) -> list[str]:
    """The call ids to map over; a bad request fails here, before any mapped task starts."""
    ctx = task_context()
    try:
        request = request_from_params(params, ctx.settings)
        call_ids = rs.select_calls(
            ctx.registry,
            date_from=params.get("date_from"),
            date_to=params.get("date_to"),
            all_calls=bool(params.get("all_calls", False)),
        )
    except ValueError as exc:
        raise AirflowFailException(str(exc)) from exc
    limit = conf.getint("core", "max_map_length", fallback=1024)
    if len(call_ids) > limit:
        # Airflow refuses to expand past this; saying so here beats a bare expansion error
        raise AirflowFailException(
            f"{len(call_ids)} calls selected, more than one run may map ([core] max_map_length = "
            f"{limit}): narrow the date range, or use `callcare resummarize`"
        )
    log.info(
        "%d calls to re-summarize with prompt %s on %s",
        len(call_ids),
        request.prompt_version,
        request.backend,
    )
    return call_ids


def resummarize_call(call_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """A permanent failure fails this mapped task without retries and leaves its reason for the report."""
    ctx = task_context()
    outcome = rs.resummarize_call(call_id, ctx, request_from_params(params, ctx.settings))
    if not outcome.ok:
        get_current_context()["ti"].xcom_push(FAILURE_XCOM_KEY, outcome.to_dict())
        log.error("call %s: re-summary failed: %s", call_id, outcome.reason)
        raise AirflowFailException(outcome.reason)
    return outcome.to_dict()


def _as_list(pulled: Any) -> list[dict[str, Any]]:
    """xcom_pull over a mapped task gives None, one value, or a list, depending on how many exist."""
    if pulled is None:
        return []
    if isinstance(pulled, dict):
        return [pulled]
    return [p for p in pulled if p]


def summarize_outcomes(
    call_ids: list[str], outcomes: Iterable[dict[str, Any]], failures: Iterable[dict[str, Any]]
) -> tuple[dict[str, int], dict[str, str]]:
    """Counts, and the reason of each failed call; a call without an outcome failed too.

    Calls whose retries ran out on a transient error never wrote a failure outcome, so failed is
    everything selected that did not succeed, not just the outcomes that say so.
    """
    succeeded = [o for o in outcomes if o and o.get("ok")]
    ok_ids = {o["call_id"] for o in succeeded}
    reasons = {f["call_id"]: f.get("reason") or "" for f in failures}
    failed = {
        call_id: reasons.get(call_id) or "no outcome recorded: retries ran out or the task was stopped"
        for call_id in call_ids
        if call_id not in ok_ids
    }
    counts = {
        "selected": len(call_ids),
        "ok": len(ok_ids),
        "failed": len(failed),
        "made_current": sum(1 for o in succeeded if o.get("current")),
        "replaced": sum(1 for o in succeeded if o.get("replaced")),
    }
    return counts, failed


def report(call_ids: list[str] | None, outcomes: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Counts for the run; fails it when any call failed, so the runs list shows it as well."""
    if call_ids is None:
        raise AirflowFailException("the selection failed, so no call was re-summarized: see select_calls")
    ti = get_current_context()["ti"]
    failures = _as_list(ti.xcom_pull(task_ids=RESUMMARIZE_TASK_ID, key=FAILURE_XCOM_KEY))
    counts, failed = summarize_outcomes(call_ids, outcomes, failures)
    ti.xcom_push(COUNTS_XCOM_KEY, counts)
    log.info("re-summarize: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
    for call_id, reason in failed.items():
        log.warning("call %s failed: %s", call_id, reason)
    if failed:
        raise AirflowFailException(f"{len(failed)} of {len(call_ids)} calls failed; their reasons are above")
    return counts
