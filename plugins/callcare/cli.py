"""`callcare`: the operator's command line (list, show, reprocess, and running the local stack)."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from callcare.config import get_settings
from callcare.lake import Lake
from callcare.registry import CallNotFound, Registry
from callcare.status import CallStatus, InvalidTransition

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
    lake = Lake(get_settings().lake_uri)
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


def cmd_samples(args: argparse.Namespace) -> int:
    from callcare.samples import make_samples

    target = Path(args.target) if args.target else get_settings().inbox_dir
    for path in make_samples(target):
        print(path)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from callcare.local_run import run_local

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
    p = sub.add_parser("samples", help="write the sample recordings (default: into the inbox)")
    p.add_argument("target", nargs="?")
    p.set_defaults(func=cmd_samples)
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
