"""`callcare up`: the whole local product from one command, stopped with Ctrl-C."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from callcare.config import get_settings
from callcare.core.registry import Registry
from callcare.dev.local_stack import ADMIN_USER, AirflowStack, WebApp, admin_password_file
from callcare.status import TERMINAL


def _progress(registry: Registry) -> tuple[str, bool]:
    calls = registry.list_calls()
    counts: dict[str, int] = {}
    for call in calls:
        counts[call["status"]] = counts.get(call["status"], 0) + 1
    line = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "waiting for the first poll"
    done = bool(calls) and all(call["status"] in TERMINAL for call in calls)
    return line, done


def run_local(port: int = 8080, with_samples: bool = True) -> int:
    settings = get_settings()
    home: Path = settings.home
    stack = AirflowStack(home, port)
    webapp = WebApp(home, port + 1)
    stopping = False

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    print(f"callcare: initializing Airflow in {home / 'airflow'} ...", flush=True)
    stack.initialize()
    registry = Registry(settings.registry_url)
    registry.create_schema()
    try:
        print("callcare: starting api-server, scheduler, dag-processor and triggerer ...", flush=True)
        stack.start()
        # paths, never passwords: this output is often kept in a log (security review L7)
        print(
            f"callcare: Airflow UI at {stack.url}  (user {ADMIN_USER}; password in {admin_password_file(home)})",
            flush=True,
        )
        if webapp.available():
            webapp.start()
            print(f"callcare: web app at {webapp.url}  (user admin; {webapp.password_hint()})", flush=True)
        else:
            print("callcare: web app not installed (.venv-webapp missing: run ./webapp/bootstrap.sh)")
        if with_samples:
            from callcare.dev.samples import make_samples

            written = make_samples(settings.inbox_dir)
            print(f"callcare: dropped {len(written)} sample recordings into {settings.inbox_dir}", flush=True)
        last = ""
        announced = False
        while not stopping:
            line, done = _progress(registry)
            if line != last:
                print(f"callcare: calls: {line}", flush=True)
                last = line
            if done and not announced:
                announced = True
                print(
                    "\ncallcare: all calls processed. Look at them:\n"
                    f"  web app      {webapp.url}  (caseworkers' view, live updates)\n"
                    f"  Airflow UI   {stack.url}/dags/callcare_process_call\n"
                    "  CLI          .venv/bin/callcare list   |   .venv/bin/callcare show <call_id>\n"
                    f"  lake         {settings.lake_uri}\n"
                    f"  inbox        {settings.inbox_dir}  (drop more recordings here)\n"
                    "Press Ctrl-C to stop.",
                    flush=True,
                )
            time.sleep(3)
    except KeyboardInterrupt:
        pass
    finally:
        print("\ncallcare: stopping the web app and Airflow ...", flush=True)
        webapp.stop()
        stack.stop()
        print("callcare: stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_local())
