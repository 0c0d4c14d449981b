"""Bad input answers 4xx, never 500 (security review L5), and a lake object the registry names but
the lake no longer holds is a 404 that says so (issue 19: it was a 500)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.webapp import World, build_world

HUGE = "99999999999999999999"


@pytest.fixture(scope="module")
def world_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Any]:
    return build_world(tmp_path_factory.mktemp("inputs"), CALLCARE_WEB_LOGIN_RATE_LIMIT="1000 per minute")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "query",
    [
        f"page={HUGE}",
        "page=0",
        "page=-1",
        "page=abc",
        "page=10001",
        f"page_size={HUGE}",
        "page_size=0",
        "page_size=x",
        f"assignee={HUGE}",
        "assignee=someone",
        "sort=bogus",
        "sort=1",
        "dir=sideways",
        "date_from=2026-13-45",
        "status=LOST",
        "date_to=",
        "page=",
    ],
)
def test_the_api_list_answers_400_to_bad_arguments(app: Any, token_for: Any, query: str) -> None:
    response = app.test_client().get(f"/api/v1/calls/?{query}", headers=auth(token_for("sam")))
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.get_json()["message"]


def test_the_list_page_survives_a_huge_page_number(client_for: Any) -> None:
    client = client_for("sam")
    for query in (f"page={HUGE}", f"assignee={HUGE}", "page_size=-5", "sort=bogus"):
        response = client.get(f"/calls/?{query}")
        assert response.status_code == 200
        assert "alert-warning" in response.get_data(as_text=True)  # and says what it dropped


@pytest.mark.parametrize("days", ["abc", HUGE, "-3", "1e3"])
def test_the_dashboard_answers_400_to_days_that_are_no_number(client_for: Any, days: str) -> None:
    assert client_for("sam").get(f"/dashboard/?days={days}").status_code == 400


def test_assigning_to_an_id_past_any_integer_is_409_not_500(
    app: Any, world: World, token_for: Any, client_for: Any
) -> None:
    call_id = world.completed[5].call_id
    for user_id in (10**20, -1, 0, 2**31):
        response = app.test_client().put(
            f"/api/v1/calls/{call_id}/assignment", json={"user_id": user_id}, headers=auth(token_for("sam"))
        )
        assert response.status_code == 409, (user_id, response.get_json())  # no such active user


@pytest.fixture(scope="module")
def lost(world_app: tuple[World, Any]) -> str:
    """A completed call whose recording, transcript and summary the registry names and the lake lacks."""
    from callcare.core.registry import NewCall, calls

    world, _ = world_app
    registry, lake = world.registry_and_lake()
    call_id = "c-0000000000000000lost"
    audio = lake.uri_for(f"raw-audio/2026-02-03/{call_id}.wav")
    registry.register(NewCall(call_id, "inbox", "lost.wav", "ef" * 32, "2026-02-03", audio, "wav", 10))
    with registry.engine.begin() as conn:
        conn.execute(
            calls.update()
            .where(calls.c.call_id == call_id)
            .values(
                status="COMPLETED",
                transcript_uri=lake.uri_for(f"transcripts/2026-02-03/{call_id}-transcript.json"),
                summary_uri=lake.uri_for(f"summaries/2026-02-03/{call_id}-summary.json"),
            )
        )
    registry.engine.dispose()
    return call_id


def test_a_missing_lake_object_is_a_404_that_says_so(app: Any, token_for: Any, lost: str) -> None:
    client = app.test_client()
    for part in ("audio", "transcript", "summary"):
        response = client.get(f"/api/v1/calls/{lost}/{part}", headers=auth(token_for("sam")))
        assert response.status_code == 404, part
        assert "not in the lake" in response.get_json()["message"]
    assert client.get(f"/api/v1/calls/{lost}", headers=auth(token_for("sam"))).status_code == 200


def test_the_pages_answer_404_for_a_missing_lake_object(client_for: Any, lost: str) -> None:
    client = client_for("sam")
    assert client.get(f"/calls/{lost}/audio").status_code == 404
    for kind in ("audio", "transcript.json", "transcript.txt", "summary.json"):
        assert client.get(f"/calls/{lost}/download/{kind}").status_code == 404, kind
    page = client.get(f"/calls/{lost}")
    assert page.status_code == 200
    assert "could not be read from the lake" in page.get_data(as_text=True)


def test_a_missing_lake_object_writes_no_download_row(app: Any, client_for: Any, lost: str) -> None:
    from callcare_web.tables import audit

    client_for("sam").get(f"/calls/{lost}/download/audio")
    with app.app_context(), app.extensions["sqlalchemy"].engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit.c.action).where(audit.c.call_id == lost, audit.c.action == "download")
        ).all()
    assert rows == []
