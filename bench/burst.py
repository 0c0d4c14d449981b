"""A burst of recordings dropped into the inbox at once, through the real DAGs of the local stack.

    .venv/bin/python -m bench.burst --calls 500 --backends instant
    .venv/bin/python -m bench.burst --calls 40 --backends offline

`instant` runs the speech-to-text engine and summary backend that recognize nothing
(CALLCARE_STT_ENGINE=instant, CALLCARE_SUMMARY_BACKEND=instant): what is left is Airflow's own
work, so the figure is orchestration throughput. `offline` runs pocketsphinx and the offline
analyzer on corpus calls (each made distinct by a few milliseconds of leading silence).

Prints the time to drain (drop → last call finished), calls per hour, end-to-end p50/p95 per call,
and the loss check: every dropped file became exactly one call with exactly one processing run,
and `callcare check` finds the lake, the registry and the outbox consistent.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import wave
from collections import Counter
from pathlib import Path

from callcare.core.lake import Lake
from callcare.dev.consistency import check
from callcare.dev.samples import write_load_test_recording
from callcare.names import LOCAL_STT_POOL, PROCESS_DAG_ID

from bench.stackbench import corpus_ids, percentile, render, running_stack, timings, wait_all_terminal

INSTANT = {"CALLCARE_STT_ENGINE": "instant", "CALLCARE_SUMMARY_BACKEND": "instant"}


def make_recordings(count: int, backends: str, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    if backends == "instant":
        return [
            write_load_test_recording(out / f"2026-10-01_burst-{i:04d}.wav", seed=i) for i in range(count)
        ]
    ids = corpus_ids()
    rendered = out / "rendered"
    render(ids[: min(count, len(ids))], rendered)
    files = []
    for i in range(count):
        source = rendered / f"{ids[i % len(ids)]}.wav"
        with wave.open(str(source)) as src:
            params, frames = src.getparams(), src.readframes(src.getnframes())
        pad = b"\0" * (params.sampwidth * params.nchannels * 16 * (i // len(ids)))  # 1 ms per lap
        target = out / f"2026-10-01_burst-{i:04d}.wav"
        with wave.open(str(target), "wb") as dst:
            dst.setparams(params)
            dst.writeframes(pad + frames)
        files.append(target)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--backends", choices=("instant", "offline"), default="instant")
    parser.add_argument("--parallelism", type=int, default=4, help="AIRFLOW__CORE__PARALLELISM")
    parser.add_argument("--stt-slots", type=int, default=2, help=f"slots of the {LOCAL_STT_POOL} pool")
    parser.add_argument("--timeout", type=float, default=4 * 3600)
    args = parser.parse_args()
    env = {"AIRFLOW__CORE__PARALLELISM": str(args.parallelism)}
    if args.backends == "instant":
        env |= INSTANT
    with tempfile.TemporaryDirectory() as tmp:
        files = make_recordings(args.calls, args.backends, Path(tmp) / "audio")
        pools = {LOCAL_STT_POOL: args.stt_slots}
        with running_stack(env, pool_slots=pools) as (stack, registry, home):
            staging = home / "staging"  # same file system as the inbox: each move is one rename
            staging.mkdir()
            for f in files:
                f.rename(staging / f.name)
            dropped = time.monotonic()
            for f in sorted(staging.iterdir()):
                f.rename(home / "inbox" / f.name)
            print(
                f"dropped {len(files)} recordings ({args.backends} backends) at {time.strftime('%H:%M:%S')}",
                flush=True,
            )
            wait_all_terminal(registry, len(files), timeout_s=args.timeout)
            drained = time.monotonic() - dropped
            rows = timings(registry)
            runs = stack.dag_runs(PROCESS_DAG_ID)
            report = check(registry, Lake((home / "lake").as_uri()), require_terminal=True)
            rejected = list((home / "inbox" / "rejected").glob("*")) if (home / "inbox").exists() else []
            left_in_inbox = [p for p in (home / "inbox").iterdir() if p.is_file()]
    calls = len(rows)
    statuses = Counter(r.status for r in rows)
    runs_per_call = Counter(r["run_id"].split("__")[1] for r in runs)
    duplicated_runs = sum(n - 1 for n in runs_per_call.values() if n > 1)
    lost = args.calls - calls
    e2e = [r.end_to_end_s for r in rows if r.end_to_end_s is not None]
    print(f"\ncalls registered: {calls} of {args.calls}; {dict(statuses)}")
    print(f"time to drain: {drained:.0f} s → {calls / drained * 3600:.0f} calls per hour")
    print(
        f"end-to-end per call (UPLOADED → finished): p50 {percentile(e2e, 50):.0f} s, p95 {percentile(e2e, 95):.0f} s"
    )
    print(
        f"Airflow: parallelism {args.parallelism}, {LOCAL_STT_POOL} {args.stt_slots} slots, {len(runs)} runs"
    )
    print(f"lost: {lost} (rejected {len(rejected)}, left in inbox {len(left_in_inbox)})")
    print(f"duplicated: {calls - len(set(r.call_id for r in rows))} calls, {duplicated_runs} runs")
    print(f"consistency: {report.summary()}")
    for problem in report.problems[:20]:
        print(f"  {problem}")


if __name__ == "__main__":
    main()
