"""Alert latency: from a call's COMPLETED commit in the registry to the browser's WebSocket message.

    .venv-webapp/bin/python -m bench.alerts [--calls 100] [--burst 100] [--seed-calls 1000]
                                           [--poll-interval S]

What a caseworker waits for: the pipeline's last step commits `Registry.transition(call_id,
COMPLETED, ...)` (the call row and its outbox event in one transaction), the app's poller reads the
outbox, and the message reaches the open call list over `/live`. The app runs as `callcare-web
serve` over a temporary home; Debian's Chromium (headless, through Playwright) logs in as a
supervisor and keeps the list open. A script injected before the page's own records
`performance.timeOrigin + performance.now()` for every message the page's WebSocket receives; the
bench takes `time.time()` as each transition returns. Both read this machine's clock; the offset
between them is measured with round trips and printed.

Calls are prepared up to SUMMARIZING (with their documents in the lake) before the page opens, then
completed one at a time `--calls` times, 0.2 to 0.5 s apart, then `--burst` back to back. Every
COMPLETED must arrive exactly once: missing and duplicate messages are reported. The poller's
interval is the app's setting (default 1 s; `--poll-interval` overrides it), and on AWS an SNS
notification wakes it at once; there is no SNS here, so the figures include the polling wait.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.webstack import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORDS,
    Documents,
    WebServer,
    init_app,
    percentile,
    seed_calls,
    web_env,
)

# Runs before the page's scripts: every socket the page opens gets a listener of ours first, so the
# time is taken as the message is dispatched to the page, before the page handles it.
RECORDER = """
(() => {
  window.__ccArrivals = [];
  const Native = window.WebSocket;
  function Recorded(url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    ws.addEventListener("message", (e) => {
      const t = performance.timeOrigin + performance.now();
      try {
        const m = JSON.parse(e.data);
        if (m.type === "call") {
          window.__ccArrivals.push({t: t, call_id: m.call_id, status: m.status, event_id: m.event_id});
        }
      } catch (err) {}
    });
    return ws;
  }
  Recorded.prototype = Native.prototype;
  for (const k of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]) Recorded[k] = Native[k];
  window.WebSocket = Recorded;
})();
"""


def prepare(env: dict[str, str], count: int, seed: int) -> list[str]:
    """`count` new calls taken through the registry as the pipeline does, up to SUMMARIZING, with
    their transcript and summary documents in the lake (the poller indexes them for search when
    they complete, as it does in production)."""
    from callcare.config import Settings
    from callcare.core.registry import NewCall, Registry
    from callcare.status import CallStatus

    settings = Settings.from_mapping(env)
    registry = Registry(settings.registry_url)
    assert settings.lake_uri
    docs = Documents(Path(settings.lake_uri.removeprefix("file://")))
    rng = random.Random(seed)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    ids = []
    for i in range(count):
        call_id = f"c-alert{seed:04d}{i:09d}"
        registry.register(
            NewCall(
                call_id=call_id,
                source="inbox",
                source_ref=f"{today}_{call_id}.wav",
                content_sha256=f"{seed:032x}{i:032x}",
                call_date=today,
                audio_uri=f"{docs.lake_uri}/raw-audio/{today}/{call_id}.wav",
                audio_format="wav",
                size_bytes=1_000_000,
            )
        )
        registry.transition(call_id, CallStatus.TRANSCRIBING)
        index = rng.randrange(len(docs.dialogues))
        turi, suri, transcript, _ = docs.add(index, call_id, today, "AGT-1000", f"CUST-{i:06d}")
        registry.update_fields(
            call_id,
            transcript_uri=turi,
            duration_s=transcript["metrics"]["duration_s"],
            channels=1,
            stt_engine="transcribe",
            metrics_json=json.dumps(transcript["metrics"], sort_keys=True),
        )
        registry.transition(call_id, CallStatus.SUMMARIZING)
        registry.update_fields(call_id, summary_uri=suri, summary_backend="bedrock", prompt_version="v1")
        ids.append(call_id)
    with ThreadPoolExecutor(2) as pool:
        docs.flush(pool)
    registry.engine.dispose()
    return ids


def complete(registry: Any, call_id: str, rng: random.Random) -> float:
    """The pipeline's last transition; the wall-clock time its transaction had committed."""
    from callcare.status import CallStatus

    sentiment = rng.choices(["Positive", "Neutral", "Negative"], [0.45, 0.3, 0.25])[0]
    registry.transition(
        call_id,
        CallStatus.COMPLETED,
        sentiment=sentiment,
        category="billing",
        agent_id="AGT-1000",
        resolved=sentiment != "Negative",
        escalated=rng.random() < 0.1,
    )
    return time.time()


def clock_offset(page: Any, rounds: int = 20) -> tuple[float, float]:
    """(page clock − this process's clock, uncertainty) in ms, from the tightest round trip."""
    best: tuple[float, float] | None = None
    for _ in range(rounds):
        before = time.time() * 1000
        page_ms = page.evaluate("performance.timeOrigin + performance.now()")
        after = time.time() * 1000
        half = (after - before) / 2
        if best is None or half < best[1]:
            best = (page_ms - (before + after) / 2, half)
    assert best is not None
    return best


