"""Full-text search (issue 16, part 1) on SQLite's FTS5 and PostgreSQL's tsvector, the same tests on both.

Each database gets an app of its own over calls written here through the registry and the lake, so
the text is known: ranking by field, highlighted snippets, every filter and the caseworker's scope
combined with a search, a call searchable as soon as it is COMPLETED, a re-summarize replacing the
text, terms full of query syntax answered 200, and the terms kept out of URLs (security review L8).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from callcare.config import Settings
from callcare.core.lake import Lake
from callcare.core.registry import Registry
from callcare.lake_paths import summary_key

from tests.conftest import PG_ADMIN_URL
from tests.support.webapp import PASSWORDS, login, web_env
from tests.support.webapp_seed import SeededCall, complete_call, register_call

TODAY = dt.datetime.now(dt.UTC).date()
# terms that are query syntax in FTS5 or tsquery: each must be searched as text, never parsed
NASTY = [
    '"',
    '""',
    "'",
    "*",
    "refund*",
    "-refund",
    "NEAR(refund kettle)",
    "refund OR kettle",
    "refund AND NOT kettle",
    "(refund",
    ")",
    "\\",
    "a\\b",
    "^refund",
    "ids_text:refund",
    "{ids_text issue_text}: refund",
    "refund & !kettle",
    "refund <-> kettle",
    "refund | kettle:*",
    "'; DROP TABLE calls; --",
    "%_%",
    "naïve café",
    "\x00refund",
    "x" * 200,  # the longest the API takes (longer: 400, test_api.py)
    "refund " * 27 + "kettle",
]


def dialogue(name: str, issue: str, turns: list[str], sentiment: str, category: str, agent: str) -> dict:
    return {
        "call_id": name,
        "category": category,
        "turns": [{"speaker": "agent" if i % 2 == 0 else "customer", "text": t} for i, t in enumerate(turns)],
        "truth": {
            "issue_sentence": issue,
            "sentiment": sentiment,
            "key_details": [],
            "action_items": [],
            "next_steps": [],
            "resolved": True,
            "escalated": False,
            "agent_id": agent,
            "customer_id": f"CUST-{name}",
        },
    }


FILLER = "Thank you for calling, how can I help you today with your account and your services"
DIALOGUES = {
    # "refund" in the issue sentence: ranks first
    "kettle": dialogue(
        "kettle",
        "The customer wants a refund for a broken kettle.",
        [FILLER, "My kettle arrived broken and I would like my money back.", "I can arrange that."],
        "Negative",
        "billing",
        "AGT-1037",
    ),
    # "refund" once, deep in a long transcript
    "router": dialogue(
        "router",
        "The customer's router keeps dropping the connection.",
        [
            FILLER,
            "My router drops the connection every evening.",
            FILLER,
            "Could I get a refund for the outage?",
        ],
        "Positive",
        "technical",
        "AGT-2001",
    ),
    "invoice": dialogue(
        "invoice",
        "The customer asks why the invoice shows a late fee.",
        [FILLER, "There is a late fee on my invoice.", "I will remove the late fee."],
        "Neutral",
        "billing",
        "AGT-2001",
    ),
}


@dataclass
class SearchWorld:
    dialect: str
    app: Any
    env: dict[str, str]
    registry: Registry
    lake: Lake
    calls: dict[str, SeededCall]
    user_ids: dict[str, int]

    def engine(self) -> sa.Engine:
        with self.app.app_context():
            return self.app.extensions["sqlalchemy"].engine

    def add_call(self, name: str, d: dict, call_date: str | None = None) -> SeededCall:
        # the seed's call id hashes the audio (turn timings) and the date: a date per call keeps them apart
        call_date = call_date or (TODAY - dt.timedelta(days=len(self.calls))).isoformat()
        call = register_call(self.registry, self.lake, d, call_date)
        complete_call(self.registry, self.lake, call)
        self.calls[name] = call
        return call


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sw(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchWorld]:
    from callcare_web.app import create_app
    from callcare_web.cli import ensure_admin
    from callcare_web.config import WebSettings
    from callcare_web.tables import assignments

    home = tmp_path_factory.mktemp(f"search-{request.param}")
    extra = {"CALLCARE_WEB_LOGIN_RATE_LIMIT": "1000 per minute"}
    admin = database = None
    if request.param == "postgresql":
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        database = f"callcare_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
        extra["CALLCARE_REGISTRY_URL"] = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}"
    env = web_env(home, **extra)
    web = WebSettings.from_mapping(env)
    app = create_app(web)
    ensure_admin(app, web, out=open(os.devnull, "w"))  # noqa: SIM115
    settings = Settings.from_mapping(env)
    world = SearchWorld(
        request.param, app, env, Registry(settings.registry_url), Lake(settings.lake_uri), {}, {}
    )
    with app.app_context():
        sm = app.appbuilder.sm
        for name, role in (("sam", "supervisor"), ("cw1", "caseworker")):
            user = sm.add_user(name, name, "Test", f"{name}@example.com", sm.find_role(role), PASSWORDS[name])
            world.user_ids[name] = user.id
    for i, (name, d) in enumerate(DIALOGUES.items()):
        world.add_call(name, d, (TODAY - dt.timedelta(days=i)).isoformat())
    with world.engine().begin() as conn:
        conn.execute(
            assignments.insert().values(
                call_id=world.calls["router"].call_id,
                user_id=world.user_ids["cw1"],
                assigned_by_id=world.user_ids["sam"],
            )
        )
    try:
        yield world
    finally:
        world.registry.engine.dispose()
        world.engine().dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            admin.dispose()


def token(sw: SearchWorld, username: str) -> str:
    response = sw.app.test_client().post(
        "/api/v1/security/login",
        json={"username": username, "password": PASSWORDS[username], "provider": "db"},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def search(sw: SearchWorld, q: str, user: str = "sam", **filters: Any) -> dict[str, Any]:
    response = sw.app.test_client().post(
        "/api/v1/calls/search",
        json={"q": q, "page_size": 100, **filters},
        headers={"Authorization": f"Bearer {token(sw, user)}"},
    )
    assert response.status_code == 200, (q, response.get_data(as_text=True)[:500])
    return response.get_json()


def names(sw: SearchWorld, result: dict[str, Any]) -> list[str]:
    by_id = {c.call_id: name for name, c in sw.calls.items()}
    return [by_id.get(r["call_id"], r["call_id"]) for r in result["result"]]


def test_the_index_is_the_databases_own_and_the_models_match_the_migrations(sw: SearchWorld) -> None:
    from tests.webapp.test_migrations import _web_diffs

    engine = sw.engine()
    assert _web_diffs(engine) == []
    search(sw, "refund")  # the calls completed after the app started: the search's catch-up indexed them
    with engine.connect() as conn:
        if sw.dialect == "sqlite":
            sql = conn.execute(
                sa.text("SELECT sql FROM sqlite_master WHERE name = 'web_search_fts'")
            ).scalar_one()
            assert "USING fts5" in sql and "content='web_search_doc'" in sql
        else:
            index = conn.execute(
                sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_web_search_fts_document'")
            ).scalar_one()
            assert "USING gin (document)" in index
        # one index entry per searchable document
        docs = conn.execute(sa.text("SELECT count(*) FROM web_search_doc")).scalar_one()
        assert docs >= len(DIALOGUES)


def test_best_matches_come_first(sw: SearchWorld) -> None:
    # the issue sentence outweighs one mention deep in a transcript; a call without the word is absent
    found = search(sw, "refund")
    assert names(sw, found)[:2] == ["kettle", "router"]
    assert "invoice" not in names(sw, found)
    assert (found["count"], found["count_is_estimate"]) == (2, False)
    # stemmed: "refunds" finds "refund"; an agent id is a phrase (agt then 1037)
    assert names(sw, search(sw, "refunds"))[:2] == ["kettle", "router"]
    assert names(sw, search(sw, "AGT-1037")) == ["kettle"]
    # terms are ANDed
    assert names(sw, search(sw, "late fee invoice")) == ["invoice"]
    # an explicit order still applies to a search
    by_date = search(sw, "refund", sort="date", dir="asc")
    assert names(sw, by_date) == ["router", "kettle"]


def test_snippets_highlight_the_matched_words(sw: SearchWorld) -> None:
    found = search(sw, "kettle")
    (row,) = found["result"]
    assert re.search(r"<mark>kettle</mark>", row["snippet"], re.I), row["snippet"]
    router = search(sw, "connection")["result"][0]
    assert re.search(r"<mark>connection</mark>", router["snippet"], re.I), router["snippet"]
    # the text around the marks is escaped: the customer's words cannot be markup
    d = dialogue(
        "markup",
        "Angle <b>brackets</b> & a zanzibar parcel.",
        [FILLER, "<script>zanzibar</script>"],
        "Neutral",
        "other",
        "AGT-3",
    )
    sw.add_call("markup", d)
    snippet = search(sw, "zanzibar")["result"][0]["snippet"]
    assert "<script>" not in snippet and "<b>" not in snippet
    assert "<mark>zanzibar</mark>" in snippet.lower()


def test_a_search_combines_with_every_filter_and_the_scope(sw: SearchWorld) -> None:
    assert names(sw, search(sw, "refund", sentiment="Negative")) == ["kettle"]
    assert names(sw, search(sw, "refund", category="technical")) == ["router"]
    assert names(sw, search(sw, "refund", agent="AGT-2001")) == ["router"]
    assert names(sw, search(sw, "refund", status="FAILED")) == []
    day = sw.calls["router"].call_date
    assert names(sw, search(sw, "refund", date_from=day, date_to=day)) == ["router"]
    assert names(sw, search(sw, "refund", assignee=str(sw.user_ids["cw1"]))) == ["router"]
    assert "router" not in names(sw, search(sw, "refund", assignee="none"))
    # a caseworker searches only the calls assigned to them
    mine = search(sw, "refund", user="cw1")
    assert names(sw, mine) == ["router"] and mine["count"] == 1
    assert search(sw, "kettle", user="cw1")["result"] == []


def test_a_call_is_searchable_as_soon_as_it_is_completed(sw: SearchWorld) -> None:
    d = dialogue(
        "fresh",
        "The customer reports a xylophone delivered to the wrong address.",
        [FILLER, "It was a xylophone."],
        "Neutral",
        "delivery",
        "AGT-4",
    )
    assert search(sw, "xylophone")["result"] == []
    call = sw.add_call("fresh", d)  # COMPLETED, with its outbox event, in one transaction
    completed = time.monotonic()
    found = search(sw, "xylophone")
    took = time.monotonic() - completed
    assert names(sw, found) == ["fresh"] and found["result"][0]["call_id"] == call.call_id
    assert took < 1.0, f"searchable {took:.2f} s after COMPLETED"


def test_a_resummarize_replaces_the_text(sw: SearchWorld) -> None:
    from callcare_web import search_index

    d = dialogue(
        "resum",
        "The customer lost a trombone on the train.",
        [FILLER, "Nothing else to add."],
        "Neutral",
        "other",
        "AGT-5",
    )
    call = sw.add_call("resum", d)
    assert names(sw, search(sw, "trombone")) == ["resum"]
    # a re-summarize with the same prompt version rewrites the same file: the URIs do not change
    row = sw.registry.get(call.call_id)
    key = summary_key(call.call_date, call.call_id)
    doc = sw.lake.get_json(key)
    doc["summary"]["issue_sentence"] = "The customer asks about a zeppelin timetable."
    assert sw.lake.put_json(key, doc) == row["summary_uri"]
    sw.registry.record_event(call.call_id, "resummarized", {"prompt_version": "v1"})
    assert names(sw, search(sw, "zeppelin")) == ["resum"]
    assert search(sw, "trombone")["result"] == []
    with sw.engine().connect() as conn:
        rows = conn.execute(
            sa.text("SELECT count(*) FROM web_search_doc WHERE call_id = :c"), {"c": call.call_id}
        ).scalar_one()
    assert rows == 1
    # the same event seen again (another process, a restart) changes nothing
    assert search_index.catch_up(sw.engine(), sw.app.config["CALLCARE_WEB"].core) == 0


def test_terms_with_query_syntax_are_searched_as_text(sw: SearchWorld) -> None:
    for q in NASTY:
        search(sw, q)  # 200 each (search() asserts it), never a 500 from the index's parser
    # the syntax characters are separators: "-refund" is not a negation, "refund*" not a prefix query
    assert names(sw, search(sw, "-refund"))[:2] == ["kettle", "router"]
    assert names(sw, search(sw, "(refund"))[:2] == ["kettle", "router"]
    assert search(sw, "\\")["result"] == []  # nothing to search for: no words


def test_unreadable_documents_log_no_text_and_are_retried(
    sw: SearchWorld, caplog: pytest.LogCaptureFixture
) -> None:
    from callcare_web import search_index

    d = dialogue(
        "lost",
        "The customer's harpsichord needs tuning.",
        [FILLER, "My harpsichord secret sentence."],
        "Neutral",
        "other",
        "AGT-6",
    )
    call = sw.add_call("lost", d)
    assert names(sw, search(sw, "harpsichord")) == ["lost"]
    transcript = Path(sw.lake.path(sw.lake.key_from_uri(sw.registry.get(call.call_id)["transcript_uri"])))
    saved = transcript.read_bytes()
    transcript.unlink()
    caplog.set_level(logging.DEBUG)
    sw.registry.record_event(call.call_id, "resummarized", {"prompt_version": "v1"})
    search(sw, "harpsichord")
    assert f"call {call.call_id}: documents unreadable" in caplog.text
    assert "harpsichord" not in caplog.text.lower() and "secret sentence" not in caplog.text
    # the row keeps its text (still found) and is marked for the reconcile pass, which retries it
    assert names(sw, search(sw, "harpsichord")) == ["lost"]
    assert call.call_id in {r.call_id for r in search_index.pending(sw.engine(), limit=10_000)}
    transcript.write_bytes(saved)
    settings = sw.app.config["CALLCARE_WEB"].core
    assert search_index.reconcile(sw.engine(), settings) >= 1
    assert call.call_id not in {r.call_id for r in search_index.pending(sw.engine(), limit=10_000)}


def test_the_pages_keep_search_terms_out_of_urls(sw: SearchWorld) -> None:
    client = sw.app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    assert login(client, "sam").status_code == 302
    page = client.get("/calls/").get_data(as_text=True)
    assert re.search(r'<form class="cc-filters" method="post"', page)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    posted = client.post(
        "/calls/", data={"q": "kettle refund", "sentiment": "", "sort": "created", "csrf_token": csrf}
    )
    assert posted.status_code == 303
    location = posted.headers["Location"]
    assert "kettle" not in location and "refund" not in location and "search=" in location
    listed = client.get(location)
    html = listed.get_data(as_text=True)
    assert listed.status_code == 200
    assert sw.calls["kettle"].call_id[:14] in html
    assert re.search(r"<mark>(kettle|refund)</mark>", html, re.I)
    # no link, form action or fragment URL on the page carries the terms
    for url in re.findall(r'(?:href|action|data-fragment)="([^"]*)"', html):
        assert "kettle" not in url and "q=" not in url, url
    # the rows fragment the live list re-fetches searches the same
    fragment = re.search(r'data-fragment="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert sw.calls["kettle"].call_id[:14] in client.get(fragment).get_data(as_text=True)
    # an old bookmark with ?q= is moved to a handle at once
    moved = client.get("/calls/?q=kettle")
    assert moved.status_code == 303 and "kettle" not in moved.headers["Location"]
    # a handle this session does not hold lists without searching, and says so
    stale = client.get("/calls/?search=nosuchhandle").get_data(as_text=True)
    assert "no longer kept" in stale
    for q in NASTY:
        answer = client.post("/calls/", data={"q": q, "csrf_token": csrf})
        assert answer.status_code == 303, q
        assert client.get(answer.headers["Location"]).status_code == 200, q


def test_past_the_sample_the_count_is_an_estimate_and_says_so(
    sw: SearchWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callcare_web import queries

    exact = search(sw, "refund")
    assert (exact["count"], exact["count_is_estimate"]) == (2, False)
    monkeypatch.setattr(queries, "SEARCH_COUNT_SAMPLE", 1)
    estimated = search(sw, "refund")
    # SQLite counts the index's matches; PostgreSQL scales the sample by the pages it covered (one)
    assert (estimated["count"], estimated["count_is_estimate"]) == (2, True)
    assert len(estimated["result"]) == 2
    assert search(sw, "refund", sentiment="Negative")["count_is_estimate"] is True


def test_an_estimate_never_claims_fewer_calls_than_it_shows(
    sw: SearchWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sample is the index's first matches: a date range that excludes them all used to give
    "about 0 calls" beside a page of results, with no pager (review of 9227aac)."""
    from callcare_web import queries

    monkeypatch.setattr(queries, "SEARCH_COUNT_SAMPLE", 1)
    for i in range(len(DIALOGUES)):
        day = (TODAY - dt.timedelta(days=i)).isoformat()
        found = search(sw, "refund", date_from=day, date_to=day)
        assert found["count"] >= len(found["result"]), (day, found["count"], names(sw, found))


