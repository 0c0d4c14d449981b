"""What the end-to-end benchmarks share: rendering calls, a private local stack, reading timings.

Timings come from the registry's outbox events (one row per status change, written in the same
transaction as the change), so they are the product's own record, not the benchmark's guess.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from callcare.core.registry import Registry
from callcare.dev.local_stack import AirflowStack, airflow_bin
from callcare.status import TERMINAL

REPO = Path(__file__).resolve().parents[1]

CORPUS = REPO.parent / "shared" / "corpus"


def render(ids: list[str], out: Path) -> None:
    cmd = [sys.executable, str(CORPUS / "render.py"), str(CORPUS / "dialogues.json"), str(out)]
    subprocess.run([*cmd, "--ids", ",".join(ids), "--jobs", "2"], check=True, capture_output=True)


def corpus_ids() -> list[str]:
    return [c["call_id"] for c in json.loads((CORPUS / "dialogues.json").read_text())]


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


@dataclass
class CallTiming:
    call_id: str
    status: str
    uploaded: datetime
    transcribing: datetime | None
    summarizing: datetime | None
    ended: datetime | None

    @property
    def end_to_end_s(self) -> float | None:
        return (self.ended - self.uploaded).total_seconds() if self.ended else None

    def stage_s(self) -> dict[str, float | None]:
        def span(a: datetime | None, b: datetime | None) -> float | None:
            return (b - a).total_seconds() if a and b else None

        return {
            "queued": span(self.uploaded, self.transcribing),
            "transcribe": span(self.transcribing, self.summarizing),
            "summarize+publish": span(self.summarizing, self.ended),
        }


def timings(registry: Registry) -> list[CallTiming]:
    by_call: dict[str, dict[str, datetime]] = {}
    for event in registry.events():
        by_call.setdefault(event["call_id"], {})[event["status"]] = event["created_at"]
    result = []
    for call in registry.list_calls(limit=100_000):
        seen = by_call.get(call["call_id"], {})
        ended = seen.get("COMPLETED") or seen.get("FAILED")
        result.append(
            CallTiming(
                call["call_id"],
                call["status"],
                seen["UPLOADED"],
                seen.get("TRANSCRIBING"),
                seen.get("SUMMARIZING"),
                ended,
            )
        )
    return result


@contextmanager
def running_stack(
    env: dict[str, str], port: int | None = None, pool_slots: dict[str, int] | None = None
) -> Iterator[tuple[AirflowStack, Registry, Path]]:
    """A private local stack in a temporary home; `pool_slots` overrides the pools' sizes."""
    home = Path(tempfile.mkdtemp(prefix="callcare-bench-"))
    (home / "inbox").mkdir(parents=True)
    stack = AirflowStack(home, port=port or free_port(), base_env={**os.environ, **env})
    registry = Registry(f"sqlite:///{home / 'registry.db'}")
    registry.create_schema()
    try:
        stack.initialize()
        for pool, slots in (pool_slots or {}).items():
            cmd = [airflow_bin(), "pools", "set", pool, str(slots), "benchmark setting"]
            subprocess.run(cmd, env=stack.env, check=True, capture_output=True)
        try:
            stack.start()
            yield stack, registry, home
        finally:
            stack.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def free_port() -> int:
    """Not Airflow's 8793: the scheduler serves task logs there."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_all_terminal(registry: Registry, expected: int, timeout_s: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        calls = registry.list_calls(limit=100_000)
        if len(calls) >= expected and all(c["status"] in TERMINAL for c in calls):
            return time.monotonic() - start
        time.sleep(2)
    raise TimeoutError(f"not all {expected} calls finished within {timeout_s:.0f} s")
