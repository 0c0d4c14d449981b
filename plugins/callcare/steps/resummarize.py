"""Re-summarize finished calls with another prompt version or backend, keeping earlier versions.

The DAG callcare_resummarize (one mapped task per call, `callcare.dag_tasks.resummarize`) and
`callcare resummarize` (in-process, no scheduler) both go through `select_calls` and
`resummarize_call`, so they pick the same calls and write the same files. Making, checking and
storing the summary is `callcare.steps.summaries`, shared with the pipeline.

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
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from callcare import observability
from callcare.config import Settings
from callcare.core import lake_rows
from callcare.core.context import MAX_REASON, CallFailed, Context
from callcare.core.registry import EVENT_FIELDS, CallNotFound, Registry, calls
from callcare.core.transcript import Transcript
from callcare.lake_paths import summary_key
from callcare.names import DATE_PATTERN, PROMPT_VERSION_PATTERN
from callcare.status import CallStatus
from callcare.steps.summaries import make_summary, store_summary, summary_call_fields, summary_fields
from callcare.summarization.base import SummaryBackend
from callcare.summarization.choose import BACKENDS, check_backend, get_backend
from callcare.summarization.schema import load_prompt_template, load_schema

log = logging.getLogger(__name__)

EVENT_KIND = "resummarized"
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
    check_backend(name, settings.profile)  # no canned summaries over real ones on aws
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
        backend = get_backend(request.settings(ctx.settings), on_throttle=observability.record_throttle)
    call_date = call["call_date"]
    try:
        result = make_summary(backend, transcript, call_date, request.prompt_version)
    except CallFailed as exc:
        return failed(exc.reason)

    replaced = ctx.lake.exists(summary_key(call_date, call_id, result.prompt_version))
    summary_uri, stored = store_summary(ctx.lake, call_id, call_date, result)
    table_uri = lake_rows.write_summary_row(ctx.lake, call_id, call_date, stored)

    current = request.make_current or result.prompt_version == call["prompt_version"]
    fields: dict[str, Any] = {}
    if current:
        fields = {**summary_call_fields(summary_uri, result), **summary_fields(result.summary)}
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
        lake_rows.write_call_row(ctx.lake, ctx.registry.get(call_id), document.get("metrics", {}))
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
        backend = get_backend(request.settings(ctx.settings), on_throttle=observability.record_throttle)
    for call_id in call_ids:
        try:
            yield resummarize_call(call_id, ctx, request, backend)
        except Exception as exc:
            log.warning("call %s: re-summary failed (%s)", call_id, type(exc).__name__)
            reason = f"{type(exc).__name__}: {exc}"[:MAX_REASON]
            yield Outcome(call_id, False, request.prompt_version, request.backend, reason=reason)
