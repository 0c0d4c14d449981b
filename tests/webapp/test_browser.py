"""The pages in a real browser: Debian's Chromium driven by Playwright, against `callcare-web serve`.

Screenshots go to $CALLCARE_WEB_TEST_ARTIFACTS (default: <tmp>/callcare-webapp-artifacts).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.webapp import PASSWORDS, Server
from tests.support.webapp_seed import complete_call, dialogues, register_call

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}


@pytest.fixture
def session(browser: Any, server: Server) -> Iterator[Any]:
    def open_as(username: str, viewport: dict[str, int] = DESKTOP, enforce_csp: bool = False) -> Any:
        # Playwright's wait_for_function polls with eval, which the app's Content-Security-Policy
        # refuses; the CSP test enforces the policy and waits otherwise
        context = browser.new_context(viewport=viewport, base_url=server.url, bypass_csp=not enforce_csp)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        page.goto("/login/")
        page.fill("#username", username)
        page.fill("#password", PASSWORDS[username])
        page.click("input[type=submit]")
        page.wait_for_url("**/calls/")
        return page

    contexts: list[Any] = []
    yield open_as
    for context in contexts:
        context.close()


def shot(page: Any, artifacts: Path, name: str) -> None:
    """The whole page, and what a person sees first (the first screenful)."""
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    page.screenshot(path=str(artifacts / f"{name}-screen.png"))


def rows(page: Any) -> list[str]:
    return page.locator("#cc-table tbody tr").evaluate_all("rs => rs.map(r => r.dataset.callId)")


def test_login_and_list(session: Any, server: Server, artifacts: Path) -> None:
    page = session("sam")
    page.wait_for_selector("body[data-live=live]")
    assert len(rows(page)) == len(server.world.calls)
    assert page.locator(".cc-status[data-status=FAILED]").count() == 1
    shot(page, artifacts, "list-supervisor")


def test_login_refuses_a_wrong_password(browser: Any, server: Server) -> None:
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    page.goto("/login/")
    page.fill("#username", "cw1")
    page.fill("#password", "not-the-password")
    page.click("input[type=submit]")
    page.wait_for_load_state()
    assert "/login/" in page.url
    assert page.goto("/calls/").url.endswith("/login/?next=%2Fcalls%2F") or "/login/" in page.url
    context.close()


def test_list_filters(session: Any, server: Server, artifacts: Path) -> None:
    page = session("sam")
    page.select_option("#f-status", "FAILED")
    page.click("#f-apply")
    page.wait_for_url("**status=FAILED**")
    assert rows(page) == [server.world.calls[-2].call_id]

    page.goto("/calls/")
    negative = [c for c in server.world.completed if c.dialogue["truth"]["sentiment"] == "Negative"]
    page.select_option("#f-sentiment", "Negative")
    page.click("#f-apply")
    page.wait_for_url("**sentiment=Negative**")
    assert sorted(rows(page)) == sorted(c.call_id for c in negative)

    # full-text search: a word only one transcript has
    target = server.world.completed[4]
    page.goto("/calls/")
    page.fill("#f-q", target.dialogue["customer"]["name"] or target.dialogue["agent"]["name"])
    page.click("#f-apply")
    page.wait_for_url("**search=**")  # the form POSTs the terms; the address holds a handle, not them
    assert "q=" not in page.url
    assert target.call_id in rows(page)
    assert page.locator(f'tr[data-call-id="{target.call_id}"] .cc-snippet mark').count() >= 1
    shot(page, artifacts, "list-search")

    # sorting by length, longest first
    page.goto("/calls/?sort=duration&dir=desc&status=COMPLETED")
    durations = page.locator("#cc-table tbody td[data-label=Length]").all_inner_texts()
    seconds = [int(m) * 60 + int(s) for m, s in (d.strip().split(":") for d in durations)]
    assert seconds == sorted(seconds, reverse=True)


def test_detail_playback_seek(session: Any, server: Server, artifacts: Path) -> None:
    call = server.world.completed[0]
    page = session("sam")
    page.goto(f"/calls/{call.call_id}")
    page.wait_for_function("document.getElementById('cc-audio').readyState >= 1")
    duration = page.evaluate("document.getElementById('cc-audio').duration")
    assert duration == pytest.approx(call.turns[-1]["end"] + 0.5, abs=0.1)
    turn = call.turns[4]
    page.click("#turn-4")
    page.wait_for_function("document.getElementById('turn-4').classList.contains('cc-current')")
    position = page.evaluate("document.getElementById('cc-audio').currentTime")
    assert turn["start"] <= position <= turn["end"] + 0.6
    assert page.locator(".cc-turn.cc-current").count() == 1
    # playback moves the highlight on to the next turn by itself
    page.evaluate(f"document.getElementById('cc-audio').currentTime = {call.turns[5]['start'] + 0.05}")
    page.wait_for_function("document.getElementById('turn-5').classList.contains('cc-current')")
    # a seek far into the file needs Range support from the server
    assert page.evaluate("document.getElementById('cc-audio').seekable.end(0)") == pytest.approx(
        duration, abs=0.1
    )
    page.evaluate("document.getElementById('cc-audio').pause()")
    shot(page, artifacts, "detail-supervisor")


def test_a_call_completing_shows_up_live(session: Any, server: Server, artifacts: Path) -> None:
    page = session("sam")
    page.wait_for_selector("body[data-live=live]")
    before = len(rows(page))
    registry, lake = server.world.registry_and_lake()
    angry = dialogues()[13]  # negative and escalated; not among the seeded calls
    assert angry["truth"]["sentiment"] == "Negative"
    call = register_call(registry, lake, angry, dt.date.today().isoformat())
    # the new call appears, UPLOADED, without a reload
    page.wait_for_selector(f'tr[data-call-id="{call.call_id}"] .cc-status[data-status=UPLOADED]')
    assert len(rows(page)) == before + 1
    complete_call(registry, lake, call)
    page.wait_for_selector(f'tr[data-call-id="{call.call_id}"] .cc-status[data-status=COMPLETED]')
    toast = page.wait_for_selector(".cc-toast")
    assert call.call_id[:14] in toast.inner_text()
    assert "negative" in toast.inner_text().lower()
    shot(page, artifacts, "list-live-toast")
    registry.engine.dispose()


def test_reconnects_and_catches_up(session: Any, server: Server) -> None:
    page = session("sam")
    page.wait_for_selector("body[data-live=live]")
    page.evaluate("window.callcareLive.drop()")
    page.wait_for_selector("body[data-live=offline]")
    # an event while the page is disconnected is delivered after the reconnect
    registry, lake = server.world.registry_and_lake()
    call = register_call(
        registry, lake, dialogues()[15], (dt.date.today() - dt.timedelta(days=1)).isoformat()
    )
    page.wait_for_selector("body[data-live=live]")
    page.wait_for_selector(f'tr[data-call-id="{call.call_id}"]')
    registry.engine.dispose()


def test_caseworker_sees_only_assigned_calls(session: Any, server: Server, artifacts: Path) -> None:
    page = session("cw1")
    assert sorted(rows(page)) == sorted(server.world.assigned["cw1"])
    assert page.locator("#f-assignee").count() == 0
    other = server.world.assigned["cw2"][0]
    response = page.goto(f"/calls/{other}")
    assert response.status == 403
    response = page.goto(f"/calls/{other}/audio")
    assert response.status == 403
    page.goto("/dashboard/")
    assert "/dashboard/" not in page.url or page.locator("#chart-calls-per-day").count() == 0
    shot(page, artifacts, "list-caseworker")


def test_assignment_reaches_the_caseworker_live(session: Any, server: Server) -> None:
    caseworker = session("cw2")
    caseworker.wait_for_selector("body[data-live=live]")
    call = server.world.completed[6]
    assert call.call_id not in rows(caseworker)
    supervisor = session("sam")
    supervisor.goto(f"/calls/{call.call_id}")
    supervisor.select_option("#cc-assign-user", str(server.world.user_ids["cw2"]))
    supervisor.click("#cc-assign button[type=submit]")
    supervisor.wait_for_load_state()
    assert "cw2" in supervisor.locator("#cc-assignee").inner_text()
    caseworker.wait_for_selector(f'tr[data-call-id="{call.call_id}"]')


def test_phone_width(session: Any, server: Server, artifacts: Path) -> None:
    page = session("sam", PHONE)
    overflow = "document.scrollingElement.scrollWidth <= window.innerWidth + 1"
    assert page.evaluate(overflow)
    shot(page, artifacts, "phone-list")
    page.click("text=Filters & search")
    page.wait_for_selector("#cc-filter-panel.collapse.in")  # opened, the animation over
    assert page.locator("#f-apply").is_visible()
    shot(page, artifacts, "phone-filters")
    page.goto(f"/calls/{server.world.completed[1].call_id}")
    assert page.evaluate(overflow)
    shot(page, artifacts, "phone-detail")
    page.goto("/dashboard/")
    assert page.evaluate(overflow)
    shot(page, artifacts, "phone-dashboard")


def test_dashboard(session: Any, artifacts: Path) -> None:
    page = session("sam")
    page.goto("/dashboard/")
    assert page.locator("#chart-calls-per-day rect").count() > 0
    assert page.locator("#chart-sentiment rect").count() > 0
    assert page.locator("#cc-agents tbody tr").count() > 0
    shot(page, artifacts, "dashboard")


def test_admin_audit_log(session: Any, artifacts: Path) -> None:
    page = session("admin")
    page.wait_for_selector("body[data-live=live]")  # admins hear the live feed too
    page.goto("/audit/list/")
    assert page.locator("text=login").count() > 0
    shot(page, artifacts, "audit-log")


CSP_WATCH = (
    "window.__csp = [];"
    "document.addEventListener('securitypolicyviolation',"
    " e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || e.sample)));"
)


def test_no_page_breaks_the_content_security_policy(session: Any, server: Server) -> None:
    """Security review L3: the policy has no 'unsafe-inline', and Chromium reports no violation on the
    pages people use (FAB's admin pages, Swagger UI, the player and the live feed included)."""
    call = server.world.completed[0]
    for user, paths in (
        ("sam", ["/calls/", f"/calls/{call.call_id}", "/dashboard/", "/swagger/v1"]),
        ("admin", ["/audit/list/", "/users/list/", "/users/edit/1", "/roles/list/", "/resetmypassword/form"]),
    ):
        page = session(user, enforce_csp=True)
        page.context.add_init_script(CSP_WATCH)
        for path in paths:
            page.goto(path)
            page.wait_for_load_state("networkidle")
            assert page.evaluate("window.__csp") == [], path
        if user == "sam":
            page.goto("/dashboard/")
            page.select_option("#days", "7")  # the drop-down's script file, not an inline handler
            page.wait_for_url("**/dashboard/?days=7")
            assert page.evaluate("window.__csp") == []
