"""kill -9 of the scheduler and its task workers in the middle of a burst loses and repeats nothing.

50 recordings go into the inbox at once. While calls are still being processed, the scheduler's
whole process tree (the LocalExecutor workers and the task processes they run) gets SIGKILL, as an
out-of-memory kill or a lost host would do. A new scheduler adopts or resets the orphaned tasks,
the heartbeat timeout fails the tasks that were running and Airflow retries them. Every call must
end COMPLETED exactly once, with one processing run each, and `callcare check` must find the lake,
the registry and the outbox consistent.

The instant engine and backend (they recognize nothing) keep the burst short: what is under test
is the orchestration and the steps' idempotence, not speech recognition.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest
from callcare.core.lake import Lake
from callcare.core.registry import Registry
from callcare.dev.consistency import check
from callcare.dev.local_stack import AirflowStack
from callcare.dev.samples import write_load_test_recording
from callcare.names import PROCESS_DAG_ID
from callcare.status import TERMINAL, CallStatus

from tests.support.helpers import wait_for

CALLS = 50
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]  # 4.5 min idle, 13 min on a loaded 2-core machine

CRASH_ENV = {
    "CALLCARE_STT_ENGINE": "instant",
    "CALLCARE_SUMMARY_BACKEND": "instant",
    # find the dead scheduler's tasks in seconds rather than the production minutes
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "10",
    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "10",
}


def statuses(registry: Registry) -> Counter[str]:
    return Counter(c["status"] for c in registry.list_calls(limit=CALLS * 2))


def kill_scheduler_tree(stack: AirflowStack) -> int:
    """SIGKILL the scheduler and every process under it; returns how many processes died."""
    scheduler = psutil.Process(stack.processes["scheduler"].pid)
    victims = [scheduler, *scheduler.children(recursive=True)]
    for proc in victims:
        proc.kill()
    psutil.wait_procs(victims, timeout=10)
    stack.kill_service("scheduler")  # reaps it and forgets it
    return len(victims)


def test_kill_9_mid_burst_every_call_completes_exactly_once(tmp_path: Path) -> None:
    from tests.support.helpers import free_port

    home = tmp_path / "home"
    inbox = home / "inbox"
    inbox.mkdir(parents=True)
    staging = home / "staging"
    staging.mkdir()
    for i in range(CALLS):
        write_load_test_recording(staging / f"2026-10-02_crash-{i:03d}.wav", seed=1000 + i)
    registry = Registry(f"sqlite:///{home / 'registry.db'}")
    registry.create_schema()
    lake = Lake((home / "lake").as_uri())

    with AirflowStack(home, port=free_port(), base_env={**os.environ, **CRASH_ENV}) as stack:
        for recording in sorted(staging.iterdir()):
            recording.rename(inbox / recording.name)
        # mid-burst: every call landed, a few finished, most still to do
        wait_for(
            lambda: (s := statuses(registry)).total() == CALLS and s[CallStatus.COMPLETED] >= 3,
            timeout_s=420,
            what="the first calls to complete",
        )
        at_kill = statuses(registry)
        killed = kill_scheduler_tree(stack)
        assert killed >= 2, "the scheduler had no worker processes to kill"
        unfinished_at_kill = CALLS - sum(at_kill[s] for s in TERMINAL)
        assert unfinished_at_kill > 0, f"the burst was over before the kill: {at_kill}"
        time.sleep(3)
        stack.start_service("scheduler")

        wait_for(
            lambda: (s := statuses(registry)).total() == CALLS and all(k in TERMINAL for k in s),
            timeout_s=900,
            what=f"all {CALLS} calls to finish after the restart (at the kill: {dict(at_kill)})",
        )
        runs = stack.dag_runs(PROCESS_DAG_ID)

    calls = registry.list_calls(limit=CALLS * 2)
    failed = {c["call_id"]: c["error_message"] for c in calls if c["status"] != CallStatus.COMPLETED}
    assert failed == {}, f"calls not COMPLETED after the crash: {failed}"
    assert len(calls) == CALLS

    runs_per_call = Counter(r["run_id"].split("__")[1] for r in runs)
    assert set(runs_per_call) == {c["call_id"] for c in calls}
    assert set(runs_per_call.values()) == {1}, "a call got a second processing run"
    assert {r["state"] for r in runs} == {"success"}

    report = check(registry, lake, require_terminal=True)
    assert report.problems == []
    assert report.completed_events == CALLS  # exactly one COMPLETED event per call
    assert not any(inbox.glob("*.wav")), "a recording was left in the inbox"
