"""Every request that hands over any of a recording writes a `listen` row, unless that user already has
one for that call within `audit.LISTEN_WINDOW_S` (security review L1): counting only answers from byte
0 let `Range: bytes=1-` take all but one byte unaudited, and a player's seeks inside the window add no
rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from callcare_web import audit
from callcare_web.tables import audit as audit_table

from tests.support.webapp import World, audit_rows

# headers that get the file from its first byte: whole, or a range from 0 in any spelling Werkzeug reads
FROM_THE_START = ["", "bytes=0-", "bytes=00-", "bytes= 0-", "bytes=000-99", "bytes=0-0"]
# ranges that skip the first byte(s): all but one byte, past a WAV header, a middle, the tail
NOT_FROM_THE_START = ["bytes=1-", "bytes=44-", "bytes=100-199", "bytes=4000-", "bytes=-10"]


def listens(app: Any, call_id: str) -> int:
    return len(audit_rows(app, action="listen", call_id=call_id))


def forget_listens(app: Any) -> None:
    with app.app_context(), app.extensions["sqlalchemy"].engine.begin() as conn:
        conn.execute(sa.delete(audit_table).where(audit_table.c.action == "listen"))


@pytest.fixture(autouse=True)
def no_prior_listens(app: Any) -> Iterator[None]:
    """Each test starts with no listen rows: the app (and its log) is shared by the module."""
    forget_listens(app)
    yield


def get_page(client: Any, call_id: str, header: str) -> Any:
    return client.get(f"/calls/{call_id}/audio", headers={"Range": header} if header else {})


def get_api(app: Any, token_for: Any, call_id: str, header: str) -> Any:
    headers = {"Authorization": f"Bearer {token_for('sam')}"}
    if header:
        headers["Range"] = header
    return app.test_client().get(f"/api/v1/calls/{call_id}/audio", headers=headers)


@pytest.mark.parametrize("via", ["page", "api"])
@pytest.mark.parametrize("header", FROM_THE_START + NOT_FROM_THE_START)
def test_any_request_for_the_audio_is_a_listen(
    app: Any, world: World, client_for: Any, token_for: Any, via: str, header: str
) -> None:
    call_id = world.completed[1].call_id
    if via == "page":
        response = get_page(client_for("cw1"), call_id, header)
    else:
        response = get_api(app, token_for, call_id, header)
    assert response.status_code in (200, 206)
    assert listens(app, call_id) == 1


def test_all_but_the_first_byte_is_a_listen_and_seeks_in_the_window_are_not(
    app: Any, world: World, client_for: Any
) -> None:
    call_id = world.completed[0].call_id
    client = client_for("cw1")
    whole = get_page(client, call_id, "").get_data()
    forget_listens(app)  # the user has no listen on the call: the whole copy was only for comparing
    response = get_page(client, call_id, "bytes=1-")
    assert response.status_code == 206 and response.get_data() == whole[1:]
    rows = audit_rows(app, action="listen", call_id=call_id)
    assert [r["username"] for r in rows] == ["cw1"]
    for header in ("bytes=44-", "bytes=100-199", "", "bytes=0-"):
        assert get_page(client, call_id, header).status_code in (200, 206)
    assert listens(app, call_id) == 1


def test_the_window_is_per_user(app: Any, world: World, client_for: Any) -> None:
    call_id = world.completed[0].call_id
    assert get_page(client_for("cw1"), call_id, "bytes=1-").status_code == 206
    assert get_page(client_for("sam"), call_id, "bytes=1-").status_code == 206
    assert sorted(r["username"] for r in audit_rows(app, action="listen", call_id=call_id)) == ["cw1", "sam"]


def test_after_the_window_a_request_is_a_listen_again(
    app: Any, world: World, client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    call_id = world.completed[0].call_id
    client = client_for("cw1")
    assert get_page(client, call_id, "bytes=100-").status_code == 206
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=audit.LISTEN_WINDOW_S + 1)
    monkeypatch.setattr(audit, "utcnow", lambda: later)
    assert get_page(client, call_id, "bytes=100-").status_code == 206
    assert listens(app, call_id) == 2


@pytest.mark.parametrize("header", ["bytes=5-1", "bytes=99999999-"])
def test_a_request_that_gets_nothing_is_not_a_listen(
    app: Any, world: World, client_for: Any, header: str
) -> None:
    call_id = world.completed[0].call_id
    response = get_page(client_for("cw1"), call_id, header)
    if response.status_code == 416:
        assert listens(app, call_id) == 0
    else:  # Werkzeug ignored the header and sent the whole file
        assert response.status_code == 200 and listens(app, call_id) == 1
