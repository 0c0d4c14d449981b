"""`callcare`: the operator's command line (list, show, reprocess, resummarize, the local stack)."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from callcare.config import get_settings
from callcare.core.lake import Lake
from callcare.core.registry import CallNotFound, Registry
from callcare.status import CallStatus, InvalidTransition
from callcare.summarization.choose import BACKENDS

COLUMNS = ("call_id", "call_date", "status", "duration_s", "sentiment", "category", "source_ref")


def _registry() -> Registry:
    registry = Registry(get_settings().registry_url)
    registry.create_schema()
    return registry


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def cmd_list(args: argparse.Namespace) -> int:
    status = CallStatus(args.status) if args.status else None
    rows = _registry().list_calls(status=status, limit=args.limit)
    if args.json:
        print(json.dumps(rows, default=str, indent=1))
        return 0
    table = [COLUMNS] + [tuple(_cell(r[c]) for c in COLUMNS) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    failed = [r for r in rows if r["status"] == CallStatus.FAILED]
    for r in failed:
        print(f"FAILED {r['call_id']}: {r['error_message']}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    registry = _registry()
    try:
        call = registry.find(args.call_id)
    except CallNotFound as exc:
        print(f"no such call: {exc}", file=sys.stderr)
        return 1
    lake = Lake.from_settings(get_settings())
    print(f"call {call['call_id']}  {call['status']}  date {call['call_date']}  source {call['source_ref']}")
    if call["error_message"]:
        print(f"error: {call['error_message']}")
    print(f"audio: {call['audio_uri']}")
    if call["metrics_json"]:
        metrics = json.loads(call["metrics_json"])
        print("metrics: " + json.dumps(metrics, sort_keys=True))
    if call["summary_uri"]:
        stored = lake.get_json(lake.key_from_uri(call["summary_uri"]))
        print(
            f"summary ({stored['backend']}, prompt {stored['prompt_version']}, model {stored['model_id']}):"
        )
        print(textwrap.indent(json.dumps(stored["summary"], indent=2, ensure_ascii=False), "  "))
    if call["transcript_uri"] and not args.no_transcript:
        document = lake.get_json(lake.key_from_uri(call["transcript_uri"]))
        print("transcript:")
        for turn in document["transcript"]["turns"]:
            print(f"  [{turn['start']:7.2f}-{turn['end']:7.2f}] {turn['role']:>8}: {turn['text']}")
    print("history:")
    for event in registry.events(call["call_id"]):
        reason = f"  ({event['error_message']})" if event["error_message"] else ""
        print(f"  {event['created_at']}  {event['status']}{reason}")
    return 0


def cmd_reprocess(args: argparse.Namespace) -> int:
    """Back to UPLOADED with a new attempt number: the ingest DAG starts a fresh run within a poll."""
    registry = _registry()
    try:
        call = registry.find(args.call_id)
        registry.transition(call["call_id"], CallStatus.UPLOADED)
    except CallNotFound as exc:
        print(f"no such call: {exc}", file=sys.stderr)
        return 1
    except InvalidTransition as exc:
        print(f"cannot reprocess now: {exc} (wait until it is COMPLETED or FAILED)", file=sys.stderr)
        return 1
    print(f"call {call['call_id']} queued for reprocessing (attempt {call['attempt'] + 1})")
    return 0


def cmd_resummarize(args: argparse.Namespace) -> int:
    """The DAG's selection and per-call work in this process, for when no scheduler is running."""
    from callcare.core.context import Context
    from callcare.steps import resummarize as rs

    ctx = Context.create(get_settings())
    ctx.registry.create_schema()
    try:
        request = rs.make_request(ctx.settings, args.prompt_version, args.backend, args.make_current)
        call_ids = rs.select_calls(
            ctx.registry, date_from=args.date_from, date_to=args.date_to, all_calls=args.all
        )
    except ValueError as exc:
        print(f"resummarize: {exc}", file=sys.stderr)
        return 2
    current = ", making it current" if request.make_current else ""
    print(
        f"re-summarizing {len(call_ids)} call(s) with prompt {request.prompt_version} "
        f"on {request.backend}{current}"
    )
    ok = 0
    for outcome in rs.resummarize_calls(call_ids, ctx, request):
        if outcome.ok:
            ok += 1
            notes = [n for n, flag in (("current", outcome.current), ("replaced", outcome.replaced)) if flag]
            suffix = f"  ({', '.join(notes)})" if notes else ""
            print(f"ok      {outcome.call_id}  {outcome.summary_uri}{suffix}")
        else:
            print(f"FAILED  {outcome.call_id}  {outcome.reason}")
    print(f"total: {len(call_ids)} call(s), {ok} ok, {len(call_ids) - ok} failed")
    return 0 if ok == len(call_ids) else 1


