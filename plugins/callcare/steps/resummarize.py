"""Re-summarize finished calls with another prompt version or backend, keeping earlier versions.

The DAG callcare_resummarize (one mapped task per call) and `callcare resummarize` (in-process, no
scheduler) both go through `select_calls` and `resummarize_call`, so they pick the same calls and
write the same files.

What is kept and what is replaced:
- The summary JSON goes to `summary_key(call_date, call_id, prompt_version)`. Other versions' files
  are never touched, but a re-run with the same prompt version replaces that version's file,
  whichever backend wrote it before: the key has no backend in it. `Outcome.replaced` says so.
- The summaries Parquet row goes to that version's file: the pipeline's `{call_id}.parquet` when it
  already holds this version, else `{call_id}-{prompt_version}.parquet` beside it, so the table has
  one row per (call_id, prompt_version).
- The call row (what the app shows and filters on) moves to the new summary only when its version
  is the call's current prompt version, or when `make_current` asks; the calls Parquet row is then
  rewritten to match. Otherwise the call keeps pointing at the summary it had.
- The call stays COMPLETED either way; an outbox event {"event": "resummarized", ...} records it.

A permanent failure (no transcript, an invalid summary) leaves the call exactly as it was and
comes back as a failed Outcome. It never marks the call FAILED: its earlier summary is still good.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from callcare.config import Settings
from callcare.core.lake import Lake
from callcare.lake_paths import summary_key, table_key
from callcare.steps.process import MAX_REASON, Context
from callcare.core.registry import EVENT_FIELDS, CallNotFound, Registry, calls
from callcare.status import CallStatus
from callcare.summarization.base import BACKENDS, SummaryBackend, SummaryFailed, get_backend
from callcare.summarization.schema import (
    SummaryInvalid,
    load_prompt_template,
    load_schema,
    validate_summary,
)
from callcare.core.tables import calls_table, summaries_table
from callcare.core.transcript import Transcript

log = logging.getLogger(__name__)

DAG_ID = "callcare_resummarize"
RESUMMARIZE_TASK_ID = "resummarize_call"
FAILURE_XCOM_KEY = "failure"
COUNTS_XCOM_KEY = "counts"
EVENT_KIND = "resummarized"
PROMPT_VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.]{0,15}$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
# the summary fields publish copies into the call row beside the summary's own metadata
SUMMARY_FIELDS = ("sentiment", "category", "agent_id", "customer_id", "resolved", "escalated")
# backends that send a prompt template (the offline analyzer only needs the schema)
PROMPTED_BACKENDS = frozenset({"bedrock", "openai"})


@dataclass(frozen=True)
class Request:
    prompt_version: str
    backend: str
    make_current: bool = False

    def settings(self, base: Settings) -> Settings:
        return base.with_overrides(summary_backend=self.backend, prompt_version=self.prompt_version)


def make_request(
    settings: Settings,
    prompt_version: str | None = None,
    backend: str | None = None,
    make_current: bool = False,
) -> Request:
    """The request, with the configured version and backend where none is given.

    A version without its schema (or, for an LLM backend, its prompt) would fail every call the same
    way, so it is refused here, once, before any call is touched.
    """
    version = (prompt_version or settings.prompt_version).strip()
    name = (backend or settings.summary_backend).strip().lower()
    if not re.match(PROMPT_VERSION_PATTERN, version):
        raise ValueError(f"prompt version must be 1-16 letters, digits, '_' or '.', got {version!r}")
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    try:
        load_schema(version)
        if name in PROMPTED_BACKENDS:
            load_prompt_template(version)
    except FileNotFoundError as exc:
        raise ValueError(f"prompt version {version} is not available: {exc}") from exc
    return Request(version, name, bool(make_current))


def _check_date(value: str | None, name: str) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        if not re.match(DATE_PATTERN, value):
            raise ValueError
        date.fromisoformat(value)  # the pattern alone lets 2026-02-30 through
    except ValueError:
        raise ValueError(f"{name} must be a date as YYYY-MM-DD, got {value!r}") from None
    return value


def select_calls(
    registry: Registry,
    *,
    date_from: str | None = None,
    date_to: str | None = None,
    all_calls: bool = False,
) -> list[str]:
    """COMPLETED calls with a transcript whose call_date is in [date_from, date_to], or all of them.

    Either end of the range may be left open. "All" must be asked for: with an LLM backend every
    call costs money, so a forgotten range is refused rather than read as "everything".
    """
    start, end = _check_date(date_from, "date_from"), _check_date(date_to, "date_to")
    if all_calls and (start or end):
        raise ValueError("give a date range or ask for all calls, not both")
    if not all_calls and not (start or end):
        raise ValueError("give a date range (from, to or both) or ask for all calls")
    if start and end and start > end:
        raise ValueError(f"date_from {start} is after date_to {end}")
    query = (
        sa.select(calls.c.call_id)
        .where(calls.c.status == CallStatus.COMPLETED.value, calls.c.transcript_uri.is_not(None))
        .order_by(calls.c.call_date, calls.c.call_id)
    )
    # YYYY-MM-DD strings sort as dates, so the range is a plain string comparison
    if start:
        query = query.where(calls.c.call_date >= start)
    if end:
        query = query.where(calls.c.call_date <= end)
    with registry.engine.connect() as conn:
        return [row.call_id for row in conn.execute(query)]


@dataclass(frozen=True)
class Outcome:
    """One call's result: references and a short reason only, since it travels through XCom and logs."""

    call_id: str
    ok: bool
    prompt_version: str
    backend: str
    reason: str | None = None
    summary_uri: str | None = None
    table_uri: str | None = None
    current: bool = False  # the call row now shows this summary
    replaced: bool = False  # a summary of this version existed and was overwritten

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summaries_table_key(lake: Lake, call_date: str, call_id: str, prompt_version: str) -> str:
    """The pipeline's own file when it holds this version, else a file of the version's own.

    publish writes `{call_id}.parquet` with whatever version the pipeline ran. A second file for
    that same version would count the call twice; writing another version over it would lose a row.
    """
    base = table_key("summaries", call_date, call_id)
    if lake.exists(base):
        versions = set(lake.read_parquet(base).column("prompt_version").to_pylist())
        if versions == {prompt_version}:
            return base
    return table_key("summaries", call_date, call_id, prompt_version=prompt_version)


