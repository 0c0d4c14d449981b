"""The REST API through Flask's test client: JWT login, scoping, documents, audio ranges, OpenAPI."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jwt as pyjwt

from tests.support.webapp import PASSWORDS, World


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_login_gives_tokens(app: Any) -> None:
    response = app.test_client().post(
        "/api/v1/security/login",
        json={"username": "sam", "password": PASSWORDS["sam"], "provider": "db", "refresh": True},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["access_token"] and body["refresh_token"]


def test_login_with_a_wrong_password_is_401(app: Any) -> None:
    response = app.test_client().post(
        "/api/v1/security/login", json={"username": "cw2", "password": "wrong-Password-1", "provider": "db"}
    )
    assert response.status_code == 401


def test_401_without_token_with_garbage_and_with_expired_or_foreign_tokens(app: Any, world: World) -> None:
    client = app.test_client()
    call_id = world.calls[0].call_id
    for path in ("/api/v1/calls/", f"/api/v1/calls/{call_id}", f"/api/v1/calls/{call_id}/audio"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers=auth("not-a-jwt")).status_code == 401
        assert client.get(path, headers={"Authorization": "Basic abc"}).status_code == 401
    from flask_jwt_extended import create_access_token

    with app.app_context():
        expired = create_access_token(
            identity=str(world.user_ids["sam"]), expires_delta=dt.timedelta(seconds=-5)
        )
    response = client.get("/api/v1/calls/", headers=auth(expired))
    assert response.status_code == 401
    assert "expired" in response.get_json()["message"].lower()
    now = dt.datetime.now(dt.UTC)
    foreign = pyjwt.encode(
        {
            "sub": str(world.user_ids["sam"]),
            "iat": now,
            "nbf": now,
            "exp": now + dt.timedelta(minutes=5),
            "type": "access",
            "fresh": True,
            "jti": "x",
        },
        "another-key-of-the-same-length-as-a-real-one-0123456789",
        algorithm="HS256",
    )
    assert client.get("/api/v1/calls/", headers=auth(foreign)).status_code == 401


def test_supervisor_lists_every_call_and_caseworker_only_theirs(
    app: Any, world: World, token_for: Any
) -> None:
    client = app.test_client()
    everything = client.get("/api/v1/calls/?page_size=100", headers=auth(token_for("sam"))).get_json()
    assert everything["count"] >= len(world.calls)
    mine = client.get("/api/v1/calls/", headers=auth(token_for("cw1"))).get_json()
    assert sorted(c["call_id"] for c in mine["result"]) == sorted(world.assigned["cw1"])
    assert all(c["assignee"] == "cw1" for c in mine["result"])


def test_403_outside_the_caseworkers_scope(app: Any, world: World, token_for: Any) -> None:
    client = app.test_client()
    token = token_for("cw1")
    other = world.assigned["cw2"][0]
    for suffix in ("", "/transcript", "/summary", "/audio"):
        assert client.get(f"/api/v1/calls/{other}{suffix}", headers=auth(token)).status_code == 403, suffix
    mine = world.assigned["cw1"][0]
    assert client.get(f"/api/v1/calls/{mine}", headers=auth(token)).status_code == 200
    # caseworkers do not assign
    response = client.put(f"/api/v1/calls/{mine}/assignment", json={"user_id": None}, headers=auth(token))
    assert response.status_code == 403
    assert client.get("/api/v1/calls/c-doesnotexist", headers=auth(token)).status_code == 404


def test_call_transcript_and_summary(app: Any, world: World, token_for: Any) -> None:
    client = app.test_client()
    token = token_for("sam")
    call = world.completed[2]
    body = client.get(f"/api/v1/calls/{call.call_id}", headers=auth(token)).get_json()
    assert body["status"] == "COMPLETED"
    assert body["category"] == call.dialogue["category"]
    assert body["metrics"]["turn_count"]["agent"] > 0
    assert "audio_uri" not in body
    transcript = client.get(f"/api/v1/calls/{call.call_id}/transcript", headers=auth(token)).get_json()
    turns = transcript["transcript"]["turns"]
    assert [t["text"] for t in turns] == [t["text"] for t in call.dialogue["turns"]]
    assert {"speaker", "role", "start", "end", "text"} <= set(turns[0])
    summary = client.get(f"/api/v1/calls/{call.call_id}/summary", headers=auth(token)).get_json()
    assert summary["summary"]["issue_sentence"] == call.dialogue["truth"]["issue_sentence"]
    assert summary["prompt_version"] == "v1" and summary["backend"] == "offline"
    # a call still in progress has no summary yet
    uploaded = world.calls[-1].call_id
    assert client.get(f"/api/v1/calls/{uploaded}/summary", headers=auth(token)).status_code == 404


def test_audio_streams_with_ranges(app: Any, world: World, token_for: Any) -> None:
    client = app.test_client()
    token = token_for("cw1")
    call = next(c for c in world.calls if c.call_id == world.assigned["cw1"][0])
    whole = client.get(f"/api/v1/calls/{call.call_id}/audio", headers=auth(token))
    assert whole.status_code == 200
    assert whole.mimetype == "audio/wav"
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.data == call.wav
    part = client.get(
        f"/api/v1/calls/{call.call_id}/audio", headers={**auth(token), "Range": "bytes=100-199"}
    )
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(call.wav)}"
    assert part.data == call.wav[100:200]


def test_filters_and_search(app: Any, world: World, token_for: Any) -> None:
    client = app.test_client()
    token = token_for("sam")

    def ids(query: str) -> list[str]:
        response = client.get(f"/api/v1/calls/?page_size=100&{query}", headers=auth(token))
        assert response.status_code == 200, response.get_json()
        return [c["call_id"] for c in response.get_json()["result"]]

    seeded = {c.call_id for c in world.calls}
    assert set(ids("status=FAILED")) & seeded == {world.calls[-2].call_id}
    negative = {c.call_id for c in world.completed if c.dialogue["truth"]["sentiment"] == "Negative"}
    assert set(ids("sentiment=Negative")) & seeded == negative
    target = world.completed[5]
    assert set(ids(f"category={target.dialogue['category']}")) & seeded >= {target.call_id}
    assert target.call_id in ids(f"date_from={target.call_date}&date_to={target.call_date}")
    assert all(
        c.call_date == target.call_date
        for c in world.calls
        if c.call_id in ids(f"date_from={target.call_date}&date_to={target.call_date}")
    )

    # words from the transcript, and from the summary only: searched with POST, terms in the body
    def found(q: str) -> list[str]:
        response = client.post("/api/v1/calls/search", json={"q": q, "page_size": 100}, headers=auth(token))
        assert response.status_code == 200, response.get_json()
        return [c["call_id"] for c in response.get_json()["result"]]

    word = target.dialogue["turns"][1]["text"].split()[-1].strip(".,?!").lower()
    assert target.call_id in found(word)
    phrase = target.dialogue["truth"]["issue_sentence"].split()[:4]
    assert target.call_id in found(" ".join(phrase))
    assert found("zzzyxq-no-such-word") == []
    # longer than the document allows: refused, not searched cut short (schemathesis found it)
    long = client.post("/api/v1/calls/search", json={"q": "a" * 201}, headers=auth(token))
    assert long.status_code == 400 and "200 characters" in long.get_json()["message"]
    assert client.post("/api/v1/calls/search", json={"q": "a" * 200}, headers=auth(token)).status_code == 200
    # a search in the query string is refused: query strings are written to access logs
    refused = client.get(f"/api/v1/calls/?q={word}", headers=auth(token))
    assert refused.status_code == 400
    assert "POST /api/v1/calls/search" in refused.get_json()["message"]
    # assignee filter, sorting, paging
    assert sorted(ids("assignee=" + str(world.user_ids["cw1"]))) == sorted(world.assigned["cw1"])
    assert set(ids("assignee=none")).isdisjoint(world.assigned["cw1"] + world.assigned["cw2"])
    page1 = client.get("/api/v1/calls/?page_size=5&sort=date&dir=asc", headers=auth(token)).get_json()
    page2 = client.get("/api/v1/calls/?page_size=5&page=2&sort=date&dir=asc", headers=auth(token)).get_json()
    dates = [c["call_date"] for c in page1["result"] + page2["result"]]
    assert dates == sorted(dates) and len(dates) == 10
    assert client.get("/api/v1/calls/?status=NOPE", headers=auth(token)).status_code == 400
    assert client.get("/api/v1/calls/?date_from=yesterday", headers=auth(token)).status_code == 400


def test_assignment_through_the_api(app: Any, world: World, token_for: Any) -> None:
    client = app.test_client()
    call_id = world.completed[7].call_id
    response = client.put(
        f"/api/v1/calls/{call_id}/assignment",
        json={"user_id": world.user_ids["cw2"]},
        headers=auth(token_for("sam")),
    )
    assert response.status_code == 200
    cw2 = token_for("cw2")
    assert client.get(f"/api/v1/calls/{call_id}", headers=auth(cw2)).get_json()["assignee"] == "cw2"
    response = client.put(
        f"/api/v1/calls/{call_id}/assignment", json={"user_id": None}, headers=auth(token_for("sam"))
    )
    assert response.status_code == 200
    assert client.get(f"/api/v1/calls/{call_id}", headers=auth(cw2)).status_code == 403
    nobody = client.put(
        f"/api/v1/calls/{call_id}/assignment", json={"user_id": 99999}, headers=auth(token_for("sam"))
    )
    assert nobody.status_code == 409  # well formed, but no active user has that id
    bad = client.put(
        f"/api/v1/calls/{call_id}/assignment", json={"user_id": "cw2"}, headers=auth(token_for("sam"))
    )
    assert bad.status_code == 400


def test_openapi_is_served(app: Any, token_for: Any) -> None:
    client = app.test_client()
    assert client.get("/api/v1/_openapi").status_code == 401
    spec = client.get("/api/v1/_openapi", headers=auth(token_for("cw1"))).get_json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    expected = {
        "calls/",
        "calls/{call_id}",
        "calls/{call_id}/transcript",
        "calls/{call_id}/summary",
        "calls/{call_id}/audio",
        "calls/{call_id}/assignment",
        "security/login",
    }
    assert {f"/api/v1/{p}" for p in expected} <= set(paths)
    assert {"401", "403", "404"} <= set(paths["/api/v1/calls/{call_id}"]["get"]["responses"])


def test_a_search_count_is_exact_below_the_sample_and_an_estimate_past_it(
    app: Any, world: World, token_for: Any, monkeypatch: Any
) -> None:
    from callcare_web import queries

    client = app.test_client()
    token = token_for("sam")

    def search(q: str, **filters: Any) -> dict[str, Any]:
        body = {"q": q, "page_size": 100, **filters}
        response = client.post("/api/v1/calls/search", json=body, headers=auth(token))
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    everything = client.get("/api/v1/calls/?status=COMPLETED", headers=auth(token)).get_json()
    assert (everything["count_is_estimate"], everything["count_is_lower_bound"]) == (False, False)
    completed = everything["count"]
    # every completed call's transcript has the agent's turns: "you" matches them all
    exact = search("you")
    assert (exact["count"], exact["count_is_estimate"]) == (completed, False)
    monkeypatch.setattr(queries, "SEARCH_COUNT_SAMPLE", 2)
    estimated = search("you")
    assert estimated["count_is_estimate"] is True
    assert estimated["count"] == completed  # every sampled match passed: scaled to the index's total
    assert len(estimated["result"]) == completed  # the estimate is the count's, never the results'
    negative = search("you", sentiment="Negative")
    assert negative["count_is_estimate"] is True
    assert 0 <= negative["count"] <= completed


def test_the_list_pages_by_cursor_and_carries_issue_sentences(app: Any, world: World, token_for: Any) -> None:
    client = app.test_client()
    headers = auth(token_for("sam"))
    first = client.get("/api/v1/calls/?page_size=2&sort=date", headers=headers).get_json()
    assert first["prev_cursor"] is None and first["next_cursor"]
    assert any(item["issue_sentence"] for item in first["result"])
    second = client.get(
        f"/api/v1/calls/?page_size=2&sort=date&page=2&after={first['next_cursor']}", headers=headers
    ).get_json()
    numbered = client.get("/api/v1/calls/?page_size=2&sort=date&page=2", headers=headers).get_json()
    assert [c["call_id"] for c in second["result"]] == [c["call_id"] for c in numbered["result"]]
    back = client.get(
        f"/api/v1/calls/?page_size=2&sort=date&page=1&before={second['prev_cursor']}", headers=headers
    ).get_json()
    assert [c["call_id"] for c in back["result"]] == [c["call_id"] for c in first["result"]]
    # a cursor of another order is not refused: the page goes by its number
    other = client.get(f"/api/v1/calls/?page_size=2&page=2&after={first['next_cursor']}", headers=headers)
    assert other.status_code == 200
