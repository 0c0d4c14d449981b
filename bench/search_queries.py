"""Full-text search's query time at scale, one client, in-process: the database's share of a search.

    .venv-webapp/bin/python -m bench.search_queries [--calls 100000] [--registry-url URL] [--repeat 3]

Seeds a temporary home as bench/web.py does (the search rows are indexed by the database's triggers
as they are inserted), then times `queries.list_calls` for each of bench/web.py's queries, as a
supervisor (every call) and as a caseworker (the calls assigned to them), and one search combined
with a filter: the median of `--repeat` runs each, with the count and whether it is an estimate.
No HTTP server and no concurrency: this says what one search costs the database, which bench/web.py's
figures (20 or 50 clients through gunicorn) then multiply. `--registry-url` names an empty PostgreSQL
database to seed instead of the home's SQLite file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.web import QUERIES
from bench.webstack import caseworker, init_app, seed_calls, web_env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--registry-url", help="an empty PostgreSQL database (default: SQLite)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    started = dt.datetime.now().astimezone()
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="callcare-bench-search-"))
    try:
        env = web_env(
            tmp / "home", **({"CALLCARE_REGISTRY_URL": args.registry_url} if args.registry_url else {})
        )
        user_ids = init_app(env)
        seeded = seed_calls(env, args.calls, user_ids)
        print(f"seeded {args.calls:,} calls in {seeded.seconds:.0f} s", flush=True)

        from callcare_web import queries
        from callcare_web.app import create_app
        from callcare_web.config import WebSettings
        from callcare_web.filters import Filters

        app = create_app(WebSettings.from_mapping(env))
        with app.app_context():
            engine = app.extensions["sqlalchemy"].engine
        viewers = {
            "supervisor": queries.Viewer(user_ids["sup"], True),
            "caseworker": queries.Viewer(user_ids[caseworker(0)], False),
        }
        cases = [(q, {}) for q in QUERIES] + [("refund", {"sentiment": "Negative"})]
        print(
            f"\n{started:%Y-%m-%d %H:%M %Z} · {args.calls:,} calls · "
            f"{'PostgreSQL' if args.registry_url else 'SQLite'} · median of {args.repeat} · "
            f"{os.cpu_count()} CPUs · load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after seeding\n"
        )
        print(f"{'search':<34}{'supervisor ms':>14}{'count':>10}{'caseworker ms':>15}{'count':>8}")
        for q, extra in cases:
            cells = []
            for viewer in viewers.values():
                times = []
                for _ in range(args.repeat):
                    f = Filters.parse(extra)
                    f.use_search(q)
                    t0 = time.perf_counter()
                    with engine.connect() as conn:
                        page = queries.list_calls(conn, viewer, f)
                    times.append(time.perf_counter() - t0)
                count = f"{'~' if page.total_is_estimate else ''}{page.total:,}"
                cells.append((statistics.median(times) * 1000, count))
            label = q + "".join(f" +{k}={v}" for k, v in extra.items())
            (sup_ms, sup_n), (cw_ms, cw_n) = cells
            print(f"{label:<34}{sup_ms:>14.0f}{sup_n:>10}{cw_ms:>15.0f}{cw_n:>8}")
        engine.dispose()
        print("\n~ an estimate (more than 2,000 index matches)")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