def resummarize_call(
    call_id: str, ctx: Context, request: Request, backend: SummaryBackend | None = None
) -> Outcome:
    """Re-summarize one call. Permanent failures come back as a failed Outcome; transient ones raise.

    Raising is how a throttled or timed-out backend reaches Airflow's retries. Anything that would
    fail the same way again is an Outcome instead, and the caller decides what it means (the DAG
    fails the mapped task without retrying it, the CLI moves on to the next call).
    """

    def failed(reason: str) -> Outcome:
        return Outcome(call_id, False, request.prompt_version, request.backend, reason=reason[:MAX_REASON])

    try:
        call = ctx.registry.get(call_id)
    except CallNotFound:
        return failed("no such call")
    if call["status"] != CallStatus.COMPLETED:
        return failed(f"the call is {call['status']}: only COMPLETED calls are re-summarized")
    if not call["transcript_uri"]:
        return failed("the call has no transcript")
    transcript_key = ctx.lake.key_from_uri(call["transcript_uri"])
    if not ctx.lake.exists(transcript_key):
        return failed("the transcript is missing from the lake")
    document = ctx.lake.get_json(transcript_key)
    transcript = Transcript.from_dict(document["transcript"])
    if not transcript.text.strip():
        return failed("the transcript has no speech")

    if backend is None:
        backend = get_backend(request.settings(ctx.settings))
    call_date = call["call_date"]
    try:
        result = backend.summarize(transcript, call_date)
        if result.prompt_version != request.prompt_version:
            return failed(f"the backend wrote prompt {result.prompt_version}, not {request.prompt_version}")
        validate_summary(result.summary, request.prompt_version)
    except (SummaryFailed, SummaryInvalid) as exc:
        return failed(f"summary failed: {getattr(exc, 'reason', exc)}")

    stored = {**result.metadata(), "summary": result.summary}
    key = summary_key(call_date, call_id, result.prompt_version)
    replaced = ctx.lake.exists(key)
    summary_uri = ctx.lake.put_json(key, stored)
    table_uri = ctx.lake.write_parquet(
        summaries_table_key(ctx.lake, call_date, call_id, result.prompt_version),
        summaries_table(call_id, call_date, stored),
    )

    current = request.make_current or result.prompt_version == call["prompt_version"]
    fields: dict[str, Any] = {}
    if current:
        fields = {
            "summary_uri": summary_uri,
            "summary_backend": result.backend,
            "model_id": result.model_id,
            "prompt_version": result.prompt_version,
            "cost_usd": result.cost_usd,
            **{name: result.summary.get(name) for name in SUMMARY_FIELDS},
        }
    payload = {
        "prompt_version": result.prompt_version,
        "backend": result.backend,
        "model_id": result.model_id,
        "summary_uri": summary_uri,
        "current": current,
        "replaced": replaced,
        # what the live feed shows for a status change, when the call now shows this summary
        **{name: value for name, value in fields.items() if name in EVENT_FIELDS},
    }
    ctx.registry.record_event(call_id, EVENT_KIND, payload, **fields)
    if current:
        ctx.lake.write_parquet(
            table_key("calls", call_date, call_id),
            calls_table(ctx.registry.get(call_id), document.get("metrics", {})),
        )
    log.info(
        "call %s re-summarized by %s (%s)%s%s",
        call_id,
        result.backend,
        result.prompt_version,
        ", now current" if current else "",
        ", replacing the earlier summary of that version" if replaced else "",
    )
    return Outcome(
        call_id,
        True,
        result.prompt_version,
        result.backend,
        summary_uri=summary_uri,
        table_uri=table_uri,
        current=current,
        replaced=replaced,
    )