def report(name: str, committed: dict[str, float], arrivals: list[dict[str, Any]], offset_ms: float) -> bool:
    arrivals = [a for a in arrivals if a["call_id"] in committed and a["status"] == "COMPLETED"]
    seen = Counter(a["call_id"] for a in arrivals)
    first = {}
    for a in arrivals:
        if a["status"] == "COMPLETED" and a["call_id"] not in first:
            first[a["call_id"]] = a["t"]
    latencies = [(first[c] - offset_ms) - t * 1000 for c, t in committed.items() if c in first]
    missing = [c for c in committed if c not in seen]
    duplicates = {c: n for c, n in seen.items() if n > 1}
    print(
        f"{name:<8}{len(committed):>6}{len(latencies):>9}{len(missing):>9}{len(duplicates):>6}"
        + (
            f"{percentile(latencies, 50):>9.0f}{percentile(latencies, 95):>9.0f}"
            f"{max(latencies):>9.0f}{min(latencies):>9.0f}"
            if latencies
            else f"{'-':>9}" * 4
        )
    )
    for c in missing[:5]:
        print(f"  MISSING: {c} never arrived")
    for c, n in list(duplicates.items())[:5]:
        print(f"  DUPLICATE: {c} arrived {n} times")
    return not missing and not duplicates


def collect(page: Any, expected: set[str], timeout_s: float) -> list[dict[str, Any]]:
    """The page's arrivals once every expected COMPLETED has come (or the timeout passed), plus a
    short wait so that a duplicate would show."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        arrivals = page.evaluate("window.__ccArrivals")
        if expected <= {a["call_id"] for a in arrivals if a["status"] == "COMPLETED"}:
            break
        time.sleep(0.2)
    time.sleep(3)
    return list(page.evaluate("window.__ccArrivals"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100, help="completed one at a time, 0.2-0.5 s apart")
    parser.add_argument("--burst", type=int, default=100, help="then completed back to back (0: none)")
    parser.add_argument("--seed-calls", type=int, default=1000, help="calls already in the registry")
    parser.add_argument(
        "--poll-interval", type=float, help="CALLCARE_WEB_POLL_INTERVAL_S (default: the app's)"
    )
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: run ./webapp/install_browser.sh (as root)")
    from callcare.config import Settings
    from callcare.core.registry import Registry
    from playwright.sync_api import sync_playwright

    started = dt.datetime.now().astimezone()
    load_before = os.getloadavg()[0]  # the machine may be shared: say how busy it was
    tmp = Path(tempfile.mkdtemp(prefix="callcare-bench-alerts-"))
    try:
        extra = {"CALLCARE_WEB_POLL_INTERVAL_S": str(args.poll_interval)} if args.poll_interval else {}
        env = web_env(tmp / "home", **extra)
        user_ids = init_app(env)
        seed_calls(env, args.seed_calls, user_ids, seed=args.seed)
        paced = prepare(env, args.calls, args.seed)
        burst = prepare(env, args.burst, args.seed + 1)
        rng = random.Random(args.seed)
        with WebServer(env, tmp / "server.log") as server, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            context = browser.new_context(base_url=server.url)
            context.add_init_script(RECORDER)
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto("/login/")
            page.fill("#username", "sup")
            page.fill("#password", PASSWORDS["sup"])
            page.click("input[type=submit]")
            page.wait_for_url("**/calls/")
            page.wait_for_selector("body[data-live=live]")
            offset_before, spread_before = clock_offset(page)
            registry = Registry(Settings.from_mapping(env).registry_url)
            committed: dict[str, float] = {}
            for call_id in paced:
                time.sleep(rng.uniform(0.2, 0.5))
                committed[call_id] = complete(registry, call_id, rng)
            paced_arrivals = collect(page, set(paced), timeout_s=30)
            burst_committed: dict[str, float] = {}
            burst_started = time.perf_counter()
            for call_id in burst:
                burst_committed[call_id] = complete(registry, call_id, rng)
            burst_s = time.perf_counter() - burst_started
            all_arrivals = collect(page, set(burst), timeout_s=60)
            offset_after, spread_after = clock_offset(page)
            live_state = page.evaluate("document.body.dataset.live")
            registry.engine.dispose()
            browser.close()
            problems = server.log_problems()
        interval = env.get("CALLCARE_WEB_POLL_INTERVAL_S", "1.0 (the app's default)")
        offset = (offset_before + offset_after) / 2
        print(
            f"\n{started:%Y-%m-%d %H:%M %Z} · COMPLETED commit → message in headless Chromium "
            f"(the supervisor's call list) · poll interval {interval} s · {args.seed_calls} calls seeded · "
            f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
        )
        print(
            f"page clock − bench clock: {offset_before:+.2f} ms (±{spread_before:.2f}) before, "
            f"{offset_after:+.2f} ms (±{spread_after:.2f}) after; corrected by {offset:+.2f} ms"
        )
        if args.burst:
            print(f"burst: {len(burst)} transitions committed in {burst_s:.2f} s")
        print(
            f"\n{'mode':<8}{'calls':>6}{'arrived':>9}{'missing':>9}{'dup':>6}"
            f"{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'min ms':>9}"
        )
        ok = report("paced", committed, paced_arrivals, offset)
        if args.burst:
            ok = report("burst", burst_committed, all_arrivals, offset) and ok
        else:
            ok = report("all", committed, all_arrivals, offset) and ok
        strangers = {
            a["call_id"]
            for a in all_arrivals
            if a["status"] == "COMPLETED" and a["call_id"] not in committed | burst_committed
        }
        if strangers:
            print(f"UNEXPECTED COMPLETED messages for {len(strangers)} calls never completed here")
            ok = False
        if live_state != "live":
            print(f"the page's live feed ended {live_state!r}, not 'live'")
            ok = False
        if problems:
            print(f"the server logged {len(problems)} error lines, e.g.:")
            for line in problems[:5]:
                print(f"  {line}")
        print("every COMPLETED arrived exactly once" if ok else "NOT every COMPLETED arrived exactly once")
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