def test_a_caseworkers_search_count_is_exact_and_within_their_scope(
    sw: SearchWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An estimate scales the whole index's matches: for a caseworker it would reveal how often a
    term occurs in calls outside their scope. Their count is exact over their own calls."""
    from callcare_web import queries

    monkeypatch.setattr(queries, "SEARCH_COUNT_SAMPLE", 1)
    # "refund" is said in two calls, one of them assigned to cw1; "kettle" only outside their scope
    for word, expected in (("refund", ["router"]), ("kettle", []), ("router", ["router"])):
        found = search(sw, word, user="cw1")
        assert (found["count"], found["count_is_estimate"]) == (len(expected), False), word
        assert names(sw, found) == expected


def _post_search(client: Any, q: str) -> str:
    page = client.get("/calls/").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    posted = client.post("/calls/", data={"q": q, "csrf_token": csrf})
    assert posted.status_code == 303
    return posted.headers["Location"]


def test_kept_searches_are_the_newest_and_only_their_users(sw: SearchWorld) -> None:
    """The newest searches stay reachable (the cookie serializer sorts dict keys, so a dict evicted
    by handle, not age), and a user who signs in later in the same browser cannot open the terms
    of the one before (logout keeps the session cookie's other keys)."""
    client = sw.app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    assert login(client, "sam").status_code == 302
    locations = [_post_search(client, f"kettle{i}") for i in range(12)]
    for i, location in enumerate(locations[-8:], start=4):
        html = client.get(location).get_data(as_text=True)
        assert "no longer kept" not in html and f"kettle{i}" in html, i
    assert "no longer kept" in client.get(locations[0]).get_data(as_text=True)
    client.get("/logout/")
    assert login(client, "cw1").status_code == 302
    html = client.get(locations[-1]).get_data(as_text=True)
    assert "no longer kept" in html and "kettle11" not in html