def cmd_sql(args: argparse.Namespace) -> int:
    """DuckDB over the marts (unqualified names) and the lake tables (lake.calls, lake.turns, ...)."""
    from callcare.warehouse.sql import query

    return query(get_settings(), args.query, output_format=args.format, max_rows=args.max_rows)


def cmd_samples(args: argparse.Namespace) -> int:
    from callcare.dev.samples import make_samples

    target = Path(args.target) if args.target else get_settings().inbox_dir
    for path in make_samples(target):
        print(path)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from callcare.core.lake import Lake
    from callcare.dev.consistency import check

    report = check(_registry(), Lake.from_settings(get_settings()), require_terminal=args.finished)
    for problem in report.problems[: args.limit]:
        print(problem)
    if len(report.problems) > args.limit:
        print(f"... and {len(report.problems) - args.limit} more")
    print(report.summary())
    return 0 if report.ok else 1


def cmd_compact(args: argparse.Namespace) -> int:
    """What the callcare_compact DAG runs, by hand: one compactor at a time (see steps.compact)."""
    from datetime import UTC, date, datetime

    from callcare.steps.compact import compact_before

    before = date.fromisoformat(args.before) if args.before else datetime.now(UTC).date()
    done = compact_before(Lake.from_settings(get_settings()), before)
    for r in done:
        print(f"{r.table} {r.call_date}: {r.merged} files -> {r.rows} rows, {len(r.kept)} kept")
    print(f"compacted {len(done)} partitions dated before {before.isoformat()}")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    """The registry's schema migrations: `db upgrade` is the deploy step, `db current` reports."""
    from callcare.core import schema

    url = get_settings().registry_url
    head = schema.head_revision()
    if args.db_command == "current":
        current = schema.current_revision(url)
        state = "at head" if current == head else f"behind (head {head})"
        print(f"registry: {current or 'no migration history'}  {state}")
        return 0 if current == head else 1
    revision = schema.upgrade(url, args.revision)
    print(f"registry: at {revision}" + (" (head)" if revision == head else ""))
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from callcare.dev.local_run import run_local

    return run_local(port=args.port, with_samples=not args.no_samples)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callcare", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="calls with their status")
    p.add_argument("--status", choices=[s.value for s in CallStatus])
    p.add_argument("--limit", type=int, default=200)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("show", help="one call: summary, metrics, transcript, history")
    p.add_argument("call_id", help="the call id or an unambiguous prefix")
    p.add_argument("--no-transcript", action="store_true")
    p.set_defaults(func=cmd_show)
    p = sub.add_parser("reprocess", help="run a finished call through the pipeline again")
    p.add_argument("call_id")
    p.set_defaults(func=cmd_reprocess)
    p = sub.add_parser(
        "resummarize",
        help="summarize COMPLETED calls again with another prompt version or backend, keeping earlier ones",
    )
    p.add_argument("--from", dest="date_from", metavar="DATE", help="first call date, YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="last call date, YYYY-MM-DD (inclusive)")
    p.add_argument("--all", action="store_true", help="every COMPLETED call (instead of a date range)")
    p.add_argument("--prompt-version", help="e.g. v2 (default: the configured one)")
    p.add_argument("--backend", choices=BACKENDS, help="default: the configured one")
    p.add_argument(
        "--make-current", action="store_true", help="the app shows the new summary whatever its version"
    )
    p.set_defaults(func=cmd_resummarize)
    p = sub.add_parser(
        "sql", help="run SQL on DuckDB over the warehouse marts and the lake tables (read-only)"
    )
    p.add_argument("query", help='e.g. "select * from daily_call_volume order by call_date desc"')
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--max-rows", type=int, default=200)
    p.set_defaults(func=cmd_sql)
    p = sub.add_parser("samples", help="write the sample recordings (default: into the inbox)")
    p.add_argument("target", nargs="?")
    p.set_defaults(func=cmd_samples)
    p = sub.add_parser("check", help="lake, registry and outbox agree on every call (exit 1 if not)")
    p.add_argument("--finished", action="store_true", help="also report calls not yet COMPLETED/FAILED")
    p.add_argument("--limit", type=int, default=50, help="problems to print")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser(
        "compact", help="merge past days' per-call Parquet files into one file per table and day"
    )
    p.add_argument(
        "--before", metavar="DATE", help="compact days before DATE, YYYY-MM-DD (default: today, UTC)"
    )
    p.set_defaults(func=cmd_compact)
    p = sub.add_parser("db", help="the registry's schema migrations (Alembic)")
    db = p.add_subparsers(dest="db_command", required=True)
    d = db.add_parser("upgrade", help="migrate the registry database (the deploy step for migrations)")
    d.add_argument("revision", nargs="?", default="head", help="default: head")
    db.add_parser("current", help="the registry database's revision (exit 1 when behind head)")
    p.set_defaults(func=cmd_db)
    p = sub.add_parser("up", help="run the local profile: Airflow services, samples, progress")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--no-samples", action="store_true")
    p.set_defaults(func=cmd_up)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