def resummarize_calls(
    call_ids: Iterable[str], ctx: Context, request: Request, backend: SummaryBackend | None = None
) -> Iterator[Outcome]:
    """One Outcome per call, as each finishes; no failure of one call stops the others.

    In-process there are no task retries, so a transient error is that call's failed outcome too.
    """
    if backend is None:
        backend = get_backend(request.settings(ctx.settings))
    for call_id in call_ids:
        try:
            yield resummarize_call(call_id, ctx, request, backend)
        except Exception as exc:
            log.warning("call %s: re-summary failed (%s)", call_id, type(exc).__name__)
            reason = f"{type(exc).__name__}: {exc}"[:MAX_REASON]
            yield Outcome(call_id, False, request.prompt_version, request.backend, reason=reason)


# -- Airflow task bodies: the DAG file only wires these -----------------------------------------


def request_from_params(params: Mapping[str, Any], settings: Settings) -> Request:
    return make_request(
        settings,
        params.get("prompt_version"),
        params.get("backend"),
        bool(params.get("make_current", False)),
    )


def task_select(params: Mapping[str, Any]) -> list[str]:
    """The call ids to map over; a bad request fails here, before any mapped task starts."""
    from airflow.sdk import conf
    from airflow.sdk.exceptions import AirflowFailException

    ctx = Context.create()
    ctx.registry.create_schema()
    try:
        request = request_from_params(params, ctx.settings)
        call_ids = select_calls(
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


def task_resummarize(call_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """A permanent failure fails this mapped task without retries and leaves its reason for the report."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    ctx = Context.create()
    outcome = resummarize_call(call_id, ctx, request_from_params(params, ctx.settings))
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


def task_report(call_ids: list[str] | None, outcomes: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Counts for the run; fails it when any call failed, so the runs list shows it as well."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

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
