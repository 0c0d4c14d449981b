"""Response headers: nothing with call data is cached (security review L4)."""

from __future__ import annotations

from typing import Any

from tests.support.webapp import World


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_every_response_with_call_data_says_no_store(
    app: Any, world: World, client_for: Any, token_for: Any
) -> None:
    call_id = world.completed[0].call_id
    pages = client_for("sam")
    responses = {
        path: pages.get(path)
        for path in (
            "/calls/",
            "/calls/?fragment=rows",
            f"/calls/{call_id}",
            f"/calls/{call_id}/audio",
            f"/calls/{call_id}/download/transcript.txt",
            f"/calls/{call_id}/download/audio",
            "/dashboard/",
            "/calls/c-nosuchcall",
        )
    }
    responses[f"/calls/{call_id}/audio (range)"] = pages.get(
        f"/calls/{call_id}/audio", headers={"Range": "bytes=100-199"}
    )
    api = app.test_client()
    for path in ("/", f"/{call_id}", f"/{call_id}/transcript", f"/{call_id}/summary", f"/{call_id}/audio"):
        responses[f"/api/v1/calls{path}"] = api.get(f"/api/v1/calls{path}", headers=auth(token_for("sam")))
    responses["login page"] = app.test_client().get("/login/")
    for name, response in responses.items():
        assert response.status_code < 500, name
        assert response.headers.get("Cache-Control") == "no-store", (
            name,
            response.headers.get("Cache-Control"),
        )


def test_static_assets_stay_cacheable(app: Any) -> None:
    response = app.test_client().get("/static/callcare/live.js")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
